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
# # How long before a channel matters do its gates open?
#
# Lee et al. (Sec. 4) look for a lead of the LSTM's gates over a channel's contribution: in
# every interval `[t0, t1]` in which a gate of channel `j` stays above `theta_g`, the first step
# `t` at which the channel is salient (in the top half of the score, our default for the
# unstated `theta_c`) gives the *preceding offset* `t - t0`. The paper shows one channel
# (Figure 5), the joint histogram of offsets and the ball's distance to the centre over 40
# tests (Figure 6), and reads it as "offsets are longer near the centre".
#
# Beyond the paper, a controlled experiment: the maze can delay what the policy sees by `d`
# steps (`obs_delay`, one of the time parameters the paper names as the Sim2Real gap). We run
# the same policy with delays `delays` and measure how its offsets and its success move. If
# the offsets measure a temporal dependency, they should react to one we put there.

# %% tags=["parameters"]
n_tests: int = 40  # greedy test episodes | [1, 1000]
theta_g: float = 0.5  # gate threshold (the paper's Figure 5: 0.5) | (0, 1)
gate: str = "output"  # gate of the offsets (the paper's example: output) | {input, forget, output}
example_episode: int = 0  # test episode of Figure 5 | [0, 999]; < n_tests
delays: list[int] = [0, 2, 4]  # observation delays of the controlled experiment (steps) | nonempty; unique; [0, 32]
null_draws: int = 200  # draws of the time-shift null of the claims | [1, 100_000]

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.explain.contribution import preceding_offsets
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import lstm_contribution as study

set_theme()
net, art = load_policy()
cfg = policy_config(art)
setup = {"n_tests": n_tests, "gate": gate, "theta_g": theta_g}
episodes, offsets = study.offset_tests(net, cfg.env_config(), **setup)
print(f"{n_tests} episodes, {sum(e['success'] for e in episodes)} successes, {len(offsets):,} offsets "
      f"({gate} gate > {theta_g})")

# %% [markdown]
# ## Figure 5: one channel
#
# The channel of the example episode that is salient most often: its gate (blue) and its
# share of the score (black); red bars mark the steps where it is salient, green lines the
# offsets from the gate opening to its first salient step.

# %%
ep = episodes[example_episode]
j = int(ep["mask"].sum(0).argmax())
fig, ax = plt.subplots(figsize=(11, 3.3))
ax.plot(ep[gate][:, j], color=PALETTE[0], label=f"{gate} gate")
ax.plot(ep["r"][:, j], color="0.1", ls=":", label="share of the score")
ax.axhline(theta_g, color=PALETTE[0], lw=0.6, ls="--")
for t in np.flatnonzero(ep["mask"][:, j]):
    ax.axvspan(t - 0.5, t + 0.5, color="red", alpha=0.25, lw=0)
for o in preceding_offsets(ep[gate][:, j], ep["mask"][:, j].astype(float), theta_g, 0.5):
    ax.plot([o["t0"], o["t"]], [1.03, 1.03], color="green", lw=2)
ax.set_xlabel("step")
ax.set_ylim(0, 1.08)
ax.legend(fontsize=8, loc="lower right")
publish("lstm_offsets_channel", fig, f"Figure 5: channel {j} in test episode {example_episode}: {gate} gate, "
        "share of the chosen action's score, salient steps (red), and preceding offsets (green).")

# %% [markdown]
# ## Figure 6: offsets against the distance to the centre
#
# All offsets of all channels over the test episodes, against the ball's distance to the
# centre (in pixels of the 64 × 64 image) at the salient step. The rings show up as bands of
# distance.

# %%
if len(offsets):
    fig, ax = plt.subplots(figsize=(7, 4))
    h = ax.hist2d(offsets["distance_px"], offsets["offset"], bins=[30, np.arange(-0.5, offsets["offset"].max() + 1.5)],
                  cmap="magma_r", cmin=1)
    fig.colorbar(h[3], ax=ax, label="count")
    ax.set_xlabel("distance to centre (px)")
    ax.set_ylabel("preceding offset (steps)")
    publish("lstm_offsets_histogram", fig, f"Figure 6: joint histogram of preceding offsets ({gate} gate > {theta_g}, "
            f"first salient step) and distance to the centre, {n_tests} test episodes.")
    rho, by_ring = study.offsets_by_ring(episodes, offsets)
    print(f"Spearman correlation of offset with distance: {rho.statistic:.3f} (p = {rho.pvalue:.2g}); "
          f"offsets of 0 steps: {np.mean(offsets['offset'] == 0):.0%}")
by_ring.round(2) if len(offsets) else "no offsets"

# %% [markdown]
# ## A delay we put there
#
# The same policy, trained without delay, now sees the maze `d` steps late. We measure its
# success and the distribution of its offsets.

# %%
late = study.delay_table(net, art, delays, (episodes, offsets), **setup)
late.round(3)

# %% [markdown]
# ## Policies trained with a delay
#
# Running a policy in a maze slower than the one it learned in tests its robustness more than
# the method. The cleaner experiment trains a policy *with* the delay: its labels come from the
# true, current state while it sees the maze `d` steps late, so it has to carry what it saw
# forward in its memory. Every shipped policy trained with an observation delay
# (`scripts/train_maze_dagger.py --obs-delay d`) is tested here next to the shipped policies
# without delay, with the same tests and thresholds. Compare policies of the same trainer: the
# delayed policy was trained by DAgger, like the second policy without delay.

# %%
policy_tests = study.trained_delay_tests(art, (episodes, offsets), **setup)
trained, any_delayed = study.trained_delay_table(art, (episodes, offsets), **setup, tests=policy_tests)
if not any_delayed:
    print("no policy trained with a delay is shipped; train one with "
          "python scripts/train_maze_dagger.py --run-dir runs/maze_d4 --obs-delay 4")
trained.round(3)

# %% [markdown]
# ## The claims, measured
#
# The unit is the test episode: each statistic is computed per episode and its interval
# bootstrapped over the episodes (the verdicts are computed on the chapter page,
# {doc}`../../claims`). Offsets are judged against a time-shift null: each channel's salient
# mask is moved by a random time within its episode (`null_draws` draws) and the offsets
# recomputed against the unchanged gates. A gate that stays open for long stretches gives
# positive offsets, and long ones, whenever the channel happens to be salient; the null shows
# how much of the pattern that alone produces. The planted delay is measured on the policy
# trained with a delay of 4 steps against the policy of the same trainer without one, paired
# by test episode (the same start).

# %%
stat = partial(study.offset_statistics, gate=gate, theta_g=theta_g, n_rings=cfg.env_config().n_rings)
real = study.per_episode(episodes, stat)
null_draws_all = study.time_shift_null(episodes, stat, null_draws)
null = {k: np.nanmean(null_draws_all[k], axis=1) for k in ("positive share", "spearman")}
assert int(real["offsets"].sum()) == len(offsets)  # the vectorised offsets are the table's
ring_real, ring_null = study.pooled_ring_means(real), study.pooled_ring_means(null_draws_all)
scale = {"profile": run_context().get("profile"), "episodes": n_tests}
null_scale = {**scale, "null_draws": null_draws}
measured = [
    claims.measure("lstm_contribution.gate_precedes_contribution", real["positive share"], scale=null_scale,
                   null=null["positive share"],
                   details={"offsets": len(offsets), "pooled positive share": float(np.mean(offsets["offset"] > 0)),
                            "null mean": float(np.mean(null["positive share"]))}),
    claims.measure("lstm_contribution.offsets_longer_near_centre", real["spearman"], scale=null_scale,
                   null=null["spearman"],
                   details={"null mean": float(np.mean(null["spearman"])), "mean offset by ring": ring_real,
                            "null mean offset by ring": ring_null}),
]
delayed = [p for p in policy_tests if p.delay == 4]
reference = [p for p in policy_tests if delayed and p.delay == 0 and p.trainer == delayed[0].trainer]
if delayed and reference:
    d_off, r_off = study.mean_offset_by_episode(delayed[0].offsets), study.mean_offset_by_episode(reference[0].offsets)
    measured.append(claims.measure(
        "lstm_contribution.planted_delay_moves_offsets", claims.paired_differences(d_off, r_off), scale=scale,
        details={"delayed policy": delayed[0].artifact.key, "reference policy": reference[0].artifact.key,
                 "delayed mean offset": float(delayed[0].offsets["offset"].mean()),
                 "reference mean offset": float(reference[0].offsets["offset"].mean()),
                 **{f"A2C seen {d} steps late: mean offset": float(late.loc[d, "mean offset"]) for d in late.index}}))
if gate != "output":  # Exercise 2: the chosen gate against the output gate, on the same test episodes
    zero = study.zero_offset_comparison(episodes, gate=gate, theta_g=theta_g, n_rings=cfg.env_config().n_rings)
    measured.append(claims.measure(f"lstm_contribution.ex2_{gate}", zero.pop("difference"), scale=scale,
                                   details={"gate": gate, "theta_g": theta_g, **zero}))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
