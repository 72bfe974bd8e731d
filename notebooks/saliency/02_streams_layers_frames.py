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
# # Which output, which layer, which frame
#
# A saliency map answers a question that the user picks in three places: **which output** is
# explained (a Q-value, the value or the advantage stream, the actor or the critic), **at
# which layer** the Grad-CAM family reads the network, and **which input frame** is shown,
# since every agent sees a stack or a history of frames. Rosynski et al. vary each of them in
# turn (Figures 8-16 and 27-28 for the streams, 33-41 for the layers, 10-12 and 42 for past
# frames). This notebook does the same on the most trained shipped agent of each kind and game (the
# final one, or the early one while the final one is still training):
#
# 1. **outputs**: all six methods for each head of each agent, same state;
# 2. **layers**: Grad-CAM and G1Grad-CAM at the three convolutions;
# 3. **frames**: guided backpropagation for each stacked frame of the feed-forward agents, and
#    for the recurrent A2C-LSTM through its last `history` inputs (its state carried from the
#    game so far), with the share of the map's magnitude that falls on each frame, over
#    `n_states` states.

# %% tags=["parameters"]
warmup_steps: int = 60  # agent decisions before the explained state (evaluation game `seed`)
seed: int = 0  # evaluation game the agents play
n_states: int = 40  # states averaged in the per-frame shares (one every `state_every` steps)
state_every: int = 5  # agent steps between two of those states
history: int = 10  # inputs of the recurrent agent explained at once (t-9 ... t)
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from rlinside.agents.zoo import AGENTS, load_agent, most_trained, play_states
from rlinside.explain.agents import RECURRENT, explain_all, heads, saliency_model
from rlinside.explain.saliency import COARSE, METHOD_NAMES, GuidedBackprop, make_method, normalize
from rlinside.plots import publish, set_theme
from rlinside.plots.saliency import check_palette, gallery, overlay

check_palette(palette)
for name, value, low in (("warmup_steps", warmup_steps, 1), ("n_states", n_states, 1),
                         ("state_every", state_every, 1), ("history", history, 1)):
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
set_theme()


def newest(raw):
    """The map of the newest input (channel C-1) scaled to [-1, 1]: (84, 84) numpy."""
    return normalize(raw[:, -1:], mode="frame")[0, 0].numpy()


played = {}
for art in most_trained():  # the agent of each (agent, game), else its early one
    agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
    net, _ = load_agent(agent, game, stage)
    steps = max(warmup_steps, n_states * state_every)
    obs, frames, actions, states = play_states(agent, net, game, steps=steps, seed=seed, return_states=True)
    played[(agent, game)] = {"art": art, "net": net, "obs": obs, "frames": frames,
                             "actions": actions, "states": states}
print("agents:", ", ".join(f"{AGENTS[a].label} {g} ({p['art'].config['stage']})" for (a, g), p in played.items())
      or "none shipped yet")


def state_at(p, i):
    """(model, obs tensor (1, C, 84, 84), screen, action) for step i of a played game."""
    agent = p["art"].config["agent"]
    model = saliency_model(agent, p["net"], p["states"][i]) if agent in RECURRENT else p["net"]
    return model, torch.from_numpy(p["obs"][i:i + 1]), p["frames"][i], int(p["actions"][i])


# %% [markdown]
# ## 1. One state, every head
#
# Rows: the outputs of each agent; columns: the six methods. For the dueling DQN the Q-value
# of the chosen action is the sum of the value stream and the centred advantage, so its map is
# roughly the sum of the two rows below it; for A2C the actor's logit and the critic's value
# share the whole torso and differ only in their last layer. The paper reports that the
# advantage stream looks at the agent's own position and the value stream at the rest of the
# screen (oxygen and divers in Seaquest, the bricks in Breakout).

# %%
head_rows = []
for (agent, game), p in played.items():
    i = warmup_steps - 1
    model, obs, screen, action = state_at(p, i)
    layer = p["net"].torso.conv1
    for head, (target, kwargs) in heads(agent, action).items():
        maps = explain_all(model, obs, target, layer, forward_kwargs=kwargs)
        head_rows.append((f"{AGENTS[agent].label} {game}\n{head}",
                          [overlay(screen, newest(m), palette=palette) for m in maps.values()]))
if head_rows:
    fig = gallery([r for _, r in head_rows], row_labels=[n for n, _ in head_rows],
                  col_labels=list(METHOD_NAMES), palette=palette)
    publish("sal_heads", fig,
            f"Every head of every agent, state after {warmup_steps} decisions of evaluation "
            f"game {seed}; newest frame; Grad-CAM family at conv1; each map scaled by its own "
            "maximum |value|. Recurrent agents carry the state of the game so far.")

# %% [markdown]
# How alike are the heads? The Spearman rank correlation of the absolute guided-backprop maps
# between heads, over `n_states` states of each agent (1: the same pixels matter, in the same
# order).

# %%
rows = []
for (agent, game), p in played.items():
    for i in range(state_every - 1, n_states * state_every, state_every):
        model, obs, _, action = state_at(p, i)
        hd = heads(agent, action)
        gb = {h: GuidedBackprop(model).attribute(obs, target=t, forward_kwargs=kw)[0, -1].abs().flatten().numpy()
              for h, (t, kw) in hd.items()}
        names = list(gb)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                rows.append({"agent": f"{AGENTS[agent].label} {game}", "heads": f"{names[a].split(':')[0]} vs "
                             f"{names[b].split(':')[0]}".replace(f" {action}", ""),
                             "rho": spearmanr(gb[names[a]], gb[names[b]]).statistic})
head_corr = pd.DataFrame(rows)
(head_corr.groupby(["agent", "heads"])["rho"].agg(["mean", "std", "count"]).round(3)
 if len(head_corr) else "no agent with more than one head")

# %% [markdown]
# ## 2. Grad-CAM at the three convolutions
#
# The Nature CNN's convolutions see the screen at 20 × 20, 9 × 9 and 7 × 7 positions, so a
# Grad-CAM map upsampled from a deeper layer is coarser. The paper found the first layer the
# only useful one; deeper maps were blurred over large parts of the screen or inverted
# (highlighting the background).

# %%
layer_rows, layer_stats = [], []
for (agent, game), p in played.items():
    model, obs, screen, action = state_at(p, warmup_steps - 1)
    row = []
    for conv in ("conv1", "conv2", "conv3"):
        for m in COARSE:
            raw = make_method(m, model, getattr(p["net"].torso, conv)).attribute(obs, target=action)
            row.append(overlay(screen, newest(raw), palette=palette))
            flat = raw.flatten()
            layer_stats.append({"agent": f"{AGENTS[agent].label} {game}", "layer": conv, "method": m,
                                "area above half max": float((flat > 0.5 * flat.max()).float().mean())
                                if flat.max() > 0 else float("nan")})
    layer_rows.append((f"{AGENTS[agent].label} {game}", row))
if layer_rows:
    fig = gallery([r for _, r in layer_rows], row_labels=[n for n, _ in layer_rows],
                  col_labels=[f"{m}\n{c}" for c in ("conv1", "conv2", "conv3") for m in COARSE],
                  palette=palette)
    publish("sal_layers", fig,
            f"Grad-CAM and G1Grad-CAM at the three convolutions of each agent; state after "
            f"{warmup_steps} decisions of evaluation game {seed}, chosen action.")
    display_stats = pd.DataFrame(layer_stats).pivot_table(index="agent", columns=["layer", "method"],
                                                          values="area above half max")
display_stats.round(3) if layer_rows else "no agent shipped"

# %% [markdown]
# The table gives the share of the screen where the map is above half its maximum: a measure
# of how spread out the highlight is.
#
# ## 3. Past frames
#
# The DDDQN sees 4 stacked frames and A2C 3, so guided backpropagation gives one map per
# frame. The A2C-LSTM sees one frame per step and remembers the rest; we unroll it over its
# last `history` inputs from the state it carried, so the map of frame `t-k` says how the
# decision at `t` depends on what it saw `k` steps earlier (the gradient stops at the state
# carried into the window). The paper shows `t-1`, `t-2`, `t-3` and, for its recurrent agent,
# `t-9`.

# %%
frame_rows, shares = [], []
for (agent, game), p in played.items():
    net = p["net"]
    recurrent = agent in RECURRENT
    span = history if recurrent else net.torso.in_channels
    lags = list(range(span - 1, -1, -1))  # channel c shows lag span-1-c
    for i in range(max(state_every - 1, span - 1), n_states * state_every, state_every):
        if recurrent and any(p["states"][j] is None for j in range(i - span + 2, i + 1)):
            continue  # a life was lost inside the window: its state was reset there
        if recurrent:
            model = saliency_model(agent, net, p["states"][i - span + 1], steps=span)
            obs = torch.from_numpy(p["obs"][i - span + 1:i + 1, 0][None])  # (1, span, 84, 84)
        else:
            model, obs = net, torch.from_numpy(p["obs"][i:i + 1])
        gb = GuidedBackprop(model).attribute(obs, target=int(p["actions"][i]))[0]  # (span, 84, 84)
        mags = gb.abs().flatten(1).sum(1)
        total = mags.sum().item()
        for c in range(span):
            shares.append({"agent": f"{AGENTS[agent].label} {game}", "lag": lags[c],
                           "share": mags[c].item() / total if total > 0 else float("nan")})
        if not any(name == f"{AGENTS[agent].label} {game}" for name, _ in frame_rows):
            scaled = normalize(gb[None], mode="frame")[0]
            show = [c for c in range(span) if lags[c] in (0, 1, 2, 3, 9)]
            frame_rows.append((f"{AGENTS[agent].label} {game}",
                               {f"t-{lags[c]}" if lags[c] else "t": overlay(p["frames"][i], scaled[c].numpy(),
                                                                             palette=palette) for c in show}))
if frame_rows:
    cols = ["t", "t-1", "t-2", "t-3", "t-9"]
    blank = np.full_like(frame_rows[0][1]["t"], 255)
    fig = gallery([[r.get(c, blank) for c in cols] for _, r in frame_rows],
                  row_labels=[n for n, _ in frame_rows], col_labels=cols, palette=palette)
    publish("sal_past_frames", fig,
            "Guided backpropagation of the chosen action with respect to past inputs, one state "
            "per agent, drawn on the current screen. All frames of one row share one "
            f"scale. Recurrent agent unrolled over its last {history} inputs; blank: the agent "
            "does not see that frame.")
    share_table = pd.DataFrame(shares).groupby(["agent", "lag"])["share"].mean().unstack("lag")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for agent_name, row in share_table.iterrows():
        ax.plot(row.index, row.values, marker="o", label=agent_name)
    ax.set_xlabel("lag k of the input frame t-k")
    ax.set_ylabel("share of |guided backprop|")
    ax.set_xticks(range(int(share_table.columns.max()) + 1))
    ax.legend(fontsize=8)
    publish("sal_past_frame_shares", fig,
            f"Share of the guided-backprop magnitude on each past input, mean over {n_states} "
            f"states of evaluation game {seed} (one every {state_every} steps).")
share_table.round(3) if frame_rows else "no agent shipped"
