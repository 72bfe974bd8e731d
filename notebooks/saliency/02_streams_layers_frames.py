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
# # Which output, which layer, which frame
#
# A saliency map answers a question picked in three places: **which output** is explained (a Q-value, the
# value or advantage stream, the actor or the critic), **at which layer** the Grad-CAM family reads the
# network, and **which input frame** is shown (every agent sees a stack or a history of frames). Rosynski et
# al. vary each in turn (Figures 8-16 and 27-28 for the streams, 33-41 for the layers, 10-12 and 42 for past
# frames). We do the same on the most trained shipped agent of each kind and game, then set the recurrent
# attention DQN's attention beside its streams' saliency. Galleries: one state; tables and claims: `n_states`.

# %% tags=["parameters"]
warmup_steps: int = 60  # agent decisions before the explained state (evaluation game `seed`) | [1, 10_000]
seed: int = 0  # first evaluation game the agents play | [0, 2_147_483_647]
n_states: int = 40  # states of each agent behind every table and claim, spread over the games | [1, 10_000]
n_games: int = 5  # evaluation games `seed`, `seed` + 1, ... the states are spread over | [1, 100]
state_every: int = 5  # agent steps between two of those states | [1, 1000]
history: int = 10  # inputs of the recurrent agent explained at once (t-9 ... t) | [1, 100]
# overlay colours: diverging (perceptually uniform: + green, - pink), paper (green/red) or colorblind
palette: str = "diverging"  # | {diverging, paper, colorblind}

# %%
import pandas as pd

from rlinside.claims import interval_table
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.saliency import gallery_of_rows, plot_lag_shares
from rlinside.studies import saliency as study

set_theme()
per_game = max(1, n_states // n_games)  # states of each game
games = study.play_games(warmup_steps, seed, n_games, per_game, state_every)
played = games[0]  # the example states of the galleries come from the first game
print("agents:", ", ".join(f"{p.name} ({p.stage})" for p in played) or "none shipped yet",
      f"\ntables, claims: {per_game} states x {n_games} games per agent that passes the sensitivity gate")

# %% [markdown]
# ## 1. One state, every head
#
# Rows: the outputs of each agent; columns: the six methods. A dueling DQN's Q-value is the value stream plus
# the centred advantage, so its map is roughly the sum of the two rows below it; A2C's actor and critic differ
# only in their last layer. The paper reports the advantage stream on the agent's own position and the value
# stream on the rest of the screen (oxygen and divers in Seaquest, the bricks in Breakout).

# %%
rows = study.head_maps(played, warmup_steps - 1)
if rows:
    publish("sal_heads", gallery_of_rows(rows, palette=palette),
            f"Every head of every agent, state after {warmup_steps} decisions of evaluation "
            f"game {seed}; newest frame; Grad-CAM family at conv1; each map scaled by its own "
            "maximum |value|. Recurrent agents carry the state of the game so far.")

# %% [markdown]
# How alike are the heads? The Spearman rank correlation of the absolute guided-backprop maps between heads,
# mean over the states with a bootstrap interval (1: the same pixels matter, in the same order).

# %%
head_rows = study.over_games(study.head_correlations, games, per_game, state_every, per_state=True)
interval_table(head_rows, ["agent", "heads"], "rho").round(3) if len(head_rows) else "no agent with two heads"

# %% [markdown]
# ## 2. Grad-CAM at the three convolutions
#
# The Nature CNN's convolutions see the screen at 20 × 20, 9 × 9 and 7 × 7 positions, so a Grad-CAM map
# upsampled from a deeper layer is coarser. The paper found the first layer the only useful one; deeper maps
# were blurred over large parts of the screen or inverted (highlighting the background).

# %%
layer_rows, layer_stats = study.layer_maps(played, warmup_steps - 1)
if layer_rows:
    publish("sal_layers", gallery_of_rows(layer_rows, palette=palette),
            f"Grad-CAM and G1Grad-CAM at the three convolutions of each agent; "
            f"state after {warmup_steps} decisions of evaluation game {seed}, chosen action.")
layer_stats.round(3) if layer_rows else "no agent shipped"

# %% [markdown]
# The table gives the share of the screen where this state's map is above half its maximum (how spread out
# the highlight is).
#
# ## 3. Past frames
#
# The DDDQN sees 4 stacked frames and A2C 3: one map per frame. The A2C-LSTM sees one frame per step; we unroll
# it over its last `history` inputs from the state it carried (the gradient stops there), so the map of `t-k`
# says how the decision at `t` depends on what it saw `k` steps earlier. The paper shows `t-1` to `t-3`, `t-9`.

# %%
frame_rows, frame_shares, share_table = study.past_frames_over_games(games, per_game, state_every, history)
if frame_rows:
    publish("sal_past_frames", gallery_of_rows(frame_rows, ["t", "t-1", "t-2", "t-3", "t-9"], palette=palette),
            "Guided backpropagation of the chosen action with respect to past inputs, one state per agent, drawn on "
            f"the current screen. All frames of one row share one scale. Recurrent agent unrolled over its last "
            f"{history} inputs; blank: the agent does not see that frame.")
if len(share_table):
    publish("sal_past_frame_shares", plot_lag_shares(share_table["mean"].unstack("lag"), intervals=share_table),
            f"Share of the guided-backprop magnitude on each past input, mean over {per_game} states of each of "
            f"{n_games} evaluation games (one every {state_every} steps) with 95 % bootstrap intervals over states.")
share_table.round(3) if len(share_table) else "no agent passed the gate"

# %% [markdown]
# ## 4. Attention next to saliency
#
# The recurrent attention DQN looks through three soft attentions over the 7 × 7 cells of its last convolution:
# one feeding the LSTM, one per dueling stream (our reading of the paper's "split attention", see the chapter
# page). Attention says where the network *looked*; saliency, which pixels the output is *sensitive to*. Each
# attention weight is drawn on its conv3 cell's receptive field (36 × 36 pixels every 8), relative to uniform
# attention placed the same way, next to guided backprop of each stream. The table (mean over the states, with
# intervals) gives the Spearman correlation of each attention with its own stream's map and, as a baseline, with
# the *other* stream's; the locations each attention effectively uses (exp of its entropy: 49 uniform, 1 one
# cell); its peak over uniform; its logit spread (0 uniform, about 4 for a 50:1 ratio); its enrichment on the
# objects (as in {doc}`04_videos`; uniform attention's for reference); the size of the conv3 features.

# %%
att_rows, attention_table = study.attention_over_games(games, warmup_steps - 1, per_game, state_every)
if att_rows:
    publish("sal_attention", gallery_of_rows(att_rows, palette=palette, quantity="attention / saliency"),
            f"The recurrent attention DQN after {warmup_steps} decisions of evaluation game {seed}: its three "
            "attention maps, each weight placed on its conv3 cell's receptive field, relative to uniform attention "
            "placed the same way (each scaled by its largest deviation: the table below says how large that is), and "
            "guided backpropagation of its two streams (newest frame, each scaled by its maximum |value|).")
attention_table.round(3) if att_rows else "the recurrent attention DQN is not shipped"

# %% [markdown]
# An attention moves away from uniform only if its parameters get a gradient (with PyTorch's default
# initialization ours hardly did, see the chapter page): the gradient norm of each part for the sum of the chosen
# Q-values over the first game's states, and that over the part's weight norm.

# %%
grads = study.attention_gradients(played, per_game, state_every)
grads if len(grads) else "the recurrent attention DQN is not shipped"

# %% [markdown]
# ## The chapter's claims, measured
#
# The unit is the state (the same states as the tables), pooled over the agents a claim is about, gated agents
# only. *Streams* (both DDDQNs, the recurrent attention DQN): the Spearman correlation of the two streams'
# absolute guided-backprop maps, claimed below 0.9. *Layers* (the feed-forward agents): Grad-CAM's area above
# half its maximum at conv3 minus at conv1.

# %%
measured = study.streams_layers_claims(games, per_game, state_every, run_context().get("profile"), frame_shares)
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
