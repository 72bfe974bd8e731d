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
# # The agent zoo: who plays, how well, and after how much training
#
# Every saliency map in this chapter explains one of these agents, so we first show what they
# are worth. Rosynski et al. (Table 1) explain four agents on Breakout and Seaquest: a dueling
# double DQN (DDDQN), a recurrent DQN with attention, A3C and A3C with an LSTM. We trained our
# own (A2C is the synchronous form of A3C; see {doc}`../../saliency/index`), each with an
# *early* checkpoint (about 250,000 agent steps, like the paper's network saved after 325
# episodes) and a *final* one. This notebook reads them from the artifact store, so it only
# shows what was actually trained and shipped in `data/`:
#
# 1. the **evaluation table**: full-game scores over at least 10 games under a fixed protocol,
#    next to a uniformly random policy on the same games;
# 2. the **sensitivity gate**: does each agent's decision depend on its input at all? Only
#    the agents that pass it have their maps read anywhere in the chapter;
# 3. the **learning curves** from each run's training log;
# 4. a **filmstrip** of each final agent playing.
#
# Training an agent takes hours on a laptop CPU; the commands that train and ship each one are
# printed in the status table. No figure here is rescaled by the profile: the profiles only
# change how many frames the filmstrips show.

# %% tags=["parameters"]
smoothing: int = 100  # training games averaged in each point of the learning curves | [1, 100_000]
filmstrip_frames: int = 6  # frames shown per agent | [1, 50]
filmstrip_every: int = 40  # agent steps between two filmstrip frames | [1, 10_000]
filmstrip_seed: int = 0  # evaluation game the filmstrip is taken from | [0, 2_147_483_647]
gate_steps: int = 200  # agent steps each agent plays for the sensitivity gate (it reads up to 40) | [2, 100_000]

# %%
import matplotlib.pyplot as plt
import pandas as pd

from rlinside.agents.zoo import selection_rows, summary_rows
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.studies import saliency as study

set_theme()
shipped = study.chapter_agents()
study.zoo_status(shipped)

# %% [markdown]
# ## Evaluation
#
# Protocol: full games over all lives (up to 108,000 frames = 30 minutes of play), up to 30
# random no-op actions at the start, no sticky actions, the raw (unclipped) game score. The
# Q-learning agents act greedily with probability 0.999 (Dopamine's evaluation epsilon); the
# actor-critic agents sample from their policy, as in the A3C paper. The random policy plays
# the same games. For reference, the DQN literature's random-play scores are about 1.7
# (Breakout) and 68 (Seaquest) under a slightly different protocol (Mnih et al. 2015).

# %%
table = pd.DataFrame(summary_rows(shipped))
if table.empty:
    print("No Atari agent is shipped in data/ yet; train one with scripts/train_atari.py and "
          "ship it with scripts/ship_atari_agent.py.")
table

# %% [markdown]
# ## The sensitivity gate
#
# A saliency map is a derivative of the agent's output with respect to its pixels. If that output does
# not depend on the pixels, the derivative is float32 noise, and scaled to [-1, 1] for display it
# still looks like a map. So before any map is drawn, each agent plays `gate_steps` steps of
# evaluation game 0 and, on up to 40 of those states, we measure (`rlinside.explain.gate`): the
# largest |∂y/∂pixel| of the explained output y (chosen action; in output units per grey level), a
# finite-difference check of that gradient at the 8 largest pixels (median relative error), and how
# far the policy moves (total variation; Q-learners: share of changed greedy actions) when a state's
# frames are swapped for another's or blanked. It passes with a gradient >= 1e-6, an error <= 0.1 and
# a shuffle change >= 0.01. An agent that fails is drawn greyed in every gallery, marked "agent
# insensitive to input", and left out of every statistic and verdict.

# %%
gates = study.zoo_gates(shipped, gate_steps) if shipped else pd.DataFrame()
gates

# %% [markdown]
# ### How the final weights were chosen
#
# A final agent is normally the run's last weights. An agent whose greedy play swings from one
# snapshot to the next (the DDDQN on Seaquest and the recurrent attention DQN, see
# {doc}`../../saliency/index`) can instead be chosen among its late snapshots (`scripts/ship_atari_agent.py
# --select-from-step`): each candidate plays 10 *validation* games (evaluation seed 1), the
# best mean wins, and the score in the table above comes from the usual evaluation games
# (seed 0), which the choice never saw. The `weights` column of the table says which rule
# each agent followed; the candidates of every chosen agent are listed here.

# %%
candidates = pd.DataFrame(selection_rows(shipped))
if candidates.empty:
    print("Every shipped final agent is its run's last weights.")
candidates

# %% [markdown]
# ## Learning curves
#
# Each point is the mean full-game score of the last `smoothing` training games (played with
# the exploration of training, so below the evaluation scores), against agent steps (1 step =
# 4 frames), from the log of the most trained agent of each kind (the final one, or the early
# one while the final one is not shipped). The dotted line marks the early checkpoint.

# %%
finals = study.chapter_most_trained()  # the final agent of each (agent, game), else its early one
curves = study.learning_curves(finals, shipped, smoothing)
if finals:
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 3.6), squeeze=False)
    for ax, (game, game_curves) in zip(axes[0], curves.items()):
        for c in game_curves:
            color = PALETTE[c.order % len(PALETTE)]
            ax.plot(c.step / 1e6, c.score, color=color, label=c.label)
            for step in c.early_steps:
                ax.axvline(step / 1e6, color=color, ls=":", lw=1)
        ax.set(title=game, xlabel="agent steps (millions)", ylabel=f"score, mean of {smoothing} games")
        ax.legend(loc="best", fontsize=8)
    publish("sal_agents_curves", fig,
            "Learning curves of the shipped agents (training games; dotted: early checkpoint).")
else:
    print("no agent shipped yet: no learning curves to draw")

# %% [markdown]
# ## Filmstrips
#
# Each of these agents plays evaluation game `filmstrip_seed`; every `filmstrip_every`-th frame is
# shown with the running score. These are the kind of frames the saliency maps of the next
# notebooks are drawn on.

# %%
if finals:
    strips = study.filmstrips(finals, filmstrip_frames, filmstrip_every, filmstrip_seed)
    fig, axes = plt.subplots(len(finals), filmstrip_frames,
                             figsize=(1.6 * filmstrip_frames, 2.2 * len(finals)), squeeze=False)
    for row, strip in zip(axes, strips):
        for ax, t, frame, score in zip(row, strip.steps, strip.frames, strip.scores):
            ax.imshow(frame)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"t={t + 1}, score {score:.0f}", fontsize=7)
        row[0].set_ylabel(f"{study.checkpoint_label(strip.art)}\n{strip.art.config['game']}", fontsize=8)
    publish("sal_agents_filmstrips", fig, "The most trained agents playing (every "
            f"{filmstrip_every}th agent step of evaluation game {filmstrip_seed}).")
