"""Sweeps over (function, configuration, seed) on dask.distributed, resumable through the store.

A sweep runs ``fn(config, seed) -> {"metrics": {...scalars}, "arrays": {name: ndarray}}`` for
every configuration of a grid and every seed. Each (configuration, seed) result is written to
the artifact store (:mod:`rlinside.store`) *as soon as it completes*, under the kind
``sweep-<name>`` and the key of ``{"function", "config", "seed"}``. Running the same sweep
again skips every task whose result is already stored, so a killed sweep resumes where it
stopped. A task that raises is reported with its configuration and traceback; the others
finish.

Where the tasks run:

- ``scheduler=None``: a ``dask.distributed.LocalCluster`` with one single-threaded worker
  process per core (``workers`` overrides the count);
- ``scheduler="tcp://host:8786"``: an existing cluster (for SLURM, start one with
  ``dask_jobqueue.SLURMCluster`` and pass its ``scheduler_address``);
- ``scheduler="synchronous"``: in this process, one task after the other (tests, debugging).

The results are written by the client, so workers need no shared file system.

The paper's tuning protocol (Javed et al., Appendix A) is :func:`select_and_rerun`: sweep the
grid on a few seeds, pick the configuration with the best mean of a metric, rerun it on more
seeds.
"""

from __future__ import annotations

import importlib
import io
import itertools
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import yaml

from rlinside import seeds, store

__all__ = [
    "SweepSpec",
    "TaskResult",
    "SweepReport",
    "grid",
    "load_spec",
    "run_sweep",
    "load_results",
    "select_and_rerun",
    "resolve_function",
]


def resolve_function(ref: str | Callable) -> tuple[str, Callable]:
    """``"package.module:function"`` -> (ref, function). Callables are returned with their ref."""
    if callable(ref):
        return f"{ref.__module__}:{ref.__qualname__}", ref
    if not isinstance(ref, str) or ":" not in ref:
        raise ValueError(f"function must be 'package.module:function', got {ref!r}")
    mod, name = ref.split(":", 1)
    try:
        fn = getattr(importlib.import_module(mod), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import sweep function {ref!r}: {e}") from e
    return ref, fn


def grid(base: Mapping[str, Any], axes: Mapping[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``axes`` on top of ``base`` (axis order kept, last axis fastest).

    An axis may be a list of dicts (e.g. paired features:truncation), each merged in whole.
    """
    names = list(axes)
    out = []
    for combo in itertools.product(*(list(axes[n]) for n in names)):
        cfg = dict(base)
        for n, v in zip(names, combo):
            if isinstance(v, Mapping):
                cfg.update(v)
            else:
                cfg[n] = v
        out.append(cfg)
    return out


@dataclass
class SweepSpec:
    """A sweep as written in a YAML file (see ``sweeps/*.yml``)."""

    name: str
    function: str
    version: str | int
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    select_metric: str | None = None
    minimize: bool = True
    rerun_seeds: list[int] = field(default_factory=list)
    reuse_tuning_seeds: bool = False  #: the named variant whose rerun seeds include the tuning seeds

    def configs(self) -> list[dict[str, Any]]:
        return grid(self.base, self.grid) if self.grid else [dict(self.base)]


def _yaml_error(path: Path, e: yaml.YAMLError) -> ValueError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    context = getattr(e, "context", None)
    return ValueError(f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else ""))


def _seed_list(path: Path, key: str, value: Any, allow_empty: bool) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < (0 if allow_empty else 1):
            raise ValueError(f"{path}: {key} must be a positive count or a list of seeds, got {value!r}")
        return list(range(value))
    if (not isinstance(value, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                               for s in value) or (not value and not allow_empty)):
        raise ValueError(f"{path}: {key} must be a {'' if allow_empty else 'non-empty '}list of "
                         f"non-negative integers or a count, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{path}: {key} repeats a seed: {value!r}")
    return list(value)


def load_spec(path: str | Path, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """Read and validate a sweep YAML file; ``overrides`` replace keys of ``base``.

    Every fault is a ValueError that names the file (and, for YAML syntax, line and column)
    and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep file {path}")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise _yaml_error(path, e) from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a text file ({e.reason})") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: a sweep file is a mapping of keys (name, function, ...), "
                         f"got a {type(doc).__name__}")
    allowed = {"name", "function", "version", "base", "grid", "seeds", "select"}
    unknown = set(doc) - allowed
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(allowed)}")
    for key in ("name", "function", "version", "seeds"):
        if key not in doc:
            raise ValueError(f"{path}: missing required key '{key}'")
    if not isinstance(doc["name"], str) or not doc["name"]:
        raise ValueError(f"{path}: name must be a non-empty string, got {doc['name']!r}")
    if not isinstance(doc["version"], (str, int)) or isinstance(doc["version"], bool):
        raise ValueError(f"{path}: version must be a string or an integer, got {doc['version']!r}")
    seeds = _seed_list(path, "seeds", doc["seeds"], allow_empty=False)
    sel = doc.get("select") or {}
    if not isinstance(sel, dict):
        raise ValueError(f"{path}: select must be a mapping (metric, minimize, rerun_seeds), got {sel!r}")
    bad_sel = set(sel) - {"metric", "minimize", "rerun_seeds", "reuse_tuning_seeds"}
    if bad_sel:
        raise ValueError(f"{path}: unknown keys {sorted(map(str, bad_sel))} in select; allowed: "
                         "metric, minimize, rerun_seeds, reuse_tuning_seeds")
    if "reuse_tuning_seeds" in sel and not isinstance(sel["reuse_tuning_seeds"], bool):
        raise ValueError(f"{path}: select.reuse_tuning_seeds must be true or false")
    if "metric" in sel and not isinstance(sel["metric"], str):
        raise ValueError(f"{path}: select.metric must be a metric name, got {sel['metric']!r}")
    if "minimize" in sel and not isinstance(sel["minimize"], bool):
        raise ValueError(f"{path}: select.minimize must be true or false, got {sel['minimize']!r}")
    rerun = _seed_list(path, "select.rerun_seeds", sel.get("rerun_seeds", []), allow_empty=True)
    try:
        resolve_function(doc["function"])
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    base = doc.get("base") or {}
    grid_ = doc.get("grid") or {}
    for key, value in (("base", base), ("grid", grid_)):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must be a mapping of configuration keys, got {value!r}")
    for axis, values in grid_.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid axis '{axis}' must be a non-empty list of values, got {values!r}")
    base = dict(base)
    base.update(overrides or {})
    return SweepSpec(
        name=doc["name"], function=doc["function"], version=doc["version"], base=base,
        grid=dict(grid_), seeds=seeds, select_metric=sel.get("metric"),
        minimize=bool(sel.get("minimize", True)), rerun_seeds=rerun,
        reuse_tuning_seeds=bool(sel.get("reuse_tuning_seeds", False)),
    )


@dataclass
class TaskResult:
    config: dict[str, Any]
    seed: int
    status: str  #: "done" (found in the store), "ran", or "failed"
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    error: str | None = None
    wall_time_s: float = 0.0

    def arrays(self) -> dict[str, np.ndarray]:
        if self.path is None:
            return {}
        with np.load(self.path / "arrays.npz") as z:
            return {k: z[k] for k in z.files}


@dataclass
class SweepReport:
    name: str
    results: list[TaskResult]

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "ran": 0, "failed": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        lines = [f"sweep {self.name}: {len(self.results)} tasks, {c['done']} already stored, "
                 f"{c['ran']} ran, {c['failed']} failed"]
        for r in self.failed:
            lines.append(f"--- FAILED config={json.dumps(r.config, sort_keys=True)} seed={r.seed}\n{r.error}")
        return "\n".join(lines)


def _kind(name: str) -> str:
    k = "sweep-" + "".join(ch if ch.isalnum() else "-" for ch in name.lower())
    return k


def _task_config(fn_ref: str, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    return {"function": fn_ref, "config": dict(config), "seed": int(seed)}


def _call(fn: Callable, config: dict, seed: int) -> tuple[str, Any, float]:
    """Run one task, never raising: ("ok", result, wall) or ("error", traceback, wall)."""
    t0 = time.perf_counter()
    try:
        res = fn(dict(config), int(seed))
        return "ok", res, time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - report, don't stop the sweep
        return "error", traceback.format_exc(), time.perf_counter() - t0


def _persist(kind: str, version, fn_ref: str, config: dict, seed: int, res: Any, wall: float,
             command: str | None) -> TaskResult:
    if not isinstance(res, Mapping):
        raise TypeError(f"sweep function must return a dict with 'metrics' and 'arrays', got {type(res).__name__}")
    metrics = dict(res.get("metrics") or {})
    arrays = {k: np.asarray(v) for k, v in (res.get("arrays") or {}).items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    art = store.save(kind, _task_config(fn_ref, config, seed), version,
                     {"arrays.npz": buf.getvalue()}, metrics=metrics, command=command,
                     wall_time_s=round(wall, 3))
    return TaskResult(config=config, seed=seed, status="ran", metrics=metrics, path=art.path,
                      wall_time_s=wall)


def _lookup(kind: str, version, fn_ref: str, config: dict, seed: int) -> TaskResult | None:
    try:
        art = store.load(kind, _task_config(fn_ref, config, seed), version)
    except store.ArtifactError as e:
        if str(e).startswith("no artifact"):
            return None
        raise
    return TaskResult(config=config, seed=seed, status="done", metrics=dict(art.metrics), path=art.path,
                      wall_time_s=art.manifest.get("wall_time_s") or 0.0)


def run_sweep(
    function: str | Callable,
    configs: list[Mapping[str, Any]],
    seeds: Iterable[int],
    *,
    name: str,
    version: str | int,
    scheduler: str | None = None,
    workers: int | None = None,
    command: str | None = None,
    progress: bool = True,
    on_result: Callable[[TaskResult], None] | None = None,
) -> SweepReport:
    """Run every (config, seed) not yet in the store; persist each result as it completes."""
    fn_ref, fn = resolve_function(function)
    kind = _kind(name)
    seeds = [int(s) for s in seeds]
    tasks = [(dict(c), s) for c in configs for s in seeds]
    results: list[TaskResult] = []
    todo = []
    for cfg, seed in tasks:
        found = _lookup(kind, version, fn_ref, cfg, seed)
        if found is not None:
            results.append(found)
        else:
            todo.append((cfg, seed))
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=f"sweep {name}", unit="task")

    def finish(cfg, seed, status, payload, wall):
        if status == "ok":
            try:
                r = _persist(kind, version, fn_ref, cfg, seed, payload, wall, command)
            except Exception:  # noqa: BLE001
                r = TaskResult(config=cfg, seed=seed, status="failed", error=traceback.format_exc(), wall_time_s=wall)
        else:
            r = TaskResult(config=cfg, seed=seed, status="failed", error=payload, wall_time_s=wall)
        results.append(r)
        if on_result:
            on_result(r)
        if bar is not None:
            bar.update(1)

    try:
        if not todo:
            pass
        elif scheduler == "synchronous":
            for cfg, seed in todo:
                finish(cfg, seed, *_call(fn, cfg, seed))
        else:
            from dask.distributed import Client, LocalCluster, as_completed

            cluster = None
            if scheduler is None:
                n = workers or os.cpu_count() or 1
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
                client = Client(cluster)
            else:
                client = Client(scheduler)
            try:
                futs = {}
                for cfg, seed in todo:
                    f = client.submit(_call, fn, cfg, seed, pure=False)
                    futs[f] = (cfg, seed)
                for f in as_completed(futs):
                    cfg, seed = futs[f]
                    try:
                        status, payload, wall = f.result()
                    except Exception:  # noqa: BLE001 - a worker died
                        status, payload, wall = "error", traceback.format_exc(), 0.0
                    finish(cfg, seed, status, payload, wall)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    finally:
        if bar is not None:
            bar.close()
    order = {(json.dumps(c, sort_keys=True), s): i for i, (c, s) in enumerate(tasks)}
    results.sort(key=lambda r: order.get((json.dumps(r.config, sort_keys=True), r.seed), 0))
    return SweepReport(name=name, results=results)


def load_results(function: str | Callable, configs: list[Mapping[str, Any]], seeds: Iterable[int], *,
                 name: str, version: str | int) -> list[TaskResult]:
    """The stored results of a sweep (missing tasks are left out)."""
    fn_ref, _ = resolve_function(function)
    kind = _kind(name)
    out = []
    for c in configs:
        for s in seeds:
            r = _lookup(kind, version, fn_ref, dict(c), int(s))
            if r is not None:
                out.append(r)
    return out


def _mean_metric(results: list[TaskResult], metric: str) -> dict[str, float]:
    by: dict[str, list[float]] = {}
    for r in results:
        if r.status == "failed":
            continue
        if metric not in r.metrics:
            raise KeyError(f"metric '{metric}' not in the results; have: {sorted(r.metrics)}")
        by.setdefault(json.dumps(r.config, sort_keys=True), []).append(float(r.metrics[metric]))
    return {k: float(np.mean(v)) for k, v in by.items()}


def select_and_rerun(
    spec: SweepSpec,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    command: str | None = None,
    progress: bool = True,
) -> tuple[SweepReport, dict[str, Any] | None, SweepReport | None]:
    """The paper's protocol: sweep the grid on ``spec.seeds``, pick the configuration with the
    best mean ``spec.select_metric``, rerun it on ``spec.rerun_seeds``.

    Returns (tuning report, best config or None, rerun report or None).
    """
    tuning = run_sweep(spec.function, spec.configs(), spec.seeds, name=spec.name, version=spec.version,
                       scheduler=scheduler, workers=workers, command=command, progress=progress)
    if not spec.select_metric:
        return tuning, None, None
    seeds.check_disjoint(spec.seeds, spec.rerun_seeds, what=f"sweep {spec.name}", allow_reuse=spec.reuse_tuning_seeds)
    means = _mean_metric(tuning.results, spec.select_metric)
    if not means:
        return tuning, None, None
    pick = (min if spec.minimize else max)(means, key=means.get)
    best = json.loads(pick)
    rerun = None
    if spec.rerun_seeds:
        rerun = run_sweep(spec.function, [best], spec.rerun_seeds, name=spec.name, version=spec.version,
                          scheduler=scheduler, workers=workers, command=command, progress=progress)
    return tuning, best, rerun


def demo_task(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A tiny deterministic task for tests and examples: a noisy quadratic in ``x``.

    ``config``: ``x`` (float), optional ``sleep`` (seconds), optional ``fail`` (bool: raise).
    """
    if config.get("fail"):
        raise RuntimeError(f"demo task asked to fail (x={config.get('x')}, seed={seed})")
    if config.get("sleep"):
        time.sleep(float(config["sleep"]))
    rng = np.random.default_rng(seed)
    x = float(config.get("x", 0.0))
    curve = (x - 1.0) ** 2 + 0.01 * rng.standard_normal(10)
    return {"metrics": {"final": float(curve[-1])}, "arrays": {"curve": curve}}
