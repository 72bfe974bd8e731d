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
# # Do networks for different arms share neurons? Projections between networks
#
# This notebook regenerates the projection experiments of *Neuron activation analysis in
# multi-joint robot RL* (its Figures 4 and 5 and the mapping tables): can the hidden
# activations of a network trained for a $b$-joint arm be predicted from those of a network
# trained for an $a$-joint arm, neuron by neuron?
#
# - Both networks see the *same* situations: observations from episodes of the target arm,
#   translated into the source arm's inputs, either **naively** (the joints of the shorter
#   arm are padded with zero angles or cut off) or **balanced** (each joint of the short arm
#   stands for a group of joints of the long one, so the fingertip ends in the same place).
# - A **linear mapping** predicts every target neuron as a non-negative combination of source
#   neurons (a non-negative lasso with penalty $\lambda$), on activations scaled to [0, 1].
# - The fit is scored by its **normalised error** (eq. 6: the error relative to predicting
#   zero), its **saturation** (eq. 7: how spread each target neuron's weights are; 0 means one
#   source neuron explains it) and **coverage** (eq. 8: how evenly the source neurons are
#   used). The **layer projection matrix** (eq. 9) shows which source layers feed which target
#   layers.
# - Baselines: the **reflexive** mapping of a network onto itself (error near 0), and an
#   **untrained** network of the same shape as source. Beyond the paper, **linear CKA**
#   (Kornblith et al. 2019) compares layers without fitting anything.

# %% tags=["parameters"]
joints: list[int] = [2, 3, 4]  # arms whose shipped agents are compared
width: int = 32  # hidden width of those agents
agent_seed: int = 0  # training seed of those agents
n_episodes: int = 300  # target-arm episodes whose observations are the samples (paper: 300)
episode_seed: int = 5  # seed of those episodes' goals
lam: float = 50.0  # lasso penalty of the linear mapping (on summed squared errors)
transform: str = "balanced"  # input transformation for the main figures: balanced or naive
same_arm: int = 3  # arm whose shipped agents (all widths and seeds) compare greedy and linear maps

# %%
import itertools

from IPython.display import display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.agents.arm_dqn import (ArmDQNConfig, build_q_network, find_arm_agents, load_arm_agent,
                                    load_arm_weights, run_episodes)
from rlinside.explain import cka_matrix, deduplicate_inputs, fit_projection, record_activations, transform_joint_observations
from rlinside.plots import publish, set_theme
from rlinside.plots.matrices import plot_layer_matrices
from rlinside.utils import seed_everything

set_theme()
if transform not in ("balanced", "naive"):
    raise ValueError(f"transform={transform!r}: must be 'balanced' or 'naive'")
agents = {n: load_arm_agent(n, width, agent_seed) for n in joints}
models = {n: m for n, (m, _) in agents.items()}
configs = {n: ArmDQNConfig.from_dict(a.config) for n, (_, a) in agents.items()}
samples = {}
for n in joints:
    obs = run_episodes(models[n], configs[n], n_episodes, episode_seed, record_activations=False).observations
    samples[n] = deduplicate_inputs(obs.reshape(-1, obs.shape[-1]))
seed_everything(99)
untrained = {n: build_q_network(configs[n]) for n in joints}


def mapping(a: int, b: int, mode: str, source_models=models):
    """Project the a-joint source network onto the b-joint target network on b's samples."""
    xt = samples[b]
    xs = transform_joint_observations(xt, b, a, mode) if a != b else xt
    src = record_activations(source_models[a], [xs])[0]
    tgt = record_activations(models[b], [xt])[0]
    p = fit_projection(src, tgt, "linear", lam)
    return p, p.normalized_error(src, tgt)


rows, projections = [], {}
for a, b in itertools.product(joints, joints):
    for mode in ("naive", "balanced") if a != b else ("same inputs",):
        p, err = mapping(a, b, mode if a != b else "naive")
        projections[(a, b, mode)] = p
        rows.append({"source→target": f"{a}→{b}", "inputs": mode, "normalised error": err,
                     "saturation": p.saturation(), "coverage": p.coverage()})
    u, u_err = mapping(a, b, transform if a != b else "naive", source_models=untrained)
    rows.append({"source→target": f"{a}→{b}", "inputs": "untrained source", "normalised error": u_err,
                 "saturation": u.saturation(), "coverage": u.coverage()})
table = pd.DataFrame(rows)
table

# %% [markdown]
# ## Greedy or linear? Networks of the same arm (Figure 5, top)
#
# Between two networks trained for the *same* arm (different seeds or widths), on the same
# samples: the **greedy** map assigns each target neuron its single closest source neuron
# (eq. 2 distance over the samples); the **linear** map is the non-negative lasso. Errors are
# measured on a second, held-out set of episodes. "Diagonal" is the share of target layers
# whose largest layer-projection entry (eq. 9) is the source layer of the same depth.

# %%
same = [(a.config["width"], a.config["seed"], load_arm_weights(a.file("weights.pt"))[0])
        for a in find_arm_agents(same_arm)]
cfg_same = ArmDQNConfig.from_dict(find_arm_agents(same_arm)[0].config)
fit_obs = run_episodes(same[0][2], cfg_same, n_episodes, episode_seed, record_activations=False).observations
test_obs = run_episodes(same[0][2], cfg_same, n_episodes, episode_seed + 1000, record_activations=False).observations
x_fit = deduplicate_inputs(fit_obs.reshape(-1, fit_obs.shape[-1]))
x_test = deduplicate_inputs(test_obs.reshape(-1, test_obs.shape[-1]))
technique_rows = []
for (wa, sa, ma), (wb, sb, mb) in itertools.permutations(same, 2):
    src_fit, tgt_fit = record_activations(ma, [x_fit])[0], record_activations(mb, [x_fit])[0]
    src_test, tgt_test = record_activations(ma, [x_test])[0], record_activations(mb, [x_test])[0]
    for method in ("greedy", "linear"):
        proj = fit_projection(src_fit, tgt_fit, method, lam)
        P = proj.layer_projection()
        technique_rows.append({
            "source": f"w{wa} s{sa}", "target": f"w{wb} s{sb}", "method": method,
            "normalised error (held out)": proj.normalized_error(src_test, tgt_test),
            "saturation": proj.saturation(), "coverage": proj.coverage(),
            "diagonal": float(np.mean(np.nanargmax(np.nan_to_num(P, nan=-1), axis=0) == np.arange(P.shape[1]))),
        })
techniques = pd.DataFrame(technique_rows)
display(techniques.groupby("method")[["normalised error (held out)", "saturation", "coverage", "diagonal"]].mean())
techniques

# %%
fig, ax = plt.subplots(figsize=(5, 3.4))
for i, method in enumerate(("greedy", "linear")):
    vals = techniques[techniques["method"] == method]["normalised error (held out)"]
    ax.scatter(np.full(len(vals), i) + np.linspace(-0.08, 0.08, len(vals)), vals, s=18)
    ax.plot([i - 0.2, i + 0.2], [vals.mean()] * 2, color="k", lw=1.5)
ax.set_xticks([0, 1], ["greedy", "linear (non-negative lasso)"])
ax.set_ylabel("normalised error, held-out samples")
ax.set_title(f"{len(same)} agents of the {same_arm}-joint arm, all ordered pairs")
publish("na_fig5_techniques", fig,
        f"Figure 5, top (our run): greedy against linear maps between {same_arm}-joint agents.")

# %% [markdown]
# ## Mapping quality between arms
#
# The normalised error of every source→target pair (rows: source arm, columns: target arm).
# The diagonal is the reflexive baseline; the right panel uses untrained source networks.

# %%
def grid(kind: str) -> np.ndarray:
    g = np.full((len(joints), len(joints)), np.nan)
    for i, a in enumerate(joints):
        for j, b in enumerate(joints):
            sel = table[(table["source→target"] == f"{a}→{b}") &
                        (table["inputs"] == (kind if a != b or kind == "untrained source" else "same inputs"))]
            g[i, j] = sel["normalised error"].iloc[0]
    return g


fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
for ax, kind in zip(axes, ("naive", "balanced", "untrained source")):
    g = grid(kind)
    im = ax.imshow(g, vmin=0, vmax=1, cmap="viridis_r")
    for (i, j), v in np.ndenumerate(g):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v > 0.5 else "k", fontsize=9)
    ax.set_xticks(range(len(joints)), [f"{b}" for b in joints])
    ax.set_yticks(range(len(joints)), [f"{a}" for a in joints])
    ax.set_xlabel("target arm (joints)")
    ax.set_ylabel("source arm (joints)")
    ax.set_title(f"{kind} inputs" if kind != "untrained source" else "untrained source")
    ax.grid(False)
fig.colorbar(im, ax=axes, shrink=0.8, label="normalised error (eq. 6)")
publish("na_projection_errors", fig,
        f"Normalised error of linear mappings (λ = {lam}) between the 6×{width} agents for 2, 3 and 4 joints.")

# %% [markdown]
# ## Which layers map onto which (eq. 9)
#
# For each pair of different arms, the share of each target layer's projection weights that
# comes from each source layer. A strong diagonal means the two networks are organised alike
# layer by layer; mass in the first row means target neurons are mostly explained by the
# source's first layer.

# %%
pairs = [(a, b) for a, b in itertools.product(joints, joints) if a != b]
fig = plot_layer_matrices({f"{a}→{b}": projections[(a, b, transform)].layer_projection() for a, b in pairs})
publish("na_layer_projection", fig, f"Layer projection matrices (eq. 9), {transform} inputs.")
layer_rows = []
for a, b in pairs:
    P = projections[(a, b, transform)].layer_projection()
    best = np.nanargmax(np.nan_to_num(P, nan=-1), axis=0)
    layer_rows.append({"source→target": f"{a}→{b}", "mean share from source layer 1": float(np.nanmean(P[0])),
                       "target layers fed mostly by the same-depth source layer": float(np.mean(best == np.arange(P.shape[1]))),
                       "target layers fed mostly by source layer 1": float(np.mean(best == 0))})
pd.DataFrame(layer_rows)

# %% [markdown]
# ## Beyond the paper: linear CKA between layers
#
# CKA compares two layers' representations of the same samples without fitting a mapping
# (1: identical up to rotation and scale). Rows: layers of the source network, columns:
# layers of the target network, on the target arm's samples.

# %%
cka = {}
for a, b in pairs:
    xt = samples[b]
    xs = transform_joint_observations(xt, b, a, transform)
    cka[f"{a}→{b}"] = cka_matrix(record_activations(models[a], [xs])[0], record_activations(models[b], [xt])[0])
fig = plot_layer_matrices(cka, cmap="cividis")
publish("na_cka", fig, f"Linear CKA between the layers of agents for different arms, {transform} inputs.")
