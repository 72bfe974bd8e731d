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
# # A memorised policy: can the maps see what the reward hides?
#
# Rosynski et al. motivate saliency as a debugging tool with a worry: an agent can collect
# reward by *memorising* a sequence of moves instead of reacting to what it sees, and its
# reward curve will not tell. They do not test it. Our controlled version:
#
# - the **usual** agent: the zoo's A2C on Breakout (1M agent steps, every game starts after up
#   to 30 random no-ops);
# - its **fixed-start twin**: the same settings and seed, but every training game starts from
#   the same screen (`noop_max` 0), so a fixed sequence of moves can pay.
#
# Both play both start variants. A memorised policy shows as a *gap*: it scores well where
# the game starts as in training and worse elsewhere. Then the maps: on the same states (played
# by the usual agent), how much of each network's map lies on the ball and the paddle
# (enrichment over their share of the screen; 1: the map ignores them). If the twin has
# memorised and the maps see it, its maps should lie less on the objects. A difference between
# two trained networks can also come from their seeds alone: the **second seed** (the usual
# agent's settings, another training seed) is the control, and the claim counts a difference
# only where it exceeds the one between the usual agent and its second seed
# (`rlinside.claims.exchangeable_null`; without the second seed the claim is not tested).

# %% tags=["parameters"]
seed: int = 0  # evaluation games (scores) and the game the states come from | [0, 2_147_483_647]
episodes: int = 20  # full games per agent and start variant (0: no scores, so no verdict) | [0, 1000]
n_states: int = 40  # states explained per start variant | [1, 10_000]
state_every: int = 10  # agent steps between two explained states | [1, 1000]
method: str = "Guided Backprop"  # the claim's method (the paper's debugging tool) | {@saliency_methods}

# %%
import numpy as np
import pandas as pd
from IPython.display import display

from rlinside import claims, store
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.saliency import plot_memorised
from rlinside.studies import saliency as study

set_theme()
try:
    pair = study.memorised_pair()
except store.ArtifactError as e:  # the twin is not shipped yet: nothing below is measured
    print(e)
    pair = {}
display(pd.DataFrame({name: {"key": a.key, "steps": a.config["step"], "noop_max": a.config["train_config"].get(
    "noop_max", 30), "zoo evaluation (random starts)": a.manifest["metrics"]["eval_mean"]}
    for name, a in pair.items()}).T)

# %% [markdown]
# ## 1. Scores on both start variants
#
# `gap` is the mean score with fixed starts minus with random starts, with its 95 % bootstrap
# interval over games; the last line compares the two gaps.

# %%
scores = (study.start_variant_scores(pair, episodes, seed) if pair and episodes
          else pd.DataFrame(columns=["agent", "start", "score"]))
gaps = study.start_gaps(scores) if len(scores) else pd.DataFrame()
d = gaps.attrs.get("difference", {})
display(gaps.astype(float).round(2))
print(f"twin's gap minus the usual agent's: {d.get('estimate', np.nan):.1f} "
      f"[{d.get('low', np.nan):.1f}, {d.get('high', np.nan):.1f}]")

# %% [markdown]
# ## 2. The maps on the same states
#
# Mean enrichment on ball and paddle per start variant and method, with intervals over states,
# and the per-state differences: usual minus twin, and usual minus second seed (the control).

# %%
maps = study.memorised_maps(pair, n_states, state_every, seed) if pair else pd.DataFrame(
    columns=["start", "state", "method", "usual", "fixed-start trained", "difference", "seed difference"])
long = maps.melt(id_vars=["start", "state", "method"], var_name="network", value_name="enrichment",
                 value_vars=[c for c in maps.columns if c not in ("start", "state", "method")])
summary = claims.interval_table(long, ["start", "method", "network"], "enrichment")
display(summary.round(2))
if pair:
    publish("sal_memorised_policy", plot_memorised(scores, maps),
            f"Left: full-game scores of the usual A2C and its fixed-start twin on {episodes} games of each start "
            f"variant (mean and 95 % interval). Right: per-state difference of the enrichment of their maps on "
            f"ball and paddle (usual minus twin; above 0: the usual agent's map lies more on the objects; grey: "
            f"usual minus its second seed, the control), "
            f"{n_states} states per variant played by the usual agent.")

# %% [markdown]
# ## The claim, measured
#
# The unit is the state (both variants pooled); the claim needs the twin to have memorised in
# the first place (its gap above the usual agent's, interval above 0), else it is not tested.
# The null: the usual agent minus its second seed on the same states, either sign.

# %%
memorised = int(np.isfinite(d.get("low", np.nan)) and d["low"] > 0)
values = maps[maps.method == method]["difference"].dropna().tolist()
null = claims.exchangeable_null(maps[maps.method == method]["seed difference"])
m = claims.measure("saliency.memorised_policy_shows_in_maps", values, null=null,
                   scale={"profile": run_context().get("profile"), "states": len(values),
                          "memorising_agents": memorised},
                   details={"method": method, "gap difference": d})
pd.DataFrame([m.to_dict()])[["claim", "estimate", "low", "high", "n", "null_low", "null_high"]]
