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

import pandas as pd
from IPython.display import display

from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.neurons import plot_cluster_trees, plot_distance_densities
from rlinside.studies import neuron_activation as na
from rlinside.studies.neuron_activation import cluster_trees, distance_densities, figure2_networks, trained_vs_random

set_theme()
# Every stored agent, with its hold-out test (300 fresh goals, at least 279 successes; training stopped at the
# first passed validation, so an agent can pass validation and still fail the hold-out test):
agents = na.agents_table()
display(agents)
print(f"hold-out test failed by {int((agents['hold-out passed'] == False).sum())} of {len(agents)} agents")  # noqa: E712
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
fig = plot_distance_densities(dist.curves, f"{n_joints}-joint arm, 6×{width} DQN, {n_episodes} sample episodes")
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
fig = plot_cluster_trees(cluster_trees(study.activations, tau))
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
# ({doc}`../../claims`). Two choices could move the distance verdicts, so every combination is
# shown: all neurons or live ones only (eq. 2 divides by a neuron's maximum activation, so it
# is defined for neurons that fire; the claims table has both), and the random network playing
# its own episodes (the claims) or fed the trained agent's observations.

# %%
na.distance_variants(across).round(3)  # random minus trained, mean over agents, 95 % interval

# %%
measured = na.figure2_claims(study, across, n_joints=n_joints, width=width, agent_seed=agent_seed, tau=tau,
                             n_episodes=n_episodes, profile=run_context().get("profile"))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
