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
windows: list[int] = [1, 2, 4, 8, 16, 64]  # memory windows K (images the state is rebuilt from) | [1, 10_000]
planted_delay: int = 8  # observation delay of the delayed policies (trained by DAgger with it) | [1, 64]

# %%
import pandas as pd

from rlinside.agents.maze_zoo import find_policies, load_policy
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.lstm import plot_window_success
from rlinside.studies import lstm_contribution as study

set_theme()
base, late = "A2C, no delay", f"DAgger, {planted_delay}-step delay"
conditions = {base: study.seed_policies() or [(0, *load_policy())],  # the chapter's policies, one per seed
              "DAgger, no delay": study.seed_policies(trainer="dagger"),
              late: study.seed_policies(planted_delay, trainer="dagger")}
conditions = {k: v for k, v in conditions.items() if v}
episodes, crossings, memless = study.window_study(conditions, list(windows), n_tests,
                                                  {k: planted_delay for k in conditions if k != base})
for name, policies in conditions.items():
    print(f"{name}: " + ", ".join(f"seed {s} ({a.key})" for s, _, a in policies))

# %%
success = study.window_summary(episodes)
publish("lstm_memory_window", plot_window_success(success, list(windows)),
        f"Success from the outer ring ({n_tests} greedy test episodes per point) with the LSTM state rebuilt from "
        "zero over the last K images before every step; K = 1 is the paper's memory ablation, 'full' the policy as "
        "trained. 95 % bootstrap intervals over the test episodes; one line per training seed.")
success.round(3)

# %% [markdown]
# Per wall (wall `k` leads from ring `k` into ring `k - 1`, wall 1 into the centre): of the
# episodes that reached ring `k`, the share that crossed its wall, and the mean steps from
# entering the ring to crossing it, with its interval over the crossings, for the full memory,
# the paper's ablation (`K = 1`) and `K = 4`.

# %%
per_wall = study.window_crossings(crossings)
per_wall[per_wall.index.get_level_values("window").isin([0, 1, 4])].round(2)

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
# Per test episode with the state reset every step (`K = 1`), pooled over the no-delay
# policies of the training seeds (the unit is the episode; each seed's value is listed
# beside): whether the ball reaches the ring next to the centre, and the steps to cross the
# last wall into the centre minus the mean steps to cross the outer walls (a last wall never
# crossed counts with the steps from entering ring 1 to the episode's end, a lower bound). For
# the policies trained by DAgger to see the maze `planted_delay` steps late (A2C trained from
# scratch with that delay did not learn the task): per test episode, success with the full
# memory minus success with a window of `K = planted_delay` images, which cannot reach the
# actions taken since the newest image was shot; positive if the policy needs that memory.

# %%
measured = study.memory_claims(episodes, memless, planted_delay=planted_delay, profile=run_context().get("profile"),
                               base_condition=base, delayed_condition=late)
pd.DataFrame([m.to_dict() for m in measured])[["claim", "estimate", "low", "high", "n"]]
