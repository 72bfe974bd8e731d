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
joints: list[int] = [2, 3, 4]  # arms whose shipped agents are compared | nonempty; unique; {2, 3, 4}
width: int = 32  # hidden width of those agents | {32, 48, 128, 256, 512}
# training seeds of the agents per arm; every ordered pair is mapped (paper: 5 per arm) | nonempty; unique; [0, 999]
agent_seeds: list[int] = [0, 1, 2]
n_episodes: int = 300  # target-arm episodes whose observations are the samples (paper: 300) | [1, 10_000]
episode_seed: int = 5  # seed of those episodes' goals | [0, 2_147_483_647]
lam: float = 50.0  # lasso penalty of the linear mapping (on summed squared errors) | (0, 1_000_000]
transform: str = "balanced"  # input transformation for the main figures: balanced or naive | {balanced, naive}
same_arm: int = 3  # arm whose shipped agents (all widths and seeds) compare greedy and linear maps | {2, 3, 4}

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from rlinside.agents.arm_dqn import (
    ArmDQNConfig,
    build_q_network,
    find_arm_agents,
    load_arm_agent,
    load_arm_weights,
    run_episodes,
)
from rlinside.envs.planar_arm import transform_joint_observations
from rlinside.explain import (
    cka_matrix,
    deduplicate_inputs,
    fit_projection,
    record_activations,
)
from rlinside.plots import publish, set_theme
from rlinside.plots.matrices import plot_layer_matrices
from rlinside.utils import seed_everything

set_theme()
keys = [(n, s) for n in joints for s in agent_seeds]  # (joints, training seed) of each agent
agents = {k: load_arm_agent(k[0], width, k[1]) for k in keys}
models = {k: m for k, (m, _) in agents.items()}
configs = {k: ArmDQNConfig.from_dict(a.config) for k, (_, a) in agents.items()}
samples = {}
for k in keys:
    obs = run_episodes(models[k], configs[k], n_episodes, episode_seed, record_activations=False).observations
    samples[k] = deduplicate_inputs(obs.reshape(-1, obs.shape[-1]))
seed_everything(99)
untrained = {k: build_q_network(configs[k]) for k in keys}


def mapping(src: tuple[int, int], tgt: tuple[int, int], mode: str, source_models=models):
    """Project source agent ``src`` onto target agent ``tgt`` (keys: joints, seed) on the target's samples."""
    xt = samples[tgt]
    xs = transform_joint_observations(xt, tgt[0], src[0], mode) if src[0] != tgt[0] else xt
    s_act = record_activations(source_models[src], [xs])[0]
    t_act = record_activations(models[tgt], [xt])[0]
    p = fit_projection(s_act, t_act, "linear", lam)
    return p, p.normalized_error(s_act, t_act), (s_act, t_act)


def input_kinds(src, tgt) -> tuple[str, ...]:
    if src == tgt:
        return ("reflexive",)
    return ("same arm",) if src[0] == tgt[0] else ("naive", "balanced")


rows, projections, pair_acts = [], {}, {}
for src, tgt in itertools.product(keys, keys):
    for kind in input_kinds(src, tgt):
        p, err, a_ = mapping(src, tgt, "naive" if kind in ("naive", "same arm", "reflexive") else kind)
        projections.setdefault((src[0], tgt[0], kind), []).append(p)
        if kind in (transform, "same arm") or (kind == "reflexive" and len(agent_seeds) == 1):
            pair_acts.setdefault((src[0], tgt[0]), []).append(a_)
        rows.append({"source→target": f"{src[0]}→{tgt[0]}", "inputs": kind, "source seed": src[1],
                     "target seed": tgt[1], "normalised error": err,
                     "saturation": p.saturation(), "coverage": p.coverage()})
    if src[1] == tgt[1]:  # one untrained source per (target agent, source arm)
        kind = transform if src[0] != tgt[0] else "naive"
        u, u_err, _ = mapping(src, tgt, kind, source_models=untrained)
        rows.append({"source→target": f"{src[0]}→{tgt[0]}", "inputs": "untrained source",
                     "source seed": src[1], "target seed": tgt[1], "normalised error": u_err,
                     "saturation": u.saturation(), "coverage": u.coverage()})
mappings = pd.DataFrame(rows)
table = (mappings.groupby(["source→target", "inputs"], sort=False)
         [["normalised error", "saturation", "coverage"]].agg(["mean", "std", "count"]))
table.round(3)

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
# The mean normalised error over every ordered pair of agents (rows: source arm, columns:
# target arm). Diagonal cells map between *different* agents of the same arm (the paper's
# "native" mappings); the right panel uses untrained source networks. The reflexive map of a
# network onto itself is in the table above (its error is not exactly 0 because of the lasso
# penalty).

# %%
def grid(kind: str) -> np.ndarray:
    """Mean normalised error per (source arm, target arm); same-arm cells use other agents of
    the arm (the reflexive map when only one seed is given), except for untrained sources."""
    g = np.full((len(joints), len(joints)), np.nan)
    for i, a in enumerate(joints):
        for j, b in enumerate(joints):
            k = kind if a != b or kind == "untrained source" else ("same arm" if len(agent_seeds) > 1 else "reflexive")
            g[i, j] = table.loc[(f"{a}→{b}", k), ("normalised error", "mean")]
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
    if ax is axes[0]:
        ax.set_ylabel("source arm (joints)")
    ax.set_title(f"{kind} inputs" if kind != "untrained source" else "untrained source")
    ax.grid(False)
fig.colorbar(im, ax=axes, shrink=0.8, label="normalised error (eq. 6)")
publish("na_projection_errors", fig,
        f"Mean normalised error of linear mappings (λ = {lam}) between the 6×{width} agents for "
        f"{', '.join(map(str, joints))} joints ({len(agent_seeds)} agent(s) per arm, all ordered pairs).")

# %% [markdown]
# ## Which layers map onto which (eq. 9)
#
# For each pair of different arms, the share of each target layer's projection weights that
# comes from each source layer. A strong diagonal means the two networks are organised alike
# layer by layer; mass in the first row means target neurons are mostly explained by the
# source's first layer.

# %%
pairs = [(a, b) for a, b in itertools.product(joints, joints) if a != b]
diag_kind = "same arm" if len(agent_seeds) > 1 else "reflexive"
mean_P = {(a, b): np.nanmean([p.layer_projection()
                              for p in projections[(a, b, transform if a != b else diag_kind)]], axis=0)
          for a, b in itertools.product(joints, joints)}
fig = plot_layer_matrices({f"{a}→{b}": mean_P[(a, b)] for a, b in itertools.product(joints, joints)},
                          ncols=len(joints))
publish("na_layer_projection", fig,
        f"Mean layer projection matrices (eq. 9) over all agent pairs, {transform} inputs between arms; "
        f"diagonal pairs: {diag_kind} maps.")
layer_rows = []
for (a, b), P in mean_P.items():
    best = np.nanargmax(np.nan_to_num(P, nan=-1), axis=0)
    layer_rows.append({"source→target": f"{a}→{b}", "mean share from source layer 1": float(np.nanmean(P[0])),
                       "target layers fed mostly by the same-depth source layer":
                           float(np.mean(best == np.arange(P.shape[1]))),
                       "target layers fed mostly by source layer 1": float(np.mean(best == 0)),
                       "mean diagonal share": float(np.nanmean(np.diag(P)))})
layer_summary = pd.DataFrame(layer_rows)
layer_summary

# %% [markdown]
# ## Beyond the paper: linear CKA between layers
#
# CKA compares two layers' representations of the same samples without fitting a mapping
# (1: identical up to rotation and scale). Rows: layers of the source network, columns:
# layers of the target network, on the target arm's samples.

# %%
cka = {f"{a}→{b}": np.mean([cka_matrix(sa, ta) for sa, ta in pair_acts[(a, b)]], axis=0)
       for a, b in itertools.product(joints, joints)}
fig = plot_layer_matrices(cka, cmap="cividis", ncols=len(joints))
publish("na_cka", fig, f"Mean linear CKA between the layers of agents (all agent pairs), {transform} inputs "
        f"between arms; diagonal pairs: {diag_kind}.")
pd.DataFrame([{"source→target": k, "mean diagonal CKA": float(np.mean(np.diag(v))),
               "layer 1 ↔ layer 1": float(v[0, 0]), "layer 6 ↔ layer 6": float(v[-1, -1])}
              for k, v in cka.items()])
