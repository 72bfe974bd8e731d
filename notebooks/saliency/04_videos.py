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
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange) | {paper, colorblind}
batch: int = 50  # states explained per call | [1, 1000]

# %%
import time

import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.zoo import AGENTS, load_agent, play_states
from rlinside.explain.saliency import METHOD_NAMES, normalize
from rlinside.explain.sanity import temporal_stability
from rlinside.plots import publish_html, run_context, set_theme
from rlinside.plots.saliency import overlay
from rlinside.plots.video import gif_bytes, gif_html, label_strip, side_by_side
from rlinside.studies import saliency as study
from rlinside.utils import nan_median

set_theme()


per_game = max(10, video_steps // n_games // 10 * 10)  # steps of each game in the statistics: whole blocks of 10
videos, stability, stats, families, gates = {}, [], {}, {}, {}
t0 = time.perf_counter()
for art in study.chapter_most_trained():
    agent, game, stage = art.config["agent"], art.config["game"], art.config["stage"]
    net, _ = load_agent(agent, game, stage)
    obs, frames, actions, carried = play_states(agent, net, game, steps=video_steps, seed=seed, return_states=True)
    maps = study.explain_steps(agent, net, obs, carried, actions, cam_layer=cam_layer, batch=batch)
    name = f"{AGENTS[agent].label} {game} ({stage})"
    videos[name], families[name] = (frames, maps), agent
    gates[name] = study.agent_gate(study.Played(art, net, obs, frames, actions, carried))
    parts = [study.step_statistics(game, frames[:per_game], {m: v[:per_game] for m, v in maps.items()})]
    for g in range(1, n_games):  # the statistics' other games (the first is the video's start)
        o, f, a, c = play_states(agent, net, game, steps=per_game, seed=seed + g, return_states=True)
        parts.append(study.step_statistics(game, f, study.explain_steps(agent, net, o, c, a, cam_layer=cam_layer,
                                                                       batch=batch)))
    screen_corr = nan_median(temporal_stability(obs[:, -1].astype(np.float32), absolute=False))
    for m in METHOD_NAMES:
        stats[name, m] = {k: np.concatenate([pt[m][k] for pt in parts]) for k in parts[0][m]}
        stability.append({"agent": name, "method": m,
                          "consecutive rho (median)": nan_median(stats[name, m]["consecutive rho"]),
                          "steps on objects (share)": float(stats[name, m]["on objects"].mean()),
                          "screen rho (median)": float(screen_corr)})
enrichment = {k: v["enrichment"] for k, v in stats.items()}
on_objects = {k: v["on objects"] for k, v in stats.items()}
print(f"{len(videos)} agent(s), {video_steps} steps each (statistics: {per_game} steps of each of {n_games} games), "
      f"explained with six methods in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## The videos
#
# Left to right: the screen, then for each method the map normalized per frame and over the
# whole video. Per-frame normalization makes every frame's strongest pixel fully coloured, so
# a map that barely changes in size still flickers; per-video normalization keeps the real
# strength, so moments when the output hardly depends on the screen fade out.

# %%
for name, (frames, maps) in videos.items():
    per_frame = {m: normalize(maps[m], mode="frame").numpy() for m in video_methods}
    per_video = {m: normalize(maps[m], mode="video").numpy() for m in video_methods}
    images = []
    for t, f in enumerate(frames):
        panels = [f]
        for m in video_methods:
            panels += [overlay(f, per_frame[m][t], palette=palette), overlay(f, per_video[m][t], palette=palette)]
        images.append(side_by_side([p[::2, ::2] for p in panels]))
    labels = ["screen"] + [f"{m.replace('Guided Backprop', 'GBP')} {n}" for m in video_methods
                           for n in ("/frame", "/video")]
    strip = label_strip(labels, [80] * len(labels))
    gif = gif_bytes([np.concatenate([strip, im]) for im in images], fps=15)
    publish_html(gif_html(gif, alt=f"{name}: screen and saliency maps, per-frame and per-video normalization",
                          width=2 * strip.shape[1]),
                 f"**{name}**, {len(frames)} agent steps of evaluation game {seed} ({len(gif) / 1e6:.1f} MB).")

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
stab = pd.DataFrame(stability)
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
ex_agent = next((n for n in videos if n.startswith(f"{AGENTS['dddqn'].label} Breakout")), None)
if ex_agent is not None:
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
ff = [n for n in videos if not study.is_recurrent(families[n]) and gates[n].passed]
print("sensitivity gate:", {n: "passed" if g.passed else g.reason for n, g in gates.items()})


def pooled(table, m, other=None):
    """Block means of method m (minus other's, if given), pooled over the feed-forward agents."""
    out = []
    for n in ff:
        a = study.block_means(table[n, m], 10)
        if other is not None:
            a = a - study.block_means(table[n, other], 10)
        out.append(a[np.isfinite(a)])
    return np.concatenate(out) if out else np.zeros(0)


def best_other(n, m):
    others = np.stack([study.block_means(on_objects[n, o], 10) for o in METHOD_NAMES if o != m])
    return study.block_means(on_objects[n, m], 10) - np.nanmax(others, axis=0)


claim_scale = {"profile": run_context().get("profile"), "agents": len(ff), "steps": per_game * n_games,
               "games": n_games,
               "blocks": len(pooled(on_objects, "Guided Backprop"))}
gbp_best = np.concatenate([best_other(n, "Guided Backprop") for n in ff]) if ff else np.zeros(0)
measured = [
    claims.measure("saliency.gradient_noisier", pooled(enrichment, "Guided Backprop", "Gradient"), scale=claim_scale,
                   details={"agents": ff}),
    claims.measure("saliency.gbp_most_stable", gbp_best[np.isfinite(gbp_best)], scale=claim_scale),
    claims.measure("saliency.guided_gradcam_unstable", pooled(on_objects, "Guided Grad-CAM", "Guided Backprop"),
                   scale=claim_scale),
    claims.measure("saliency.g2gradcam_unstable", pooled(on_objects, "G2Grad-CAM", "Guided Backprop"),
                   scale=claim_scale),
]
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
