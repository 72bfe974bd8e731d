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
# # The marble maze and its policy
#
# Lee et al. analyse a policy that tilts a circular maze to bring a ball from the outer ring
# to the centre. We built the maze in pybullet (`rlinside.envs.marble_maze`: four ring walls,
# one gate in each, alternating sides) and trained a policy of the paper's shape (two
# convolutions, an LSTM, one linear layer to the five action scores); the chapter page says
# how it was trained (recurrent A2C, `scripts/train_maze.py`, or DAgger from a privileged
# controller, `scripts/train_maze_dagger.py`). The policy sees only overhead images. One image
# shows where the ball is but not where it is going: the policy has to build the ball's
# velocity from several frames (and, with the paper's incremental tilt, remember the tilt it
# set), which is what its LSTM is for. This notebook reads the shipped policy and shows
#
# 1. the maze as the policy sees it;
# 2. the training curve from the run's log: rolling success rate and episode length (A2C), or loss
#    and success per round (DAgger);
# 3. the test: `n_tests` greedy episodes from start angles spread evenly over the outer ring,
#    with the policy's memory and with its LSTM state reset at every step;
# 4. example trajectories.

# %% tags=["parameters"]
n_tests: int = 40  # test episodes (the paper: 40) | [1, 1000]
n_trajectories: int = 4  # example trajectories drawn | [1, 16]
smoothing: int = 200  # training episodes per point of the curve | [1, 100_000]
seeds: int = 3  # training seeds of the no-delay A2C policy whose curves and tests are shown | [1, 10]

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.envs.marble_maze import MarbleMazeEnv
from rlinside.plots import publish, set_theme
from rlinside.plots.lstm import plot_dagger_log, plot_maze_layout, plot_training_logs
from rlinside.studies import lstm_contribution as study

set_theme()
net, art = load_policy()
cfg = policy_config(art)
env_cfg = cfg.env_config()
m = art.manifest["metrics"]
print(f"policy {art.key}: {art.config['step']:,} training steps, LSTM of {cfg.lstm_size} channels; "
      f"shipped test: {m['success_rate']:.0%} success with memory, {m['success_rate_no_memory']:.0%} without "
      f"({m['episodes']} episodes)")

# %% [markdown]
# ## The maze
#
# Left: the 64 × 64 image the policy receives (rings in light grey, the goal disc in the
# middle, the ball dark). Right: the radius of the walls and the gates.

# %%
env = MarbleMazeEnv(env_cfg)
obs, info = env.reset(seed=0, options={"angle": 2.5})
tilting = (f"each action holds the board tilted by {np.degrees(env_cfg.max_tilt):.1f} degrees about its axis "
           "(no-op: level)" if env_cfg.tilt_mode == "hold" else
           f"tilt step {np.degrees(env_cfg.tilt_step):.1f} degrees, at most {np.degrees(env_cfg.max_tilt):.1f}")
publish("maze_layout", plot_maze_layout(obs[0], env_cfg), f"The maze: {env_cfg.n_rings} ring walls with one gate "
        f"each; the ball starts in the outer ring. Tilt mode '{env_cfg.tilt_mode}': {tilting}; {env_cfg.substeps} "
        "physics steps of 1/240 s per action.")

# %% [markdown]
# ## Training
#
# Two trainers exist (see the chapter page): recurrent A2C on 16 mazes (one point per
# `smoothing` episodes: success and episode length; one line per training seed), and DAgger
# from a privileged controller (one point per round: the imitation loss, and how often the
# episodes the policy drove itself reached the centre; these start in any ring, half of them
# in the outer one).

# %%
if art.config.get("trainer", "a2c") == "dagger":
    fig = plot_dagger_log(pd.read_csv(art.file("log.csv")))
    what = f"DAgger, {art.config['step']:,} labelled steps"
else:
    runs = study.seed_policies(0)[:seeds]
    fig = plot_training_logs({f"seed {s} ({a.key})": pd.read_csv(a.file("metrics.csv")) for s, _, a in runs},
                             smoothing)
    what = (f"A2C, {len(runs)} training seed(s) of {art.config['step']:,} steps, "
            f"{sum((a.manifest.get('wall_time_s') or 0) for _, _, a in runs) / 3600:.1f} h on one CPU core in all")
publish("maze_training", fig, f"Training of the maze policies ({what}); the figures of the chapter use {art.key}.")

# %% [markdown]
# ## The test
#
# Greedy actions (the arg-max of the scores, as in the paper); episode `i` starts at angle
# `2 pi i / n_tests` of the outer ring. "Without memory" resets the LSTM's hidden and cell
# states to zero before every step. One row per training seed and condition, the success with
# its 95 % bootstrap interval over the test episodes; the last rows pool the seeds.

# %%
study.seed_memory_tests(n_tests, seeds).round(3)

# %% [markdown]
# ## Trajectories

# %%
fig, axes = plt.subplots(1, n_trajectories, figsize=(3.2 * n_trajectories, 3.4), squeeze=False)
for ax, r in zip(axes[0], study.example_trajectories(net, env, n_trajectories)):
    ax.imshow(r["obs"][0, 0], cmap="gray", vmin=0, vmax=255, extent=[-1, 1, -1, 1])
    scale = 1 / (env_cfg.outer_radius + 0.004)
    xy = r["ball_xy"] * scale
    ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)), cmap="viridis", s=3)
    ax.set_title(f"{'success' if r['success'] else 'not reached'} in {r['steps']} steps", fontsize=9)
    ax.axis("off")
env.close()
publish("maze_trajectories", fig, "Ball positions of greedy test episodes from four start angles, coloured "
        "by time (dark: start), drawn on the first observation.")
