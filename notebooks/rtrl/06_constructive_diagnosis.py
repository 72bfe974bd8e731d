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
# # Why does the constructive network stall?
#
# In Figure 4 the constructive network ends well above hybrid and columnar, although it has more
# features than columnar and the same kind of exact gradient. This notebook is a small
# controlled experiment beyond the paper. It starts from Figure 4's constructive learner at the
# book profile (10 features, one new feature per stage, its tuned step size and ε) and changes
# one thing at a time:
#
# - **stage length**: each feature learns longer or shorter before it freezes;
# - **normalisation settling**: a new feature starts with running variance 1, and its readout
#   weight with 0, so it contributes little until the statistics settle (time constant
#   $1/(1-\beta)$ steps); a smaller β settles faster;
# - **ε**, the variance floor of the normalisation;
# - **feature count**: 5 or 20 features instead of 10;
# - **step size** of the learning column and the readout;
# - **frozen statistics**: a frozen feature's normalisation frozen with its weights.
#
# Every run is as long as its stages (features × stage length), so every feature gets its whole
# stage. Runs use report seeds with separate stream and network seeds. We read two things: the
# final error of each variant, and the error at the end of each stage, which shows whether the
# later features still help.

# %% tags=["parameters"]
n_features: int = 10  # features of the base learner (Figure 4: 10) | [1, 1000]
steps_per_stage: int = 1000000  # steps per feature of the base learner (Figure 4's book profile) | [10, 1_000_000_000]
step_size: float = 0.0001  # RMSProp step size of the base learner (Figure 4's winner) | (0, 1]
epsilon: float = 0.1  # variance floor of the base learner (Figure 4's winner) | (0, 10]
beta: float = 0.99999  # decay of the normalisation statistics (Appendix A) | (0, 1)
stage_lengths: list[int] = [250000, 500000, 2000000, 4000000]  # stage lengths | nonempty; unique; [10, 1_000_000_000]
betas: list[float] = [0.999, 0.9999]  # other decays | nonempty; unique; (0, 1)
epsilons: list[float] = [0.01, 1.0]  # other variance floors | nonempty; unique; (0, 10]
feature_counts: list[int] = [5, 20]  # other feature counts | nonempty; unique; [1, 1000]
step_sizes: list[float] = [0.0003, 0.00003]  # other step sizes | nonempty; unique; (0, 1]
n_seeds: int = 5  # report seeds per variant | [1, 1000]
workers: int = 2  # Dask LocalCluster worker processes; 0 runs everything in this process | [0, 1024]
scheduler: str = ""  # address of a running Dask scheduler (overrides workers) | match (|synchronous|(tcp|tls|inproc|ucx|ws|wss)://\S+)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims, seeds
from rlinside.claims import bootstrap_ci, paired_differences
from rlinside.plots import publish, run_context, set_theme
from rlinside.studies import rtrl as study

set_theme()
report = seeds.REPORT.take(n_seeds)
base = dict(method="constructive", n_features=n_features, steps_per_stage=steps_per_stage, step_size=step_size,
            epsilon=epsilon, beta=beta, optimizer="rmsprop", separate_streams=True)
variants = study.constructive_variants(base, stage_lengths=stage_lengths, betas=betas, epsilons=epsilons,
                                       feature_counts=feature_counts, step_sizes=step_sizes)
sched = scheduler or ("synchronous" if workers == 0 else None)
runs = study.run_variants(variants, report, scheduler=sched, workers=workers or None,
                          command=run_context().get("command"))
oracle = np.mean(list(study.oracle_errors(report, min(steps_per_stage, 1_000_000), separate_streams=True).values()))
pd.DataFrame([{"variant": lab, "features": c["n_features"], "steps per stage": c["steps_per_stage"],
               "run length": c["n_steps"], "step size": c["step_size"], "epsilon": c["epsilon"], "beta": c["beta"],
               "frozen statistics": c.get("freeze_stage_statistics", False)} for lab, c in variants.items()])

# %% [markdown]
# ## Final error of each variant
#
# Mean over report seeds with a 95 % bootstrap interval; the dashed line is the oracle of the
# Figure 4 notebook, the best error any learner can reach.

# %%
table = pd.DataFrame([{"variant": lab, "final error": float(np.mean(v)), **dict(zip(("low", "high"), bootstrap_ci(v))),
                       "seeds": len(v)} for lab, v in runs.groupby("variant", sort=False)["final error"]])
fig, ax = plt.subplots(figsize=(8, 4.2))
ax.errorbar(table["final error"], range(len(table)), xerr=[table["final error"] - table["low"],
            table["high"] - table["final error"]], fmt="o", color="k", capsize=3)
ax.set_yticks(range(len(table)), table["variant"])
ax.invert_yaxis()
ax.set_xscale("log")
ax.axvline(oracle, color="0.35", ls="--", lw=1.0)
ax.set_xlabel("final error (last 10 % of the run)")
ax.set_title(f"Constructive: one change at a time from the base ({n_features} features, "
             f"{steps_per_stage:,} steps each)")
publish("rtrl_constructive_diagnosis", fig,
        f"Beyond the paper: final error of the constructive learner with one setting changed, mean and 95 % "
        f"bootstrap interval over {n_seeds} report seeds; dashed: the oracle.")
by = table.set_index("variant")["final error"]
lengths = sorted({steps_per_stage, *stage_lengths})
curve = {n: by["base" if n == steps_per_stage else f"stage length {n:,}"] for n in lengths}
print("Final error by stage length: " + ", ".join(f"{n:,} steps {e:.4f}" for n, e in curve.items())
      + f"; the oracle {oracle:.4f}. Best other change: {by.drop('base').idxmin()} ({by.drop('base').min():.4f}).")
table

# %% [markdown]
# ## Do the later features help?
#
# The error at the end of each stage, mean over seeds, for the base and the stage-length
# variants. A learner whose new features keep finding something falls stage after stage.

# %%
stage_cols = [c for c in runs.columns if c.startswith("stage ")]
fig, ax = plt.subplots(figsize=(8, 4.2))
for lab in ["base", *[v for v in variants if v.startswith("stage length") or v.endswith("features")]]:
    m = runs[runs.variant == lab][stage_cols].mean()
    ax.plot(np.arange(1, m.notna().sum() + 1), m.dropna().values, marker="o", ms=3, label=lab)
ax.axhline(oracle, color="0.35", ls="--", lw=1.0, label="oracle")
ax.set_yscale("log")
ax.set_xlabel("stage (features so far)")
ax.set_ylabel("error at the end of the stage")
ax.legend(fontsize=8, frameon=False)
publish("rtrl_constructive_stages", fig,
        f"Beyond the paper: constructive error at the end of each stage, mean over {n_seeds} report seeds.")
base_stages = runs[runs.variant == "base"][stage_cols].dropna(axis=1)
gain = -base_stages.diff(axis=1).iloc[:, 1:]  # per seed, how much each new stage lowered the error
print(f"Base learner: the first stage ends at {base_stages.iloc[:, 0].mean():.4f}, the last at "
      f"{base_stages.iloc[:, -1].mean():.4f}; stages 2-{base_stages.shape[1]} each lower it by "
      f"{', '.join(f'{g:.4f}' for g in gain.mean())} on average (oracle {oracle:.4f}).")

# %% [markdown]
# The diagnosis as claims, per report seed (verdicts on the chapter page, {doc}`../../claims`):
# does a longer stage help, does faster-settling normalisation help, and do the later features
# still help?

# %%
per_seed = {lab: dict(zip(g.seed, g["final error"])) for lab, g in runs.groupby("variant")}
longest, fastest = f"stage length {max(stage_lengths):,}", f"beta {min(betas):g}"
mid = base_stages.columns[base_stages.shape[1] // 2 - 1]
scale = {"profile": run_context().get("profile"), "seeds": n_seeds, "steps_per_stage": steps_per_stage}
pd.DataFrame([claims.measure(cid, vals, scale=scale, details=det).to_dict() for cid, vals, det in [
    ("rtrl.constructive_longer_stages", paired_differences(per_seed["base"], per_seed.get(longest, {})),
     {"variant": longest}),
    ("rtrl.constructive_settling", paired_differences(per_seed["base"], per_seed.get(fastest, {})),
     {"variant": fastest}),
    ("rtrl.constructive_late_features", (base_stages[mid] - base_stages.iloc[:, -1]).tolist(), {"middle": mid}),
]])[["claim", "estimate", "low", "high", "n"]]
