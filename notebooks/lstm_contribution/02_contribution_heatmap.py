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

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.colors import ListedColormap

from rlinside.agents.maze_a2c import rollout
from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.envs.marble_maze import ACTION_NAMES, MarbleMazeEnv
from rlinside.explain.contribution import (
    action_order,
    channel_actions,
    contributions,
    salient_channels,
    sparsity,
)
from rlinside.plots import PALETTE, publish, set_theme

set_theme()
net, art = load_policy()
cfg = policy_config(art)
env = MarbleMazeEnv(cfg.env_config())
W = net.policy.weight.detach().numpy()
episodes = []
for i in range(n_tests):
    r = rollout(net, env, 1000 + i, start_angle=2 * np.pi * i / n_tests)
    r["c"], r["r"] = contributions(W, r["h"], r["actions"])
    r["mask"] = salient_channels(r["r"], fraction)
    episodes.append(r)
env.close()
all_mask = np.concatenate([e["mask"] for e in episodes])
all_actions = np.concatenate([e["actions"] for e in episodes])
table = channel_actions(all_mask, all_actions, 5)
order = action_order(table)
print(f"{n_tests} episodes, {len(all_actions):,} steps, {sum(e['success'] for e in episodes)} successes; "
      f"LSTM of {W.shape[1]} channels")

# %% [markdown]
# ## Figures 2 and 3: one episode
#
# Each row is a channel, each column a step; a coloured cell means the channel is among the
# salient ones at that step, in the colour of the action it contributes to. Rows are grouped
# by the action the channel serves most often over all test episodes (channels never salient
# at the bottom). Below: the ball's distance to the centre; the steps are the rings.

# %%
ep = episodes[figure_episode]
colours = ["white"] + list(PALETTE[:5])
grid = np.where(ep["mask"], ep["actions"][:, None] + 1, 0).T[order]
fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=ListedColormap(colours), vmin=0, vmax=5)
ax.set_ylabel("LSTM channel (grouped by action)")
handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours[1:]]
ax.legend(handles, ACTION_NAMES, ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.12))
ax2.plot(ep["distance_px"], color="0.2")
ax2.set_ylabel("distance to centre (px)")
ax2.set_xlabel("step")
# the first step in each ring
snaps = np.array(sorted({int(np.argmax(ep["ring"] == k)) for k in np.unique(ep["ring"])}))[:4]
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
sp = sparsity(all_mask)
rings = np.concatenate([e["ring"] for e in episodes])
ring_rows = []
for j in range(all_mask.shape[1]):
    on = all_mask[:, j]
    if on.sum() < 20:
        continue
    counts = np.bincount(rings[on], minlength=cfg.env_config().n_rings + 1)
    top = int(counts.argmax())
    ring_rows.append({"channel": j, "salient steps": int(on.sum()), "main ring": top,
                      "share in main ring": counts[top] / on.sum(), "baseline": float(np.mean(rings == top))})
ring_table = pd.DataFrame(ring_rows)
active = table[table["salient steps"] > 0]
summary = pd.Series({
    "channels": sp["channels"],
    "channels needed per step (mean)": sp["mean"],
    "as a fraction of all channels": sp["mean_fraction"],
    "steps needing fewer than 10% of channels": sp["steps_below_10pct"],
    "channels ever salient": sp["channels_ever_salient"],
    "channels with purity >= 0.9 (of those salient >= 20 steps)":
        float(np.mean(active[active["salient steps"] >= 20]["purity"] >= 0.9)) if len(active) else np.nan,
    "median share in main ring (channels salient >= 20 steps)":
        float(ring_table["share in main ring"].median()) if len(ring_table) else np.nan,
    "median baseline share of that ring": float(ring_table["baseline"].median()) if len(ring_table) else np.nan,
})
summary.to_frame("value").round(3)

# %% [markdown]
# ## Figure 4: where the ball is when a channel is salient
#
# Four channels: the two whose salient steps are most concentrated in one ring relative to
# the time spent there, and the two whose salient ball positions are spread least (a small
# region). Colours: the action served.

# %%
xy = np.concatenate([e["ball_xy"] for e in episodes])
spread = {j: float(np.linalg.norm(xy[all_mask[:, j]].std(0)))
          for j in range(all_mask.shape[1]) if all_mask[:, j].sum() >= 20}
if len(ring_table):
    ring_table["lift"] = ring_table["share in main ring"] / ring_table["baseline"]
    by_ring = ring_table.sort_values("lift", ascending=False)["channel"].tolist()[:2]
else:
    by_ring = []
by_region = [j for j in sorted(spread, key=spread.get) if j not in by_ring][:2]
chosen = by_ring + by_region
if chosen:
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.2 * len(chosen), 3.3), squeeze=False)
    R = cfg.env_config().outer_radius
    phi = np.linspace(0, 2 * np.pi, 200)
    for ax, j in zip(axes[0], chosen):
        on = all_mask[:, j]
        for rad in list(cfg.env_config().wall_radii) + [R]:
            ax.plot(rad * np.cos(phi), rad * np.sin(phi), color="0.85", lw=0.8)
        ax.scatter(xy[on, 0], xy[on, 1], c=[PALETTE[a] for a in all_actions[on]], s=4)
        ax.set_aspect("equal")
        ax.set_xlim(-R, R)
        ax.set_ylim(-R, R)
        ax.set_title(f"channel {j} ({'ring' if j in by_ring else 'region'})", fontsize=9)
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
h_all = np.concatenate([e["h"] for e in episodes])
b = net.policy.bias.detach().numpy()
rng = np.random.default_rng(0)
rankings = {
    "contribution (activation x weight)": lambda h, a: np.maximum(0, W[a] * h),
    "|activation|": lambda h, a: np.abs(h),
    "|weight|": lambda h, a: np.abs(W[a]),
    "random": lambda h, a: rng.random(h.shape),
}
flip_rows = []
for name, score in rankings.items():
    s = score(h_all, all_actions)
    top = np.argsort(-s, axis=1)
    for k in (1, 2, 4, 8):
        h_cut = h_all.copy()
        np.put_along_axis(h_cut, top[:, :k], 0.0, axis=1)
        new = (h_cut @ W.T + b).argmax(1)
        flip_rows.append({"ranking": name, "k": k, "action changed": float(np.mean(new != all_actions))})
pd.DataFrame(flip_rows).pivot(index="ranking", columns="k", values="action changed").round(3)

# %% [markdown]
# ## The same analysis on an Atari agent
#
# The A2C-LSTM of the saliency chapter (Seaquest) also ends in one linear layer over its LSTM
# (256 channels, 18 actions). We play `atari_steps` steps. This agent samples its actions
# from its policy, and its most likely action can stay the same for long stretches, so we
# explain the action it actually took (and report how many distinct arg-max actions there
# were).

# %%
if atari_steps > 0:
    from rlinside.agents.zoo import find_agents, load_agent, play_states

    arts = [a for a in find_agents("a2c-lstm", "Seaquest")]
    if arts:
        stage = arts[-1].config["stage"]
        anet, aart = load_agent("a2c-lstm", "Seaquest", stage)
        obs, _, played, states = play_states("a2c-lstm", anet, "Seaquest", steps=atari_steps, return_states=True)
        hs, argmax = [], []
        with torch.no_grad():
            for t in range(len(obs)):
                logits, _, _, gates = anet(torch.from_numpy(obs[t:t + 1]), states[t], return_gates=True)
                hs.append(gates.h[0].numpy())
                argmax.append(int(logits.argmax(1)))
        acts = [int(a) for a in played]
        _, ar = contributions(anet.policy.weight, np.stack(hs), np.array(acts))
        amask = salient_channels(ar, fraction)
        asp = sparsity(amask)
        atab = channel_actions(amask, np.array(acts), anet.policy.out_features)
        aact = atab[atab["salient steps"] >= 20]
        print(f"A2C-LSTM Seaquest ({stage}, {aart.config['step']:,} steps): {asp['channels']} channels; "
              f"{asp['mean']:.1f} needed per step on average ({asp['mean_fraction']:.1%}); fewer than 10% on "
              f"{asp['steps_below_10pct']:.0%} of steps; {asp['channels_ever_salient']} channels ever salient; "
              f"purity >= 0.9 for {np.mean(aact['purity'] >= 0.9) if len(aact) else float('nan'):.0%} of the "
              f"{len(aact)} channels salient on >= 20 steps; distinct actions taken: {len(set(acts))}, "
              f"distinct arg-max actions: {len(set(argmax))}")
    else:
        print("No A2C-LSTM agent shipped yet (see the saliency chapter's agent zoo).")
