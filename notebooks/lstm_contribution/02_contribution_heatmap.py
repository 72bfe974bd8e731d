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
# 2. measures, over `n_tests` greedy test episodes of the policy of each of `seeds` training
#    seeds, how sparse the contributions are, how faithful channels are to one action and to one
#    ring of the maze;
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
seeds: int = 3  # training seeds of the no-delay A2C policy whose test episodes the tables and claims pool | [1, 10]

# %%
import pandas as pd

from rlinside.envs.marble_maze import ACTION_NAMES
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.lstm import plot_channel_locations, plot_contribution_heatmap, plot_snapshots
from rlinside.studies import lstm_contribution as study

set_theme()
tests = study.contribution_tests(n_tests, fraction)
by_seed = study.seed_contribution_tests(n_tests, fraction, seeds, figure=tests)
for s, t in by_seed.items():
    print(f"seed {s}: {n_tests} episodes, {len(t.actions):,} steps, {t.successes} successes; "
          f"LSTM of {t.weight.shape[1]} channels")

# %% [markdown]
# ## Figures 2 and 3: one episode
#
# Each row is a channel, each column a step; a coloured cell means the channel is among the
# salient ones at that step, in the colour of the action it contributes to. Rows are grouped
# by the action the channel serves most often over all test episodes (channels never salient
# at the bottom). Below: the ball's distance to the centre; the steps are the rings.

# %%
ep = tests.episodes[figure_episode]
snaps = study.snapshot_steps(ep["ring"])  # the first step in each ring
fig = plot_contribution_heatmap(ep, tests.order, snaps, ACTION_NAMES)
publish("lstm_contribution_heatmap", fig,
        f"Figures 2 and 3: salient channels (more than {fraction:.0%} of the chosen action's score) of test "
        f"episode {figure_episode} ({'success' if ep['success'] else 'not reached'}, {ep['steps']} steps), and "
        "the ball's distance to the centre; red points: the snapshots below.")
fig = plot_snapshots(ep, snaps)
publish("lstm_contribution_snapshots", fig, "The observations at the red points: the ball in successive rings.")

# %% [markdown]
# ## How sparse, how specialised
#
# Over all test steps of each seed's policy: how many channels carry the score, how pure each
# channel is (share of its salient steps that serve its main action), and how concentrated it
# is in one ring (share of its salient steps in its most frequent ring, against the share of
# all steps spent in that ring). Seed 0 is the policy of the figures.

# %%
summary, ring_table = study.specialisation(tests)
study.seed_summaries(by_seed).round(3)

# %% [markdown]
# ## Figure 4: where the ball is when a channel is salient
#
# Four channels: the two whose salient steps are most concentrated in one ring relative to
# the time spent there, and the two whose salient ball positions are spread least (a small
# region). Colours: the action served.

# %%
located = study.located_channels(tests, ring_table)
if located.chosen:
    fig = plot_channel_locations(tests.mask, tests.actions, located.xy, located.chosen, located.by_ring,
                                 tests.env_config.wall_radii, tests.env_config.outer_radius)
    publish("lstm_channel_locations", fig,
            f"Figure 4: ball positions at the steps where each channel is salient, over {n_tests} test episodes; "
            "colour: the action served (as in the heat map).")

# %% [markdown]
# ## Does activation × weight pick the channels that matter?
#
# The paper argues that neither the activation `|h_t[j]|` nor the weight `|W_a[a_t, j]|` alone
# says what a channel contributes. Two measures, per ranking and number `k` of top channels:
# the **share of steps whose action changes** when those channels are removed from the read-out
# (their `h` set to 0 in `W_a h + b` only), and the **share of the chosen action's score they
# carry**. They answer different questions: a channel can carry much of the score and still not
# change the action, when the runner-up loses as much. The *margin* ranking scores a channel by
# what it adds to the chosen action's lead over the runner-up, the quantity that decides a flip.
# Each value is a mean over the test episodes of all seeds' policies, with its 95 % bootstrap
# interval over those episodes.

# %%
readout = study.readout_over_seeds(by_seed)
readout["value"] = [f"{r['mean']:.2f} [{r['low']:.2f}, {r['high']:.2f}]" for _, r in readout.iterrows()]
readout["value"].unstack("k").reindex(list(study.RANKINGS), level="ranking")

# %% [markdown]
# ## The same analysis on an Atari agent
#
# The A2C-LSTM of the saliency chapter on Seaquest (the retrained one with a layer-normalised LSTM
# input; the first one ignores its screen) also ends in one linear layer over its LSTM (256
# channels, 18 actions). It samples its actions, so we explain the action it took over
# `atari_steps` steps (and count the distinct arg-max actions).

# %%
a = study.atari_contributions(fraction, atari_steps) if atari_steps > 0 else None
print(a if a is not None else "Atari analysis skipped (atari_steps = 0) or no A2C-LSTM agent shipped yet.")

# %% [markdown]
# ## The claims, measured
#
# The unit is the test episode, pooled over the seeds' policies (each seed's value in the
# claims' details): each claim's statistic is computed per episode and its interval
# bootstrapped over the episodes (the verdicts are computed on the chapter page,
# {doc}`../../claims`). Whether a channel serves one action or one ring is judged against a
# time-shift null: each channel's salient mask is moved by a random time within its episode
# (`null_draws` draws), which keeps how often and in what runs the channel is salient but
# makes its timing relative to the ball and the actions chance. A second null is printed for the
# single-action claim: the actions rolled in time and salience recomputed for them, which keeps
# what the read-out weights impose (a channel can only be salient for actions whose weight has
# its activation's sign). "Fewer than 10 %" of 64 channels is at most 6; the step-by-step share
# with one channel more is printed too, as that edge is close.

# %%
measured = study.contribution_claims(tests, summary, a, null_draws=null_draws, profile=run_context().get("profile"),
                                     by_seed=by_seed)
print({k: v for m in measured for k, v in m.details.items() if "(one more)" in k or "action-shift" in k})
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
