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
# # Early against trained: Figures 43-48
#
# Rosynski et al. (Figures 43-48) explain their split-attention recurrent DQN on Seaquest saved
# after 325 episodes (about 250k steps, three actions in four still random), whose reward curve
# had not yet moved. On that network Grad-CAM and G1Grad-CAM already light up the fish and the
# submarine, and the authors conclude that these methods show learning before the rewards do.
# Their evidence is one state looked at by eye. This notebook
#
# 1. repeats their figures on our recurrent attention DQN: its early network chosen by the
#    paper's rule (a run of its own whose exploration decays over 1M steps, so that ε is still
#    0.75 at 250k steps; the zoo's runs reach ε = 0.01 at 150k) beside the zoo's final one, on
#    the *same* situations (played by the final agent; each network explains them from the
#    memory it built over the same game);
# 2. shows the same panels for every other agent with both checkpoints;
# 3. measures it: over `n_states` states, the share of each map's magnitude on the game's
#    objects (ball and paddle; submarine, divers, enemies and oxygen bar), as an *enrichment*
#    over the objects' share of the screen (1: the map ignores them).
#
# Whether the maps move before the reward *over a whole training run* is measured in
# {doc}`07_learning_before_reward`.

# %% tags=["parameters"]
seed: int = 0  # evaluation game the states come from | [0, 2_147_483_647]
warmup_steps: int = 60  # agent decisions before the gallery's state | [1, 10_000]
n_states: int = 40  # states of the zoo measurement (one every `state_every` steps) | [1, 10_000]
state_every: int = 5  # agent steps between two measured states | [1, 1000]
# overlay colours: diverging (perceptually uniform: + green, - pink), paper (green/red) or colorblind
palette: str = "diverging"  # | {diverging, paper, colorblind}

# %%
from rlinside.explain.saliency import METHOD_NAMES
from rlinside.plots import publish, set_theme
from rlinside.plots.saliency import gallery_of_rows
from rlinside.studies import saliency as study

set_theme()
pairs = study.early_final_pairs()
print("agents with an early and a final checkpoint:",
      ", ".join(f"{study.label(a)} {g}" for a, g in pairs) or "none yet")

# %% [markdown]
# ## 1. The gallery: same state, early and final network
#
# Each network explains the action *it* ranks first on that state; the state comes from the
# final agent's game, so the early network is shown a situation it may never reach itself.
# Row labels give each network's training steps and, for the Q-learning agents, its
# exploration rate ε at that step. Each network passes the sensitivity gate on these states
# first; a row drawn in grey failed it and is not read (its column of the table below is left
# empty).

# %%
rows, played = study.early_final_gallery(pairs, warmup_steps - 1, max(warmup_steps, n_states * state_every), seed)
keys = [k for k in pairs for _ in ("early", "final")]
for name, chosen, what in (
        ("sal_early_vs_final_drqn", [r for r, k in zip(rows, keys) if k in study.PAPER_EARLY_VARIANT],
         "Figures 43-48: the recurrent attention DQN on Seaquest, early and final network"),
        ("sal_early_vs_final", [r for r, k in zip(rows, keys) if k not in study.PAPER_EARLY_VARIANT],
         "The same panels for every other agent with both checkpoints")):
    if chosen:
        publish(name, gallery_of_rows(chosen, list(METHOD_NAMES), palette=palette),
                f"{what}, same state (after {warmup_steps} decisions of evaluation game {seed}, played by the final "
                "agent); newest frame; Grad-CAM family at conv1; each map scaled by its own maximum |value|; grey: "
                "the network failed the sensitivity gate.")

# %%
print("sensitivity gate on these states:", {f"{study.label(a)} {g} {stage}": "passed" if gate.passed else gate.reason
                                             for (a, g), pp in played.items() for stage, gate in pp.gates.items()
                                             if gate is not None})

# %% [markdown]
# ## 2. How much of each map lies on the objects
#
# For every state, the objects are found from the colours of the screen and laid on the
# 84 × 84 input grid, grown by one pixel so that an edge response around an object counts for
# it. The table gives the mean enrichment over `n_states` states (objects absent from a state
# are left out for that state).

# %%
summary = study.early_final_enrichment(pairs, played, n_states, state_every)
summary.round(2) if len(summary) else "no agent with both checkpoints"
