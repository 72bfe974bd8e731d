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
# # How much of the network can go? Pruning by merging neurons
#
# This notebook regenerates **Figure 3** of *Neuron activation analysis in multi-joint robot
# RL*. Neurons that fire alike (small distance, eq. 2) are merged: each layer's cluster tree
# (average linkage on the distances) is cut where the clusters are farther apart than a
# fraction $\tau$ of the layer's largest cluster distance, and every cluster becomes one
# neuron whose outgoing weights combine its members' weights, scaled by their maximum
# activations (eq. 4). The pruned network is then trained further until it passes the
# 300-episode validation test again.
#
# * **Left (one pruning step, several $\tau$).** How small does the network get, how good is
#   it right after pruning (the paper's "initial accuracy"), how many episodes until it passes
#   validation again? Beside the merge, two simple rules cut it to the *same* layer sizes (the paper has none).
# * **Right (three pruning steps).** Prune, retrain, repeat: the size after each step, per initial width.
#
# Every experiment is stored (`sweeps/arm_pruning_comparison.yml`, `sweeps/arm_pruning_no_retrain.yml`):
# the book reads results computed once; other parameters compute and cache new ones.

# %% tags=["parameters"]
n_joints: int = 3  # arm of the agents studied (shipped: 2, 3, 4 joints) | {2, 3, 4}
# widths whose retraining is compared; the claims read the first | nonempty; unique; {32, 48, 128, 256, 512}
retrain_widths: list[int] = [32, 48]
agent_seeds: list[int] = [0, 1, 2, 3, 4]  # agent seeds (sweeps/arm_pruning_agents.yml) | nonempty; unique; [0, 999]
taus: list[float] = [0.1, 0.2, 0.4]  # retraining thresholds, claims' width (sweep: 0.1-0.4) | nonempty; unique; [0, 1]
other_taus: list[float] = [0.2]  # retraining thresholds at the other widths | nonempty; unique; [0, 1]
size_widths: list[int] = [32, 48]  # widths compared without retraining | nonempty; unique; {32, 48, 128, 256, 512}
# thresholds of the comparison without retraining | nonempty; unique; [0, 1]
size_taus: list[float] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]
agent_max_episodes: int = 5000  # training budget the compared agents were trained with | [1, 100_000]
# widths of the iterative study (paper: 32-512) | nonempty; unique; {32, 48, 128, 256, 512}
widths: list[int] = [32, 48, 128]
iterative_tau: float = 0.1  # threshold of the iterative study (paper: 0.2; see the text) | [0, 1]
steps: int = 3  # prune-retrain steps (paper: 3) | [1, 10]
n_episodes: int = 100  # sample episodes whose activations decide the clusters | [1, 10_000]
episode_seed: int = 11  # seed of those episodes' goals | [0, 2_147_483_647]
retrain_budget: int = 5000  # most training episodes spent to pass validation again | [1, 100_000]
iterative_retrain_budget: int = 3000  # iterative study: the same, per step (from scratch: 1,500-3,500) | [1, 100_000]

# %%
import pandas as pd

from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.neurons import plot_iterative, plot_pruning_comparison
from rlinside.studies import neuron_activation as study

set_theme()
width = retrain_widths[0]
agents = study.comparison_agents(n_joints, retrain_widths, agent_seeds, agent_max_episodes=agent_max_episodes)
common = dict(n_episodes=n_episodes, episode_seed=episode_seed, agent_max_episodes=agent_max_episodes)
sizes = study.pruning_comparison(n_joints, size_widths, agent_seeds, size_taus, retrain_budget=0, **common)
comparison = pd.concat([study.pruning_comparison(n_joints, ws, agent_seeds, ts, retrain_budget=retrain_budget, **common)
                        for ws, ts in (([width], taus), (retrain_widths[1:], other_taus)) if ws], ignore_index=True)

# %% [markdown]
# ## $\tau = 0$: only dead and duplicate neurons go
#
# At $\tau = 0$ only clusters at distance zero are merged: neurons that never fire on the sample episodes, and
# exact scaled copies. The paper reports this alone shrinks the network a lot at no cost. All agents, no retraining:

# %%
zero = study.zero_rows(sizes)
zero

# %% [markdown]
# ## Figure 3 (left), with two simple rules beside the merge
#
# One pruning step at each $\tau$. The merge decides the layer sizes; the two simple rules cut the same trained
# network to exactly those sizes: **low-activation** keeps the neurons with the largest mean activation on the sample
# episodes, **random-live** drops the dead neurons and then keeps a random subset of the live ones. Accuracy is the
# validation success rate (final reward ≥ 0.9 on 300 goals) right after pruning; retraining episodes are those needed
# to pass validation again (an open triangle: the budget was spent without passing). The budget is what each agent was
# given to learn from scratch (`agent_max_episodes`); a smaller one was binding at first
# (`sweeps/arm_pruning_comparison.yml` has the counts, and the cost that limits retraining to `taus` at the claims'
# width and `other_taus` at the others). A run that spent it counts the budget, a lower bound of its cost: where only
# a simple rule spent it the merge's advantage is understated; where both did, it is unknown (`passed`).

# %%
summary = study.comparison_summary(sizes)
fig = plot_pruning_comparison(sizes, comparison, summary, retrain_budget)
publish("na_fig3_tau", fig,
        f"Figure 3, left (our run): one pruning step of {len(agent_seeds)} {n_joints}-joint agents per width; "
        f"middle: three pruning rules at the same layer sizes (band: 95 % bootstrap interval over seeds); "
        f"right: retraining, open triangles: not passed within {retrain_budget} episodes.")
print("episodes from scratch, (width, seed):",
      {(a.config["width"], a.config["seed"]): a.manifest["metrics"]["training_episodes"] for a in agents})
study.comparison_summary(comparison).round(3)

# %% [markdown]
# **Stronger simple rules.** The rules above drop neurons outright, while the merge folds what it removes into the
# survivors. Replaced by its mean activation (folded into the next layer's bias), a dropped neuron costs less:

# %%
replaced = study.mean_replaced_comparison(n_joints, size_widths, agent_seeds, size_taus, **common)
study.baseline_gap_table(sizes, replaced).round(3)  # success after pruning, merge minus rule, mean over tau > 0

# %% [markdown]
# ## Figure 3 (right): three pruning steps, initial widths 32 to 512
#
# Each shipped agent (seed 0) of the widths asked for is pruned at $\tau$ = `iterative_tau`, retrained, and pruned
# again. A study stops at the first step whose retraining does not pass validation within `iterative_retrain_budget`
# episodes (its last row has no retraining episodes). A width without a shipped agent is an error.

# %%
iterative, missing = study.iterative_table(n_joints, widths, iterative_tau, steps=steps, n_episodes=n_episodes,
                                          episode_seed=episode_seed, retrain_budget=iterative_retrain_budget)
if missing:  # a profile never silently runs on fewer widths than it asks for
    raise ValueError(f"no shipped {n_joints}-joint agent of width {missing} (seed 0): train them with "
                     f"scripts/train_arm.py --joints {n_joints} --width W --seed 0")
iterative

# %%
fig = plot_iterative(iterative, steps)
publish("na_fig3_steps", fig,
        f"Figure 3, right (our run): network size over {steps} prune-retrain steps at τ = {iterative_tau} "
        f"({n_joints}-joint agents), and the layer shapes after the last step.")

# %% [markdown]
# **Reading the figure.** The paper's three observations are: the first step removes the most and later steps
# plateau; networks of 128 neurons per layer and more shrink to about the same size in the first step; and after
# pruning, narrow networks taper towards the output while wide ones narrow in the middle and widen again at the last
# layer (an hourglass). The claims table compares each with the rows above. The paper gives one mean shape, over its
# widths 256 and 512 after three steps at $\tau = 0.2$; ours, at this run's widths and threshold, are beside it:

# %%
study.shape_table(iterative)

# %% [markdown]
# ## The chapter's claims about Figure 3
#
# Measured per agent (tau = 0 and the simple rules as they are, without retraining), per agent seed (size and
# retraining) and per initial width (the iterative study, one seed per width); a retraining run that did not pass
# within its budget counts the budget, a lower bound of its cost. The claims against the simple rules are ours. The
# verdicts are computed on the chapter page ({doc}`../../claims`); a claim needs 5 agent seeds (the paper: 20).

# %%
measured = study.pruning_claims(comparison, sizes, iterative, [a for a in agents if a.config["width"] == width],
                                width=width, steps=steps, n_episodes=n_episodes, retrain_budget=retrain_budget,
                                iterative_retrain_budget=iterative_retrain_budget, profile=run_context().get("profile"))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
