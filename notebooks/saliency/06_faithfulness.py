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
# # Faithfulness: do the pixels a map points at move the output?
#
# Rosynski et al. argue about which saliency method shows what the agent uses, but they do not
# measure it. A direct test (Petsiuk et al. 2018) takes a map's ranking of the pixels at its
# word. **Deletion**: replace the pixels, most salient first, by a blurred copy of the frame
# and follow the explained output (the Q-value or policy logit of the chosen action, scaled
# to 1 on the intact frame and 0 on the fully blurred one): a faithful map makes it fall
# fast, so the area under the curve is small. **Insertion**: start from the blurred frame and
# put the original pixels back in the map's order: a faithful map makes the output rise fast
# (a large area). A screen position is replaced in every stacked frame at once.
#
# Every method is compared with two orders that use no gradient: a **random order** (the
# baseline a map must beat; the mean of `n_random` orders) and **perturbation saliency**
# (Greydanus et al. 2018), which ranks positions by how much blurring a small disc around them
# moves the output (with the same blur as the baseline here, so it is close to what the test
# measures and serves as a reference for a good ranking). The agents are the feed-forward final
# agents that pass the sensitivity gate ({doc}`00_agents`), on `n_states` states spread over
# `n_games` evaluation games; the Grad-CAM family reads `cam_layer`.

# %% tags=["parameters"]
n_states: int = 40  # states per agent, spread over `n_games` games (one every `state_every` steps) | [1, 10_000]
n_games: int = 5  # evaluation games 0, 1, ... the states come from | [1, 100]
state_every: int = 10  # agent steps between two states | [1, 1000]
steps: int = 20  # points of each curve after the first (share of positions replaced: 0, 1/steps, ..., 1) | [1, 7056]
n_random: int = 2  # random orders averaged per state (the baseline) | [1, 100]
# layer of the Grad-CAM family: convK after its ReLU (standard), convK:pre before it (variant)
cam_layer: str = "conv1"  # | {conv1, conv2, conv3, conv1:pre, conv2:pre, conv3:pre}
perturbation_stride: int = 5  # grid step of perturbation saliency (Greydanus et al.: 5) | [1, 84]

# %%
import matplotlib.pyplot as plt

from rlinside.explain.saliency import METHOD_NAMES
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.studies import saliency as study

set_theme()
agents = study.sanity_agents(n_states, state_every, 0, n_games)
print("agents:", ", ".join(a.name for a in agents) or "none shipped")
areas, curves = study.faithfulness(agents, steps=steps, n_random=n_random, cam_layer=cam_layer,
                                   perturbation_stride=perturbation_stride)

# %% [markdown]
# ## The curves
#
# Mean over the states of each agent; one line per method. Deletion (top row) should fall
# below the random order's line, insertion (bottom row) rise above it.

# %%
order = [*METHOD_NAMES, study.PERTURBATION, study.RANDOM_ORDER]
if len(curves):
    fig, axes = plt.subplots(2, len(agents), figsize=(3.4 * len(agents), 6.2), squeeze=False, sharey="row")
    for c, a in enumerate(agents):
        sub = curves[curves.agent == a.name]
        for m, colour in zip(order, PALETTE + ["0.2", "0.6"]):
            s = sub[sub.method == m]
            style = {"ls": "--" if m in (study.PERTURBATION, study.RANDOM_ORDER) else "-", "color": colour}
            axes[0, c].plot(s.fraction, s.deletion, label=m, **style)
            axes[1, c].plot(s.fraction, s.insertion, label=m, **style)
        axes[0, c].set_title(a.name, fontsize=9)
        axes[1, c].set_xlabel("share of positions replaced")
    axes[0, 0].set_ylabel("output, deleting (1 = intact)")
    axes[1, 0].set_ylabel("output, inserting (1 = intact)")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    publish("sal_faithfulness_curves", fig,
            f"Deletion and insertion curves, mean over {n_states} states from {n_games} evaluation games per "
            f"agent; blurred-frame baseline (Gaussian, 3 pixels); {steps} steps; Grad-CAM family at {cam_layer}; "
            f"random order: mean of {n_random} orders per state.")
else:
    print("no agent passed the gate or none is shipped: no curves")

# %% [markdown]
# ## Areas under the curves, with intervals
#
# Pooled over the agents, one state per unit: the mean area with its 95% bootstrap interval,
# and the mean paired difference from the random order on the same state (deletion: below
# zero is better than random; insertion: above zero). *Action kept*: the area under the share
# of steps on which the chosen action is still ranked first while deleting.

# %%
summary = study.faithfulness_summary(areas)
summary if len(summary) else "no agent"

# %% [markdown]
# Per agent, the mean areas (a method that is faithful on one agent need not be on another):

# %%
(areas.groupby(["method", "agent"], sort=False)[["deletion", "insertion"]].mean().unstack("agent")
 .reindex(order).round(3) if len(areas) else "no agent")

# %% [markdown]
# What to read here. A low deletion area can also come from pushing the input off the
# frames the network saw in training: the blurred baseline limits that, but not to zero, which
# is why insertion (which moves *towards* the real frame) is shown beside it. The two methods
# that rank positions by the effect of blurring them (perturbation saliency) are tested with
# the very operation they were ranked by; the gradient methods are not, so perturbation
# saliency is a reference for a good ranking here, not a rival on equal terms.
