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
# A saliency map answers a question that the user picks in three places: **which output** is explained (a
# Q-value, the value or the advantage stream, the actor or the critic), **at which layer** the Grad-CAM family
# reads the network, and **which input frame** is shown, since every agent sees a stack or a history of
# frames. Rosynski et al. vary each of them in turn (Figures 8-16 and 27-28 for the streams, 33-41 for the
# layers, 10-12 and 42 for past frames). This notebook does the same on the most trained shipped agent of each
# kind and game (the final one, or the early one while the final one is still training):
#
# 1. **outputs**: all six methods for each head of each agent, same state;
# 2. **layers**: Grad-CAM and G1Grad-CAM at the three convolutions;
# 3. **frames**: guided backpropagation for each stacked frame of the feed-forward agents, and for the
#    recurrent agents through their last `history` inputs (the state carried from the game so far), with the
#    share of the map's magnitude that falls on each frame, over `n_states` states;
# 4. **attention**: the recurrent attention DQN's three attention maps next to the saliency maps of its value
#    and advantage streams, and how much they agree.

# %% tags=["parameters"]
warmup_steps: int = 60  # agent decisions before the explained state (evaluation game `seed`) | [1, 10_000]
seed: int = 0  # evaluation game the agents play | [0, 2_147_483_647]
n_states: int = 40  # states averaged in the per-frame shares (one every `state_every` steps) | [1, 10_000]
n_games: int = 5  # evaluation games `seed`, `seed` + 1, ... the claims' states are spread over | [1, 100]
state_every: int = 5  # agent steps between two of those states | [1, 1000]
history: int = 10  # inputs of the recurrent agent explained at once (t-9 ... t) | [1, 100]
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange) | {paper, colorblind}

# %%
import pandas as pd

from rlinside import claims
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.saliency import gallery_of_rows, plot_lag_shares
from rlinside.studies import saliency as study

set_theme()
played = study.play_most_trained(max(warmup_steps, n_states * state_every), seed)
print("agents:", ", ".join(f"{p.name} ({p.stage})" for p in played) or "none shipped yet")

# %% [markdown]
# ## 1. One state, every head
#
# Rows: the outputs of each agent; columns: the six methods. For the dueling DQN the Q-value of the chosen
# action is the sum of the value stream and the centred advantage, so its map is roughly the sum of the two
# rows below it; for A2C the actor's logit and the critic's value share the whole torso and differ only in
# their last layer. The paper reports that the advantage stream looks at the agent's own position and the
# value stream at the rest of the screen (oxygen and divers in Seaquest, the bricks in Breakout).

# %%
rows = study.head_maps(played, warmup_steps - 1)
if rows:
    publish("sal_heads", gallery_of_rows(rows, palette=palette),
            f"Every head of every agent, state after {warmup_steps} decisions of evaluation "
            f"game {seed}; newest frame; Grad-CAM family at conv1; each map scaled by its own "
            "maximum |value|. Recurrent agents carry the state of the game so far.")

# %% [markdown]
# How alike are the heads? The Spearman rank correlation of the absolute guided-backprop maps between heads,
# over `n_states` states of each agent (1: the same pixels matter, in the same order).

# %%
head_rows = study.head_correlations(played, n_states, state_every, per_state=True)
head_corr = head_rows.groupby(["agent", "heads"])["rho"].agg(["mean", "std", "count"]) if len(head_rows) else head_rows
head_corr.round(3) if len(head_corr) else "no agent with more than one head"

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
# The table gives the share of the screen where the map is above half its maximum: a measure of how spread out
# the highlight is.
#
# ## 3. Past frames
#
# The DDDQN sees 4 stacked frames and A2C 3, so guided backpropagation gives one map per frame. The A2C-LSTM
# sees one frame per step and remembers the rest; we unroll it over its last `history` inputs from the state
# it carried, so the map of frame `t-k` says how the decision at `t` depends on what it saw `k` steps earlier
# (the gradient stops at the state carried into the window). The paper shows `t-1`, `t-2`, `t-3` and, for its
# recurrent agent, `t-9`.

# %%
frame_rows, share_table = study.past_frame_saliency(played, n_states, state_every, history)
if frame_rows:
    publish("sal_past_frames", gallery_of_rows(frame_rows, ["t", "t-1", "t-2", "t-3", "t-9"], palette=palette),
            "Guided backpropagation of the chosen action with respect to past inputs, one state per agent, drawn on "
            f"the current screen. All frames of one row share one scale. Recurrent agent unrolled over its last "
            f"{history} inputs; blank: the agent does not see that frame.")
    publish("sal_past_frame_shares", plot_lag_shares(share_table),
            f"Share of the guided-backprop magnitude on each past input, mean over {n_states} states of evaluation "
            f"game {seed} (one every {state_every} steps).")
share_table.round(3) if frame_rows else "no agent shipped"

# %% [markdown]
# ## 4. Attention next to saliency
#
# The recurrent attention DQN looks at the screen through three soft attentions over the 7 × 7 locations of
# its last convolution: one that feeds the LSTM (queried by the previous memory) and one for each dueling
# stream (queried by the new memory), our reading of the paper's "split attention" (see the chapter page). An
# attention map is part of the forward pass, so it says where the network *looked*; a saliency map says which
# pixels the output is
# *sensitive to*. Here both are drawn for the same state: each attention weight placed on the input region its
# conv3 cell sees (its receptive field, 36 x 36 pixels every 8 pixels), relative to uniform attention placed
# the same way, and guided backpropagation of each stream.
#
# Over `n_states` states the table then gives, per stream, the Spearman correlation between its attention and
# its own guided-backprop map (magnitude averaged over each cell's receptive field), the same with the
# *other* stream's map (a baseline: if the two are as high, the attention is not specific to its stream), the
# correlation between the two stream attentions, how many locations each attention effectively uses (the
# exponential of its entropy: 49 for uniform attention, 1 for a single location), its largest weight relative
# to uniform attention (1: uniform), the spread of its scores (the largest minus the smallest logit of the
# softmax: 0 for uniform attention, about 4 when one location gets 50 times the weight of another), the size
# of the conv3 features it reads, and its enrichment on the game's objects (as in {doc}`04_videos`: share on
# the objects over the objects' share of the screen; uniform attention's for reference).

# %%
att_rows, attention_table = study.attention_maps(played, warmup_steps - 1, n_states, state_every)
if att_rows:
    publish("sal_attention", gallery_of_rows(att_rows, palette=palette, quantity="attention / saliency"),
            f"The recurrent attention DQN after {warmup_steps} decisions of evaluation game {seed}: its three "
            "attention maps, each weight placed on its conv3 cell's receptive field, relative to uniform attention "
            "placed the same way (each scaled by its largest deviation: the table below says how large that is), and "
            "guided backpropagation of its two streams (newest frame, each scaled by its maximum |value|).")
attention_table.round(3) if att_rows else "the recurrent attention DQN is not shipped"

# %% [markdown]
# An attention can only move away from uniform if its parameters get a gradient (with PyTorch's default
# initialization ours hardly did, see the chapter page). The next table gives the gradient norm of each part
# of the network for the sum of the chosen actions' Q-values over the same states (each from the state the
# agent carried), divided by the norm of that part's weights: how fast a step of plain gradient descent would
# move it, relative to its size.

# %%
grads = study.attention_gradients(played, n_states, state_every)
grads if len(grads) else "the recurrent attention DQN is not shipped"

# %% [markdown]
# ## The chapter's claims, measured
#
# The unit is the state: `n_states` states of each agent, spread evenly over `n_games` evaluation games (from
# game `seed` on), pooled over the agents a claim is about. *Streams*: the agents with a value and an advantage
# stream (both DDDQNs and the recurrent attention DQN); the Spearman correlation of the two streams' absolute
# guided-backprop maps, claimed below 0.9 (maps that rank the pixels alike beyond that show the same features).
# *Layers*: the feed-forward agents; the share of the Grad-CAM map above half its maximum at conv3 minus at
# conv1, over the same states (the gallery above shows one of them). Only agents that pass the sensitivity gate
# ({doc}`00_agents`) are counted.

# %%
per_game = max(1, n_states // n_games)  # states of each game
games = [played] + [study.play_most_trained(per_game * state_every, seed + g) for g in range(1, n_games)]
gated = [study.sensitive(g) for g in games]  # agents that passed the sensitivity gate, per game
heads = [study.head_correlations(g, per_game, state_every, per_state=True).assign(episode=k)
         for k, g in enumerate(gated)]
streams = pd.concat(heads) if heads else pd.DataFrame()
streams = streams[streams["heads"].str.startswith("value stream")] if len(streams) else streams
ff = [[p for p in g if not study.is_recurrent(p.agent)] for g in gated]
spread = pd.concat([study.layer_spread(g, per_game, state_every).assign(episode=k) for k, g in enumerate(ff)])
if len(spread):
    wide = spread.pivot_table(index=["agent", "episode", "state"], columns="layer", values="area above half max")
    deeper = (wide["conv3"] - wide["conv1"]).dropna()
else:
    deeper = pd.Series(dtype=float)
profile = run_context().get("profile")
measured = [
    claims.measure("saliency.streams_differ", streams["rho"].dropna().to_numpy() if len(streams) else [],
                   scale={"profile": profile, "states": per_game * n_games, "games": n_games,
                          "agents": streams["agent"].nunique()
                          if len(streams) else 0},
                   details={"by agent": streams.groupby("agent")["rho"].mean().round(3).to_dict()
                            if len(streams) else {}}),
    claims.measure("saliency.deep_gradcam_blurred", deeper.to_numpy(),
                   scale={"profile": profile, "states": per_game * n_games, "games": n_games,
                          "agents": len(ff[0])},
                   details={"by agent": deeper.groupby(level=0).mean().round(3).to_dict() if len(deeper) else {}}),
]
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
