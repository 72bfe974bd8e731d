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
#    for the recurrent agents through their last `history` inputs (the state carried from the
#    game so far), with the share of the map's magnitude that falls on each frame, over
#    `n_states` states;
# 4. **attention**: the recurrent attention DQN's three attention maps next to the saliency
#    maps of its value and advantage streams, and how much they agree.

# %% tags=["parameters"]
warmup_steps: int = 60  # agent decisions before the explained state (evaluation game `seed`) | [1, 10_000]
seed: int = 0  # evaluation game the agents play | [0, 2_147_483_647]
n_states: int = 40  # states averaged in the per-frame shares (one every `state_every` steps) | [1, 10_000]
state_every: int = 5  # agent steps between two of those states | [1, 1000]
history: int = 10  # inputs of the recurrent agent explained at once (t-9 ... t) | [1, 100]
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange) | {paper, colorblind}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from rlinside.agents.zoo import AGENTS, load_agent, most_trained, play_states
from rlinside.envs.atari_objects import object_masks, to_observation_grid
from rlinside.explain.attention import attention_summary
from rlinside.explain.saliency import (
    COARSE,
    METHOD_NAMES,
    GuidedBackprop,
    advantage_stream,
    explain_all,
    make_method,
    normalize,
    value_stream,
)
from rlinside.explain.sanity import object_share
from rlinside.plots import publish, set_theme
from rlinside.plots.saliency import gallery, overlay
from rlinside.studies.saliency import heads, is_recurrent, saliency_model

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
    model = saliency_model(agent, p["net"], p["states"][i]) if is_recurrent(agent) else p["net"]
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
    recurrent = is_recurrent(agent)
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


# %% [markdown]
# ## 4. Attention next to saliency
#
# The recurrent attention DQN looks at the screen through three soft attentions over the
# 7 × 7 locations of its last convolution: one that feeds the LSTM (queried by the previous
# memory) and one for each dueling stream (queried by the new memory), our reading of the
# paper's "split attention" (see the chapter page). An attention map is part of the forward
# pass, so it says where the network *looked*; a saliency map says which pixels the output is
# *sensitive to*. Here both are drawn for the same state: the attention maps upsampled to the
# screen as Grad-CAM upsamples its maps, and guided backpropagation of each stream.
#
# Over `n_states` states the table then gives, per stream, the Spearman correlation between
# its attention and its own guided-backprop map (magnitude averaged over the 7 × 7 blocks of
# 12 × 12 pixels), the same with the *other* stream's map (a baseline: if the two are as high,
# the attention is not specific to its stream), the correlation between the two stream
# attentions, how many locations each attention effectively uses (the exponential of its
# entropy: 49 for uniform attention, 1 for a single location), its largest weight relative to
# uniform attention (1: uniform), the spread of its scores (the largest minus the smallest
# logit of the softmax: 0 for uniform attention, about 4 when one location gets 50 times the
# weight of another), the size of the conv3 features it reads, and its enrichment on the
# game's objects (as in {doc}`04_videos`: share on the objects over the objects' share of the
# screen).

# %%
ATTENTIONS = ("lstm_attention", "value_attention", "advantage_attention")
att_rows, att_stats = [], []
for (agent, game), p in played.items():
    if agent != "drqn":
        continue
    net, label = p["net"], f"{AGENTS[agent].label} {game} ({p['art'].config['stage']})"

    def attention_and_saliency(i, p=p, net=net, agent=agent):
        obs = torch.from_numpy(p["obs"][i:i + 1])
        with torch.no_grad():
            _, _, details = net(obs, p["states"][i], return_details=True)
        att = {k: getattr(details, k)[0] for k in ATTENTIONS}  # (7, 7) each, sums to 1
        model, action = saliency_model(agent, net, p["states"][i]), int(p["actions"][i])
        gb = {stream: GuidedBackprop(model).attribute(obs.float(), target=target,
                                                      forward_kwargs={"return_streams": True})[0, -1]
              for stream, target in (("value", value_stream()), ("advantage", advantage_stream(action)))}
        return att, gb

    att, gb = attention_and_saliency(warmup_steps - 1)
    screen = p["frames"][warmup_steps - 1]
    up = {k: F.interpolate(a[None, None], size=(84, 84), mode="bilinear", align_corners=False)[0, 0]
          for k, a in att.items()}
    # attention relative to uniform (49 a - 1: positive where it looks more than average),
    # scaled by its largest deviation; the table gives how large that deviation is
    dev = {k: 49 * u - 1 for k, u in up.items()}
    att_rows.append((label, [overlay(screen, (d / d.abs().max()).numpy(), palette=palette) for d in dev.values()]
                     + [overlay(screen, normalize(g[None, None], mode="frame")[0, 0].numpy(), palette=palette)
                        for g in gb.values()]))
    for i in range(state_every - 1, n_states * state_every, state_every):
        att, gb = attention_and_saliency(i)
        pooled = {k: F.adaptive_avg_pool2d(g.abs()[None, None], 7)[0, 0].flatten().numpy() for k, g in gb.items()}
        with torch.no_grad():
            conv3 = net.features(torch.from_numpy(p["obs"][i:i + 1]))  # (1, 49, 64)
        mask = to_observation_grid(np.logical_or.reduce(list(object_masks(game, p["frames"][i]).values())))
        row = {"agent": label,
               "rho value att vs value saliency": spearmanr(att["value_attention"].flatten(),
                                                            pooled["value"]).statistic,
               "rho value att vs advantage saliency": spearmanr(att["value_attention"].flatten(),
                                                                pooled["advantage"]).statistic,
               "rho advantage att vs advantage saliency": spearmanr(att["advantage_attention"].flatten(),
                                                                    pooled["advantage"]).statistic,
               "rho advantage att vs value saliency": spearmanr(att["advantage_attention"].flatten(),
                                                                pooled["value"]).statistic,
               "rho value att vs advantage att": spearmanr(att["value_attention"].flatten(),
                                                           att["advantage_attention"].flatten()).statistic,
               "rho lstm att vs value att": spearmanr(att["lstm_attention"].flatten(),
                                                      att["value_attention"].flatten()).statistic}
        for k, a in att.items():
            row |= {f"{name} {k.split('_')[0]}": v for name, v in attention_summary(a).items()}
            upsampled = F.interpolate(att[k][None, None], size=(84, 84), mode="bilinear", align_corners=False)
            row[f"enrichment {k.split('_')[0]}"] = object_share(upsampled[0, 0], mask)[1]
        row["conv3 features, mean"] = float(conv3.mean())
        row["conv3 features, std over locations"] = float(conv3.std(dim=1).mean())
        att_stats.append(row)
if att_rows:
    fig = gallery([r for _, r in att_rows], row_labels=[n for n, _ in att_rows],
                  col_labels=["attention\nfeeding the LSTM", "attention of\nthe value stream",
                              "attention of the\nadvantage stream", "guided backprop\nV(s)",
                              "guided backprop\nA(s, chosen action)"], palette=palette)
    publish("sal_attention", fig,
            f"The recurrent attention DQN after {warmup_steps} decisions of evaluation game {seed}: "
            "its three attention maps relative to uniform attention (49 a - 1 on the 7 x 7 "
            "locations, upsampled bilinearly, each scaled by its largest deviation: the table "
            "below says how large that is) "
            "and guided backpropagation of its two streams (newest frame, each scaled by its "
            "maximum |value|).")
    attention_table = pd.DataFrame(att_stats).groupby("agent").mean().T
attention_table.round(3) if att_rows else "the recurrent attention DQN is not shipped"

# %% [markdown]
# An attention can only move away from uniform if its parameters get a gradient (with
# PyTorch's default initialization ours hardly did, see the chapter page). The next table
# gives the gradient norm of each part of the network for the sum of the chosen actions'
# Q-values over the same states (each from the state the agent carried), divided by the norm
# of that part's weights: how fast a step of plain gradient descent would move it, relative
# to its size.

# %%
grad_rows = []
for (agent, game), p in played.items():
    if agent != "drqn":
        continue
    net = p["net"]
    net.zero_grad()
    with torch.enable_grad():
        total = 0.0
        for i in range(state_every - 1, n_states * state_every, state_every):
            q, _ = net(torch.from_numpy(p["obs"][i:i + 1]), p["states"][i])
            total = total + q[0, int(p["actions"][i])]
        total.backward()
    parts = {"convolutions": net.torso, "attention feeding the LSTM": net.lstm_attention, "LSTM": net.lstm,
             "value attention": net.value_attention, "advantage attention": net.advantage_attention,
             "value stream": [net.value_hidden, net.value_out],
             "advantage stream": [net.advantage_hidden, net.advantage_out]}
    for part, modules in parts.items():
        params = [q for m in (modules if isinstance(modules, list) else [modules]) for q in m.parameters()]
        g = torch.sqrt(sum((q.grad ** 2).sum() for q in params)).item()
        w = torch.sqrt(sum((q.detach() ** 2).sum() for q in params)).item()
        grad_rows.append({"agent": f"{AGENTS[agent].label} {game} ({p['art'].config['stage']})", "part": part,
                          "gradient norm": g, "gradient / weight norm": g / w})
    net.zero_grad(set_to_none=True)
pd.DataFrame(grad_rows).set_index(["agent", "part"]) if grad_rows else "the recurrent attention DQN is not shipped"
