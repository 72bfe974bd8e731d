"""Experiment 1 of Javed et al.: online prediction on the trace patterning stream.

One function, :func:`run_trace_patterning`, runs one learner on one seed and returns its
learning curve; it is the unit of every sweep and figure of the chapter (it has the
``fn(config, seed) -> {"metrics", "arrays"}`` shape that :mod:`rlinside.sweep` runs).

The error reported is the paper's eq. (1) over consecutive windows: the mean squared
difference between the prediction the learner *made at step t while learning* and the exact
return ``G_t``, averaged over ``bin_steps`` steps. A seed fixes both the stream (which
patterns are positive, every ISI/ITI) and the learner's initial weights: by default (the
paper's protocol, and every run shipped before the split) the stream and the initialisation
both use the seed itself; with ``config["separate_streams"] = True`` they come from two
independent children of it (:func:`rlinside.seeds.streams`, ``"env"`` and ``"init"``), so a
change of network does not change the data it sees (:func:`stream_seed`, :func:`init_seed`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

import numpy as np

from rlinside import seeds
from rlinside.envs.trace_patterning import TracePatterningConfig, TracePatterningStream
from rlinside.rtrl.learner import RTRLConfig, StagedRTRL
from rlinside.rtrl.tbptt import TBPTTConfig, TBPTTLearner

__all__ = ["RTRL_METHODS", "METHODS", "make_learner", "run_trace_patterning", "EXPERIMENT_VERSION", "stream_seed",
           "init_seed"]

RTRL_METHODS = ("columnar", "constructive", "hybrid")
METHODS = RTRL_METHODS + ("tbptt",)

#: Bump when the meaning of a result changes (learner maths, error definition): stored sweep
#: results of an older version are then no longer picked up.
EXPERIMENT_VERSION = 1

_RUN_KEYS = {"method", "n_steps", "bin_steps", "chunk", "task", "separate_streams"}


def _split(seed: int) -> dict[str, int]:
    gen = seeds.streams(seed, ["env", "init"])
    return {name: int(g.integers(1 << 31)) for name, g in gen.items()}


def stream_seed(config: Mapping[str, Any], seed: int) -> int:
    """The seed of the trace patterning stream of a run with ``seed``: the seed itself, or
    with ``separate_streams`` a draw from its ``"env"`` stream."""
    return _split(seed)["env"] if config.get("separate_streams") else int(seed)


def init_seed(config: Mapping[str, Any], seed: int) -> int:
    """The seed of the learner's initial weights: the seed itself, or with
    ``separate_streams`` a draw from its ``"init"`` stream."""
    return _split(seed)["init"] if config.get("separate_streams") else int(seed)


def make_learner(config: Mapping[str, Any], n_inputs: int, seed: int):
    """Build the learner named by ``config["method"]`` from the remaining keys.

    RTRL methods take :class:`~rlinside.rtrl.learner.RTRLConfig` fields, ``"tbptt"`` takes
    :class:`~rlinside.rtrl.tbptt.TBPTTConfig` fields; an unknown key is an error that lists
    the allowed ones.
    """
    method = config.get("method")
    if method not in METHODS:
        raise ValueError(f"method={method!r}: must be one of {METHODS}")
    params = {k: v for k, v in config.items() if k not in _RUN_KEYS}
    if method == "tbptt":
        cls, learner_cls = TBPTTConfig, TBPTTLearner
    else:
        cls, learner_cls = RTRLConfig, StagedRTRL
        params["method"] = method
    allowed = {f.name for f in fields(cls)}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(
            f"unknown {method} learner parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)} "
            f"plus run keys {sorted(_RUN_KEYS)}"
        )
    return learner_cls(cls(**params), n_inputs, seed)


def run_trace_patterning(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Run one learner for ``config["n_steps"]`` steps of the trace patterning stream.

    ``config``: ``method``, ``n_steps``, ``bin_steps`` (steps per curve point, default
    n_steps/100), ``chunk`` (steps per numba call, default 100k), optional ``task`` (a dict of
    :class:`TracePatterningConfig` overrides), and the learner's own parameters.

    Returns ``{"metrics": {...}, "arrays": {"error": (n_bins,), "step": (n_bins,),
    "return_var": (n_bins,), "stage_boundaries": (S,)}}``; metrics: ``final_error`` (mean
    over the last 10 % of bins), ``mean_error`` (over the whole run), ``steps``,
    ``n_params``.
    """
    n_steps = int(config["n_steps"])
    if n_steps < 1:
        raise ValueError(f"n_steps={n_steps}: must be >= 1")
    bin_steps = int(config.get("bin_steps") or max(1, n_steps // 100))
    if bin_steps < 1 or bin_steps > n_steps:
        raise ValueError(f"bin_steps={bin_steps}: must be in [1, n_steps={n_steps}]")
    chunk = int(config.get("chunk") or 100_000)
    chunk = max(bin_steps, (chunk // bin_steps) * bin_steps)  # whole bins per chunk
    task = TracePatterningConfig(**dict(config.get("task") or {}))
    stream = TracePatterningStream(task, seed=stream_seed(config, seed))
    learner = make_learner(config, task.n_inputs, init_seed(config, seed))

    n_bins = n_steps // bin_steps
    err = np.empty(n_bins)
    var = np.empty(n_bins)
    b = 0
    done = 0
    while b < n_bins:
        n = min(chunk, (n_bins - b) * bin_steps)
        x, G = stream.sample(n)
        y = learner.learn(x)
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise FloatingPointError(
                f"{config.get('method')} diverged at step {done + bad} (prediction not finite); "
                f"try a smaller step_size than {config.get('step_size')}"
            )
        k = n // bin_steps
        sq = ((y - G) ** 2).reshape(k, bin_steps)
        err[b:b + k] = sq.mean(1)
        var[b:b + k] = G.reshape(k, bin_steps).var(1)
        b += k
        done += n
    tail = max(1, n_bins // 10)
    bounds = learner.stage_boundaries(n_steps) if hasattr(learner, "stage_boundaries") else np.zeros(0)
    return {
        "metrics": {
            "final_error": float(err[-tail:].mean()),
            "mean_error": float(err.mean()),
            "steps": int(n_bins * bin_steps),
            "n_params": int(learner.n_params),
        },
        "arrays": {
            "error": err,
            "step": (np.arange(n_bins) + 1) * bin_steps,
            "return_var": var,
            "stage_boundaries": np.asarray(bounds, dtype=np.int64),
        },
    }
