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
# # Six saliency methods on one game state
#
# Rosynski et al. compare six gradient-based saliency methods by explaining the *same* game
# state with each of them (their Figures 2-7 for the DDDQN on Breakout, 17-20 and 21-26 for
# other agents): the plain **gradient**, **guided backpropagation**, **Grad-CAM**, **guided
# Grad-CAM**, and their two new variants **G1Grad-CAM** (Grad-CAM computed through the guided
# ReLUs) and **G2Grad-CAM** (G1Grad-CAM times guided backpropagation). This notebook draws that
# gallery for every agent shipped in `data/`:
#
# 1. each agent plays evaluation game `seed` for `warmup_steps` decisions; the state it then
#    sees is explained by all six methods, for the action it chose (its Q-value or policy
#    logit). Recurrent agents (the A2C-LSTM, the recurrent attention DQN) see one frame per
#    step and carry a memory: they are explained from the recurrent state they had built up
#    in the game so far, which enters the maps as a constant;
# 2. each map is scaled to [-1, 1] by its own largest magnitude and drawn on the game screen:
#    green where raising the pixel raises the output, pink where it lowers it, brighter and
#    more opaque the stronger (`palette="paper"`: the paper's green and red). The gradient
#    methods give one map per stacked frame; we show the newest frame `t`, as the paper does.
#    Grad-CAM maps are one map for the whole stack, at convolution `cam_layer` after its ReLU as
#    in Selvaraju et al. and the reference libraries (the paper found the first layer best);
# 3. a table of how much of each map is positive and how large it was before scaling;
# 4. for the dueling DQN, the same methods on its **value** and **advantage** streams (the
#    paper's Figures 8 and 9);
# 5. the Grad-CAM family read *before* the ReLU (a variant) next to the standard one.
#
# Which agents appear depends on what has been trained and shipped; see
# {doc}`00_agents` for their scores.

# %% tags=["parameters"]
warmup_steps: int = 60  # agent decisions played before the explained state (evaluation game `seed`) | [1, 10_000]
seed: int = 0  # evaluation game the agents play | [0, 2_147_483_647]
# layer of the Grad-CAM family: convK after its ReLU (standard), convK:pre before it (variant); the paper: conv1
cam_layer: str = "conv1"  # | {conv1, conv2, conv3, conv1:pre, conv2:pre, conv3:pre}
# overlay colours: diverging (perceptually uniform: + green, - pink), paper (green/red) or colorblind
palette: str = "diverging"  # | {diverging, paper, colorblind}
alpha: float = 0.8  # opacity of a saliency value of +-1 (the paper: 0.5; the diverging palette: 0.8) | (0, 1]
n_states: int = 40  # states of the post- vs pre-ReLU comparison (one every `state_every` steps) | [1, 10_000]
state_every: int = 5  # agent steps between two of those states | [1, 1000]

# %%
from rlinside.explain.saliency import METHOD_NAMES
from rlinside.plots import publish, set_theme
from rlinside.plots.saliency import gallery, gallery_of_rows, overlay, reduce_channels
from rlinside.studies import saliency as study

set_theme()
states = study.explain_shipped(warmup_steps, seed, cam_layer)
print(f"{len(states)} agent(s) explained: "
      + ", ".join(f"{study.label(s.agent)} {s.art.config['game']} "
                  f"{s.art.config['stage']} (action {s.action})" for s in states))


def draw(screen, maps):
    """One gallery row: the newest frame of each method's scaled map on the screen."""
    return [overlay(screen, reduce_channels(scaled, "latest")[0], alpha=alpha, palette=palette)
            for raw, scaled in maps.values()]


# %% [markdown]
# ## The gallery
#
# One figure per game, one row per final agent, one column per method, all maps explaining the
# agent's chosen action; gradient methods show the newest frame only. Grad-CAM maps end in a
# ReLU, so they are never pink. The early agents are drawn in {doc}`03_early_vs_trained`.

# %%
def label(art):
    c = art.config
    return f"{study.label(c['agent'])}\n{c['stage']}, {c['step']:,} steps"


finals = [s for s in states if s.art.config["stage"] == "final"] or states
for game in dict.fromkeys(s.art.config["game"] for s in finals):
    rows = [s for s in finals if s.art.config["game"] == game]
    fig = gallery([draw(s.screen, s.maps) for s in rows], row_labels=[label(s.art) for s in rows],
                  col_labels=list(METHOD_NAMES), palette=palette, title=game)
    publish(f"sal_methods_gallery_{game.lower()}", fig,
            f"The six saliency methods on one {game} state per agent: "
            + "; ".join(f"{study.label(s.agent)} {s.art.config['stage']} ({s.art.config['step']:,} training "
                        f"steps), action {s.action}" for s in rows)
            + f"; each state after {warmup_steps} decisions of evaluation game {seed}. Grad-CAM family at "
            f"{cam_layer} ({'before' if ':pre' in cam_layer else 'after'} its ReLU); gradient methods: newest "
            "frame t; each map scaled by its own maximum |value|.")
if not states:
    print("No Atari agent is shipped in data/ yet: nothing to explain. Train one "
          "with scripts/train_atari.py and ship it with scripts/ship_atari_agent.py.")

# %% [markdown]
# ## How the maps differ in numbers
#
# *Positive mass* is the share of the map's total magnitude that is positive (over all stacked
# frames, before choosing the newest one): 1 for the Grad-CAM maps by construction, about a
# half for a gradient that pushes as much one way as the other. *Max |value|* is the largest
# magnitude before scaling; it is not comparable across methods (different units), but across
# agents it shows how strongly each one's output depends on its input.

# %%
stats = study.map_statistics(states)
(stats.style.format({"positive mass": "{:.3f}", "max |value|": "{:.2e}"}).hide(axis="index")
 if len(stats) else "no agent explained")

# %% [markdown]
# ## Value stream against advantage stream
#
# The dueling DQN computes `Q(s, a) = V(s) + A(s, a) - mean A(s, .)`; each stream can be
# explained on its own. The paper (Figures 8 and 9) sees the advantage stream look at the
# paddle more, the value stream at the bricks to be broken through. Here: the value `V(s)` and
# the advantage `A(s, a)` of the chosen action, same state as above.

# %%
duel = [s for s in states if study.has_streams(s.agent)]
for s in duel:
    stream_maps = study.stream_maps(s, cam_layer)
    fig = gallery([draw(s.screen, maps) for maps in stream_maps.values()], row_labels=list(stream_maps),
                  col_labels=list(METHOD_NAMES), palette=palette)
    c = s.art.config
    publish(f"sal_streams_{c['game'].lower()}_{c['stage']}", fig,
            f"Value and advantage streams of the {study.label(s.agent)} on {c['game']} ({c['stage']}, "
            f"{c['step']:,} training steps), state after {warmup_steps} decisions of evaluation "
            f"game {seed}, action {s.action}; Grad-CAM family at {cam_layer}.")
if not duel:
    print("No DDDQN is shipped yet: no stream comparison.")

# %% [markdown]
# ## Which side of the ReLU? The standard Grad-CAM against the pre-ReLU variant
#
# Selvaraju et al. and the reference libraries (Captum, pytorch-grad-cam) take the feature maps $A^k$ *after*
# the layer's ReLU; our first version took them *before* it, without saying so. Each agent is explained both
# ways at `conv1` over `n_states` states: the median Spearman correlation of the two absolute maps, and how
# often each variant's map is empty. Agents failing the sensitivity gate ({doc}`00_agents`) are greyed, not counted.

# %%
played = study.play_most_trained(n_states * state_every, seed)
variant_rows, variant_table = study.cam_variants(played, n_states, state_every)
if variant_rows:
    publish("sal_cam_pre_post", gallery_of_rows(variant_rows, palette=palette),
            f"The Grad-CAM family at conv1, after its ReLU (standard) and before it (variant), state "
            f"{state_every} of evaluation game {seed}; each map scaled by its own maximum |value|.")
variant_table
