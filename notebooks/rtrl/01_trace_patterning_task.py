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
# # The trace patterning task
#
# This notebook regenerates **Figure 3** of Javed et al., *Online real-time recurrent
# learning using sparse connections and selective learning*: the stream of experience of the
# trace patterning task drawn as an image over time, with the discounted return the learner
# must predict underneath.
#
# Every step the learner sees seven numbers. The first six are the conditional stimulus
# (CS): all zero, or exactly three of them equal to one, which gives twenty possible
# patterns. Half of the patterns (a random half, fixed by the seed) are followed, after an
# inter-stimulus interval (ISI), by the unconditional stimulus (US), the seventh input. The
# next CS arrives an inter-trial interval (ITI) after the US slot. The US is also the
# cumulant: the target at step $t$ is $G_t = \sum_{j>t} \gamma^{j-t-1} c_j$ with
# $\gamma = 0.9$. To predict well, a learner must remember which pattern it saw up to 26 steps
# earlier: a memory problem that RTRL and T-BPTT solve in different ways.
#
# The generator lives in `rlinside.envs.trace_patterning`; this notebook only draws it.

# %% tags=["parameters"]
seed: int = 0  # seed of the stream: which 10 patterns are positive, and the ISI/ITI draws | [0, 2_147_483_647]
n_steps_small: int = 40  # steps drawn in the illustrative setting (ISI 3, ITI 7), as in the paper | [1, 10_000]
n_steps: int = 700  # steps drawn in the task's real setting (ISI 14..26, ITI 80..120) | [1, 1_000_000]
n_stats_steps: int = 200000  # steps used for the stream statistics table | [1, 10_000_000]
gamma: float = 0.9  # discount of the return to predict | [0, 1)

# %%
import pandas as pd

from rlinside.envs.trace_patterning import (
                  TracePatterningConfig,
                  TracePatterningStream,
                  stream_statistics,
)
from rlinside.plots import publish, set_theme
from rlinside.plots.streams import plot_stream

set_theme()
labels = [f"CS {i + 1}" for i in range(6)] + ["US"]

# %% [markdown]
# ## The illustrative setting (ISI 3, ITI 7)
#
# The paper draws a toy version of the stream so that a few trials fit on a page: the first
# CS at step 4, the US three steps later, then seven empty steps before the next CS. Whether a
# given CS is followed by the US depends on the pattern, so the second trial below may or may
# not end with a US: that depends on the seed.

# %%
small = TracePatterningConfig(isi_low=3, isi_high=3, iti_low=7, iti_high=7, first_cs=4, gamma=gamma)
x_small, g_small = TracePatterningStream(small, seed=seed).sample(n_steps_small)
fig = plot_stream(x_small, g_small, feature_labels=labels,
                  title="Trace patterning, illustrative setting (ISI 3, ITI 7)",
                  target_label=r"$G_t$")
publish("trace_patterning_small", fig,
        "Figure 3 (reproduced), illustrative setting: inputs over time (black = 1) and the exact "
        "discounted return below.")

# %% [markdown]
# ## The setting used in the experiments (ISI 14..26, ITI 80..120)
#
# With the real intervals the stream is mostly empty: one CS roughly every 120 steps. The
# return rises geometrically (factor $1/\gamma$ per step) in the steps before each US, and
# stays flat at nearly zero after a CS that is not followed by one: that difference is what the
# learner must predict from a pattern seen up to 26 steps before.

# %%
full = TracePatterningConfig(gamma=gamma)
x_full, g_full = TracePatterningStream(full, seed=seed).sample(n_steps)
fig = plot_stream(x_full, g_full, feature_labels=labels,
                  title="Trace patterning, experimental setting (ISI 14..26, ITI 80..120)",
                  target_label=r"$G_t$")
publish("trace_patterning_full", fig,
        f"The stream at the paper's intervals, first {n_steps} steps of seed {seed}.")

# %% [markdown]
# ## Does the stream follow the specification?
#
# Counted over a long stretch of the same seed: twenty patterns appear about equally often,
# ten of them are positive, the CS-to-US gap stays in 14..26 and the gap between onsets in
# ISI + ITI = 94..146. The test suite checks the same numbers (`tests/test_trace_patterning.py`).

# %%
stats = stream_statistics(full, seed, n_stats_steps)
pd.DataFrame([stats]).T.rename(columns={0: "value"})
