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
# # Which LSTM channels decide the action
#
# The policy's action scores are one linear layer over the LSTM's hidden state,
# `s_t = W_a h_t + b`. Lee et al. (Sec. 3) score channel `j` at step `t` by
# `c_t[j] = max(0, W_a[a_t, j] h_t[j])` (activation times the gradient of the chosen score),
# normalize these over the channels, and keep the fewest channels that carry more than half
# of the score. This notebook
#
# 1. draws the paper's Figure 2 (salient channels over time, coloured by the action they
#    serve, rows grouped by action), Figure 3 (distance to the centre over the same episode,
#    with snapshots) and Figure 4 (where the ball is when chosen channels are salient);
# 2. measures, over `n_tests` greedy test episodes, how sparse the contributions are, how
#    faithful channels are to one action and to one ring of the maze;
# 3. tests the paper's argument that activation times weight finds the channels that matter
#    better than either alone: removing the top channels of each ranking from the read-out,
#    how often does the action change?
# 4. applies the same analysis to the Atari A2C-LSTM agent of the saliency chapter.

# %% tags=["parameters"]
n_tests: int = 40  # greedy test episodes (start angles spread over the outer ring) | [1, 1000]
fraction: float = 0.5  # share of the score the salient channels must exceed (the paper: 0.5) | (0, 1)
figure_episode: int = 0  # test episode drawn in Figures 2-3 | [0, 999]; < n_tests
atari_steps: int = 400  # agent steps of the Atari A2C-LSTM analysed (0: skip) | [0, 100_000]
null_draws: int = 200  # draws of the time-shift null of the claims | [1, 100_000]

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from rlinside import claims
from rlinside.envs.marble_maze import ACTION_NAMES
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import lstm_contribution as study

set_theme()
tests = study.contribution_tests(n_tests, fraction)
print(f"{n_tests} episodes, {len(tests.actions):,} steps, {tests.successes} successes; "
      f"LSTM of {tests.weight.shape[1]} channels")

# %% [markdown]
# ## Figures 2 and 3: one episode
#
# Each row is a channel, each column a step; a coloured cell means the channel is among the
# salient ones at that step, in the colour of the action it contributes to. Rows are grouped
# by the action the channel serves most often over all test episodes (channels never salient
# at the bottom). Below: the ball's distance to the centre; the steps are the rings.

# %%
ep = tests.episodes[figure_episode]
colours = ["white"] + list(PALETTE[:5])
grid = np.where(ep["mask"], ep["actions"][:, None] + 1, 0).T[tests.order]
fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=ListedColormap(colours), vmin=0, vmax=5)
ax.set_ylabel("LSTM channel (grouped by action)")
handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours[1:]]
ax.legend(handles, ACTION_NAMES, ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.12))
ax2.plot(ep["distance_px"], color="0.2")
ax2.set(xlabel="step", ylabel="distance to centre (px)")
snaps = study.snapshot_steps(ep["ring"])  # the first step in each ring
ax2.scatter(snaps, ep["distance_px"][snaps], color="red", zorder=3)
publish("lstm_contribution_heatmap", fig,
        f"Figures 2 and 3: salient channels (more than {fraction:.0%} of the chosen action's score) of test "
        f"episode {figure_episode} ({'success' if ep['success'] else 'not reached'}, {ep['steps']} steps), and "
        "the ball's distance to the centre; red points: the snapshots below.")
fig, axes = plt.subplots(1, len(snaps), figsize=(2.6 * len(snaps), 2.8), squeeze=False)
for ax, t in zip(axes[0], snaps):
    ax.imshow(ep["obs"][t, 0], cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"step {t}, ring {ep['ring'][t]}", fontsize=9)
    ax.axis("off")
publish("lstm_contribution_snapshots", fig, "The observations at the red points: the ball in successive rings.")

# %% [markdown]
# ## How sparse, how specialised
#
# Over all test steps: how many channels carry the score, how pure each channel is (share of
# its salient steps that serve its main action), and how concentrated it is in one ring (share
# of its salient steps in its most frequent ring, against the share of all steps spent in that
# ring).

# %%
summary, ring_table = study.specialisation(tests)
summary.to_frame("value").round(3)

# %% [markdown]
# ## Figure 4: where the ball is when a channel is salient
#
# Four channels: the two whose salient steps are most concentrated in one ring relative to
# the time spent there, and the two whose salient ball positions are spread least (a small
# region). Colours: the action served.

# %%
located = study.located_channels(tests, ring_table)
if located.chosen:
    fig, axes = plt.subplots(1, len(located.chosen), figsize=(3.2 * len(located.chosen), 3.3), squeeze=False)
    R = tests.env_config.outer_radius
    phi = np.linspace(0, 2 * np.pi, 200)
    for ax, j in zip(axes[0], located.chosen):
        on, xy = tests.mask[:, j], located.xy
        for rad in list(tests.env_config.wall_radii) + [R]:
            ax.plot(rad * np.cos(phi), rad * np.sin(phi), color="0.85", lw=0.8)
        ax.scatter(xy[on, 0], xy[on, 1], c=[PALETTE[a] for a in tests.actions[on]], s=4)
        ax.set_aspect("equal")
        ax.set(xlim=(-R, R), ylim=(-R, R))
        ax.set_title(f"channel {j} ({'ring' if j in located.by_ring else 'region'})", fontsize=9)
        ax.axis("off")
    publish("lstm_channel_locations", fig,
            f"Figure 4: ball positions at the steps where each channel is salient, over {n_tests} test episodes; "
            "colour: the action served (as in the heat map).")

# %% [markdown]
# ## Does activation × weight pick the channels that matter?
#
# The paper argues that neither the activation `|h_t[j]|` nor the weight `|W_a[a_t, j]|` alone
# says what a channel contributes. A test: at every step, remove the top `k` channels of a
# ranking from the read-out (set their `h` to 0 in `W_a h + b` only) and see whether the
# chosen action changes. The better the ranking, the more flips for the same `k`.

# %%
study.readout_ablation(tests).round(3)

# %% [markdown]
# ## The same analysis on an Atari agent
#
# The A2C-LSTM of the saliency chapter (Seaquest) also ends in one linear layer over its LSTM
# (256 channels, 18 actions). We play `atari_steps` steps. This agent samples its actions
# from its policy, and its most likely action can stay the same for long stretches, so we
# explain the action it actually took (and report how many distinct arg-max actions there
# were).

# %%
a = None
if atari_steps > 0:
    a = study.atari_contributions(fraction, atari_steps)
    if a is not None:
        print(f"A2C-LSTM Seaquest ({a.stage}, {a.train_steps:,} steps): {a.channels} channels; "
              f"{a.mean_channels:.1f} needed per step on average ({a.mean_fraction:.1%}); fewer than 10% on "
              f"{a.steps_below_10pct:.0%} of steps; {a.channels_ever_salient} channels ever salient; "
              f"purity >= 0.9 for {a.pure_share:.0%} of the {a.frequent_channels} channels salient on >= 20 "
              f"steps; distinct actions taken: {a.actions_taken}, distinct arg-max actions: {a.argmax_actions}")
    else:
        print("No A2C-LSTM agent shipped yet (see the saliency chapter's agent zoo).")

# %% [markdown]
# ## The claims, measured
#
# The unit is the test episode: each claim's statistic is computed per episode and its
# interval bootstrapped over the episodes (the verdicts are computed on the chapter page,
# {doc}`../../claims`). Whether a channel serves one action or one ring is judged against a
# time-shift null: each channel's salient mask is moved by a random time within its episode
# (`null_draws` draws), which keeps how often and in what runs the channel is salient but
# makes its timing relative to the ball and the actions chance.

# %%
n_l = tests.weight.shape[1]
counts = [e["mask"].sum(1) for e in tests.episodes]
flips = study.readout_flips(tests, k=4)
stat = partial(study.mask_statistics, n_rings=tests.env_config.n_rings, n_actions=tests.weight.shape[0])
real = study.per_episode(tests.episodes, stat)
null = {k: np.nanmean(v, axis=1) for k, v in study.time_shift_null(tests.episodes, stat, null_draws).items()}
scale = {"profile": run_context().get("profile"), "episodes": n_tests}
null_scale = {**scale, "null_draws": null_draws}
pooled = {"mean channels per step": float(summary["channels needed per step (mean)"]),
          "steps below 10 %": float(summary["steps needing fewer than 10% of channels"]),
          "channels ever salient": int(summary["channels ever salient"]), "channels": n_l}
if a is not None:
    pooled.update({"atari mean fraction": a.mean_fraction, "atari steps below 10 %": a.steps_below_10pct})
ablation = study.readout_ablation(tests)
measured = [
    claims.measure("lstm_contribution.sparse_on_average", [c.mean() / n_l for c in counts], scale=scale,
                   details=pooled),
    claims.measure("lstm_contribution.sparse_at_each_step", [np.mean(c < 0.1 * n_l) for c in counts], scale=scale,
                   details=pooled),
    claims.measure("lstm_contribution.single_action_channels", real["pure share"], scale=null_scale,
                   null=null["pure share"], details={"null mean": float(np.mean(null["pure share"]))}),
    claims.measure("lstm_contribution.ring_channels", real["ring pure share"], scale=null_scale,
                   null=null["ring pure share"],
                   details={"null mean": float(np.mean(null["ring pure share"])),
                            "median share in main ring (mean over episodes)": float(np.nanmean(real["ring share"])),
                            "null median share in main ring": float(np.mean(null["ring share"]))}),
    claims.measure("lstm_contribution.contribution_finds_channels",
                   flips["contribution (activation x weight)"] - flips["|weight|"], scale=scale,
                   details={f"{name} (k = {k})": float(ablation.loc[name, k]) for name in ablation.index
                            for k in ablation.columns}),
]
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
