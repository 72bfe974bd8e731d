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
# The projection experiments of the paper (Figures 4, 5 and the mapping tables): can the hidden
# activations of a network for a $b$-joint arm be predicted, neuron by neuron, from those of a
# network for an $a$-joint arm? Both see the target arm's situations, translated into the source
# arm's inputs **naively** (zero-padded or cut joints) or **balanced** (each short-arm joint
# stands for a group, the fingertip in the same place). A **linear mapping** is a non-negative
# lasso (penalty $\lambda$) on activations scaled to [0, 1], scored by its **normalised error**
# (eq. 6), **saturation** (eq. 7: 0 when one source neuron explains a target neuron) and
# **coverage** (eq. 8: how evenly the sources are used); the **layer projection matrix** (eq. 9)
# shows which layers feed which. Baselines: the **reflexive** map, an **untrained** source,
# networks with their dead neurons pruned and **linear CKA** (Kornblith et al. 2019).

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
import pandas as pd
from IPython.display import display

from rlinside.plots import neurons as plots_na
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.matrices import plot_layer_matrices
from rlinside.plots.neurons import plot_error_grids, plot_lambda_comparison, plot_techniques
from rlinside.studies import neuron_activation as study

set_theme()
setup = dict(n_episodes=n_episodes, episode_seed=episode_seed, lam=lam, transform=transform)
arms = study.project_arms(joints, width, agent_seeds, **setup)
arms.table.round(3)

# %% [markdown]
# ## Greedy or linear? Networks of the same arm (Figure 5, top)
#
# Between networks trained for the *same* arm (other seeds or widths): the **greedy** map gives
# each target neuron its closest source neuron (eq. 2), the **linear** map is the lasso. Errors
# are held out (a second set of the target's episodes). "Diagonal": the share of target layers
# whose largest eq. 9 entry is the source layer of the same depth. The penalty figure shows why
# λ = 50: below, each neuron spreads over many sources; above, the error grows.

# %%
same = study.compare_techniques(same_arm, n_episodes=n_episodes, episode_seed=episode_seed, lam=lam)
display(same.means)
same.pairs

# %%
lams = study.lambda_comparison(same_arm, width, list(agent_seeds), [1.0, 5.0, 20.0, 50.0, 200.0, 1000.0],
                               n_episodes=n_episodes, episode_seed=episode_seed)
publish("na_lambda", plot_lambda_comparison(lams, lam),
        f"The lasso penalty: held-out error, saturation and coverage of the linear maps between the {same_arm}-joint "
        f"agents of width {width} (mean over ordered pairs, band: their range); dashed: λ = {lam}, used here.")
fig = plot_techniques(same.pairs, f"{same.n_agents} agents of the {same_arm}-joint arm, all ordered pairs")
publish("na_fig5_techniques", fig,
        f"Figure 5, top (our run): greedy against linear maps between {same_arm}-joint agents.")

# %% [markdown]
# ## Mapping quality between arms
#
# First, what the source network reads (the paper's 4a/4b): target poses and the source arm's
# pose under each transformation. Then means over every ordered pair of agents (rows: source
# arm, columns: target arm); diagonal cells map between *different* agents of one arm (the
# "native" maps); "untrained source": untrained source networks; the reflexive map is above.

# %%
publish("na_input_transformations", plots_na.plot_input_transformations([(2, 4), (4, 2), (3, 4)]),
        "The input transformations: three random target poses (pale) and the source arm they become (thin).")
kinds = {"naive": "naive inputs", "balanced": "balanced inputs", "untrained source": "untrained source"}
for metric, what in (("normalised error", "eq. 6"), ("saturation", "eq. 7, low: few sources per target neuron"),
                     ("coverage", "eq. 8, high: the source's neurons used evenly")):
    fig = plot_error_grids({t: study.error_grid(arms, k, metric) for k, t in kinds.items()}, list(joints),
                           f"{metric} ({what.split(',')[0]})")
    publish("na_projection_" + {"normalised error": "errors"}.get(metric, metric), fig,
            f"Mean {metric} ({what}) of linear maps (λ = {lam}) between the 6×{width} agents for "
            f"{', '.join(map(str, joints))} joints ({len(agent_seeds)} agent(s) per arm, all ordered pairs).")

# %% [markdown]
# **Dead neurons** explain nothing: the same maps between agents pruned at τ = 0 (same function).

# %%
study.dead_pruned_table(arms, study.project_arms(joints, width, agent_seeds, **setup, dead_pruned=True)).round(3)

# %% [markdown]
# ## Which layers map onto which (eq. 9)
#
# Per pair of arms, the share of each target layer's projection weights from each source layer;
# a strong diagonal: networks organised alike layer by layer.

# %%
mean_P, layer_summary = study.layer_projections(arms)
fig = plot_layer_matrices({f"{a}→{b}": P for (a, b), P in mean_P.items()}, ncols=len(joints),
                          label="share of the target layer's projection weights (eq. 9)")
publish("na_layer_projection", fig,
        f"Mean layer projection matrices (eq. 9) over all agent pairs, {transform} inputs between arms; "
        f"diagonal pairs: {arms.diag_kind} maps.")
layer_summary

# %% [markdown]
# The paper's layer-by-layer table (Figure 5, top right) fits a mapping from each source layer
# alone onto each target layer alone; low error means that one layer can stand in for the
# other. One agent pair per pair of arms, at most 2,000 of its samples (36 fits each).

# %%
pair_errors = study.layer_pair_errors(arms)
publish("na_layer_pair_errors", plot_layer_matrices(pair_errors, ncols=len(joints), label="normalised error (eq. 6)"),
        f"Normalised error (eq. 6) of a linear mapping from each source layer (rows) onto each target layer "
        f"(columns), one agent pair per pair of arms, {transform} inputs between arms, at most 2,000 samples.")

# %% [markdown]
# ## Beyond the paper: linear CKA between layers
#
# CKA compares two layers' representations of the same samples without fitting a map (1:
# identical up to rotation and scale); rows: source layers, columns: target layers. A high CKA
# means little alone: the table gives the diagonal for an untrained (Xavier) source too.

# %%
cka, cka_summary = study.layer_cka(arms)
fig = plot_layer_matrices(cka, cmap="cividis", ncols=len(joints), label="linear CKA")
publish("na_cka", fig, f"Mean linear CKA between the layers of agents (all agent pairs), {transform} inputs "
        f"between arms; diagonal pairs: {arms.diag_kind}.")
cka_summary

# %% [markdown]
# ## The chapter's claims about Figure 5
#
# Per target agent (the unit: two agents' maps share both networks), the mean of the maps from
# its source agents, `transform` inputs unless the claim names them; verdicts on the chapter page.

# %%
measured = study.projection_claims(arms, same, n_episodes=n_episodes, transform=transform,
                                   profile=run_context().get("profile"))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
