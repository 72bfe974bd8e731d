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
# # The policy without its memory
#
# Lee et al. report one more experiment: the same policy with the previous hidden and cell
# states withheld from the LSTM, so that every decision is made from the current image alone.
# The ball still moved inwards, but crossing the gates of the inner rings took longer than
# with memory. We run the shipped policy with its LSTM state reset to zero before every step
# and measure, for each wall, how many steps the ball needs from entering a ring to passing
# that ring's gate inwards.

# %% tags=["parameters"]
n_tests: int = 40  # greedy test episodes, start angles spread over the outer ring | [1, 1000]

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.maze_a2c import evaluate_maze
from rlinside.agents.maze_zoo import load_policy, policy_config
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import lstm_contribution as study

set_theme()
net, art = load_policy()
cfg = policy_config(art)
env_cfg = cfg.env_config()
runs = {"with memory": evaluate_maze(net, env_cfg, n_tests),
        "without memory": evaluate_maze(net, env_cfg, n_tests, memory=False)}

# the gate of wall `ring` leads into ring - 1; a wall reached but never crossed is left out here
crossings = pd.concat([study.crossing_times(results, env_cfg.n_rings).assign(memory=label)
                       for label, results in runs.items()], ignore_index=True)
crossings = crossings[crossings["crossed"]][["memory", "wall", "steps to cross"]].reset_index(drop=True)
reached = pd.DataFrame({label: [np.mean([any(int(k) <= ring for k in r["entered"]) for r in results])
                                for ring in range(env_cfg.n_rings, -1, -1)]
                        for label, results in runs.items()},
                       index=[f"ring {k}" + (" (centre)" if k == 0 else "") for k in range(env_cfg.n_rings, -1, -1)])
reached

# %% [markdown]
# The table gives the share of test episodes that reach each ring (ring 0 is the centre, a
# success). Below, the steps from entering a ring to crossing its wall's gate.

# %%
if len(crossings):
    summary = crossings.groupby(["wall", "memory"])["steps to cross"].agg(["count", "median", "mean"]).unstack("memory")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    all_walls = list(range(env_cfg.n_rings, 0, -1))
    top = crossings["steps to cross"].groupby([crossings.memory, crossings.wall]).median().max()
    for _k, (label, colour) in enumerate(zip(runs, PALETTE)):
        sub = crossings[crossings.memory == label]
        med = [sub[sub.wall == w]["steps to cross"].median() if (sub.wall == w).any() else np.nan
               for w in all_walls]
        ax.plot([f"wall {w}" for w in all_walls], med, marker="o", color=colour, label=label)
        for w, m in zip(all_walls, med):  # reached the ring but never crossed its wall
            if np.isnan(m) and any(w in {int(r) for r in res["entered"]} for res in runs[label]):
                ax.plot(f"wall {w}", top * 1.05, marker="x", ms=9, color=colour)
                ax.annotate("never crossed", (f"wall {w}", top * 1.05), textcoords="offset points",
                            xytext=(0, 7), ha="center", fontsize=7, color=colour)
    ax.set_ylabel("steps to cross (median)")
    ax.set_xlabel("wall, from the outer ring inwards")
    ax.legend(fontsize=8)
    publish("lstm_memory_ablation", fig, f"Median steps from entering a ring to crossing its wall's gate, "
            f"{n_tests} greedy test episodes, with the policy's memory and with its LSTM state reset every step; "
            "a cross marks a wall that was reached but never crossed.")
summary.round(1) if len(crossings) else "no ring was crossed"

# %% [markdown]
# ## Other policies, and when the maze is seen late
#
# The same test for every shipped policy, from its manifest (the same 40 starts). A policy
# trained with an observation delay (`obs_delay`, see {doc}`03_preceding_offsets`) sees where
# the ball was `d` steps ago, and has to carry the ball's motion forward in its memory to act
# on where it is now.

# %%
from rlinside.agents.maze_zoo import find_policies

policies = [art] + [a for a in find_policies() if a.key != art.key]
delayed_rows = [{"policy": a.key, "trainer": a.config.get("trainer", "a2c"),
                 "delay d": a.config.get("env", {}).get("obs_delay", 0),
                 "success with memory": a.manifest["metrics"]["success_rate"],
                 "success without memory": a.manifest["metrics"]["success_rate_no_memory"]}
                for a in policies]
pd.DataFrame(delayed_rows).set_index("policy")

# %% [markdown]
# ## The claims, measured
#
# Per test episode without memory: whether the ball reaches the ring next to the centre, and
# the steps to cross the last wall into the centre minus the mean steps to cross the outer
# walls of the same episode. A last wall never crossed counts with the steps from entering
# ring 1 to the episode's end, a lower bound of its crossing time. The interval is
# bootstrapped over the episodes (the verdicts are computed on the chapter page,
# {doc}`../../claims`).

# %%
without = study.memoryless_crossings(runs["without memory"], env_cfg.n_rings)
with_memory = study.memoryless_crossings(runs["with memory"], env_cfg.n_rings)
scale = {"profile": run_context().get("profile"), "episodes": n_tests}
ct = {label: study.crossing_times(results, env_cfg.n_rings) for label, results in runs.items()}
medians = {f"{label}, wall {w}": float(g["steps to cross"].median())
           for label, c in ct.items() for w, g in c[c["crossed"]].groupby("wall")}
details = {"reached ring 1 without memory": int(without["reached inner ring"].sum()),
           "last gate crossed without memory": int(without["last crossed"].sum()),
           "last gate crossed with memory": int(with_memory["last crossed"].sum()),
           "with memory: last minus outer (mean)": float(with_memory["last minus outer"].mean()),
           **{f"median steps to cross, {k}": v for k, v in medians.items()}}
measured = [
    claims.measure("lstm_contribution.memoryless_reaches_inner_ring", without["reached inner ring"], scale=scale,
                   details=details),
    claims.measure("lstm_contribution.memoryless_last_gate_slower", without["last minus outer"], scale=scale,
                   details=details),
]
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
