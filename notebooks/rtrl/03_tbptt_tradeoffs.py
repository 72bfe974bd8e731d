# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # T-BPTT: more features or a longer window?
#
# This notebook regenerates **Figures 5 and 6** of Javed et al. A learner trained with
# truncated back-propagation through time (T-BPTT) pays for every step of its window: its
# per-step compute is about $(k+1)(4d^2 + 4dn + 4d)$ for $d$ features, $n$ inputs and
# truncation $k$. On a fixed budget it must choose between a large network with a short
# window and a small network with a long one.
#
# - **Figure 5** holds the compute fixed (about 2,500 to 3,300 operations per step by the
#   paper's formula) and varies the split $d{:}k$ from 13:2 to 2:30.
# - **Figure 6** holds the network fixed at 10 features and lengthens the window from 2 to 20
#   steps, which costs up to ten times more compute.
#
# The trace patterning task puts 14 to 26 steps between a pattern and the US it predicts. The
# paper's reading: a window shorter than that gap leaves the gradient blind to the dependency,
# so large networks with short windows (13:2, 10:3) do worst, and longer windows help a
# 10-feature network a lot. Every configuration is tuned over the step size as in the paper.

# %% tags=["parameters"]
n_steps: int = 2000000  # learning steps per run (paper: 50M) | [1, 10_000_000_000]
step_sizes: list[float] = [0.001, 0.0003, 0.0001]  # RMSProp step sizes tried | nonempty; unique; (0, 1]
# d:k pairs of Figure 5 | nonempty; unique; match [1-9]\d{0,3}:[1-9]\d{0,3}
tradeoffs: list[str] = ["13:2", "10:3", "8:5", "6:8", "5:10", "4:15", "3:20", "2:30"]
fixed_features: int = 10  # d of Figure 6 | [1, 1000]
truncations: list[int] = [2, 3, 5, 10, 20]  # k of Figure 6 | nonempty; unique; [1, 10_000]
tune_seeds: int = 3  # seeds per configuration while tuning (paper: 5) | [1, 100]
n_seeds: int = 5  # seeds behind each reported curve (paper: 30) | [1, 1000]
n_bins: int = 50  # points per learning curve | [1, 100_000]; <= n_steps
bias_targets: int = 2000  # steps at which the truncated gradient is compared with the exact one | [1, 100_000]
bias_train_steps: int = 1000000  # steps the network of the gradient-bias section is trained first | [0, 10_000_000_000]
workers: int = 2  # Dask LocalCluster worker processes; 0 runs everything in this process | [0, 1024]
scheduler: str = ""  # address of a running Dask scheduler (overrides workers) | match (|synchronous|(tcp|tls|inproc|ucx|ws|wss)://\S+)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.claims import paired_differences
from rlinside.envs.trace_patterning import TracePatterningConfig
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.curves import plot_seed_curves
from rlinside.rtrl.flops import tbptt_flops
from rlinside.studies.rtrl import LearnerSpec, final_errors, tbptt_gradient_bias, tune_and_run

set_theme()
common = dict(n_steps=n_steps, bin_steps=n_steps // n_bins, optimizer="rmsprop", method="tbptt")


def pair(text: str) -> tuple[int, int]:
    d, k = text.split(":")
    return int(d), int(k)


fig5_specs = [LearnerSpec(f"{d}:{k}", dict(common, n_features=d, truncation=k), {"step_size": step_sizes})
              for d, k in map(pair, tradeoffs)]
fig6_specs = [LearnerSpec(f"k={k}", dict(common, n_features=fixed_features, truncation=k), {"step_size": step_sizes})
              for k in truncations]
sched = scheduler or ("synchronous" if workers == 0 else None)
results, tuning = tune_and_run(fig5_specs + fig6_specs, tune_seeds=list(range(tune_seeds)),
                               final_seeds=list(range(n_seeds)), scheduler=sched, workers=workers or None,
                               progress=False, command=run_context().get("command"),
                               reuse_tuning_seeds=True)  # the paper's protocol: report seeds include the tuning ones
print(tuning.summary().splitlines()[0])

# %% [markdown]
# ## Figure 5: the same compute, split differently

# %%
fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(fig5_specs)))
cur = {s.label: (results[s.label].step, results[s.label].curves) for s in fig5_specs if results[s.label].curves.size}
plot_seed_curves(ax, cur, colors={s.label: c for s, c in zip(fig5_specs, colors)}, logy=True,
                 xlabel="learning step", ylabel="mean squared error")
ax.set_title("T-BPTT d:k at about equal compute")
final = [results[s.label].curves[:, -max(1, n_bins // 10):].mean(1) for s in fig5_specs]
bx.errorbar(range(len(fig5_specs)), [f.mean() for f in final],
            yerr=[f.std(ddof=1) / np.sqrt(len(f)) if len(f) > 1 else 0 for f in final], fmt="o", color="k")
bx.set_xticks(range(len(fig5_specs)), [s.label for s in fig5_specs], rotation=45)
isi_low = TracePatterningConfig().isi_low  # the shortest CS-to-US gap of the task
for i, s in enumerate(fig5_specs):
    if s.base["truncation"] < isi_low:
        bx.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
bx.set_ylabel("final error")
bx.set_xlabel("features : truncation")
bx.set_title(f"final error (shaded: k < {isi_low}, shorter than any ISI)")
fig.tight_layout()
publish("rtrl_fig5_tbptt_tradeoffs", fig,
        f"Figure 5, our run at {n_steps:,} steps: T-BPTT configurations of about equal compute, "
        f"mean ± standard error over {n_seeds} seeds, each at its best step size.")

# %% [markdown]
# ## Figure 6: ten features, longer and longer windows

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
colors = plt.get_cmap("plasma")(np.linspace(0, 0.85, len(fig6_specs)))
cur = {s.label: (results[s.label].step, results[s.label].curves) for s in fig6_specs if results[s.label].curves.size}
plot_seed_curves(ax, cur, colors={s.label: c for s, c in zip(fig6_specs, colors)}, logy=True,
                 xlabel="learning step", ylabel="mean squared error")
ax.set_title(f"T-BPTT with {fixed_features} features, truncation k")
publish("rtrl_fig6_truncation", fig,
        f"Figure 6, our run at {n_steps:,} steps: {fixed_features} features, truncation 2 to 20, "
        f"mean ± standard error over {n_seeds} seeds, step size tuned per k.")

# %% [markdown]
# ## The numbers behind both figures

# %%
rows = []
for s in fig5_specs + fig6_specs:
    r = results[s.label]
    d, k = r.best["n_features"], r.best["truncation"]
    rows.append({"figure": "5" if s in fig5_specs else "6", "d:k": f"{d}:{k}",
                 "FLOPs/step (paper's formula)": tbptt_flops(d, 7, k), "best step size": r.best["step_size"],
                 "final error": r.curves[:, -max(1, n_bins // 10):].mean(),
                 "sem": r.curves[:, -max(1, n_bins // 10):].mean(1).std(ddof=1) / np.sqrt(r.curves.shape[0])
                 if r.curves.shape[0] > 1 else np.nan})
pd.DataFrame(rows)

# %% [markdown]
# The chapter's claims about Figures 5 and 6, per report seed (verdicts on the chapter page).

# %%
fin = {s.label: final_errors(results[s.label]) for s in fig5_specs + fig6_specs}
others = [lab for lab in fin if lab in {s.label for s in fig5_specs} and lab != "13:2"]
short = {i: v - np.median([fin[o][i] for o in others]) for i, v in fin.get("13:2", {}).items()}
scale = {"profile": run_context().get("profile"), "steps": n_steps, "seeds": n_seeds}
measured = [claims.measure("rtrl.short_window_worst", short.values(), scale=scale).to_dict(),
            claims.measure("rtrl.longer_window_helps", paired_differences(fin.get("k=2", {}), fin.get("k=20", {})),
                           scale=scale).to_dict()]
# Exercise 3 of the chapter page reads this one: per seed, how much higher the best final error
# of the Figure 5 splits whose window is shorter than the shortest ISI is than the best of those
# whose window reaches it (relative to the latter).
reach = [s.label for s in fig5_specs if s.base["truncation"] >= isi_low and fin.get(s.label)]
short_k = [s.label for s in fig5_specs if s.base["truncation"] < isi_low and fin.get(s.label)]
units = sorted(set.intersection(*(set(fin[lab]) for lab in reach + short_k))) if reach and short_k else []
gap = [(min(fin[lab][i] for lab in short_k) - min(fin[lab][i] for lab in reach)) / min(fin[lab][i] for lab in reach)
       for i in units]  # relative to the best split that reaches the gap
means = {s.label: float(np.mean(list(fin[s.label].values()))) for s in fig5_specs if fin.get(s.label)}
best_short = min(short_k, key=means.get) if short_k else ""
best_reach = min(reach, key=means.get) if reach else ""
measured.append(claims.measure("rtrl.ex3", gap, scale=scale, details={
    "isi_low": isi_low, "reach": ", ".join(reach), "short": ", ".join(short_k),
    "best_short": best_short, "best_reach": best_reach, "best_overall": min(means, key=means.get) if means else "",
    "errors": ", ".join(f"{lab} {v:.4f}" for lab, v in means.items())}).to_dict())
pd.DataFrame(measured)[["claim", "estimate", "low", "high", "n"]]

# %% [markdown]
# ## Beyond the paper: how biased is the truncated gradient?
#
# Figures 5 and 6 say *that* short windows learn worse; this section shows *where* their
# gradient goes wrong. We train a T-BPTT network of `fixed_features` features (window 20, the
# step size Figure 6 chose for it), then, on the steps that follow, compare the gradient of its
# prediction with respect to the LSTM's weights computed through a window of $k$ steps with
# the exact gradient (back-propagated through the 300 steps before, longer than any trial).
# Two numbers per step and $k$: the cosine similarity of the two gradients and the relative
# error $\lVert g_k - g \rVert / \lVert g \rVert$; the same for the untrained network (its
# initial LSTM weights, read through the trained readout). Plotted against the steps since the
# last CS onset: the US comes 14 to 26 steps after it (shaded). The table below gives the
# medians over all steps.

# %%
k20 = results.get("k=20")
bias_step = k20.best["step_size"] if k20 is not None and k20.best else step_sizes[0]
bias = tbptt_gradient_bias(fixed_features, tuple(sorted({1, 2, 3, 5, 10, 15, 20, 30})), train_steps=bias_train_steps,
                           step_size=bias_step, n_targets=bias_targets, seed=0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
ks = sorted(bias.k.unique())
colors = dict(zip(ks, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ks)))))
trained = bias[(bias.network == "trained") & (bias.since_cs >= 0)]
for k in ks:
    g = trained[trained.k == k].groupby("since_cs")
    axes[0].plot(g.cosine.median().index, g.cosine.median().values, color=colors[k], label=f"k = {k}")
    axes[1].plot(g.relative_error.median().index, g.relative_error.median().values, color=colors[k])
for ax in axes:
    ax.axvspan(TracePatterningConfig().isi_low, TracePatterningConfig().isi_high, color="0.92", zorder=0)
    ax.set_xlabel("steps since the last CS onset")
axes[0].set_ylabel("cosine with the exact gradient, median")
axes[1].set_ylabel("relative error, median")
axes[1].set_yscale("log")
axes[0].legend(fontsize=8, ncol=2)
fig.suptitle(f"T-BPTT gradient bias: {fixed_features} features trained {bias_train_steps:,} steps,\n"
             f"medians over {bias_targets} prediction steps (about {bias_targets // 120} trials)", fontsize=11)
fig.tight_layout()
publish("rtrl_tbptt_gradient_bias", fig,
        f"Beyond the paper: the truncated gradient against the exact one, {fixed_features}-feature LSTM trained "
        f"{bias_train_steps:,} steps, medians over {bias_targets} consecutive prediction steps (seed 0).")

# %%
bias.groupby(["network", "k"])[["cosine", "relative_error"]].median().unstack("network").round(4)
