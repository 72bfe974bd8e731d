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
import pandas as pd
from IPython.display import display
from scipy.cluster.hierarchy import dendrogram

from rlinside import claims
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import neuron_activation as na
from rlinside.studies.neuron_activation import cluster_trees, distance_densities, figure2_networks, trained_vs_random

set_theme()
# The pruned network: prune-retrain `prune_steps` times (the study of notebook 02, stored).
study = figure2_networks(n_joints, width, agent_seed, n_episodes=n_episodes, episode_seed=episode_seed, tau=tau,
                         prune_steps=prune_steps, prune_episodes=prune_episodes, retrain_budget=retrain_budget)
study.summary

# %% [markdown]
# The pruned network went through these steps (sizes right after each merge; retraining
# episodes needed to pass validation again; None: not within the budget):

# %%
pd.DataFrame(study.prune_rows)

# %% [markdown]
# ## Figure 2: distance densities
#
# Left: every pair of hidden neurons of the network (all-to-all). Right: pairs within the same
# layer only. A density piled up near zero means many neurons fire alike.

# %%
dist = distance_densities(study.activations)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
colors = {"random": PALETTE[7], "trained": PALETTE[0], "pruned": PALETTE[3]}
for name, curves in dist.curves.items():
    for ax, (scope, (g, dens, n)) in zip(axes, curves.items()):
        ax.plot(g, dens, color=colors[name], lw=1.6, label=f"{name} (n={n} pairs)")
        ax.fill_between(g, 0, dens, color=colors[name], alpha=0.12)
        ax.set_title(scope)
for ax in axes:
    ax.set_xlabel("neuron distance (eq. 2)")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=8)
fig.suptitle(f"{n_joints}-joint arm, 6×{width} DQN, {n_episodes} sample episodes")
fig.tight_layout()
publish("na_fig2_densities", fig,
        f"Figure 2 (our run): densities of neuron distances for a random, the trained and the pruned "
        f"(τ = {tau}, {len(study.prune_rows) - 1} prune-retrain step(s)) network of the {n_joints}-joint agent.")
display(dist.stats)

# %% [markdown]
# Mean within-layer distance, layer by layer (the paper reads large distances in a layer as
# neurons that encode different things):

# %%
dist.per_layer

# %% [markdown]
# ## Cluster trees: random, trained and pruned (Figure 2, bottom)
#
# One dendrogram per hidden layer (average linkage on eq. 2's distances), one row per network.
# The dashed line is the pruning threshold $\tau$ times the layer's largest merge distance:
# every subtree below it becomes one neuron. The titles give the number of neurons the layer
# would keep at this $\tau$.

# %%
fig, axes = plt.subplots(3, 6, figsize=(15, 7.2))
for row, (name, trees) in enumerate(cluster_trees(study.activations, tau).items()):
    for k, (ax, t) in enumerate(zip(axes[row], trees)):
        dendrogram(t.linkage, ax=ax, no_labels=True, color_threshold=t.cut, above_threshold_color="0.6")
        ax.axhline(t.cut, color="k", ls="--", lw=0.8)
        ax.set_title(f"{name}, layer {k + 1}: {t.neurons}→{t.kept}", fontsize=9)
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
# shipped agent of width `width` for the arms in `summary_joints` is compared with random
# networks of its own architecture on the same sample episodes: `random`, Xavier uniform
# weights and zero biases (the paper's reference), and `random (default init)`, PyTorch's
# default initialisation (the one our agents start training from; our first version compared
# with it alone). Each statistic is given over all hidden neurons and over the *live* ones
# (positive at least once in the sample episodes): a dead neuron sits at distance 0 from every
# other dead one, so networks with many dead neurons get lower, wider distance distributions
# for that reason alone. "Last/first layer ratio" divides the mean within-layer distance of
# hidden layer 6 by that of layer 1.

# %%
across = trained_vs_random(summary_joints, width, n_episodes=n_episodes, episode_seed=episode_seed)
display(across.paired.round(3))
display(na.dead_neuron_table(across).round(1))  # mean dead neurons per hidden layer
print(f"{len(across.paired)} agents: trained mean below random in {across.trained_mean_below:.0%}, "
      f"trained spread below random in {across.trained_std_below:.0%}, "
      f"trained last/first layer ratio above random's in {across.trained_ratio_above:.0%}")

# %% [markdown]
# ## The chapter's claims about Figure 2
#
# Measured per agent (the random network of each agent's shape against the agent, on the same
# sample episodes), and, for the pruned network, per sample episode of the one agent pruned
# above (a verdict about this agent). The verdicts are computed on the chapter page
# ({doc}`../../claims`).

# %%
per_agent = na.distance_claim_values(across)
live_gaps = {k: na.distance_claim_values(across, live=True)[k] for k in ("mean_gap", "std_gap")}
display(pd.DataFrame({f"{k} ({n})": pd.Series(v) for n, d in (("all neurons", per_agent), ("live only", live_gaps))
                      for k, v in d.items() if k in ("mean_gap", "std_gap")}).round(3))  # Xavier minus trained
per_episode = na.pruned_vs_trained_episodes(na.episode_distance_stats(study.activations))
per_episode_live = na.pruned_vs_trained_episodes(na.episode_distance_stats(study.activations, live=True))
scale = {"profile": run_context().get("profile"), "agents": len(across.paired), "episodes": n_episodes}
pruned_scale = {"profile": run_context().get("profile"), "agents": 1, "episodes": n_episodes,
                "prune_steps": len(study.prune_rows) - 1}
agent_claims = [("neuron_activation.trained_mean_below_random", "mean_gap"),
                ("neuron_activation.trained_spread_below_random", "std_gap"),
                ("neuron_activation.distances_rise_to_output", "output_rise"),
                ("neuron_activation.first_layer_distinct", "first_layer")]
measured = [claims.measure(cid, [per_agent[k][a] for a in sorted(per_agent[k])], scale=scale,
                           details={"agents": [f"{j} joints, seed {s}" for j, s in sorted(per_agent[k])]}).to_dict()
            for cid, k in agent_claims]
measured += [claims.measure(cid, [per_episode[k][e] for e in sorted(per_episode[k])], scale=pruned_scale,
                            details={"agent": f"{n_joints} joints, width {width}, seed {agent_seed}", "tau": tau,
                                     "pruned sizes": list(study.nets["pruned"].hidden_sizes)}).to_dict()
             for cid, k in [("neuron_activation.pruning_raises_mean", "mean_gap"),
                            ("neuron_activation.pruning_narrows_spread", "std_gap")]]
measured += [claims.measure(cid, [per_episode_live[k][e] for e in sorted(per_episode_live[k])], scale=pruned_scale,
                            details={"agent": f"{n_joints} joints, width {width}, seed {agent_seed}", "tau": tau,
                                     "neurons": "live only"}).to_dict()
             for cid, k in [("neuron_activation.pruning_raises_mean_live", "mean_gap")]]
pd.DataFrame(measured)[["claim", "estimate", "low", "high", "n"]]
