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
# # How far apart are the neurons? Activation distances in an arm-reaching network
#
# This notebook regenerates **Figure 2** of *Neuron activation analysis in multi-joint robot
# RL*: the distribution of distances between the activation patterns of the hidden neurons of
# a DQN that moves a planar arm to a goal, for a randomly initialised network, the trained
# network, and the trained network after pruning; all-to-all and within each layer; and the
# cluster trees (dendrograms) that the pruning algorithm cuts.
#
# **The distance (eq. 2).** Each neuron's activation over an episode is divided by its largest
# activation over all sample episodes, so every neuron lives on [0, 1]. The distance between
# two neurons is the Euclidean norm of the difference of their normalised series, averaged
# over episodes. Two neurons at distance 0 fire in proportion: one of them is redundant. The
# paper reads a wide spread of distances as neurons that encode different things.
#
# **Clustering (eq. 3).** Per layer, neurons are clustered hierarchically on these distances
# with average linkage; the pruning algorithm merges the clusters whose distance is below a
# fraction $\tau$ of the layer's largest one (see {doc}`02_pruning`).

# %% tags=["parameters"]
n_joints: int = 3  # joints of the arm whose agent is analysed (paper: 3; shipped agents: 2, 3, 4) | {2, 3, 4}
width: int = 32  # neurons per hidden layer of that agent | {32, 48, 128, 256, 512}
agent_seed: int = 0  # training seed of the shipped agent | [0, 999]
n_episodes: int = 500  # sample episodes whose activations are compared (paper: 500) | [1, 10_000]
episode_seed: int = 11  # seed of the sample episodes' goals | [0, 2_147_483_647]
tau: float = 0.1  # pruning threshold, share of a layer's largest cluster distance (paper: 0.2; 02_pruning) | [0, 1]
prune_steps: int = 3  # prune-retrain steps that make the pruned network (paper: 3) | [1, 10]
prune_episodes: int = 100  # sample episodes whose activations decide the clusters when pruning | [1, 10_000]
retrain_budget: int = 3000  # most retraining episodes per step to pass validation again (as in 02) | [1, 100_000]
summary_joints: list[int] = [2, 3, 4]  # arms whose agents of this width enter the summary | nonempty; unique; {2, 3, 4}

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from scipy.cluster.hierarchy import dendrogram

from rlinside.agents.arm_dqn import (
    ArmDQNConfig,
    build_q_network,
    load_arm_agent,
    run_episodes,
    validate,
)
from rlinside.explain import (
    distance_kde,
    layer_linkages,
    layerwise_neuron_distances,
    neuron_distances,
    upper_triangle,
)
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.studies.neuron_activation import pruned_agent
from rlinside.utils import seed_everything

set_theme()
trained, artifact = load_arm_agent(n_joints, width, agent_seed)
config = ArmDQNConfig.from_dict(artifact.config)
seed_everything(1234)
untrained = build_q_network(config)  # same architecture, fresh random weights

# The pruned network: prune-retrain `prune_steps` times (the study of notebook 02, stored).
pruned, prune_rows = pruned_agent(artifact, tau, steps=prune_steps, n_episodes=prune_episodes,
                                  episode_seed=episode_seed, retrain_budget=retrain_budget)
nets = {"random": untrained, "trained": trained, "pruned": pruned}
acts = {k: run_episodes(m, config, n_episodes, episode_seed).activations for k, m in nets.items()}
pd.DataFrame([{"network": k, "hidden layer sizes": m.hidden_sizes,
               "validation success": validate(m, config).success_rate} for k, m in nets.items()])

# %% [markdown]
# The pruned network went through these steps (sizes right after each merge; retraining
# episodes needed to pass validation again; None: not within the budget):

# %%
pd.DataFrame(prune_rows)

# %% [markdown]
# ## Figure 2: distance densities
#
# Left: every pair of hidden neurons of the network (all-to-all). Right: pairs within the same
# layer only. A density piled up near zero means many neurons fire alike.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
colors = {"random": PALETTE[7], "trained": PALETTE[0], "pruned": PALETTE[3]}
stats, per_layer = [], []
for name, a in acts.items():
    d_all = upper_triangle(neuron_distances(a))
    d_layer = np.concatenate([upper_triangle(D) for D in layerwise_neuron_distances(a) if len(D) > 1])
    for ax, d in zip(axes, (d_all, d_layer)):
        g, dens = distance_kde(d)
        ax.plot(g, dens, color=colors[name], lw=1.6, label=f"{name} (n={len(d)} pairs)")
        ax.fill_between(g, 0, dens, color=colors[name], alpha=0.12)
    stats.append({"network": name, "mean distance (all-to-all)": d_all.mean(),
                  "std (all-to-all)": d_all.std(), "mean distance (layer-wise)": d_layer.mean(),
                  "std (layer-wise)": d_layer.std(), "pairs at distance < 0.1": (d_all < 0.1).mean()})
    per_layer.append({"network": name, **{f"layer {k + 1}": upper_triangle(D).mean()
                                           for k, D in enumerate(layerwise_neuron_distances(a)) if len(D) > 1}})
axes[0].set_title("all-to-all")
axes[1].set_title("layer-wise")
for ax in axes:
    ax.set_xlabel("neuron distance (eq. 2)")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=8)
fig.suptitle(f"{n_joints}-joint arm, 6×{width} DQN, {n_episodes} sample episodes")
fig.tight_layout()
publish("na_fig2_densities", fig,
        f"Figure 2 (our run): densities of neuron distances for a random, the trained and the pruned "
        f"(τ = {tau}, {len(prune_rows) - 1} prune-retrain step(s)) network of the {n_joints}-joint agent.")
display(pd.DataFrame(stats))

# %% [markdown]
# Mean within-layer distance, layer by layer (the paper reads large distances in a layer as
# neurons that encode different things):

# %%
pd.DataFrame(per_layer).set_index("network")

# %% [markdown]
# ## Cluster trees: random, trained and pruned (Figure 2, bottom)
#
# One dendrogram per hidden layer (average linkage on eq. 2's distances), one row per network.
# The dashed line is the pruning threshold $\tau$ times the layer's largest merge distance:
# every subtree below it becomes one neuron. The titles give the number of neurons the layer
# would keep at this $\tau$.

# %%
from rlinside.explain import bfs_segmentation

fig, axes = plt.subplots(3, 6, figsize=(15, 7.2))
for row, (name, a) in enumerate(acts.items()):
    for k, (ax, Z) in enumerate(zip(axes[row], layer_linkages(a))):
        cut = tau * Z[:, 2].max()
        dendrogram(Z, ax=ax, no_labels=True, color_threshold=cut, above_threshold_color="0.6")
        ax.axhline(cut, color="k", ls="--", lw=0.8)
        ax.set_title(f"{name}, layer {k + 1}: {len(Z) + 1}→{len(bfs_segmentation(Z, cut))}", fontsize=9)
        if k == 0:
            ax.set_ylabel("distance")
fig.tight_layout()
publish("na_fig2_dendrograms", fig,
        f"Dendrograms of the random, trained and pruned {n_joints}-joint networks' hidden layers "
        f"(rows); dashed: τ = {tau} of each layer's largest merge distance.")

# %% [markdown]
# ## Across agents: is the trained-vs-random difference systematic?
#
# The figures above show one agent. The paper averages over many networks; here every
# shipped agent of width `width` for the arms in `summary_joints` is compared with a random
# network of its own architecture (fresh Xavier-style initialisation, one per agent), on the
# same sample episodes. "Last/first layer ratio" divides the mean within-layer distance of
# hidden layer 6 by that of layer 1 (above 1: the neurons near the output are the more
# distinct ones; random networks are above 1 too, because their deep layers carry many
# neurons that never fire, so the trained ratio is compared with the random one).

# %%
from rlinside.agents.arm_dqn import find_arm_agents, load_arm_weights

summary_rows = []
for art in [a for j in summary_joints for a in find_arm_agents(j, width)]:
    cfg = ArmDQNConfig.from_dict(art.config)
    seed_everything(1234 + art.config["seed"])
    for name, m in (("trained", load_arm_weights(art.file("weights.pt"))[0]), ("random", build_q_network(cfg))):
        a = run_episodes(m, cfg, n_episodes, episode_seed).activations
        d_all = upper_triangle(neuron_distances(a))
        layer_means = [upper_triangle(D).mean() for D in layerwise_neuron_distances(a)]
        summary_rows.append({"joints": cfg.n_joints, "seed": cfg.seed, "network": name,
                             "mean distance": d_all.mean(), "std distance": d_all.std(),
                             "last/first layer ratio": layer_means[-1] / layer_means[0]})
across = pd.DataFrame(summary_rows)
paired = across.pivot_table(index=["joints", "seed"], columns="network",
                            values=["mean distance", "std distance", "last/first layer ratio"])
display(paired.round(3))
lower_mean = (paired[("mean distance", "trained")] < paired[("mean distance", "random")]).mean()
lower_std = (paired[("std distance", "trained")] < paired[("std distance", "random")]).mean()
ratio_up = (paired[("last/first layer ratio", "trained")] > paired[("last/first layer ratio", "random")]).mean()
print(f"{len(paired)} agents: trained mean below random in {lower_mean:.0%}, "
      f"trained spread below random in {lower_std:.0%}, "
      f"trained last/first layer ratio above random's in {ratio_up:.0%}")
