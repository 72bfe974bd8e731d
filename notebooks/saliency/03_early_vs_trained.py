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
# # Early against trained: do saliency maps see learning before the reward does?
#
# Rosynski et al. (Figures 43-48) explain a DDDQN saved after 325 episodes, whose reward
# curve had barely moved, next to the trained one. On the early network Grad-CAM and
# G1Grad-CAM already light up the ball and the paddle, and the authors conclude that these
# two methods show what an agent learns before its rewards do. Their evidence is one state
# looked at by eye. This notebook
#
# 1. repeats their gallery: the six methods on the early and the final checkpoint of each
#    shipped agent, on the *same* state (played by the final agent);
# 2. measures it on the zoo: over `n_states` states, the share of each map's magnitude on the
#    game's objects (ball and paddle; submarine, divers, enemies and oxygen bar), as an
#    *enrichment* over the objects' share of the screen (1: the map ignores them);
# 3. tests the claim over a whole training run: the same measurement on the snapshots of one
#    A2C run on Breakout (taken from the first update to 1M agent steps, stored by
#    `scripts/measure_saliency_training.py`), against the training return at each snapshot.

# %% tags=["parameters"]
seed: int = 0  # evaluation game the states come from | [0, 2_147_483_647]
warmup_steps: int = 60  # agent decisions before the gallery's state | [1, 10_000]
n_states: int = 40  # states of the zoo measurement (one every `state_every` steps) | [1, 10_000]
state_every: int = 5  # agent steps between two measured states | [1, 1000]
palette: str = "paper"  # "paper" (green/red) or "colorblind" (blue/orange) | {paper, colorblind}

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from rlinside.agents.zoo import (
    AGENTS,
    find_agents,
    load_agent,
    play_states,
    random_scores,
)
from rlinside.explain.saliency import METHOD_NAMES, explain_all, normalize
from rlinside.plots import PALETTE, publish, set_theme
from rlinside.plots.saliency import gallery, overlay
from rlinside.studies.saliency import is_recurrent, load_measurement, object_saliency

set_theme()

pairs = {}
for art in find_agents():
    c = art.config
    if is_recurrent(c["agent"]):
        continue  # their early/final comparison needs each network's own memory of the game
    pairs.setdefault((c["agent"], c["game"]), {})[c["stage"]] = art
pairs = {k: v for k, v in pairs.items() if {"early", "final"} <= set(v)}
print("agents with an early and a final checkpoint:",
      ", ".join(f"{AGENTS[a].label} {g}" for a, g in pairs) or "none yet")

# %% [markdown]
# ## 1. The gallery: same state, early and final network
#
# Each network explains the action *it* ranks first on that state; the state comes from the
# final agent's game, so the early network is shown a situation it may never reach itself.

# %%
rows, labels, played = [], [], {}
for (agent, game), stages in pairs.items():
    final_net, _ = load_agent(agent, game, "final")
    obs, frames, _ = play_states(agent, final_net, game, steps=max(warmup_steps, n_states * state_every), seed=seed)
    played[(agent, game)] = (obs, frames)
    x = torch.from_numpy(obs[warmup_steps - 1:warmup_steps])
    for stage in ("early", "final"):
        net, _ = load_agent(agent, game, stage)
        with torch.no_grad():
            out = net(x.float())
        action = int((out[0] if isinstance(out, tuple) else out).argmax(1))
        maps = explain_all(net, x, action, net.torso.conv1)
        rows.append([overlay(frames[warmup_steps - 1], normalize(m[:, -1:])[0, 0].numpy(), palette=palette)
                     for m in maps.values()])
        labels.append(f"{AGENTS[agent].label} {game}\n{stage}: {stages[stage].config['step']:,} steps")
if rows:
    fig = gallery(rows, row_labels=labels, col_labels=list(METHOD_NAMES), palette=palette)
    publish("sal_early_vs_final", fig,
            f"The six methods on the early and the final checkpoint of each agent, same state "
            f"(after {warmup_steps} decisions of evaluation game {seed}, played by the final agent); "
            "newest frame; Grad-CAM family at conv1; each map scaled by its own maximum |value|.")

# %% [markdown]
# ## 2. How much of each map lies on the objects
#
# For every state, the objects are found from the colours of the screen and laid on the
# 84 × 84 input grid, grown by one pixel so that an edge response around an object counts for
# it. The table gives the mean enrichment over `n_states` states (objects absent from a state
# are left out for that state).

# %%
tables = []
for (agent, game), (obs, frames) in played.items():
    idx = np.arange(state_every - 1, n_states * state_every, state_every)
    for stage in ("early", "final"):
        net, _ = load_agent(agent, game, stage)
        t = object_saliency(net, game, obs[idx], frames[idx])
        t.insert(0, "stage", stage)
        t.insert(0, "agent", f"{AGENTS[agent].label} {game}")
        tables.append(t)
zoo = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
if len(zoo):
    summary = (zoo[zoo.object == "all"].groupby(["agent", "method", "stage"])["enrichment"].mean()
               .unstack("stage")[["early", "final"]])
    summary = summary.reindex(pd.MultiIndex.from_product([summary.index.levels[0], METHOD_NAMES]))
summary.round(2) if len(zoo) else "no agent with both checkpoints"

# %% [markdown]
# ## 3. Over a whole training run
#
# The stored measurement explains the same 40 states (played by the run's final network) with
# every snapshot of one A2C run on Breakout. We locate, for each curve, the *half-rise step*:
# the first snapshot at which the curve has covered half of its change from the first snapshot
# to the last. If Grad-CAM and G1Grad-CAM "show learning before the reward", their half-rise
# step comes before the return's.

# %%
found = load_measurement(agent="a2c", game="Breakout")
if found is None:
    print("No saliency-training measurement stored. Make one with the commands in "
          "scripts/measure_saliency_training.py (a 1M-step A2C run with snapshots, ~1 h on one core).")
    half_rise = pd.DataFrame()
else:
    run, art = found
    per_step = (run[run.object == "all"].groupby(["step", "method"])["enrichment"].mean().unstack("method"))
    stored = [m for m in METHOD_NAMES if m in per_step.columns]  # the methods the measurement holds
    ret = run.groupby("step")["train_return"].first()
    rnd = float(np.mean(random_scores("Breakout", 10, seed=0)))

    def half_rise_step(curve):
        curve = curve.dropna()
        if len(curve) < 2:
            return np.nan
        start, end = curve.iloc[0], curve.iloc[-1]
        crossed = curve[(curve - start) * np.sign(end - start) >= 0.5 * abs(end - start)]
        return int(crossed.index[0]) if len(crossed) else np.nan

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for m, colour in zip(stored, PALETTE):
        ax.plot(per_step.index, per_step[m], marker="o", ms=3, label=m, color=colour)
    ax.axhline(1, color="0.5", lw=0.8, ls=":")
    ax.set_xscale("symlog", linthresh=10_000)
    ax.set_xlabel("agent steps (symlog)")
    ax.set_ylabel("enrichment on ball + paddle")
    ax.legend(fontsize=7, ncol=2)
    ax2.plot(ret.index, ret.values, marker="o", ms=3, color="0.2", label="training return (last 100 games)")
    ax2.axhline(rnd, color="0.5", lw=0.8, ls=":", label="random policy")
    ax2.set_xscale("symlog", linthresh=10_000)
    for a_ in (ax, ax2):
        a_.set_xlim(0, 1.15 * per_step.index.max())
    ax2.set_xlabel("agent steps (symlog)")
    ax2.set_ylabel("full-game score")
    ax2.legend(fontsize=7)
    c = art.config
    publish("sal_features_before_reward", fig,
            f"Left: mean enrichment of each method's map on the ball and the paddle over {c['states']} "
            f"states of evaluation game {c['seed']}, for every snapshot of the A2C Breakout run "
            f"'{c['run']}'. Right: the run's training return. Stored measurement {art.key}.")
    half_rise = pd.DataFrame({"half-rise step": {m: half_rise_step(per_step[m]) for m in stored}
                              | {"training return": half_rise_step(ret)}})

    def ends(curve):
        curve = curve.dropna()
        return f"{curve.iloc[0]:.2f} / {curve.iloc[-1]:.2f}" if len(curve) else "no value"

    half_rise["first / last value"] = [ends(per_step[m]) for m in stored] + [ends(ret)]
half_rise
