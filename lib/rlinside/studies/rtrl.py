"""The chapter's studies: tune each learner as the paper does, rerun the best, collect curves.

Javed et al. (Appendix A) tune every method separately: each configuration of a small grid
(step size, epsilon, truncation) runs on a few seeds, the configuration with the lowest
error averaged over those seeds wins, and the winner is rerun on more seeds for the figure.
:func:`tune_and_run` does exactly that for several learners at once, on Dask through
:mod:`rlinside.sweep`, so every (configuration, seed) result lands in the artifact store the
moment it finishes and is reused by every later figure that needs it.

A configuration that diverges on any tuning seed (non-finite prediction) is out of the
running; the tuning table says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from rlinside import seeds, sweep
from rlinside.envs.trace_patterning import TracePatterningConfig, TracePatterningStream
from rlinside.rtrl.experiment import EXPERIMENT_VERSION, make_learner, stream_seed

__all__ = ["LearnerSpec", "StudyResult", "tune_and_run", "SWEEP_NAME", "FUNCTION", "ATARI_SWEEP_NAME",
           "ATARI_FUNCTION", "measure_step_time",
           "final_errors", "trivial_errors", "oracle_errors",
           "oracle_prediction", "tbptt_gradient_bias", "ATARI_PAPER_TBPTT", "ATARI_TBPTT_READINGS",
           "atari_tbptt_labels", "run_atari_game",
           "best_tbptt", "relative_errors", "average_relative", "win_share_draws", "atari_tbptt_budget",
           "PROTOCOLS", "Protocol", "trace_protocol",
           "gap_fraction", "winners_table", "stage_end_errors", "constructive_variants", "run_variants",
           "tradeoff_measurements", "tradeoff_table", "atari_table", "ablation_curves", "ATARI_ABLATION_TBPTT",
           "atari_streams", "agent_comparison", "stage_step_effect", "stage_step_contrast", "stage_grid",
           "figure4_specs", "grid_edges"]

SWEEP_NAME = "rtrl-trace-patterning"
FUNCTION = "rlinside.rtrl.experiment:run_trace_patterning"
ATARI_SWEEP_NAME = "rtrl-atari"
ATARI_FUNCTION = "rlinside.rtrl.atari:run_atari_prediction"


@dataclass
class LearnerSpec:
    """One curve of a figure: a label, the fixed part of its config, and the grid to tune."""

    label: str
    base: dict[str, Any]
    grid: dict[str, list[Any]] = field(default_factory=dict)

    def configs(self) -> list[dict[str, Any]]:
        return sweep.grid(self.base, self.grid) if self.grid else [dict(self.base)]


@dataclass
class StudyResult:
    label: str
    best: dict[str, Any] | None
    step: np.ndarray  #: (n_bins,) step at the end of each bin
    curves: np.ndarray  #: (n_seeds, n_bins) error per bin of the best config
    stage_boundaries: np.ndarray  #: (S,) steps at which stages begin
    tuning: pd.DataFrame  #: one row per tuned config: its grid values, mean final error, status
    wall_time_s: float  #: summed wall time of every run behind this curve (tuning + final)
    #: other per-seed arrays that every run returned, stacked
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    #: the other arrays of the first report seed's run, including those only it keeps (the Atari
    #: runs' last predictions and returns: shipped for seed 0 only, ``scripts/drop_arrays.py``)
    first: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def mean(self) -> np.ndarray:
        return self.curves.mean(0)

    @property
    def sem(self) -> np.ndarray:
        n = self.curves.shape[0]
        return self.curves.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(self.curves.shape[1])


def _key(cfg: Mapping[str, Any]) -> str:
    return json.dumps(dict(cfg), sort_keys=True)


def tune_and_run(
    specs: list[LearnerSpec],
    *,
    tune_seeds: list[int],
    final_seeds: list[int],
    scheduler: str | None = None,
    workers: int | None = None,
    metric: str = "final_error",
    progress: bool = True,
    command: str | None = None,
    reuse_tuning_seeds: bool = False,
    final_groups: tuple[tuple[str, ...], ...] | list = (),
    function: str = FUNCTION,
    name: str = SWEEP_NAME,
    version: int = EXPERIMENT_VERSION,
) -> tuple[dict[str, StudyResult], sweep.SweepReport]:
    """Tune every spec on ``tune_seeds``, rerun each winner on ``final_seeds``.

    Returns the per-label results and the report of the tuning sweep (its failures: diverged
    or crashed configurations, with their tracebacks). ``command`` is recorded in every stored
    result's manifest as the command that made it. Tuning and final seeds must be disjoint
    (:mod:`rlinside.seeds`) unless ``reuse_tuning_seeds`` names the variant that reuses them.
    ``function``, ``name``, ``version``: the sweep's unit (default: trace patterning; the
    Atari benchmark passes :data:`ATARI_FUNCTION`, :data:`ATARI_SWEEP_NAME`).

    ``final_groups``: groups of labels of which only one reruns on ``final_seeds``, the label
    whose winner has the lowest mean tuning error (a tie goes to the first). The others keep
    their winner and tuning table, with no report runs (empty curves). Figure 4's paper profile
    passes its T-BPTT splits, so that of eight splits only the one plotted runs on 30 seeds.
    """
    seeds.check_disjoint(tune_seeds, final_seeds, what="tune_and_run", allow_reuse=reuse_tuning_seeds)
    labels = [s.label for s in specs]
    for g in final_groups:
        unknown = [lab for lab in g if lab not in labels]
        if unknown or not g:
            raise ValueError(f"final_groups: {list(g)!r} must be a nonempty group of the specs' labels {labels}; "
                             f"unknown: {unknown}")
    all_cfgs: list[dict[str, Any]] = []
    owner: dict[str, str] = {}
    for s in specs:
        for c in s.configs():
            if _key(c) not in owner:
                all_cfgs.append(c)
                owner[_key(c)] = s.label
    tuning = sweep.run_sweep(function, all_cfgs, tune_seeds, name=name, version=version,
                             scheduler=scheduler, workers=workers, progress=progress, command=command)
    by_cfg: dict[str, list[sweep.TaskResult]] = {}
    for r in tuning.results:
        by_cfg.setdefault(_key(r.config), []).append(r)

    best: dict[str, dict[str, Any] | None] = {}
    tables: dict[str, pd.DataFrame] = {}
    for s in specs:
        rows = []
        for c in s.configs():
            rs = by_cfg.get(_key(c), [])
            ok = [r for r in rs if r.status != "failed"]
            diverged = len(ok) < len(rs)
            val = float(np.mean([r.metrics[metric] for r in ok])) if ok and not diverged else float("inf")
            rows.append({**{k: c[k] for k in s.grid}, f"mean {metric}": val,
                         "status": "diverged/failed" if diverged else "ok", "_cfg": c})
        df = pd.DataFrame(rows)
        finite = df[np.isfinite(df[f"mean {metric}"])]
        best[s.label] = None if finite.empty else finite.loc[finite[f"mean {metric}"].idxmin(), "_cfg"]
        tables[s.label] = df.drop(columns="_cfg")

    skip: set[str] = set()
    for g in final_groups:  # only the group's label with the lowest tuning error reruns
        tuned = {lab: float(tables[lab][f"mean {metric}"].min()) for lab in g}
        keep = min(g, key=lambda lab: tuned[lab])
        skip.update(lab for lab in g if lab != keep)
    # two labels may share a winner
    winners = list({_key(c): c for lab, c in best.items() if c is not None and lab not in skip}.values())
    final = sweep.run_sweep(function, winners, final_seeds, name=name, version=version,
                            scheduler=scheduler, workers=workers, progress=progress, command=command)
    out: dict[str, StudyResult] = {}
    for s in specs:
        c = best[s.label]
        runs = [r for r in final.results if c is not None and s.label not in skip
                and _key(r.config) == _key(c) and r.status != "failed"]
        runs = list({r.seed: r for r in runs}.values())  # one run per seed
        tuned_wall = sum(r.wall_time_s for cfg in s.configs() for r in by_cfg.get(_key(cfg), []))
        if not runs:
            out[s.label] = StudyResult(s.label, c, np.zeros(0), np.zeros((0, 0)), np.zeros(0, dtype=np.int64),
                                       tables[s.label], tuned_wall)
            continue
        arrs = [r.arrays() for r in runs]
        own = ("error", "step", "stage_boundaries", "return_var")
        out[s.label] = StudyResult(
            label=s.label,
            best=c,
            step=arrs[0]["step"],
            curves=np.stack([a["error"] for a in arrs]),
            stage_boundaries=arrs[0]["stage_boundaries"],
            tuning=tables[s.label],
            wall_time_s=tuned_wall + sum(r.wall_time_s for r in runs),
            extra={k: np.stack([a[k] for a in arrs]) for k in arrs[0] if k not in own and all(k in a for a in arrs)},
            first={k: v for k, v in arrs[0].items() if k not in own},
        )
    return out, tuning


PROTOCOLS = ("paper", "disjoint")


@dataclass(frozen=True)
class Protocol:
    """How a trace patterning figure chooses and reports its runs (:func:`trace_protocol`)."""

    name: str
    tune_seeds: list[int]
    report_seeds: list[int]
    reuse_tuning_seeds: bool  #: the paper's variant: the tuning seeds are among the report seeds
    run_keys: dict[str, Any]  #: added to every run's config (the seeding of stream and network)
    tune_epsilon_everywhere: bool  #: epsilon tuned for every learner that normalises its features

    def describe(self) -> str:
        if self.reuse_tuning_seeds:
            return (f"the paper's protocol: tuned on report seeds {self.tune_seeds[0]}..{self.tune_seeds[-1]}, "
                    f"reported on {self.report_seeds[0]}..{self.report_seeds[-1]}, one seed for stream and network")
        return (f"tuned on seeds {self.tune_seeds[0]}..{self.tune_seeds[-1]}, reported on the disjoint seeds "
                f"{self.report_seeds[0]}..{self.report_seeds[-1]}, separate stream and network seeds")


def stage_grid(steps_per_stage: int, factors: list[float],
               features_per_stage: list[int] | None = None) -> dict[str, list[int]]:
    """The schedule part of a staged learner's tuning grid: ``steps_per_stage`` times each of
    ``factors`` (rounded to whole steps) and, for hybrid, each of ``features_per_stage``.

    A dimension with one value is left out, so the default (``factors=[1.0]``, one feature
    count) adds nothing and every configuration, and so every stored run, stays as it was.
    """
    if not factors or any(not f > 0 for f in factors):
        raise ValueError(f"factors must be a nonempty list of numbers > 0, got {factors!r}")
    grid: dict[str, list[int]] = {}
    steps = sorted({max(1, int(round(steps_per_stage * f))) for f in factors})
    if steps != [steps_per_stage]:
        grid["steps_per_stage"] = steps
    if features_per_stage is not None and len(set(features_per_stage)) > 1:
        grid["features_per_stage"] = sorted(set(int(k) for k in features_per_stage))
    return grid


def figure4_specs(common: Mapping[str, Any], proto: Protocol, *, step_sizes: list[float], epsilons: list[float],
                  tbptt_splits: list[str], steps_per_stage: tuple[int, int], stage_factors: list[float],
                  hybrid_stage_features: list[int]) -> tuple[list[LearnerSpec], tuple[str, ...], str]:
    """Figure 4's learners and their tuning grids: ``(specs, T-BPTT labels, hybrid label)``.

    ``common``: the keys every run shares (steps, bins, optimizer, the protocol's run keys).
    Columnar tunes the step size (and ε under a protocol that tunes it everywhere); constructive
    and hybrid the step size, ε and their schedule (:func:`stage_grid`: ``steps_per_stage`` =
    (constructive, hybrid) times each of ``stage_factors``, and the hybrid's features per stage);
    each T-BPTT split ``"d:k"`` the step size. The hybrid's label names its features per stage
    when one value is tried ("hybrid 20/4"), else "hybrid 20".
    """
    c_steps, h_steps = steps_per_stage
    tb_labels = tuple(f"T-BPTT {dk}" for dk in tbptt_splits)
    hy = f"hybrid 20/{hybrid_stage_features[0]}" if len(set(hybrid_stage_features)) == 1 else "hybrid 20"
    tuned = {"step_size": step_sizes, "epsilon": epsilons}
    specs = [
        LearnerSpec("columnar 5", dict(common, method="columnar", n_features=5),
                    {"step_size": step_sizes, **({"epsilon": epsilons} if proto.tune_epsilon_everywhere else {})}),
        LearnerSpec("constructive 10", dict(common, method="constructive", n_features=10, steps_per_stage=c_steps),
                    {**tuned, **stage_grid(c_steps, stage_factors)}),
        LearnerSpec(hy, dict(common, method="hybrid", n_features=20, features_per_stage=hybrid_stage_features[0],
                             steps_per_stage=h_steps),
                    {**tuned, **stage_grid(h_steps, stage_factors, hybrid_stage_features)}),
        *[LearnerSpec(lab, dict(common, method="tbptt", n_features=int(d), truncation=int(k)),
                      {"step_size": step_sizes})
          for lab, (d, k) in zip(tb_labels, (dk.split(":") for dk in tbptt_splits))],
    ]
    return specs, tb_labels, hy


def trace_protocol(name: str, tune_seeds: int, n_seeds: int) -> Protocol:
    """The named protocol of the trace patterning figures.

    ``"paper"`` (Javed et al.'s Appendix A, and the runs shipped before the disjoint protocol):
    tuning seeds ``0 .. tune_seeds - 1`` are also report seeds, a seed drives both the stream and
    the initial weights, epsilon is tuned for constructive and hybrid only (Table 1).
    ``"disjoint"`` (PROTOCOL.md): tuning seeds from :data:`rlinside.seeds.TUNING`, report seeds
    from :data:`rlinside.seeds.REPORT`, stream and initial weights from separate children of
    the seed (``separate_streams``), epsilon tuned for every normalising learner.
    """
    if name not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {name!r}")
    if name == "paper":
        return Protocol(name, list(range(tune_seeds)), list(range(n_seeds)), True, {}, False)
    return Protocol(name, seeds.TUNING.take(tune_seeds), seeds.REPORT.take(n_seeds), False,
                    {"separate_streams": True}, True)


def gap_fraction(errors: Mapping[int, float], trivial: Mapping[int, float],
                 oracle: Mapping[int, float]) -> dict[int, float]:
    """Per seed, where a final error sits between the two reference lines:
    ``(error - oracle) / (trivial - oracle)``, 1 at the trivial predictor, 0 at the oracle."""
    return {i: (errors[i] - oracle[i]) / (trivial[i] - oracle[i])
            for i in errors if i in trivial and i in oracle and trivial[i] > oracle[i]}


def winners_table(results: Mapping[str, StudyResult], trivial: Mapping[int, float],
                  oracle: Mapping[int, float]) -> pd.DataFrame:
    """One row per learner: its winning grid values (step size, ε, and a staged learner's
    schedule: steps and features per stage), mean final error over the report seeds, the
    fraction of the trivial-to-oracle gap left (:func:`gap_fraction`), seeds, and the compute
    time of all its runs (tuning and report)."""
    rows = []
    keys = ("step_size", "epsilon", "steps_per_stage", "features_per_stage")
    for r in results.values():
        best = {k: r.best[k] for k in keys if r.best and r.best.get(k) is not None}
        fin = final_errors(r)
        gap = gap_fraction(fin, trivial, oracle)
        rows.append({"learner": r.label, **best, "winner at a grid edge": grid_edges(r),
                     "final error (mean over seeds)": float(np.mean(list(fin.values()))) if fin else np.nan,
                     "fraction of the trivial-oracle gap left": float(np.mean(list(gap.values()))) if gap else np.nan,
                     "seeds": r.curves.shape[0], "compute time of all runs [s]": round(r.wall_time_s, 1)})
    return pd.DataFrame(rows)


def grid_edges(result: StudyResult) -> str:
    """Which tuned settings of ``result``'s winner lie at an end of the values tried, e.g.
    ``"step_size (lowest)"``; "" when every one is interior or was not tuned (one value). A
    winner at an edge says the grid may not contain the best setting (Appendix A's ranges are
    then to be extended)."""
    if not result.best or result.tuning is None or result.tuning.empty:
        return ""
    out = []
    for k in ("step_size", "epsilon", "steps_per_stage", "features_per_stage"):
        if k not in result.tuning.columns or result.best.get(k) is None:
            continue
        tried = sorted(set(result.tuning[k].dropna()))
        if len(tried) < 2:
            continue
        v = result.best[k]
        if v == tried[0]:
            out.append(f"{k} (lowest)")
        elif v == tried[-1]:
            out.append(f"{k} (highest)")
    return ", ".join(out)


def stage_end_errors(error: np.ndarray, step: np.ndarray, boundaries: np.ndarray,
                     fraction: float = 0.1) -> np.ndarray:
    """The error at the end of each stage of one run: the mean over the last ``fraction`` of
    the stage's bins (at least one). ``error, step``: a run's curve; ``boundaries``: the steps
    at which its later stages begin (the learner's ``stage_boundaries``: the first stage begins
    at 0 and is not listed); the last stage ends with the run."""
    starts = [0, *(int(b) for b in np.asarray(boundaries, dtype=np.int64) if b > 0)]
    ends = starts[1:] + [int(step[-1])]
    out = []
    for a, b in zip(starts, ends):
        idx = np.flatnonzero((step > a) & (step <= b))
        if idx.size == 0:
            out.append(np.nan)
            continue
        tail = max(1, int(round(idx.size * fraction)))
        out.append(float(error[idx[-tail:]].mean()))
    return np.array(out)


def _stage_geometry(result: StudyResult, window: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(stage starts, bin end steps, stage length, window in steps)`` of a staged result."""
    bounds = np.asarray(result.stage_boundaries, dtype=np.int64)
    step = np.asarray(result.step)
    stage = int(bounds[0]) if bounds.size == 1 else int(np.min(np.diff(np.concatenate([[0], bounds]))))
    return bounds, step, stage, max(int(round(window * stage)), int(step[0]))


def _second_difference(row: np.ndarray, step: np.ndarray, b: int, w: int) -> float:
    """``[e(b - w .. b) - e(b .. b + w)] - [e(b - 2w .. b - w) - e(b - w .. b)]`` of one curve
    (``e(a .. b)``: mean error of the bins ending in ``(a, b]``); NaN outside the curve."""
    if b - 2 * w < 0 or b + w > step[-1]:
        return float("nan")

    def mean_in(a: int, c: int) -> float:
        m = (step > a) & (step <= c)
        return float(row[m].mean()) if m.any() else float("nan")

    return (mean_in(b - w, b) - mean_in(b, b + w)) - (mean_in(b - 2 * w, b - w) - mean_in(b - w, b))


def stage_step_effect(result: StudyResult, window: float = 0.25) -> dict[int, float]:
    """Per report seed (keyed as :func:`final_errors`), how much faster the error falls just
    after a stage begins than just before: for each stage boundary ``b`` (the same steps on
    every seed, as the schedule is fixed) with a window ``W`` of ``window`` times the stage
    length, ``[e(b - W .. b) - e(b .. b + W)] - [e(b - 2W .. b - W) - e(b - W .. b)]``, where
    ``e(a .. b)`` is the mean error of the bins ending in ``(a, b]``; averaged over the
    boundaries. Positive: the curve steps down when new features start (Figure 4's reading).

    On its own this second difference is negative on any curve that flattens as it learns,
    stages or not; :func:`stage_step_contrast` is the claims' statistic."""
    if result.curves.size == 0 or len(result.stage_boundaries) == 0:
        return {}
    bounds, step, _, w = _stage_geometry(result, window)
    out = {}
    for i, row in enumerate(result.curves):
        effects = [e for e in (_second_difference(row, step, int(b), w) for b in bounds) if np.isfinite(e)]
        if effects:
            out[i] = float(np.mean(effects))
    return out


def stage_step_contrast(result: StudyResult, window: float = 0.25) -> dict[int, float]:
    """Per report seed, :func:`stage_step_effect`'s second difference at each stage start ``b``
    minus the mean of the same statistic half a stage before and half a stage after ``b``, on
    the same curve, averaged over the stage starts where all three fit in the run. The second
    difference alone is negative wherever a learning curve flattens; at the mid-stage points no
    stage starts, and they bracket ``b`` so that a smoothly flattening curve gives about 0 (its
    curvature cancels to first order). Positive: the error falls faster after a stage start."""
    if result.curves.size == 0 or len(result.stage_boundaries) == 0:
        return {}
    bounds, step, stage, w = _stage_geometry(result, window)
    half = stage // 2
    out = {}
    for i, row in enumerate(result.curves):
        c = [_second_difference(row, step, int(b), w)
             - 0.5 * (_second_difference(row, step, int(b) - half, w) + _second_difference(row, step, int(b) + half, w))
             for b in bounds]
        c = [v for v in c if np.isfinite(v)]
        if c:
            out[i] = float(np.mean(c))
    return out


def constructive_variants(base: Mapping[str, Any], *, stage_lengths: list[int], betas: list[float],
                          epsilons: list[float], feature_counts: list[int], step_sizes: list[float],
                          bins_per_stage: int = 20) -> dict[str, dict[str, Any]]:
    """The configurations of the constructive diagnosis: ``base`` (a constructive config with
    ``n_features``, ``steps_per_stage``, ``step_size``, ``epsilon``, ``beta``) and one factor
    changed at a time. Every run is ``n_features * steps_per_stage`` steps long, so every
    feature gets a whole stage, with ``bins_per_stage`` curve points per stage."""

    def cfg(**change: Any) -> dict[str, Any]:
        c = {**base, **change}
        c["n_steps"] = int(c["n_features"]) * int(c["steps_per_stage"])
        c["bin_steps"] = max(1, int(c["steps_per_stage"]) // bins_per_stage)
        return c

    out = {"base": cfg()}
    for n in stage_lengths:
        out.setdefault(f"stage length {n:,}", cfg(steps_per_stage=int(n)))
    for b in betas:
        out.setdefault(f"beta {b:g}", cfg(beta=float(b)))
    for e in epsilons:
        out.setdefault(f"epsilon {e:g}", cfg(epsilon=float(e)))
    for d in feature_counts:
        out.setdefault(f"{d} features", cfg(n_features=int(d)))
    for a in step_sizes:
        out.setdefault(f"step size {a:g}", cfg(step_size=float(a)))
    out["frozen statistics"] = cfg(freeze_stage_statistics=True)
    # a label whose config equals the base's (a level that is the base's own) is the base
    return {lab: c for lab, c in out.items() if lab == "base" or _key(c) != _key(out["base"])}


def run_variants(variants: Mapping[str, Mapping[str, Any]], report_seeds: list[int], *,
                 scheduler: str | None = None, workers: int | None = None, command: str | None = None,
                 progress: bool = False) -> pd.DataFrame:
    """Run every variant on every report seed (stored like every trace patterning run) and
    return one row per (variant, seed): the final error (last 10 % of the run) and the error
    at the end of each stage (columns ``stage 1`` ...)."""
    report = sweep.run_sweep(FUNCTION, list(variants.values()), report_seeds, name=SWEEP_NAME,
                             version=EXPERIMENT_VERSION, scheduler=scheduler, workers=workers,
                             progress=progress, command=command)
    rows = []
    for lab, c in variants.items():
        for r in report.results:
            if _key(r.config) != _key(c) or r.status == "failed":
                continue
            a = r.arrays()
            ends = stage_end_errors(a["error"], a["step"], a["stage_boundaries"])
            rows.append({"variant": lab, "seed": r.seed, "final error": r.metrics["final_error"],
                         **{f"stage {i + 1}": v for i, v in enumerate(ends)}})
    return pd.DataFrame(rows)


def tradeoff_table(results: Mapping[str, StudyResult], fig5: list[str], fig6: list[str]) -> pd.DataFrame:
    """One row per T-BPTT configuration of Figures 5 and 6: its split, the paper's FLOP
    estimate, the step size chosen on the tuning seeds, and the final error over the report
    seeds (mean and standard error)."""
    from rlinside.rtrl.flops import tbptt_flops

    rows = []
    for lab in fig5 + fig6:
        r = results[lab]
        d, k = r.best["n_features"], r.best["truncation"]
        fin = np.array(list(final_errors(r).values()))
        rows.append({"figure": "5" if lab in fig5 else "6", "d:k": f"{d}:{k}",
                     "FLOPs/step (paper's formula)": tbptt_flops(d, 7, k), "best step size": r.best["step_size"],
                     "final error": fin.mean() if fin.size else np.nan,
                     "sem": fin.std(ddof=1) / np.sqrt(fin.size) if fin.size > 1 else np.nan})
    return pd.DataFrame(rows)


def tradeoff_measurements(results: Mapping[str, StudyResult], fig5: list[str], fig6: list[str], isi_low: int,
                          scale: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claims of Figures 5 and 6 (``fig5``: labels ``"d:k"``; ``fig6``: labels ``"k=K"``),
    measured per report seed with :func:`rlinside.claims.measure`:

    - ``rtrl.short_window_worst``: 13:2's final error minus the median of the other splits';
    - ``rtrl.longer_window_helps``: k = 2 minus k = 20 with the fixed feature count;
    - ``rtrl.ex3`` (Exercise 3): the best final error of the splits whose window is shorter
      than ``isi_low``, relative to the best of those that reach it, minus 1.
    """
    from rlinside import claims

    fin = {lab: final_errors(results[lab]) for lab in fig5 + fig6}
    others = [lab for lab in fig5 if lab != "13:2"]
    short = {i: v - np.median([fin[o][i] for o in others]) for i, v in fin.get("13:2", {}).items()}
    out = [claims.measure("rtrl.short_window_worst", short.values(), scale=scale).to_dict(),
           claims.measure("rtrl.longer_window_helps",
                          claims.paired_differences(fin.get("k=2", {}), fin.get("k=20", {})), scale=scale).to_dict()]
    truncation = {lab: int(lab.split(":")[1]) for lab in fig5}
    reach = [lab for lab in fig5 if truncation[lab] >= isi_low and fin.get(lab)]
    short_k = [lab for lab in fig5 if truncation[lab] < isi_low and fin.get(lab)]
    units = sorted(set.intersection(*(set(fin[lab]) for lab in reach + short_k))) if reach and short_k else []
    gap = [(min(fin[lab][i] for lab in short_k) - min(fin[lab][i] for lab in reach))
           / min(fin[lab][i] for lab in reach) for i in units]  # relative to the best split that reaches the gap
    means = {lab: float(np.mean(list(fin[lab].values()))) for lab in fig5 if fin.get(lab)}
    out.append(claims.measure("rtrl.ex3", gap, scale=scale, details={
        "isi_low": isi_low, "reach": ", ".join(reach), "short": ", ".join(short_k),
        "best_short": min(short_k, key=means.get) if short_k else "",
        "best_reach": min(reach, key=means.get) if reach else "",
        "best_overall": min(means, key=means.get) if means else "",
        "errors": ", ".join(f"{lab} {v:.4f}" for lab, v in means.items())}).to_dict())
    return out


def measure_step_time(config: Mapping[str, Any], n_steps: int = 200_000, seed: int = 0, repeats: int = 3) -> float:
    """Seconds per learning step of ``config`` on the trace patterning stream (best of ``repeats``).

    The stream is generated beforehand; only ``learner.learn`` is timed. The first call
    compiles the numba kernels and is not counted.
    """
    task = TracePatterningConfig(**dict(config.get("task") or {}))
    x, _ = TracePatterningStream(task, seed=seed).sample(n_steps)
    make_learner(config, task.n_inputs, seed).learn(x[:100])  # compile
    best = float("inf")
    for _ in range(repeats):
        learner = make_learner(config, task.n_inputs, seed)
        t0 = time.perf_counter()
        learner.learn(x)
        best = min(best, time.perf_counter() - t0)
    return best / n_steps


def final_errors(result: StudyResult, fraction: float = 0.1) -> dict[int, float]:
    """Final error per report seed of a curve: the mean over its last ``fraction`` of bins
    (at least one), keyed by the seed's position in the run's report seeds (row ``i`` of
    ``result.curves``), so that two learners run on the same seeds pair up."""
    if result.curves.size == 0:
        return {}
    tail = max(1, int(round(result.curves.shape[1] * fraction)))
    return {i: float(v) for i, v in enumerate(result.curves[:, -tail:].mean(1))}


def trivial_errors(seeds_: list[int], n_steps: int = 1_000_000,
                   config: TracePatterningConfig | None = None, *, separate_streams: bool = False) -> dict[int, float]:
    """The error of the trivial predictor, which predicts the mean return at every step: the
    variance of the return ``G_t`` over ``n_steps`` steps of each seed's stream, keyed by the
    seed's position (as :func:`final_errors`). A learner's error near this level has learned
    nothing about which patterns are followed by the US. ``separate_streams``: the stream seed
    of runs made with that option (:func:`rlinside.rtrl.experiment.stream_seed`)."""
    cfg = config or TracePatterningConfig()
    out = {}
    for i, s in enumerate(seeds_):
        _, G, _ = TracePatterningStream(cfg, seed=stream_seed({"separate_streams": separate_streams}, s)).next(n_steps)
        out[i] = float(np.var(G))
    return out


def _oracle_tables(cfg: TracePatterningConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``E[G_t]`` by the state of the trial at ``t`` (see :func:`oracle_prediction`): arrays
    over ``tau`` for a negative pattern and for a positive one before its US, and over
    ``(isi, tau)`` for a positive one after its US at ``isi``."""
    g = cfg.gamma
    isi = np.arange(cfg.isi_low, cfg.isi_high + 1)[:, None]
    iti = np.arange(cfg.iti_low, cfg.iti_high + 1)[None, :]
    length = isi + iti  # trial length: the next CS comes at onset + isi + iti
    p_next = cfg.n_positive / cfg.n_patterns  # the next pattern is positive
    next_us = np.mean(g ** (isi[:, 0] - 1))  # E[gamma^(ISI' - 1)]: the next trial's US, from its onset
    # every later trial too: trial lengths are independent, so the trials after the next one
    # add a geometric series in E[gamma^L]
    next_us /= 1.0 - np.mean(g ** length.astype(float))
    n_tau = int(length.max())
    neg, pos = np.zeros(n_tau), np.zeros(n_tau)
    seen = np.zeros((cfg.isi_high + 1, n_tau))
    for tau in range(n_tau):
        # the next trial's US, ``length - tau + ISI' - 1`` steps after t, over the (isi, iti)
        # still possible; G_t counts cumulants from t + 1
        later = p_next * next_us * g ** (length - tau).astype(float)
        ok = length > tau
        neg[tau] = later[ok].mean() if ok.any() else 0.0
        live = np.broadcast_to(isi > tau, length.shape)
        if live.any():
            cur = np.broadcast_to(g ** (isi - tau - 1.0), length.shape)
            pos[tau] = (cur + later)[live].mean()
        for k in range(cfg.isi_low, min(tau, cfg.isi_high) + 1):  # US seen at isi = k <= tau
            ok_k = (isi[:, 0] == k)[:, None] & ok
            seen[k, tau] = later[ok_k].mean() if ok_k.any() else 0.0
    return neg, pos, seen


def oracle_prediction(stream: TracePatterningStream, x: np.ndarray, trial: np.ndarray) -> np.ndarray:
    """The prediction of an oracle that knows which patterns are positive and the ISI and ITI
    distributions, for the first steps ``x, trial`` of a stream (:meth:`TracePatterningStream.next`
    called once, from the stream's start): ``E[G_t | history]``.

    The state of step ``t`` is the pattern of the trial under way (positive or not), the steps
    ``tau`` since its onset and, for a positive one, the step ``isi`` its US came at, if it has
    come. The oracle averages the return over the ``(ISI, ITI)`` still possible: for a positive
    pattern before its US, ISI uniform on ``{max(isi_low, tau + 1) .. isi_high}``, whose US
    adds ``gamma^(ISI - tau - 1)`` (``G_t`` counts cumulants from ``t + 1``); and for every
    state, the next trial's US (its pattern positive with probability ``n_positive /
    n_patterns``), which begins ``ISI + ITI - tau`` steps ahead, over the trial lengths still
    possible (longer than ``tau``), and every trial after it (independent lengths ``L``: a
    factor ``1 / (1 - E[gamma^L])``). So the oracle's prediction is the exact conditional mean,
    and its squared error the Bayes error given the history (up to the float64 return's own
    truncation, below 1e-17).
    """
    cfg = stream.config
    neg, pos, seen_table = _oracle_tables(cfg)
    steps = np.arange(len(x))
    onset = np.maximum.accumulate(np.where(trial >= 0, steps, -1))  # last CS onset at or before t
    begun = onset >= 0
    start = np.maximum(onset, 0)
    tau = np.minimum(steps - onset, len(neg) - 1)
    positive = begun & stream.positive[np.where(begun, trial[start], 0)]
    us = x[:, cfg.n_cs] > 0
    us_count = np.cumsum(us)
    seen = us_count - us_count[start] > 0  # a US in (onset, t]
    us_tau = np.maximum.accumulate(np.where(us, steps, -1)) - onset  # steps from onset to the latest US
    y = np.zeros(len(x))
    m = begun & ~positive
    y[m] = neg[tau[m]]
    m = positive & ~seen
    y[m] = pos[tau[m]]
    m = positive & seen
    y[m] = seen_table[us_tau[m], tau[m]]
    # before the first CS (first_cs > 0): the first trial's US lies first_cs + ISI - t - 1 ahead
    if (~begun).any():
        isi = np.arange(cfg.isi_low, cfg.isi_high + 1)
        t0 = steps[~begun]
        y[~begun] = cfg.n_positive / cfg.n_patterns * np.mean(
            cfg.gamma ** (cfg.first_cs + isi[None, :] - t0[:, None] - 1.0), axis=1)
    return y


def oracle_errors(seeds_: list[int], n_steps: int = 1_000_000,
                  config: TracePatterningConfig | None = None, *, separate_streams: bool = False) -> dict[int, float]:
    """The mean squared error of :func:`oracle_prediction` over ``n_steps`` steps of each
    seed's stream, keyed by the seed's position (as :func:`final_errors`): the best error a
    learner can reach once it knows the positive patterns (the other reference line)."""
    cfg = config or TracePatterningConfig()
    out = {}
    for i, s in enumerate(seeds_):
        stream = TracePatterningStream(cfg, seed=stream_seed({"separate_streams": separate_streams}, s))
        x, G, trial = stream.next(n_steps)
        y = oracle_prediction(stream, x, trial)
        out[i] = float(np.mean((y - G) ** 2))
    return out


def tbptt_gradient_bias(n_features: int = 10, truncations: tuple[int, ...] = (1, 2, 3, 5, 10, 15, 20, 30),
                        *, train_steps: int = 1_000_000, step_size: float = 3e-4, train_truncation: int = 20,
                        n_targets: int = 300, context: int = 300, seed: int = 0) -> pd.DataFrame:
    """How far the truncated gradient is from the exact one, on the trace patterning task.

    A T-BPTT learner of ``n_features`` features is trained (truncation ``train_truncation``,
    RMSProp, ``train_steps`` steps of the seed's stream); then, on the ``n_targets`` steps of the
    stream that follow, the gradient of its prediction with respect to the LSTM's weights
    (the readout excluded: it is exact at any ``k``) is computed with every truncation ``k`` and
    without truncation, over the ``context`` steps before the target (the LSTM starts there
    from a zero state; with ``context`` above the longest trial, about 150 steps, the state has
    forgotten that start). The same is done for the untrained network (the learner's
    initial weights, read through the trained readout, since its own starts at zero). One row
    per (network, target, k): the steps since the last CS onset,
    the cosine similarity of the truncated and the exact gradient, and the relative error
    ``|g_k - g| / |g|``."""
    from rlinside.rtrl.tbptt import TBPTTConfig, TBPTTLearner, truncated_gradient

    cfg = TracePatterningConfig()
    stream = TracePatterningStream(cfg, seed=seed)
    learner = TBPTTLearner(TBPTTConfig(n_features=n_features, truncation=train_truncation, step_size=step_size,
                                       optimizer="rmsprop", cumulant_index=cfg.n_cs), cfg.n_inputs, seed)
    untrained = learner.params()
    for x, _ in stream.chunks(train_steps):
        learner.learn(x)
    trained = learner.params()
    # the untrained LSTM read through the trained readout (its own readout starts at 0)
    nets = {"untrained": untrained._replace(w=trained.w, b_out=trained.b_out), "trained": trained}
    x, _, trial = stream.next(context + n_targets)
    onset = np.flatnonzero(trial >= 0)
    rows = []

    def lstm_part(p) -> np.ndarray:
        return np.concatenate([p.W.ravel(), p.U.ravel(), p.b.ravel()])

    for name, params in nets.items():
        for t in range(context, context + n_targets):
            seq = x[t - context:t + 1]
            exact = lstm_part(truncated_gradient(params, seq, context + 1))
            before = onset[onset <= t]
            since = int(t - before[-1]) if before.size else -1
            ne = float(np.linalg.norm(exact))
            for k in truncations:
                g = lstm_part(truncated_gradient(params, seq, int(k)))
                ng = float(np.linalg.norm(g))
                rows.append({"network": name, "target": t, "since_cs": since, "k": int(k),
                             "cosine": float(g @ exact / (ng * ne)) if ng > 0 and ne > 0 else np.nan,
                             "relative_error": float(np.linalg.norm(g - exact) / ne) if ne > 0 else np.nan})
    return pd.DataFrame(rows)


#: the paper's T-BPTT configurations of the Atari benchmark (Table 1), as (truncation k, features d),
#: by how its pairs are read: as labelled (truncation:features), or as features:truncation, the
#: reading under which all five cost about the same (:func:`atari_tbptt_budget`)
ATARI_TBPTT_READINGS = {"truncation:features": ((15, 2), (8, 5), (5, 8), (4, 10), (2, 25)),
                        "features:truncation": ((2, 15), (5, 8), (8, 5), (10, 4), (25, 2))}
ATARI_TBPTT = ATARI_TBPTT_READINGS["truncation:features"]


def atari_tbptt_labels(reading: str = "truncation:features") -> tuple[str, ...]:
    """The labels (``T-BPTT k:d``, truncation first) of Table 1's five Atari pairs under ``reading``."""
    if reading not in ATARI_TBPTT_READINGS:
        raise ValueError(f"reading must be one of {sorted(ATARI_TBPTT_READINGS)}, got {reading!r}")
    return tuple(f"T-BPTT {k}:{d}" for k, d in ATARI_TBPTT_READINGS[reading])


def atari_specs(game: str, agent_key: str, *, n_steps: int, step_sizes: list[float], epsilons: list[float],
                bin_steps: int, tbptt: tuple[tuple[int, int], ...] = ATARI_TBPTT,
                extra_tbptt: tuple[tuple[int, int], ...] = ()) -> list[LearnerSpec]:
    """The Atari benchmark's learners for one game (the paper's Table 1, schedules scaled to
    ``n_steps``: a constructive feature every 10 % of the run, a hybrid stage of 5 features
    every 32 %, as 5M and 16M of 50M steps). ``extra_tbptt``: more (k, d) pairs, for the
    ablation of Figure 9. Labels: ``columnar 7``, ``constructive 10``, ``hybrid 20/5``,
    ``T-BPTT k:d``."""
    common = dict(game=game, agent_key=agent_key, n_steps=n_steps, bin_steps=bin_steps, optimizer="rmsprop",
                  gamma=0.98)
    rtrl_grid = {"step_size": step_sizes, "epsilon": epsilons}
    specs = [
        LearnerSpec("columnar 7", dict(common, method="columnar", n_features=7), rtrl_grid),
        LearnerSpec("constructive 10", dict(common, method="constructive", n_features=10,
                                            steps_per_stage=max(1, n_steps // 10)), rtrl_grid),
        LearnerSpec("hybrid 20/5", dict(common, method="hybrid", n_features=20, features_per_stage=5,
                                        steps_per_stage=max(1, round(n_steps * 16 / 50))), rtrl_grid),
    ]
    pairs = list(dict.fromkeys(tuple(p) for p in (*tbptt, *extra_tbptt)))
    specs += [LearnerSpec(f"T-BPTT {k}:{d}", dict(common, method="tbptt", n_features=d, truncation=k),
                          {"step_size": step_sizes}) for k, d in pairs]
    return specs



def atari_frame(game: str, steps: int = 150, seed: int = 20_000, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A frame of ``game`` as the agents see it (the newest 84 x 84 grey frame, after ``steps``
    random actions from a seeded start) and the same frame at ``size`` x ``size``, downscaled as
    the benchmark's streams are (``cv2.INTER_AREA``): Figure 10's two rows."""
    import cv2

    from rlinside.envs.atari import make_atari_env

    env = make_atari_env(game, seed=seed, frame_stack=1, training=False)
    try:
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(steps):
            obs, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
            if term or trunc:
                obs, _ = env.reset(seed=seed + 1)
    finally:
        env.close()
    full = np.asarray(obs)[-1]
    return full, cv2.resize(full, (size, size), interpolation=cv2.INTER_AREA)


ATARI_PAPER_TBPTT = tuple(f"T-BPTT {k}:{d}" for k, d in ATARI_TBPTT)
#: Figure 9's extra T-BPTT configurations (k:d): truncation 8 with 2..15 features, 8 features with truncation 2..15
ATARI_ABLATION_TBPTT = ((8, 2), (8, 3), (8, 5), (8, 10), (8, 15), (2, 8), (3, 8), (10, 8), (15, 8))


def run_atari_game(game: str, agent_key: str, *, n_steps: int, step_sizes: list[float], epsilons: list[float],
                   bin_steps: int, tune_seeds: list[int], final_seeds: list[int],
                   extra_tbptt: tuple[tuple[int, int], ...] = (), scheduler: str | None = None,
                   workers: int | None = None, command: str | None = None,
                   tbptt_reading: str = "truncation:features") -> dict[str, StudyResult]:
    """Tune and run every learner of :func:`atari_specs` on the stream of ``agent_key`` for
    ``game`` (stored per (configuration, seed), so a rerun resumes); Table 1's T-BPTT pairs read
    as ``tbptt_reading`` (:data:`ATARI_TBPTT_READINGS`)."""
    atari_tbptt_labels(tbptt_reading)  # checks the reading
    specs = atari_specs(game, agent_key, n_steps=n_steps, step_sizes=step_sizes, epsilons=epsilons,
                        bin_steps=bin_steps, tbptt=ATARI_TBPTT_READINGS[tbptt_reading], extra_tbptt=extra_tbptt)
    results, _ = tune_and_run(specs, tune_seeds=tune_seeds, final_seeds=final_seeds, scheduler=scheduler,
                              workers=workers, progress=False, command=command, function=ATARI_FUNCTION,
                              name=ATARI_SWEEP_NAME)
    return results


def atari_streams(games: list[str], second_stream: str = "") -> tuple[dict, dict, pd.DataFrame]:
    """The shipped streams of ``games`` (each game's default agent) and, for ``second_stream``
    (``"GAME:AGENT"``, or ``""``), that game's default stream and the named agent's
    (``{"default": ..., "second": ...}``); with a table of every stream's agent, its score against
    random play and its length. A second stream that is the game's default is an error."""
    from rlinside.agents.streams import load_stream

    streams = {g: load_stream(g)[1] for g in games}
    second = {}
    if second_stream:
        g2, agent2 = second_stream.split(":")
        second = {"default": streams.get(g2) or load_stream(g2)[1], "second": load_stream(g2, agent=agent2)[1]}
        if second["default"].key == second["second"].key:
            raise ValueError(f"second_stream={second_stream!r} is {g2}'s default stream; name another agent")
    table = pd.DataFrame([
        {"game": a.config["game"], "agent": a.config["agent"], "agent key": a.config["agent_key"],
         "agent score": a.metrics.get("agent_eval_mean"), "random play": a.metrics.get("agent_random_mean"),
         "stream steps": a.metrics["steps"], "games in stream": a.metrics["games"]}
        for a in {x.key: x for x in [*streams.values(), *second.values()]}.values()])
    return streams, second, table


def agent_comparison(second: Mapping[str, Any], results: Mapping[str, Mapping[str, StudyResult]],
                     run: Mapping[str, Any], fraction: float) -> dict[str, dict[int, float]]:
    """Per stream of :func:`atari_streams`'s ``second`` (``"default"``, ``"second"``) and report
    seed, hybrid's final error relative to the best T-BPTT of the same stream; the default
    stream's runs are reused from ``results`` when its game is there, the others run with the
    settings ``run`` of :func:`run_atari_game`."""
    game = second["default"].config["game"]
    out = {}
    for which, art in second.items():
        res = results[game] if which == "default" and game in results else run_atari_game(
            game, art.config["agent_key"], **run)
        fin = {lab: final_errors(r, fraction) for lab, r in res.items()}
        labels = atari_tbptt_labels(run.get("tbptt_reading", "truncation:features"))
        out[which] = relative_errors(fin["hybrid 20/5"], fin[best_tbptt(res, labels)])
    return out


def atari_table(fin: Mapping[str, Mapping[str, Mapping[int, float]]], results: Mapping[str, Mapping[str, StudyResult]],
                best: Mapping[str, str]) -> pd.DataFrame:
    """One row per (game, learner) of the Atari benchmark: the mean final error over report
    seeds, whether it is the game's best T-BPTT, the learner's tuned values, and which of them
    sit at an edge of the grid tried (:func:`grid_edges`)."""
    rows = []
    for g, by_learner in fin.items():
        for lab, f in by_learner.items():
            rows.append({"game": g, "learner": lab, "final error": np.mean(list(f.values())) if f else np.nan,
                         "best T-BPTT": lab == best[g], **(results[g][lab].best or {}),
                         "winner at a grid edge": grid_edges(results[g][lab])})
    return pd.DataFrame(rows)


def ablation_curves(fin: Mapping[str, Mapping[str, Mapping[int, float]]], games: list[str], values=(2, 3, 5, 10, 15),
                    fixed: int = 8) -> tuple[dict[int, float], dict[int, float], list[float]]:
    """Figure 9 (labels ``"T-BPTT k:d"``): the error with ``fixed`` truncation and ``d``
    features, relative to ``d = 15`` (per game, then averaged), by ``d``; the same with
    ``fixed`` features by truncation ``k``; and per report seed the capacity effect minus the
    truncation effect (2 -> 15 features against 2 -> 15 truncation, ratios averaged over games),
    the quantity of ``rtrl.atari.capacity_over_truncation``."""
    def mean_of(g: str, lab: str) -> float:
        return float(np.mean(list(fin[g][lab].values())))

    top = max(values)
    feat = {d: float(np.mean([mean_of(g, f"T-BPTT {fixed}:{d}") / mean_of(g, f"T-BPTT {fixed}:{top}") for g in games]))
            for d in values}
    trunc = {k: float(np.mean([mean_of(g, f"T-BPTT {k}:{fixed}") / mean_of(g, f"T-BPTT {top}:{fixed}") for g in games]))
             for k in values}
    low = min(values)
    used = (f"T-BPTT {fixed}:{low}", f"T-BPTT {fixed}:{top}", f"T-BPTT {low}:{fixed}", f"T-BPTT {top}:{fixed}")
    seeds_ = sorted(set.intersection(*(set(fin[g][lab]) for g in games for lab in used)))  # seeds every run has
    diff = [float(np.mean([fin[g][f"T-BPTT {fixed}:{low}"][i] / fin[g][f"T-BPTT {fixed}:{top}"][i] for g in games])
                  - np.mean([fin[g][f"T-BPTT {low}:{fixed}"][i] / fin[g][f"T-BPTT {top}:{fixed}"][i] for g in games]))
            for i in seeds_]
    return feat, trunc, diff


def best_tbptt(results: Mapping[str, StudyResult], labels: tuple[str, ...] = ATARI_PAPER_TBPTT) -> str:
    """The T-BPTT configuration among ``labels`` with the lowest mean error on the tuning seeds
    (never the report seeds: choosing the reference on the data it is compared on would favour
    it)."""
    tuned = {lab: float(results[lab].tuning["mean final_error"].min()) for lab in labels}
    return min(tuned, key=tuned.get)


def relative_errors(errors: Mapping[int, float], reference: Mapping[int, float]) -> dict[int, float]:
    """Per seed, ``errors / reference`` for the seeds both have (and a positive reference)."""
    return {i: errors[i] / reference[i] for i in errors if i in reference and reference[i] > 0}


def atari_tbptt_budget(fin: Mapping[str, Mapping[str, Mapping[int, float]]],
                       results: Mapping[str, Mapping[str, StudyResult]], games: list[str], *,
                       n_inputs: int = 277, band: float = 0.25,
                       reading: str = "truncation:features") -> tuple[pd.DataFrame, dict[int, float]]:
    """How much the paper's Table 1 Atari row depends on its reading. We run its pairs as
    truncation:features (its label); read as features:truncation instead, all five cost about the
    same (the paper's "about 50k" per step). Returns a table of the T-BPTT configurations with
    their FLOPs per step under both readings (the paper's formula,
    :func:`rlinside.rtrl.flops.tbptt_flops`) as a share of hybrid's (20 features, 5 per stage),
    and per report seed hybrid's error relative to the best T-BPTT among those within ``band``
    of its FLOPs as run (chosen on the tuning seeds), averaged over ``games``: the comparison at
    matched compute that the shipped runs allow. ``reading``: how the runs read the pairs
    (:data:`ATARI_TBPTT_READINGS`); the table's second FLOPs column is the other reading."""
    from rlinside.rtrl.flops import method_flops, tbptt_flops

    learner = "hybrid 20/5"
    ref = method_flops("hybrid", 20, n_inputs, features_per_stage=5)
    atari_tbptt_labels(reading)  # checks the reading
    rows = []
    for k, d in ATARI_TBPTT_READINGS[reading]:
        run, other = tbptt_flops(d, n_inputs, k), tbptt_flops(k, n_inputs, d)
        rows.append({"T-BPTT": f"T-BPTT {k}:{d}", "truncation k": k, "features d": d, "FLOPs as run": run,
                     "share of " + learner: round(run / ref, 2), "FLOPs, the other reading": other,
                     "share, that reading": round(other / ref, 2), "matched": abs(run / ref - 1) <= band})
    table = pd.DataFrame(rows)
    matched = tuple(table.loc[table["matched"], "T-BPTT"])
    best = {g: best_tbptt(results[g], matched) for g in games}
    return table, average_relative(fin, best, learner, games)


def win_share_draws(ratio: Mapping[str, Mapping[int, float]], games: list[str], draws: int = 4000,
                    seed: int = 0) -> np.ndarray:
    """Bootstrap draws of the share of ``games`` on which a learner's mean relative error (over
    report seeds) is below 1: in each draw every game's seeds are resampled with replacement,
    on their own (each game's runs are independent). The games stay fixed: the claim is about
    these games, so the seeds carry the uncertainty, and a game whose mean sits near 1 adds
    it. ``ratio``: per game, per seed, the relative error (:func:`relative_errors`)."""
    rng = np.random.default_rng(seed)
    wins = np.zeros((int(draws), len(games)))
    for j, g in enumerate(games):
        v = np.asarray([ratio[g][i] for i in sorted(ratio[g])], dtype=np.float64)
        if v.size == 0:
            raise ValueError(f"game {g!r} has no report seed")
        wins[:, j] = v[rng.integers(0, v.size, (int(draws), v.size))].mean(axis=1) < 1
    return wins.mean(axis=1)


def average_relative(fin: Mapping[str, Mapping[str, Mapping[int, float]]], best: Mapping[str, str], label: str,
                     games: list[str]) -> dict[int, float]:
    """Per report seed, ``label``'s error relative to the best T-BPTT of the same game and
    seed, averaged over ``games``; only seeds every game has (Figure 8's quantity)."""
    rel = [relative_errors(fin[g][label], fin[g][best[g]]) for g in games]
    shared = set.intersection(*(set(r) for r in rel)) if rel else set()
    return {i: float(np.mean([r[i] for r in rel])) for i in sorted(shared)}
