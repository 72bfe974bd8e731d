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
# # A lag we know: does the offset find it?
#
# On the maze nobody knows how far back the policy's decisions reach, so the preceding offset
# cannot be checked there. This notebook builds a task where the answer is known. An episode
# shows, at a random step, one of two cues; exactly `lag` steps later a *go* signal asks for
# the action that matches the cue; every other step asks for *wait*. The go decision depends
# on an input `lag` steps old and on nothing in between (`rlinside.explain.known_lag`). A small
# LSTM with the maze policy's read-out learns it by supervised learning, one network per lag
# and training seed. We then apply the chapter's method unchanged: contributions of each
# channel to the chosen action, the salient channels at the go step, and the offset from the
# opening of each gate to that step. If the offset measured the temporal dependency, it would
# equal `lag`.

# %% tags=["parameters"]
lags: list[int] = [2, 4, 8, 16]  # the planted lags (steps from cue to go) | nonempty; unique; [1, 64]
seeds: int = 3  # training seeds per lag (report seeds 0, 1, ...) | [1, 100]
hidden: int = 16  # LSTM size | [2, 256]
updates: int = 1500  # training updates (batches of 64 episodes) | [1, 100_000]
episodes: int = 40  # fresh test episodes per network | [1, 10_000]
theta_g: float = 0.5  # gate threshold | (0, 1)
theta_c: float = 0.1  # a channel's share of the score that counts as contributing | (0, 1)
censored: str = "keep"  # left-censored offsets (gate open since step 0) in the claim | {exclude, keep}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import lstm_contribution as study

set_theme()
nets, offsets = study.known_lag_study(list(lags), list(range(seeds)), hidden=hidden, updates=updates,
                                      episodes=episodes, theta_g=theta_g, theta_c=theta_c)
nets.pivot(index="seed", columns="lag", values="accuracy").round(3)

# %% [markdown]
# The table gives each network's accuracy at the go step on 500 fresh episodes (0.5 is
# guessing the cue). Below, every offset at the go step, per gate, against the planted lag;
# the dashed line is where the offsets would lie if they measured the lag. Hollow markers are
# left-censored offsets: the gate was already open at the episode's first step, so the
# observed offset is a lower bound of the true one.

# %%
gates = ["input", "forget", "output"]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
rng = np.random.default_rng(0)
for ax, gate, colour in zip(axes, gates, PALETTE):
    g = offsets[offsets["gate"] == gate]
    x = np.log2(g["lag"].to_numpy()) + rng.uniform(-0.15, 0.15, len(g))
    for cens, face in ((False, colour), (True, "none")):
        sel = (g["censored"] == cens).to_numpy()
        ax.scatter(x[sel], g["offset"].to_numpy()[sel], s=10, facecolors=face, edgecolors=colour, alpha=0.6)
    ax.plot(np.log2(lags), lags, ls="--", color="0.3", label="offset = lag")
    ax.set_xticks(np.log2(lags), [str(k) for k in lags])
    ax.set(title=f"{gate} gate", xlabel="planted lag (steps)")
axes[0].set_ylabel("preceding offset at the go step")
axes[0].legend(fontsize=8)
publish("lstm_known_lag", fig, f"Offsets at the go step of the cue -> response task, {seeds} networks per lag, "
        f"{episodes} fresh episodes each (gate > {theta_g}, share > {theta_c}); hollow: left-censored.")
summary = study.known_lag_summary(offsets)
summary.groupby(["gate", "lag"])[["offsets", "censored share", "median offset", "median, uncensored", "error"]].mean()

# %% [markdown]
# ## The claim, measured
#
# The unit is the trained network: its median output-gate offset at the go step minus the
# planted lag, claimed to be within one step of zero. A left-censored offset is a lower bound of
# the true one (the gate opened before the episode began), so keeping them (`censored="keep"`)
# can only make the median smaller than the truth: an error above one step with them kept is
# an error above one step without doubt. With `censored="exclude"` (the default of
# {doc}`03_preceding_offsets`) only networks with an uncensored offset count; the details give
# that variant too.

# %%
out = summary[summary["gate"] == "output"]
error = out["error, uncensored"] if censored == "exclude" else out["error"]
m = claims.measure("lstm_contribution.offset_recovers_known_lag", error.dropna(),
                   scale={"profile": run_context().get("profile"), "networks": int(error.notna().sum())},
                   details={f"lag {k}: median offset{'' if censored == 'keep' else ', uncensored'}": float(v)
                            for k, v in out.groupby("lag")["median offset" if censored == "keep"
                                                           else "median, uncensored"].mean().items()}
                   | {"censored": censored, "networks without an offset": int(len(nets) - error.notna().sum()),
                      "mean error, censored kept": float(out["error"].mean()),
                      "mean error, censored excluded": float(out["error, uncensored"].mean()),
                      "networks with an uncensored offset": int(out["error, uncensored"].notna().sum()),
                      "censored share, output gate": float(offsets[offsets["gate"] == "output"]["censored"].mean())})
pd.DataFrame([m.to_dict()])[["claim", "estimate", "low", "high", "n"]]
