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
# 10-feature network a lot. Every configuration is tuned over the step size as in the paper,
# on the paper's protocol at the book profile; `protocol=disjoint` as in Figure 4's notebook
# (with its `n_bins` and step sizes, Figure 5's runs are Figure 4's T-BPTT candidates). Dashed
# lines: the trivial predictor and the oracle of Figure 4's notebook.

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
# "paper" (tuning seeds among the report seeds, as Javed et al.) or "disjoint" (PROTOCOL.md) | {paper, disjoint}
protocol: str = "paper"
bias_targets: int = 2000  # steps at which the truncated gradient is compared with the exact one | [1, 100_000]
bias_train_steps: int = 1000000  # steps the network of the gradient-bias section is trained first | [0, 10_000_000_000]
workers: int = 2  # Dask LocalCluster worker processes; 0 runs everything in this process | [0, 1024]
scheduler: str = ""  # address of a running Dask scheduler (overrides workers) | match (|synchronous|(tcp|tls|inproc|ucx|ws|wss)://\S+)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.envs.trace_patterning import TracePatterningConfig
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.curves import plot_seed_curves, reference_lines
from rlinside.plots.rtrl import plot_final_by_split, plot_gradient_bias
from rlinside.studies import rtrl as study

set_theme()
proto = study.trace_protocol(protocol, tune_seeds, n_seeds)
common = dict(n_steps=n_steps, bin_steps=n_steps // n_bins, optimizer="rmsprop", **proto.run_keys, method="tbptt")
grid = {"step_size": step_sizes}
fig5_specs = [study.LearnerSpec(dk, dict(common, n_features=int(dk.split(":")[0]), truncation=int(dk.split(":")[1])),
                                grid) for dk in tradeoffs]
fig6_specs = [study.LearnerSpec(f"k={k}", dict(common, n_features=fixed_features, truncation=k), grid)
              for k in truncations]
sched = scheduler or ("synchronous" if workers == 0 else None)
results, tuning = study.tune_and_run(fig5_specs + fig6_specs, tune_seeds=proto.tune_seeds,
                                     final_seeds=proto.report_seeds, scheduler=sched, workers=workers or None,
                                     progress=False, command=run_context().get("command"),
                                     reuse_tuning_seeds=proto.reuse_tuning_seeds)
levels = {name: np.mean(list(fn(proto.report_seeds, min(n_steps, 1_000_000), **proto.run_keys).values()))
          for name, fn in (("trivial", study.trivial_errors), ("oracle", study.oracle_errors))}
print(tuning.summary().splitlines()[0], f"Protocol: {proto.describe()}.", sep="\n")

# %% [markdown]
# ## Figure 5: the same compute, split differently

# %%
fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(fig5_specs)))
cur = {s.label: (results[s.label].step, results[s.label].curves) for s in fig5_specs if results[s.label].curves.size}
plot_seed_curves(ax, cur, colors={s.label: c for s, c in zip(fig5_specs, colors)}, logy=True,
                 xlabel="learning step", ylabel="mean squared error")
ax.set_title("T-BPTT d:k at about equal compute")
reference_lines(ax, levels)
isi_low = TracePatterningConfig().isi_low  # the shortest CS-to-US gap of the task
plot_final_by_split(bx, {s.label: np.array(list(study.final_errors(results[s.label]).values())) for s in fig5_specs},
                    {s.label: s.base["truncation"] for s in fig5_specs}, isi_low)
fig.tight_layout()
publish("rtrl_fig5_tbptt_tradeoffs", fig,
        f"Figure 5, our run at {n_steps:,} steps ({protocol} protocol): T-BPTT configurations of about equal "
        f"compute, mean ± standard error over {n_seeds} seeds, each at its best step size.")

# %% [markdown]
# ## Figure 6: ten features, longer and longer windows

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
colors = plt.get_cmap("plasma")(np.linspace(0, 0.85, len(fig6_specs)))
cur = {s.label: (results[s.label].step, results[s.label].curves) for s in fig6_specs if results[s.label].curves.size}
plot_seed_curves(ax, cur, colors={s.label: c for s, c in zip(fig6_specs, colors)}, logy=True,
                 xlabel="learning step", ylabel="mean squared error")
reference_lines(ax, levels)
ax.set_title(f"T-BPTT with {fixed_features} features, truncation k")
publish("rtrl_fig6_truncation", fig,
        f"Figure 6, our run at {n_steps:,} steps ({protocol} protocol): {fixed_features} features, truncation 2 to 20, "
        f"mean ± standard error over {n_seeds} seeds, step size tuned per k.")

# %% [markdown]
# ## The numbers behind both figures

# %%
fig5_labels, fig6_labels = [s.label for s in fig5_specs], [s.label for s in fig6_specs]
study.tradeoff_table(results, fig5_labels, fig6_labels)

# %% [markdown]
# The claims of Figures 5 and 6 and Exercise 3, per report seed (verdicts on the chapter page).

# %%
scale = {"profile": run_context().get("profile"), "steps": n_steps, "seeds": n_seeds}
measured = study.tradeoff_measurements(results, fig5_labels, fig6_labels, isi_low, scale)
pd.DataFrame(measured)[["claim", "estimate", "low", "high", "n"]]

# %% [markdown]
# ## Beyond the paper: how biased is the truncated gradient?
#
# Figures 5 and 6 say *that* short windows learn worse; this section shows *where* the gradient
# goes wrong. We train a `fixed_features`-feature T-BPTT network (window 20, Figure 6's step
# size for it), then compare, step by step, the gradient of its prediction with respect to the
# LSTM weights through a window of $k$ steps with the exact one (through the 300 steps before):
# their cosine and the relative error $\lVert g_k - g \rVert / \lVert g \rVert$, against the
# steps since the last CS (the US comes 14 to 26 steps after it, shaded). The table gives the
# medians over all steps, also for the untrained network read through the trained readout.

# %%
bias_step = results["k=20"].best["step_size"] if "k=20" in results and results["k=20"].best else step_sizes[0]
bias = study.tbptt_gradient_bias(fixed_features, (1, 2, 3, 5, 10, 15, 20, 30), train_steps=bias_train_steps,
                                 step_size=bias_step, n_targets=bias_targets, seed=0)
fig = plot_gradient_bias(bias, (isi_low, TracePatterningConfig().isi_high),
                         f"T-BPTT gradient bias: {fixed_features} features trained {bias_train_steps:,} steps,\n"
                         f"medians over {bias_targets} prediction steps (about {bias_targets // 120} trials)")
publish("rtrl_tbptt_gradient_bias", fig,
        f"Beyond the paper: the truncated gradient against the exact one, {fixed_features}-feature LSTM trained "
        f"{bias_train_steps:,} steps, medians over {bias_targets} consecutive prediction steps (seed 0).")

# %%
bias.groupby(["network", "k"])[["cosine", "relative_error"]].median().unstack("network").round(4)
