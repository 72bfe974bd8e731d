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
# # The policy without its memory, and how much memory it needs
#
# Lee et al. report one more experiment: the same policy with the previous hidden and cell
# states withheld from the LSTM, so that every decision is made from the current image alone.
# The ball still moved inwards, but crossing the gates of the inner rings took longer than
# with memory. We run that test on the policy of every training seed, then ask the finer
# question the all-or-nothing test cannot answer: *how many* steps of memory does the policy
# need? Before every step its LSTM state is recomputed from zero over the last `K` images only
# (the current one included), so it remembers at most `K - 1` steps back; `K = 1` is the
# paper's ablation, and "full" is the ordinary policy. Resetting the state also puts the LSTM
# in states it never met in training, so a failure at small `K` mixes missing memory with
# unfamiliar states; the window curve separates the two by how fast success comes back with
# `K`.

# %% tags=["parameters"]
n_tests: int = 40  # greedy test episodes per policy and window, start angles spread over the outer ring | [1, 1000]
windows: list[int] = [1, 2, 3, 4, 6, 8, 16, 32, 64]  # memory windows K (images the state is rebuilt from) | [1, 10_000]

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.maze_zoo import find_policies, load_policy, policy_config
from rlinside.plots import PALETTE, publish, run_context, set_theme
from rlinside.studies import lstm_contribution as study

set_theme()
policies = study.seed_policies()  # the chapter's condition: no delay, one policy per training seed
if not policies:
    net, art = load_policy()
    policies = [(int(art.config["seed"]), net, art)]
env_cfg = policy_config(policies[0][2]).env_config()
episodes, crossings, memless = [], [], []
for seed, net, _art in policies:
    e, c, by_window = study.window_ablation(net, env_cfg, list(windows), n_tests)
    episodes.append(e.assign(seed=seed))
    crossings.append(c.assign(seed=seed))
    memless.append(study.memoryless_crossings(by_window[1], env_cfg.n_rings).assign(seed=seed))  # K = 1
episodes, crossings = pd.concat(episodes, ignore_index=True), pd.concat(crossings, ignore_index=True)
print("policies (training seed: key):", ", ".join(f"{s}: {a.key}" for s, _, a in policies))

# %%
success = study.window_summary(episodes)
fig, ax = plt.subplots(figsize=(7.5, 3.6))
labels = ["full" if k == 0 else str(k) for k in [0, *windows]]
for (seed, sub), colour in zip(success.groupby(level="seed"), PALETTE):
    sub = sub.droplevel("seed").reindex([0, *windows])
    x = np.arange(len(labels)) + 0.08 * (seed - 1)
    ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["low"], sub["high"] - sub["mean"]], marker="o",
                capsize=3, color=colour, label=f"training seed {seed}")
ax.set_xticks(range(len(labels)), labels)
ax.set(xlabel="memory window K (images the LSTM state is rebuilt from before every step)",
       ylabel="success rate", ylim=(-0.05, 1.05))
ax.legend(fontsize=8)
publish("lstm_memory_window", fig, f"Success from the outer ring ({n_tests} greedy test episodes per point) with "
        "the LSTM state rebuilt from zero over the last K images before every step; K = 1 is the paper's "
        "memory ablation, 'full' the policy as trained. 95 % bootstrap intervals over the test episodes.")
success.round(3)

# %% [markdown]
# Per wall (wall `k` leads from ring `k` into ring `k - 1`, wall 1 into the centre): of the
# episodes that reached ring `k`, the share that crossed its wall, and the mean steps from
# entering the ring to crossing the wall, with its interval over the crossings. Full memory,
# the paper's ablation (`K = 1`) and the smallest window that brings every seed back within
# the interval of its full-memory success are compared side by side.

# %%
per_wall = study.window_crossings(crossings)
full = success.xs(0, level="window")["mean"]
enough = [k for k in windows if all(success.loc[(s, k), "high"] >= full[s] for s in full.index)]
shown = [0, 1] + enough[:1]
print("smallest window within every seed's full-memory interval:", enough[0] if enough else "none")
per_wall[per_wall.index.get_level_values("window").isin(shown)].round(2)

# %% [markdown]
# ## Other policies, and when the maze is seen late
#
# The all-or-nothing test for every shipped policy, from its manifest (the same 40 starts). A
# policy trained with an observation delay (`obs_delay`, see {doc}`03_preceding_offsets`) sees
# where the ball was `d` steps ago, and has to carry the ball's motion forward in its memory.

# %%
pd.DataFrame([{"policy": a.key, "trainer": a.config.get("trainer", "a2c"), "seed": a.config.get("seed"),
               "delay d": a.config.get("env", {}).get("obs_delay", 0), "steps": a.config.get("step"),
               "success with memory": a.manifest["metrics"]["success_rate"],
               "success without memory": a.manifest["metrics"]["success_rate_no_memory"]}
              for a in find_policies()]).set_index("policy")

# %% [markdown]
# ## The claims, measured
#
# Per test episode with the state reset every step (`K = 1`), pooled over the training
# seeds (the unit is the episode; the table beside each claim gives it seed by seed): whether
# the ball reaches the ring next to the centre, and the steps to cross the last wall into the
# centre minus the mean steps to cross the outer walls of the same episode (a last wall never
# crossed counts with the steps from entering ring 1 to the episode's end, a lower bound).

# %%
memless = pd.concat(memless)
scale = {"profile": run_context().get("profile"), "episodes": len(memless), "seeds": len(policies)}
by_seed = {k: {f"seed {s}": v for s, v in memless.groupby("seed")[k].mean().round(3).items()}
           for k in ("reached inner ring", "last minus outer")}
measured = [
    claims.measure("lstm_contribution.memoryless_reaches_inner_ring", memless["reached inner ring"], scale=scale,
                   details={"by seed": by_seed["reached inner ring"]}),
    claims.measure("lstm_contribution.memoryless_last_gate_slower", memless["last minus outer"], scale=scale,
                   details={"by seed": by_seed["last minus outer"]}),
]
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
