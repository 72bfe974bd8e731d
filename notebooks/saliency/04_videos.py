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
# # Saliency videos and how stable the maps are
#
# Rosynski et al. judged the methods mostly from videos: a highlight that stays on an object
# from frame to frame is *stable*, one that appears on every fourth or fifth frame is not.
# They normalized the maps either per frame (each frame's strongest pixel at full colour) or
# over the whole video (one scale for all frames, so quiet moments stay quiet). This notebook
#
# 1. plays `video_steps` agent steps of evaluation game `seed` with every shipped agent (the
#    most trained checkpoint of each) and explains every step with the six methods;
# 2. shows a video per agent: the screen, then each method of `video_methods` normalized per
#    frame and per video, side by side (15 agent steps per second, the game's real speed);
# 3. measures stability instead of judging it, over `n_games` evaluation games: for every
#    method, the share of steps on which the map concentrates on the game objects (enrichment
#    of at least 2 on ball and paddle, or on submarine, divers, enemies and oxygen bar; see
#    {doc}`03_early_vs_trained`), and the rank correlation of the absolute maps of consecutive
#    steps, with the same correlation for the screen itself (newest input frame) as a yardstick.

# %% tags=["parameters"]
video_steps: int = 200  # agent steps per video (15 per second of game) | [2, 20_000]
seed: int = 0  # evaluation game of the videos (the statistics also use the next `n_games` - 1) | [0, 2_147_483_647]
n_games: int = 5  # evaluation games the statistics are spread over, `video_steps` / `n_games` steps each | [1, 100]
# methods drawn in the videos | nonempty; unique; {@saliency_methods}
video_methods: list[str] = ["Guided Backprop", "Grad-CAM"]
# layer of the Grad-CAM family: convK after its ReLU (standard), convK:pre before it (variant)
cam_layer: str = "conv1"  # | {conv1, conv2, conv3, conv1:pre, conv2:pre, conv3:pre}
# overlay colours: diverging (perceptually uniform: + green, - pink), paper (green/red) or colorblind
palette: str = "diverging"  # | {diverging, paper, colorblind}
batch: int = 50  # states explained per call | [1, 1000]

# %%
import time

import pandas as pd

from rlinside import claims
from rlinside.agents.zoo import AGENTS
from rlinside.explain.saliency import METHOD_NAMES
from rlinside.plots import publish, publish_video, run_context, set_theme
from rlinside.plots.saliency import gallery_of_rows
from rlinside.plots.video import saliency_video
from rlinside.studies import saliency as study

set_theme()
t0 = time.perf_counter()
vs = study.video_study(video_steps, seed, n_games, cam_layer, batch)
print(f"{len(vs.videos)} agent(s), {video_steps} steps each (statistics: {vs.per_game} steps of each of {n_games} "
      f"games), explained with six methods in {time.perf_counter() - t0:.1f} s")
print("evaluation games (seeds) of the statistics; a game that repeated an earlier one was replaced or left out:",
      vs.seeds)

# %% [markdown]
# ## The videos
#
# Left to right: the screen, then for each method the map normalized per frame and over the
# whole video. Per-frame normalization makes every frame's strongest pixel fully coloured, so
# a map that barely changes in size still flickers; per-video normalization keeps the real
# strength, so moments when the output hardly depends on the screen fade out.

# %%
for i, (name, (frames, maps)) in enumerate(vs.videos.items()):
    publish_video(f"saliency_video_{i}", saliency_video(frames, maps, list(video_methods), palette=palette),
                  f"**{name}**, {len(frames)} agent steps of evaluation game {seed}, panels enlarged 3x.",
                  alt=f"{name}: screen and saliency maps, per-frame and per-video normalization")

# %% [markdown]
# ## Seaquest moments picked by rule (Figures 29-32)
#
# The paper shows hand-picked Seaquest moments: divers collected, an almost empty oxygen bar.
# We let a rule over the object masks pick them in each Seaquest video (`MOMENT_RULES`): the
# step with the most diver pixels in the sea, and the step with the fewest (but some) pixels of
# the oxygen bar. Each map is scaled by its own maximum |value|.

# %%
moments = study.moment_rows(vs)
if moments:
    publish("sal_seaquest_moments", gallery_of_rows(moments, palette=palette),
            f"The six methods at the Seaquest moments picked by rule in each video ({video_steps} steps of "
            f"evaluation game {seed}); newest frame; Grad-CAM family at {cam_layer}.")

# %% [markdown]
# ## Stability, measured
#
# *steps on objects*: share of steps whose map puts at least twice its area share of magnitude
# on the objects, an empty map counting as a step off them: our reading of the paper's "visible
# on most frames", and the stability the claims use; *consecutive rho*: median Spearman
# correlation between the absolute maps (newest input frame) of consecutive steps, shown for
# comparison only, since a map that never changes scores best on it and empty maps drop out;
# *screen rho*: that correlation for the input frame itself.

# %%
stab = vs.stability
(stab.pivot_table(index="method", columns="agent", values=["consecutive rho (median)", "steps on objects (share)"])
 .reindex(list(METHOD_NAMES)).round(3) if len(stab) else "no agent shipped")

# %%
stab.groupby("agent")["screen rho (median)"].first().round(3) if len(stab) else None

# %% [markdown]
# ## Exercise 1, measured
#
# Exercise 1 of the chapter compares the DDDQN's plain gradient with its guided backprop on the
# Breakout video: per block of 10 consecutive steps (neighbouring steps are too alike to count
# as separate units), the mean object enrichment of guided backprop minus that of the gradient.

# %%
ex_agent = next((n for n in vs.videos if n.startswith(f"{AGENTS['dddqn'].label} Breakout")), None)
if ex_agent is not None:
    enrichment = vs.statistic("enrichment")
    diff, share = study.enrichment_blocks(enrichment[ex_agent, "Guided Backprop"],
                                          enrichment[ex_agent, "Gradient"], block=10)
    ex1 = claims.measure("saliency.ex1", diff, scale={"profile": run_context().get("profile"), "steps": video_steps,
                                                      "blocks": len(diff)},
                         details={"agent": ex_agent, "block": 10, "gbp_on_objects": share["a_on_objects"],
                                  "gradient_on_objects": share["b_on_objects"]})
    print(ex1)

# %% [markdown]
# ## The chapter's claims, measured
#
# On the feed-forward agents (DDDQN and A2C, both games) that pass the sensitivity gate (see the
# agents notebook; checked here on this video's states): the recurrent agents are explained
# through the memory they carried, a different object, so they stay out of these statistics. The
# unit is a block of 10 consecutive steps of one game, `n_games` games per agent (the first
# `video_steps` / `n_games` steps of each), pooled over the agents;
# *enrichment*: the share of a map's magnitude on the objects over their share of the screen;
# *consecutive rho*: the Spearman correlation of the absolute maps of neighbouring steps.

# %%
print("sensitivity gate:", {n: "passed" if g.passed else g.reason for n, g in vs.gates.items()})
measured = study.stability_claims(vs, run_context().get("profile"))
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
