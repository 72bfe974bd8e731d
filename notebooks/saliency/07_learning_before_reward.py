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
# # Learning before reward: do the maps move before the score does?
#
# Rosynski et al. read from G1Grad-CAM, on a network saved after 325 episodes, that their agent
# had begun to learn, while its reward curve showed it only after about 1,500 episodes: "up to
# five times faster". Their evidence is one early network looked at by eye. Here the unit is a
# *training run*, one per agent family (the feed-forward A2C three times). Snapshots of the
# weights are taken from the first update on (`scripts/train_atari.py --snapshots`). Each
# snapshot explains the same `states` states, played by the run's last network; a recurrent
# snapshot explains them from the memory it built over that game
# (`scripts/measure_saliency_training.py`). The recurrent A2C is here in its layer-normalised
# form: the plain A2C-LSTM's training return wanders without a clear rise, so it would give no
# ratio. Over the snapshots we follow two kinds of curve:
#
# - each method's mean *enrichment* on the game's objects (ball and paddle; submarine, divers,
#   enemies, oxygen bar): the share of the map's magnitude on them over their share of the
#   screen;
# - the training return: the mean full-game score of the last 100 training games (the DQN
#   families play them ε-greedy, ε falling from 1 to 0.01 over the first 150k steps).
#
# The *departure step* of a curve is the first snapshot from which it stays at least
# `fraction` of the way from its first value to its last. Its 95 % interval comes from a
# bootstrap over the states and, for the return, over the games of each window. The same
# statistic at one half (the half-rise step) is shown beside it: the verdict should not hang on
# the choice of fraction. The paper's claim, as a comparison: the return's departure step over
# G1Grad-CAM's is above 1. Two rules decide what a run can say: a curve has *moved* when the
# 95 % interval of its change from the first snapshot to the last excludes 0; a run whose
# return has not moved, or has no stored games to tell, gives no ratio (the map cannot be early
# against nothing), and a map that has not risen while the return has shows no learning, so
# its ratio is 0.

# %% tags=["parameters"]
fraction: float = 0.25  # how far along its change a curve must stay to have departed | [0.05, 0.95]
n_boot: int = 1000  # bootstrap draws for the departure steps' intervals | [100, 100_000]

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from rlinside import claims
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import saliency as study

set_theme()
runs = study.training_curves(fraction=fraction, n_boot=n_boot)
print(f"{len(runs)} measured run(s):", "; ".join(r.name for r in runs) or "none yet. Make one with the commands in "
      "scripts/measure_saliency_training.py (a 1M-step A2C run with snapshots, ~1 h on one core).")

# %% [markdown]
# ## The curves of each run
#
# Left: every method's enrichment; right: the training return, with a random policy's score
# (dotted). Dashed vertical lines: G1Grad-CAM's and the return's departure steps.

# %%
for k, run in enumerate(runs):
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    for m, colour in zip(run.methods, PALETTE):
        ax.plot(run.enrichment.index, run.enrichment[m], marker="o", ms=3, label=m, color=colour)
    ax.axhline(1, color="0.5", lw=0.8, ls=":")
    ax.set_ylabel("enrichment on the objects")
    ax.legend(fontsize=7, ncol=2)
    ax2.plot(run.train_return.index, run.train_return.values, marker="o", ms=3, color="0.2",
             label="training return (last 100 games)")
    ax2.axhline(run.random_return, color="0.5", lw=0.8, ls=":", label="random policy")
    ax2.set_ylabel("full-game score")
    ax2.legend(fontsize=7)
    for a_ in (ax, ax2):
        a_.set_xscale("symlog", linthresh=10_000)
        a_.set_xlabel("agent steps (symlog)")
        for curve, ls in (("G1Grad-CAM", "--"), ("training return", "-.")):
            if curve in run.departures.index and np.isfinite(run.departures.loc[curve, "step"]):
                a_.axvline(run.departures.loc[curve, "step"], color="0.4", lw=0.9, ls=ls)
    c = run.art.config
    publish(f"sal_features_before_reward_{k}", fig,
            f"{run.name}: left, mean enrichment of each method's map on the objects over {c['states']} states of "
            f"evaluation game {c['seed']}, for every snapshot; right, the run's training return. Departure "
            f"steps at fraction {fraction} (dashed: G1Grad-CAM; dash-dot: return). Stored measurement {run.art.key}.")

# %% [markdown]
# ## Departure steps, with intervals
#
# One row per run and curve; `half-rise` is the same statistic at one half. A run stored before
# the training games were kept with the measurement has the return's step without an interval.

# %%
table = pd.concat({r.name: pd.DataFrame({
    "departure step": r.departures["step"], "low": r.departures["low"], "high": r.departures["high"],
    "half-rise step": r.half_rise["step"], "change": r.departures["change"].round(2), "moved": r.departures["moved"]})
    for r in runs}, names=["run", "curve"]) if runs else pd.DataFrame()
table

# %% [markdown]
# ## The chapter's claim, measured
#
# Per run, the return's departure step over G1Grad-CAM's (above 1: the map moves first), with
# the run's own bootstrap interval; the claim pools the runs (its unit), and needs three, each
# with departure intervals from at least 1,000 bootstrap draws (whether a curve *moved* rests on them).

# %%
ratios = pd.DataFrame({r.name: {"family": r.family, **r.ratio("G1Grad-CAM"), "ratio at one half":
                                study.learning_first_ratio(r.half_rise, "G1Grad-CAM")["ratio"]}
                       for r in runs}).T.infer_objects() if runs else pd.DataFrame()  # numbers, not objects
values = [float(v) for v in ratios.get("ratio", []) if np.isfinite(v)]
early = claims.measure("saliency.g1gradcam_shows_learning_first", values,
                       scale={"profile": run_context().get("profile"), "runs": len(values), "n_boot": n_boot},
                       details={"runs": list(ratios.index), "families": sorted({r.family for r in runs}),
                                "fraction": fraction,
                                "ratio at one half": [float(v) for v in ratios.get("ratio at one half", [])]})
display(ratios.round(2))
pd.DataFrame([early.to_dict()])[["claim", "estimate", "low", "high", "n"]]

# %% [markdown]
# The claim pools the runs by their mean, a choice made before any run was measured. One run
# with a large ratio can carry a mean of a few runs, so the median of the same runs, with its
# bootstrap interval, stands beside it.

# %%
med = claims.bootstrap_ci(values, "median") if len(values) > 1 else (np.nan, np.nan)
e = early.to_dict()
pd.DataFrame({"pooled by": ["mean (the claim's rule)", "median"], "estimate": [e["estimate"], np.median(values)
              if values else np.nan], "low": [e["low"], med[0]], "high": [e["high"], med[1]], "runs": len(values)})
