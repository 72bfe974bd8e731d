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
# Lee et al. (Sec. 4): in every interval `[t0, t1]` in which a gate of channel `j` stays above
# `theta_g`, the first step `t` at which the channel is salient gives the *preceding offset*
# `t - t0`. The paper shows one channel (Figure 5) and the joint histogram of offsets and the
# ball's distance to the centre (Figure 6), read as "offsets are longer near the centre". We add
# a controlled experiment: policies that see the maze `d` steps late (`obs_delay`). If offsets
# measure a temporal dependency, they should react to one we put there.

# %% tags=["parameters"]
n_tests: int = 40  # greedy test episodes | [1, 1000]
theta_g: float = 0.5  # gate threshold (the paper's Figure 5: 0.5) | (0, 1)
gate: str = "output"  # gate of the offsets (the paper's example: output) | {input, forget, output}
# salience threshold theta_c on a channel's share of the score; 0: the top half of the score (our default)
theta_c: float = 0.0  # | [0, 1)
reading: str = "first"  # "first" salient step per gate interval (text) or "each" salient step (caption) | {first, each}
censored: str = "exclude"  # offsets of gate intervals open at step 0 (left-censored) | {exclude, keep}
example_episode: int = 0  # test episode of Figure 5 | [0, 999]; < n_tests
delays: list[int] = [0, 2, 4]  # observation delays of the controlled experiment (steps) | nonempty; unique; [0, 32]
null_draws: int = 200  # draws of the time-shift null of the claims | [1, 100_000]

# %%
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.lstm import plot_offset_channel, plot_offset_histogram
from rlinside.studies import lstm_contribution as study

set_theme()
net, art = load_policy()
cfg = policy_config(art)
method = {"gate": gate, "theta_g": theta_g, "theta_c": theta_c or None, "reading": reading, "censored": censored}
setup = {"n_tests": n_tests, **method}
episodes, offsets = study.offset_tests(net, cfg.env_config(), **setup)
print(f"{n_tests} episodes, {sum(e['success'] for e in episodes)} successes, {len(offsets):,} offsets "
      f"({gate} gate > {theta_g}; salient: {'top half of the score' if not theta_c else f'share > {theta_c}'}; "
      f"reading: {reading}; left-censored intervals: {censored})")

# %% [markdown]
# ## Figure 5: one channel
#
# The channel drawn is chosen by a rule: of the example episode's channels whose gate opens at
# least twice (so there is more than one offset to see), the one salient most often. Its gate
# (blue) and its share of the score (black); red bars: salient steps; green: the offsets.

# %%
ep = episodes[example_episode]
j = study.example_channel(ep, gate, theta_g)
fig = plot_offset_channel(ep, offsets[offsets["episode"] == example_episode], j, gate, theta_g)
publish("lstm_offsets_channel", fig, f"Figure 5: channel {j} in test episode {example_episode}: {gate} gate, "
        "share of the chosen action's score, salient steps (red), and preceding offsets (green).")

# %% [markdown]
# ## Figure 6: offsets against the distance to the centre
#
# All offsets over the test episodes against the ball's distance to the centre (pixels of the
# 64 × 64 image) at the salient step; the rings show up as bands. Colours on a log scale, so a
# single offset is visible.

# %%
if len(offsets):
    fig = plot_offset_histogram(offsets)
    publish("lstm_offsets_histogram", fig, f"Figure 6: joint histogram of preceding offsets ({gate} gate > {theta_g}, "
            f"{reading} salient step, left-censored intervals: {censored}) and distance to the centre, "
            f"{n_tests} test episodes; log colour scale.")
    rho, by_ring = study.offsets_by_ring(episodes, offsets)
    print(f"Spearman correlation of offset with distance: {rho.statistic:.3f} (p = {rho.pvalue:.2g}); "
          f"offsets of 0 steps: {np.mean(offsets['offset'] == 0):.0%}")
by_ring.round(2) if len(offsets) else "no offsets"

# %% [markdown]
# ## A delay we put there
#
# The same policy, trained without delay, now sees the maze `d` steps late: its success and offsets.
# %%
late = study.delay_table(net, art, delays, (episodes, offsets), **setup)
late.round(3)

# %% [markdown]
# ## Policies trained with a delay
#
# That tests robustness more than the method. The cleaner experiment trains a policy *with* the
# delay, so it must carry what it saw forward in memory. Every shipped policy is tested here with
# the same tests and choices; compare policies of the same trainer ({doc}`04_memory_ablation`
# measures how much memory each one actually uses).

# %%
policy_tests = study.trained_delay_tests(art, (episodes, offsets), **setup)
trained, any_delayed = study.trained_delay_table(art, (episodes, offsets), **setup, tests=policy_tests)
trained.round(3) if any_delayed else "no policy trained with a delay is shipped"

# %% [markdown]
# ## The method's choices
#
# The paper leaves open the gate, `theta_g`, the salience threshold `theta_c`, and whether an offset is
# taken at the *first* salient step of a gate interval (its text) or at *each* (its Figure 5 caption); we
# add whether intervals open at step 0 (true start unknown) count. Each row changes one choice from this
# page's, on the same episodes, with the interval over episodes and the time-shift null's 95 % range. A
# pattern that flips between rows, or that the null also gives, is not a finding about the network.

# %%
alternatives = [{}, {"gate": "input"}, {"gate": "forget"}, {"theta_g": 0.3}, {"theta_g": 0.7},
                {"theta_c": 0.1}, {"theta_c": 0.2}, {"reading": "each" if reading == "first" else "first"},
                {"censored": "keep" if censored == "exclude" else "exclude"}]
sensitivity = study.offset_sensitivity(episodes, [{**method, **alt} for alt in alternatives],
                                       n_rings=cfg.env_config().n_rings, null_draws=null_draws)
sensitivity.round(3)

# %% [markdown]
# ## The claims, measured
#
# Unit: the test episode, pooled over the no-delay A2C policies of every training seed (each seed's value in the
# details), interval bootstrapped over episodes, this page's choices (first row above).
# Null: each channel's salient mask moved by a random time within its episode, offsets recomputed
# against the unchanged gates (a gate open for long stretches gives long positive offsets by chance).
# The planted delay pairs the policy trained with a 4-step delay with its trainer's no-delay policy.

# %%
measured = study.offset_claims(episodes, policy_tests, method=method, n_rings=cfg.env_config().n_rings,
                               null_draws=null_draws, profile=run_context().get("profile"))
if gate != "output":  # Exercise 2: the chosen gate against the output gate, on the same test episodes
    zero = study.zero_offset_comparison(episodes, gate=gate, theta_g=theta_g, n_rings=cfg.env_config().n_rings)
    measured.append(claims.measure(f"lstm_contribution.ex2_{gate}", zero.pop("difference"),
                                   scale={"profile": run_context().get("profile"), "episodes": n_tests},
                                   details={"gate": gate, "theta_g": theta_g, **zero}))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
