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
# # Bug localisation: do the stream maps flag a planted error that the score misses?
#
# Rosynski et al. report that two programming errors in the value stream of their dueling
# network went unnoticed in its score and showed up in guided backpropagation's maps of the
# value and advantage streams: the value side's gradients were strong but chaotic. We plant
# the two errors in a copy of our dueling DQN (`rlinside.nets.atari.DUELING_BUGS`):
#
# - **value_link**: the value output reads the advantage stream's hidden layer, so the value
#   stream's own hidden layer is cut off;
# - **merge**: the advantage's mean is taken over the whole batch and every action instead of
#   per state (identical when acting on one state, wrong in every training batch).
#
# Each is trained with the zoo's settings and seed to the zoo's early step (250k agent steps,
# `scripts/train_bug_agents.sh`), and compared with the zoo's correct network at that step on
# the same states (played by the correct network; each network explains the action it ranks
# first). Per state and stream we measure the guided-backprop map's magnitude, its enrichment
# on ball and paddle, and how alike the two streams' maps are. A statistic *flags* a bug when
# the per-state difference (correct minus buggy) has a 95 % interval that excludes 0; the score
# flags it when the difference of the evaluation scores does. Two networks also differ when
# only their seed differs: the **second seed** (the correct setup, another training seed, same
# step) is the control. The same flags are computed for it, and the claim counts a difference
# only where it exceeds the control's (`rlinside.claims.exchangeable_null`).

# %% tags=["parameters"]
seed: int = 0  # evaluation game the states come from | [0, 2_147_483_647]
n_states: int = 40  # states explained | [1, 10_000]
state_every: int = 10  # agent steps between two explained states | [1, 1000]
statistic: str = "enrichment"  # the claim's statistic of the value stream's map | {enrichment, magnitude, correlation}

# %%
import pandas as pd
from IPython.display import display

from rlinside import claims, store
from rlinside.nets.atari import DUELING_BUGS
from rlinside.plots import publish, run_context
from rlinside.plots.saliency import gallery_of_rows
from rlinside.studies import saliency as study

try:
    agents = study.bug_agents()
except store.ArtifactError as e:
    print(e)
    agents = {}
missing = [b for b in DUELING_BUGS if b and b not in agents] + [study.SEED_NULL] * (study.SEED_NULL not in agents)
bugs = [b for b in agents if b not in ("correct", study.SEED_NULL)]
print("networks:", ", ".join(f"{k} ({a.key})" for k, a in agents.items()) or "none",
      "| not shipped yet:", ", ".join(missing) or "none", "(train with scripts/train_bug_agents.sh)")

# %%
if agents:
    rows = study.bug_stream_rows(agents, state_every - 1, seed)
    publish("sal_bug_streams", gallery_of_rows(rows, palette="diverging"),
            f"Guided backprop of the value and the advantage stream of each network on step {state_every} of "
            f"evaluation game {seed} (played by the correct network); newest frame; each map scaled by its own "
            "maximum.")

# %% [markdown]
# ## 1. The score
#
# Each network's mean over its shipped evaluation games, and for the others (the bugs, the
# second seed) its difference from the correct network with the interval over games.

# %%
display(study.bug_scores(agents) if len(agents) > 1 else "no buggy network shipped yet")

# %% [markdown]
# ## 2. The stream maps, state by state
#
# Mean of each statistic per network and stream, with intervals over states; then the flags
# of each statistic (value stream and advantage stream).

# %%
stats = study.bug_stream_statistics(agents, n_states, state_every, seed) if len(agents) > 1 else pd.DataFrame()
if len(stats):
    columns = ("magnitude", "enrichment", "correlation")
    display(pd.concat({col: claims.interval_table(stats, ["network", "stream"], col) for col in columns},
                      names=["statistic"]).round(3))
    display(pd.concat({(col, stream): study.bug_flags(stats, col, stream) for col in columns
                       for stream in ("value", "advantage")}, names=["statistic", "stream", "bug"]))

# %% [markdown]
# ## The claim, measured
#
# Unit: the state, both bugs pooled; the per-state difference of the value stream's
# `statistic` between the correct and the buggy network, signed so that above 0 means the
# buggy map lies less on the objects (for the magnitude and the correlation: the buggy one is
# larger, as the paper's "strong but chaotic" would have it). The null: the same difference
# between the correct network and its second seed, either sign; without the second seed the
# claim is not tested.

# %%
values, null = [], []
if len(stats):
    sign = 1.0 if statistic == "enrichment" else -1.0
    s = stats[stats.stream == "value"].pivot_table(index="state", columns="network", values=statistic)
    for bug in bugs:
        values += (sign * (s["correct"] - s[bug])).dropna().tolist()
    if study.SEED_NULL in s:
        null = claims.exchangeable_null(sign * (s["correct"] - s[study.SEED_NULL]))
m = claims.measure("saliency.gbp_streams_localise_bugs", values, null=null,
                   scale={"profile": run_context().get("profile"), "states": len(values) // max(len(bugs), 1),
                          "bugs": len(bugs)},
                   details={"statistic": statistic})
pd.DataFrame([m.to_dict()])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
