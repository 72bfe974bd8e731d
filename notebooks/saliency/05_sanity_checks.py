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
# 1. **cascading randomization**: layers re-initialized from the output down, each method's map
#    compared with the trained network's (Spearman, signed and absolute, and SSIM);
# 2. **edges**: how well each map matches the input frame's Sobel edges, trained and randomized;
# 3. **a non-gradient baseline**: perturbation saliency (Greydanus et al. 2018);
# 4. **action discrimination**: are the maps of different actions on one state different?

# %% tags=["parameters"]
n_states: int = 40  # states per agent, spread over `n_games` games (one every `state_every` steps) | [1, 10_000]
n_games: int = 5  # evaluation games `seed`, `seed` + 1, ... the states come from | [1, 100]
state_every: int = 10  # agent steps between two states | [1, 1000]
seed: int = 0  # first evaluation game | [0, 2_147_483_647]
randomization_seed: int = 0  # seed of the re-initialized weights | [0, 2_147_483_647]
# how a layer is re-initialized: the agent's own initialization (orthogonal for A2C) or PyTorch's default
randomization_init: str = "own"  # | {own, default}
# layer of the Grad-CAM family: convK after its ReLU (standard), convK:pre before it (variant)
cam_layer: str = "conv1"  # | {conv1, conv2, conv3, conv1:pre, conv2:pre, conv3:pre}
perturbation_stride: int = 5  # grid step of perturbation saliency (Greydanus et al.: 5) | [1, 84]
# overlay colours: diverging (perceptually uniform: + green, - pink), paper (green/red) or colorblind
palette: str = "diverging"  # | {diverging, paper, colorblind}

# %%
import pandas as pd

from rlinside.explain.saliency import METHOD_NAMES
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.saliency import gallery, overlay, plot_cascade, strip_of_rows
from rlinside.studies import saliency as study

set_theme()
agents = study.sanity_agents(n_states, state_every, seed, n_games)
print("agents:", ", ".join(a.name for a in agents) or "none shipped")


# %% [markdown]
# ## 1. Cascading randomization
#
# Step 0 is the trained network; step k has its top k layers re-initialized (for the dueling
# DQN the advantage head, then the value head, then the convolutions; for A2C the value and
# policy heads, the 512 layer, then the convolutions). The target is always the action the
# trained network chose. A method that passes the test loses its similarity quickly.

# %%
cascade, examples = study.cascading_study(agents, cam_layer, randomization_seed, randomization_init)
if len(cascade):
    fig = plot_cascade(cascade, [a.name for a in agents], METHOD_NAMES)
    publish("sal_cascading_randomization", fig,
            f"Cascading randomization (Adebayo et al. 2018): similarity between each method's map "
            f"on the trained network and after re-initializing the layers from the top down to the "
            f"one named; mean over {n_states} states of evaluation game {seed}; newest frame; "
            f"Grad-CAM family at {cam_layer}; layers re-initialized with the {randomization_init} "
            f"initialization, seed {randomization_seed}.")

# %% [markdown]
# What is left of the trained map once *every* layer is random, with the layers re-initialized
# as chosen (`randomization_init`) and, beside it, the other way: the A2C agents train from
# orthogonal weights, whose scale differs from PyTorch's default, so the choice can matter.

# %%
other = "default" if randomization_init == "own" else "own"
fully = {init: study.fully_randomized(c) for init, c in
         ((randomization_init, cascade), (other, study.cascading_study(agents, cam_layer, randomization_seed,
                                                                       other)[0]))}
pd.concat(fully, axis=1, names=["init"]).round(3) if len(cascade) else "no agent"

# %%
for name, stages in examples.items():
    fig = gallery([[overlay(r.screen, r.maps[m], palette=palette) for m in METHOD_NAMES] for r in stages],
                  row_labels=[r.label for r in stages], col_labels=list(METHOD_NAMES), palette=palette)
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
edge_table = study.edge_correlation(agents, cam_layer, randomization_seed, randomization_init)
edge_table.round(3) if len(edge_table) else "no agent"

# %% [markdown]
# ## 3. Perturbation saliency as a non-gradient baseline
#
# Greydanus et al. blur a soft disc (Gaussian of width 5 pixels) at every 5th pixel and score
# half the squared change of the output vector (Q-values, or the actor's logits). It needs no
# gradient, so it cannot suffer from the gradient's local noise; it is coarse by design. Below:
# the rank correlation of each gradient method's absolute map with it.

# %%
pert, pert_examples = study.perturbation_agreement(agents, cam_layer, perturbation_stride)
if pert_examples:
    fig = strip_of_rows(pert_examples, "perturbation", palette=palette)
    publish("sal_perturbation", fig,
            f"Perturbation saliency (Greydanus et al. 2018; radius 5, stride {perturbation_stride}) "
            "of the chosen action's output vector, first state of each agent; scaled by its maximum.")
pert.round(3) if len(pert) else "no agent"

# %% [markdown]
# ## 4. Do the maps of different actions differ?
#
# For each state, every method explains every action; we report the mean Spearman
# correlation of the absolute maps over all pairs of actions. 1 means that the method draws
# the same map whatever action it is asked about.

# %%
disc_states = study.action_discrimination(agents, cam_layer, per_state=True)
disc = (disc_states.groupby(["method", "agent"])["rho between actions"].mean().unstack("agent")
        .reindex(list(METHOD_NAMES)) if len(disc_states) else disc_states)
disc.round(3) if len(disc) else "no agent"

# %% [markdown]
# ## The chapter's claims, measured
#
# The unit is the state (`n_states` per agent, pooled over the feed-forward agents).
# *Randomization*: the Spearman correlation of guided backprop's absolute map on the trained
# network with its map once every layer is re-initialized (`randomization_init`; the other
# initialization is in the table of section 1), claimed below 0.5: a map that survives randomizing the whole network
# cannot show what the network learned. *Actions*: the mean Spearman correlation between
# G1Grad-CAM's maps of the different actions on one state, claimed above 0.9: a method that
# draws the same map for every action cannot single out what decides the action.

# %%
measured = study.sanity_claims(cascade, disc_states, n_states=n_states, n_agents=len(agents),
                               profile=run_context().get("profile"), randomization_init=randomization_init,
                               randomization_seed=randomization_seed)
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
