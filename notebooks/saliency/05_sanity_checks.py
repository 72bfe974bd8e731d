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
# # Sanity checks: do the maps depend on what the network learned?
#
# Adebayo et al. (2018) showed that some saliency methods draw nearly the same picture for a
# trained network and for one whose weights were replaced by random ones: such a method
# explains the image (its edges), not the model. Rosynski et al. argue that this critique of
# guided backpropagation does not hold in deep RL, since their guided maps change between an
# early and a trained agent, but they do not run the test. We do, with four measurements on
# `n_states` states of every shipped feed-forward agent (its most trained checkpoint):
#
# 1. **cascading randomization**: the layers are re-initialized one after the other from the
#    output down to the input; after each step every method's map is compared with the map of
#    the trained network by Spearman rank correlation (signed and absolute) and SSIM;
# 2. **an edge detector for comparison**: how well each map matches the edges of the input
#    frame (the Sobel gradient magnitude), for the trained and the fully randomized network;
# 3. **a non-gradient baseline**: perturbation saliency (Greydanus et al. 2018), which blurs a
#    soft disc around each point and measures how much the output moves; which gradient
#    method agrees with it best;
# 4. **action discrimination**: the maps of every action on the same state. Grad-CAM was
#    built to be class-discriminative; if the maps of different actions are nearly the same,
#    a map cannot say which feature decided the action.

# %% tags=["parameters"]
n_states: int = 20  # states per agent (one every `state_every` agent steps) | [1, 10_000]
state_every: int = 10  # agent steps between two states | [1, 1000]
seed: int = 0  # evaluation game | [0, 2_147_483_647]
randomization_seed: int = 0  # seed of the re-initialized weights | [0, 2_147_483_647]
cam_layer: str = "conv1"  # convolution of the Grad-CAM family | {conv1, conv2, conv3}
perturbation_stride: int = 5  # grid step of perturbation saliency (Greydanus et al.: 5) | [1, 84]
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange) | {paper, colorblind}

# %%
from collections import deque

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from rlinside.agents.zoo import AGENTS, load_agent, most_trained, play_states
from rlinside.explain.saliency import METHOD_NAMES, explain_all, normalize
from rlinside.explain.sanity import (
    cascading_randomization,
    perturbation_saliency,
    rank_correlation,
    ssim,
)
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.plots.saliency import gallery, overlay
from rlinside.studies.saliency import is_recurrent

set_theme()

agents = []
for art in most_trained():
    agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
    if is_recurrent(agent):
        continue  # randomizing a recurrent net also changes the memory it carried: left out
    net, _ = load_agent(agent, game, stage)
    obs, frames, _ = play_states(agent, net, game, steps=n_states * state_every, seed=seed)
    idx = np.arange(state_every - 1, n_states * state_every, state_every)
    x = torch.from_numpy(obs[idx])
    with torch.no_grad():
        out = net(x.float())
    actions = (out[0] if isinstance(out, tuple) else out).argmax(1)
    agents.append({"name": f"{AGENTS[agent].label} {game}", "net": net, "x": x, "frames": frames[idx],
                   "actions": actions, "agent": agent})
print("agents:", ", ".join(a["name"] for a in agents) or "none shipped")


def newest_maps(model, net, x, actions):
    """method -> (N, 84, 84) numpy maps of the newest frame, each explaining the trained
    network's action on its state."""
    maps = explain_all(model, x, actions, getattr(net.torso, cam_layer))
    return {m: r[:, -1].numpy() for m, r in maps.items()}


# %% [markdown]
# ## 1. Cascading randomization
#
# Step 0 is the trained network; step k has its top k layers re-initialized (for the dueling
# DQN the advantage head, then the value head, then the convolutions; for A2C the value and
# policy heads, the 512 layer, then the convolutions). The target is always the action the
# trained network chose. A method that passes the test loses its similarity quickly.

# %%
rows, examples = [], {}
for a in agents:
    original = newest_maps(a["net"], a["net"], a["x"], a["actions"])
    examples[a["name"]] = [("trained", original)]
    for k, (layer, randomized) in enumerate(cascading_randomization(a["net"], seed=randomization_seed), 1):
        maps = newest_maps(randomized, randomized, a["x"], a["actions"])
        if layer.endswith("conv2") or layer.endswith("conv1"):
            examples[a["name"]].append((f"up to {layer}", maps))
        for m in METHOD_NAMES:
            for i in range(len(a["x"])):
                rows.append({"agent": a["name"], "step": k, "layer": layer, "method": m,
                             "spearman": rank_correlation(original[m][i], maps[m][i]),
                             "spearman |.|": rank_correlation(original[m][i], maps[m][i], absolute=True),
                             "ssim": ssim(original[m][i], maps[m][i])})
cascade = pd.DataFrame(rows)

if len(cascade):
    fig, axes = plt.subplots(len(agents), 3, figsize=(12, 3.1 * len(agents)), squeeze=False)
    for r, a in enumerate(agents):
        sub = cascade[cascade.agent == a["name"]]
        layers = ["trained"] + list(sub.groupby("step")["layer"].first())
        for c, metric in enumerate(("spearman", "spearman |.|", "ssim")):
            ax = axes[r, c]
            for m, colour in zip(METHOD_NAMES, PALETTE):
                curve = sub[sub.method == m].groupby("step")[metric].mean()
                ax.plot([0, *curve.index], [1.0, *curve.values], marker="o", ms=3, color=colour, label=m)
            ax.set_xticks(range(len(layers)))
            ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
            ax.axhline(0, color="0.5", lw=0.8, ls=":")
            ax.set_title(f"{a['name']}: {metric}", fontsize=9)
            ax.set_ylim(-1.05, 1.05)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    publish("sal_cascading_randomization", fig,
            f"Cascading randomization (Adebayo et al. 2018): similarity between each method's map "
            f"on the trained network and after re-initializing the layers from the top down to the "
            f"one named; mean over {n_states} states of evaluation game {seed}; newest frame; "
            f"Grad-CAM family at {cam_layer}; randomization seed {randomization_seed}.")

# %% [markdown]
# What is left of the trained map once *every* layer is random:

# %%
fully = (cascade[cascade.step == cascade.groupby("agent")["step"].transform("max")]
         .groupby(["method", "agent"])[["spearman |.|", "ssim"]].mean().unstack("agent"))
fully.reindex(list(METHOD_NAMES)).round(3) if len(cascade) else "no agent"

# %%
for name, stages in examples.items():
    i = 0
    a = next(a for a in agents if a["name"] == name)
    rows_img = [[overlay(a["frames"][i], normalize(torch.from_numpy(maps[m][i:i + 1]))[0].numpy(), palette=palette)
                 for m in METHOD_NAMES] for _, maps in stages]
    fig = gallery(rows_img, row_labels=[s for s, _ in stages], col_labels=list(METHOD_NAMES), palette=palette)
    publish(f"sal_randomized_{name.replace(' ', '_').lower()}", fig,
            f"{name}: the maps of one state on the trained network and after randomizing down to "
            "conv2 and down to conv1 (all layers). Same target action throughout.")

# %% [markdown]
# ## 2. Edges: are the maps just edge detectors?
#
# The Sobel gradient magnitude of the newest input frame marks its edges. If a method's map
# ranks pixels like the edge map, whether or not the network is trained, it shows the image
# and not the model.

# %%
edge_rows = []
for a in agents:
    edges = [np.hypot(ndimage.sobel(f, 0), ndimage.sobel(f, 1)) for f in a["x"][:, -1].numpy().astype(np.float64)]
    _, randomized = deque(cascading_randomization(a["net"], seed=randomization_seed), maxlen=1)[0]  # all layers
    for label, model in (("trained", a["net"]), ("all layers random", randomized)):
        maps = newest_maps(model, model, a["x"], a["actions"])
        for m in METHOD_NAMES:
            edge_rows.append({"agent": a["name"], "network": label, "method": m,
                              "rho with edges": np.nanmean([rank_correlation(maps[m][i], edges[i], absolute=True)
                                                            for i in range(len(edges))])})
edge_table = pd.DataFrame(edge_rows)
(edge_table.pivot_table(index="method", columns=["agent", "network"], values="rho with edges")
 .reindex(list(METHOD_NAMES)).round(3) if len(edge_table) else "no agent")

# %% [markdown]
# ## 3. Perturbation saliency as a non-gradient baseline
#
# Greydanus et al. blur a soft disc (Gaussian of width 5 pixels) at every 5th pixel and score
# half the squared change of the output vector (Q-values, or the actor's logits). It needs no
# gradient, so it cannot suffer from the gradient's local noise; it is coarse by design. Below:
# the rank correlation of each gradient method's absolute map with it.

# %%
pert_rows, pert_examples = [], []
for a in agents:
    maps = newest_maps(a["net"], a["net"], a["x"], a["actions"])
    for i in range(len(a["x"])):
        p = perturbation_saliency(a["net"], a["x"][i:i + 1], stride=perturbation_stride)[0, 0].numpy()
        if i == 0:
            pert_examples.append((a, p))
        for m in METHOD_NAMES:
            pert_rows.append({"agent": a["name"], "method": m,
                              "rho with perturbation": rank_correlation(np.abs(maps[m][i]), p)})
pert = pd.DataFrame(pert_rows)
if pert_examples:
    fig, axes = plt.subplots(1, len(pert_examples), figsize=(3 * len(pert_examples), 3.6), squeeze=False)
    for ax, (a, p) in zip(axes[0], pert_examples):
        ax.imshow(overlay(a["frames"][0], p / p.max() if p.max() > 0 else p, palette=palette))
        ax.set_title(a["name"], fontsize=9)
        ax.axis("off")
    publish("sal_perturbation", fig,
            f"Perturbation saliency (Greydanus et al. 2018; radius 5, stride {perturbation_stride}) "
            "of the chosen action's output vector, first state of each agent; scaled by its maximum.")
(pert.pivot_table(index="method", columns="agent", values="rho with perturbation").reindex(list(METHOD_NAMES)).round(3)
 if len(pert) else "no agent")

# %% [markdown]
# ## 4. Do the maps of different actions differ?
#
# For each state, every method explains every action; we report the mean Spearman
# correlation of the absolute maps over all pairs of actions. 1 means that the method draws
# the same map whatever action it is asked about.

# %%
disc_rows = []
for a in agents:
    with torch.no_grad():
        out = a["net"](a["x"][:1].float())
    n_actions = (out[0] if isinstance(out, tuple) else out).shape[1]
    per_action = [newest_maps(a["net"], a["net"], a["x"], torch.full((len(a["x"]),), k)) for k in range(n_actions)]
    for m in METHOD_NAMES:
        rhos = [rank_correlation(per_action[p][m][i], per_action[q][m][i], absolute=True)
                for i in range(len(a["x"])) for p in range(n_actions) for q in range(p + 1, n_actions)]
        disc_rows.append({"agent": a["name"], "method": m, "actions": n_actions,
                          "rho between actions": float(np.nanmean(rhos))})
disc = pd.DataFrame(disc_rows)
(disc.pivot_table(index="method", columns="agent", values="rho between actions").reindex(list(METHOD_NAMES)).round(3)
 if len(disc) else "no agent")
