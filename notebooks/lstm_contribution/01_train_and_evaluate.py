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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.envs.marble_maze import MarbleMazeEnv
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.studies.lstm_contribution import example_trajectories, memory_test

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
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 4))
ax.imshow(obs[0], cmap="gray", vmin=0, vmax=255)
ax.set_title("observation (64 x 64)")
ax.axis("off")
phi = np.linspace(0, 2 * np.pi, 400)
for k, (r, gate) in enumerate(zip(env_cfg.wall_radii, env_cfg.gates), 1):
    open_ = np.abs((phi - gate + np.pi) % (2 * np.pi) - np.pi) * r < env_cfg.gate_width / 2
    ax2.plot(np.where(open_, np.nan, r * np.cos(phi)), np.where(open_, np.nan, r * np.sin(phi)), color="0.3")
    ax2.annotate(f"wall {k}", (r * np.cos(gate + 0.4), r * np.sin(gate + 0.4)), fontsize=7)
ax2.plot(env_cfg.outer_radius * np.cos(phi), env_cfg.outer_radius * np.sin(phi), color="0.3")
ax2.set_aspect("equal")
ax2.set_title("walls and gates (metres)")
tilting = (f"each action holds the board tilted by {np.degrees(env_cfg.max_tilt):.1f} degrees about its axis "
           "(no-op: level)" if env_cfg.tilt_mode == "hold" else
           f"tilt step {np.degrees(env_cfg.tilt_step):.1f} degrees, at most {np.degrees(env_cfg.max_tilt):.1f}")
publish("maze_layout", fig, f"The maze: {env_cfg.n_rings} ring walls with one gate each; the ball "
        f"starts in the outer ring. Tilt mode '{env_cfg.tilt_mode}': {tilting}; {env_cfg.substeps} physics "
        "steps of 1/240 s per action.")

# %% [markdown]
# ## Training
#
# Two trainers exist (see the chapter page): recurrent A2C on 16 mazes (one point per
# `smoothing` episodes: success and episode length), and DAgger from a privileged controller
# (one point per round: the imitation loss, and how often the episodes the policy drove
# itself reached the centre; these start in any ring, half of them in the outer one).

# %%
trainer = art.config.get("trainer", "a2c")
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
if trainer == "dagger":
    log = pd.read_csv(art.file("log.csv"))
    ax.plot(log["round"], log["loss"], marker="o", color=PALETTE[0])
    ax.set_xlabel("DAgger round")
    ax.set_ylabel("imitation loss (cross-entropy)")
    ax2.plot(log["round"], log["policy_success"], marker="o", color=PALETTE[1], label="all policy-driven")
    if "greedy_success" in log and log["greedy_success"].notna().any():
        ax2.plot(log["round"], log["greedy_success"], marker="s", color=PALETTE[2], label="arg-max actions")
        ax2.legend(fontsize=8)
    ax2.set_xlabel("DAgger round")
    ax2.set_ylabel("episodes reaching the centre")
    ax2.set_ylim(-0.02, 1.02)
    what = f"DAgger, {len(log)} rounds, {art.config['step']:,} labelled steps"
else:
    log = pd.read_csv(art.file("metrics.csv"))
    roll = log.rolling(smoothing, min_periods=1).mean()
    ax.plot(log["step"], roll["success"], color=PALETTE[0])
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"success (mean of {smoothing} episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax2.plot(log["step"], roll["length"], color=PALETTE[1])
    ax2.set_xlabel("environment steps")
    ax2.set_ylabel("episode length (steps)")
    what = f"A2C, {len(log):,} episodes, {art.config['step']:,} steps"
publish("maze_training", fig, f"Training of policy {art.key} ({what}, "
        f"{(art.manifest.get('wall_time_s') or 0) / 3600:.2f} h on one CPU core).")

# %% [markdown]
# ## The test
#
# Greedy actions (the arg-max of the scores, as in the paper); episode `i` starts at angle
# `2 pi i / n_tests` of the outer ring. "Without memory" resets the LSTM's hidden and cell
# states to zero before every step.

# %%
memory_test(net, env_cfg, n_tests).round(3)

# %% [markdown]
# ## Trajectories

# %%
fig, axes = plt.subplots(1, n_trajectories, figsize=(3.2 * n_trajectories, 3.4), squeeze=False)
for ax, r in zip(axes[0], example_trajectories(net, env, n_trajectories)):
    ax.imshow(r["obs"][0, 0], cmap="gray", vmin=0, vmax=255, extent=[-1, 1, -1, 1])
    scale = 1 / (env_cfg.outer_radius + 0.004)
    xy = r["ball_xy"] * scale
    ax.scatter(xy[:, 0], xy[:, 1], c=np.arange(len(xy)), cmap="viridis", s=3)
    ax.set_title(f"{'success' if r['success'] else 'not reached'} in {r['steps']} steps", fontsize=9)
    ax.axis("off")
env.close()
publish("maze_trajectories", fig, "Ball positions of greedy test episodes from four start angles, coloured "
        "by time (dark: start), drawn on the first observation.")
