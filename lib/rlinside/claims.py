"""Computed verdicts: claims declared once, measured by notebooks, judged by one rule.

PROTOCOL.md in code. A **claim** is declared once, in ``notebooks/<chapter>/claims.yml``::

    claims:
      - id: rtrl.hybrid_beats_tbptt
        statement: Hybrid networks reach a lower final error than T-BPTT at equal compute.
        where: Figure 4, Sec. 5
        quantity: final error of T-BPTT minus hybrid, paired by seed
        unit: seed
        comparison: {greater: 0}
        min_scale: {steps: 50000000, seeds: 10}
        notebook: rtrl/02_learning_curves

A notebook **measures** it: :func:`measure` takes the per-unit values (one per seed, state,
episode or test), computes the estimate and a 95 % bootstrap interval
(:func:`scipy.stats.bootstrap`, BCa), stores the scale that produced them and, when the
notebook runs under ``rlinside run``, records the measurement next to the executed notebook
(``<name>.claims.json``). Two methods that share seeds are compared by their per-seed
differences (:func:`paired_differences`), so the interval is paired.

The **verdict** is computed by :func:`verdict`, one rule for every claim of the book:

- *not tested*: no measurement, fewer than two units, or a scale below the claim's
  ``min_scale`` (each key, e.g. ``steps`` or ``seeds``, must reach its minimum);
- *supported*: the interval lies on the claimed side of the threshold;
- *contradicted*: the interval lies on the other side;
- *inconclusive*: the interval straddles the threshold.

Comparisons: ``{greater: t}`` / ``{less: t}`` (the threshold ``t``); ``{within: x, rel: r}``
(the band ``x (1 +- r)``, or ``abs:`` for an absolute half-width: supported inside, contradicted
when the interval misses the band); ``{greater_than_null: true}`` / ``{less_than_null: true}``:
the threshold is the null model's 97.5 % (2.5 %) quantile, so an effect that a shuffled or
time-shifted control also reaches is not evidence. The rule and worked examples are on the
book's *How a verdict is reached* page.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "VERDICTS",
    "bootstrap_ci",
    "interval_table",
    "Claim",
    "Measurement",
    "ClaimError",
    "load_claims",
    "measure",
    "paired_differences",
    "exchangeable_null",
    "verdict",
    "read_measurements",
    "claims_table",
    "markdown_table",
    "CLAIMS_ENV",
]

VERDICTS = ("supported", "contradicted", "inconclusive", "not tested")
#: Set by ``rlinside run``: the file into which :func:`measure` appends its measurements.
CLAIMS_ENV = "RLINSIDE_CLAIMS"
_COMPARISONS = ("greater", "less", "within", "greater_than_null", "less_than_null")


class ClaimError(ValueError):
    """A claim declaration or a measurement that the engine cannot use."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of a paper, as a comparison (see the module docstring)."""

    id: str
    chapter: str
    statement: str  #: the paper's claim, in our words
    where: str  #: where the paper makes it (figure, section)
    quantity: str  #: what we measure, in words
    unit: str  #: unit of replication: seed, episode, state, test, agent, width, game, block (of steps), run
    comparison: Mapping[str, Any]
    min_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    notebook: str | None = None  #: chapter/name of the notebook that measures it
    paper: str = ""  #: the paper's own evidence (its number or figure), for the table

    def __post_init__(self) -> None:
        kinds = [k for k in self.comparison if k in _COMPARISONS]
        if len(kinds) != 1:
            raise ClaimError(f"claim {self.id}: comparison must have exactly one of {_COMPARISONS}, "
                             f"got {dict(self.comparison)}")
        if "within" in self.comparison and not ({"rel", "abs"} & set(self.comparison)):
            raise ClaimError(f"claim {self.id}: 'within' needs 'rel' or 'abs'")
        for k, v in self.min_scale.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ClaimError(f"claim {self.id}: min_scale {k} must be a number, got {v!r}")

    @property
    def kind(self) -> str:
        return next(k for k in self.comparison if k in _COMPARISONS)

    def describe(self) -> str:
        """The comparison in words, e.g. ``> 0`` or ``within 10 % of 0.5``."""
        c, k = self.comparison, self.kind
        if k == "greater":
            return f"> {c['greater']:g}"
        if k == "less":
            return f"< {c['less']:g}"
        if k == "within":
            return (f"within {100 * c['rel']:g} % of {c['within']:g}" if "rel" in c
                    else f"within ± {c['abs']:g} of {c['within']:g}")
        return "above the null" if k == "greater_than_null" else "below the null"


@dataclasses.dataclass
class Measurement:
    """Per-unit values of a claim's quantity, their estimate and 95 % interval, and the scale
    (profile, steps, seeds, states, ...) that produced them."""

    claim: str
    values: list[float]
    estimate: float
    low: float
    high: float
    n: int
    scale: dict[str, Any]
    statistic: str = "mean"
    null_low: float | None = None  #: the null model's 2.5 % quantile of the statistic
    null_high: float | None = None  #: and its 97.5 % quantile
    null_n: int = 0  #: draws of the null
    notebook: str | None = None
    #: named numbers a rendered text quotes beside the estimate (an exercise's solution)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: how the interval was drawn when not by resampling ``values`` (see :func:`measure`'s ``draws``)
    interval_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


def load_claims(root: Path | None = None) -> dict[str, Claim]:
    """Every claim declared in ``notebooks/<chapter>/claims.yml``, by id (ids are unique)."""
    import yaml

    from rlinside.utils import repo_root

    root = Path(root) if root is not None else repo_root()
    out: dict[str, Claim] = {}
    for f in sorted((root / "notebooks").glob("*/claims.yml")):
        doc = yaml.safe_load(f.read_text()) or {}
        chapter = doc.get("chapter", f.parent.name)
        for entry in doc.get("claims") or []:
            entry = dict(entry)
            missing = {"id", "statement", "where", "quantity", "unit", "comparison"} - set(entry)
            if missing:
                raise ClaimError(f"{f}: a claim lacks {sorted(missing)}: {entry}")
            unknown = set(entry) - {f.name for f in dataclasses.fields(Claim)}
            if unknown:
                raise ClaimError(f"{f}: claim {entry['id']} has unknown keys {sorted(unknown)}")
            if entry["id"] in out:
                raise ClaimError(f"{f}: claim id {entry['id']} is declared twice")
            out[entry["id"]] = Claim(chapter=chapter, **entry)
    return out


def paired_differences(a: Mapping[Any, float], b: Mapping[Any, float]) -> list[float]:
    """``a[u] - b[u]`` for every unit ``u`` (e.g. seed) that both have, in sorted unit order:
    the per-unit values of a paired comparison."""
    shared = sorted(set(a) & set(b))
    return [float(a[u]) - float(b[u]) for u in shared]


_STATISTICS = {"mean": np.mean, "median": np.median}


def exchangeable_null(differences: Iterable[float], statistic: str = "mean", draws: int = 4000,
                      seed: int = 0) -> np.ndarray:
    """The null model of a comparison between two networks from a control pair that differs
    only in what the claim does not name (two training seeds of one setup): ``draws``
    bootstrap values of ``statistic`` over the control's per-unit ``differences``, each taken
    with both signs, since which of two exchangeable networks comes first is arbitrary. Pass
    it as :func:`measure`'s ``null`` with a ``greater_than_null`` claim: the effect must exceed
    what the control pair shows (its 97.5 % quantile). Empty when fewer than 2 finite values."""
    if statistic not in _STATISTICS:
        raise ClaimError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    if int(draws) < 1:
        raise ClaimError(f"draws must be >= 1, got {draws!r}")
    v = np.asarray([float(x) for x in differences], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    boot = _STATISTICS[statistic](v[rng.integers(0, v.size, (int(draws), v.size))], axis=1)
    return np.concatenate([boot, -boot])


def _interval(values: np.ndarray, statistic: str, confidence: float, seed: int) -> tuple[float, float]:
    from scipy.stats import bootstrap

    if values.size < 2:
        return float("nan"), float("nan")
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    fn = _STATISTICS[statistic]
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa warns and returns NaN on degenerate resamples
            res = bootstrap((values,), fn, confidence_level=confidence, n_resamples=9999, method=method,
                            random_state=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return lo, hi
    return float("nan"), float("nan")


def bootstrap_ci(values: Iterable[float], statistic: str = "mean", confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """The bootstrap interval :func:`measure` reports (BCa, else percentile; 9,999 resamples)
    of ``statistic`` over the finite ``values``: for tables that show an interval without
    being a claim."""
    if statistic not in _STATISTICS:
        raise ClaimError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    return _interval(v[np.isfinite(v)], statistic, confidence, seed)


def interval_table(table: Any, by: str | Sequence[str], value: str, statistic: str = "mean",
                   confidence: float = 0.95) -> Any:
    """``statistic`` of column ``value`` of the DataFrame ``table`` per group of ``by``, with its
    :func:`bootstrap_ci` interval and the count of finite values: columns ``mean`` (or
    ``median``), ``low``, ``high``, ``n``. For a page's tables over states, episodes or seeds
    (every number shown with its interval), not for verdicts."""
    import pandas as pd

    if statistic not in _STATISTICS:
        raise ClaimError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    if value not in table.columns:
        raise ClaimError(f"no column {value!r} in the table; it has {list(table.columns)}")
    rows = {}
    for key, group in table.groupby(by, sort=False):
        v = pd.to_numeric(group[value], errors="coerce").to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        lo, hi = _interval(v, statistic, confidence, 0)
        est = float(_STATISTICS[statistic](v)) if v.size else float("nan")
        rows[key] = {statistic: est, "low": lo, "high": hi, "n": int(v.size)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    if not isinstance(by, str) and len(by) > 1 and len(out):
        out.index = pd.MultiIndex.from_tuples(out.index, names=list(by))
    else:
        out.index.name = by if isinstance(by, str) else by[0]
    return out


def measure(
    claim: str,
    values: Iterable[float],
    *,
    scale: Mapping[str, Any],
    statistic: str = "mean",
    null: Iterable[float] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    details: Mapping[str, Any] | None = None,
    draws: Iterable[float] | None = None,
    draws_from: str = "",
) -> Measurement:
    """Measure claim ``claim`` from its per-unit ``values`` (non-finite values are dropped and
    counted out of ``n``); ``null``: the statistic under the claim's null model, one value per
    draw. ``draws``: the statistic's bootstrap distribution when the caller resamples the unit
    of replication inside a structure ``values`` do not show (e.g. report seeds within each of a
    fixed set of games, where ``values`` are per game); the interval is then its percentile
    interval, and ``draws_from`` (required) says what was resampled. ``scale``: what produced
    the values (``profile``, ``steps``, ``seeds``, ...).
    ``details``: named numbers (JSON-serialisable) that a rendered text quotes, e.g. an
    exercise's solution (``{details[name]:.2f}`` in its template). Records
    the measurement for the book when run by ``rlinside run``; returns it."""
    if statistic not in _STATISTICS:
        raise ClaimError(f"statistic must be one of {sorted(_STATISTICS)}, got {statistic!r}")
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    v = v[np.isfinite(v)]
    est = float(_STATISTICS[statistic](v)) if v.size else float("nan")
    if draws is not None:
        d = np.asarray([float(x) for x in draws], dtype=np.float64)
        d = d[np.isfinite(d)]
        if d.size < 1000 or not draws_from:
            raise ClaimError(f"{claim}: draws needs at least 1,000 finite draws (got {d.size}) and draws_from "
                             "saying what was resampled")
        lo, hi = (float(q) for q in np.quantile(d, [(1 - confidence) / 2, 1 - (1 - confidence) / 2]))
    else:
        lo, hi = _interval(v, statistic, confidence, seed)
    m = Measurement(claim=claim, values=v.tolist(), estimate=est, low=lo, high=hi, n=int(v.size),
                    scale=dict(scale), statistic=statistic, details=_plain(details or {}),
                    interval_from=draws_from or None)
    if null is not None:
        nv = np.asarray([float(x) for x in null], dtype=np.float64)
        nv = nv[np.isfinite(nv)]
        if nv.size:
            m.null_low, m.null_high = (float(q) for q in np.quantile(nv, [0.025, 0.975]))
            m.null_n = int(nv.size)
    target = os.environ.get(CLAIMS_ENV)
    if target:
        ctx = os.environ.get("RLINSIDE_RUN")
        m.notebook = json.loads(ctx).get("notebook") if ctx else None
        with open(target, "a") as f:
            f.write(json.dumps(m.to_dict()) + "\n")
    return m


def _plain(d: Mapping[str, Any]) -> dict[str, Any]:
    """``d`` with numpy scalars and arrays turned into Python numbers and lists (JSON-ready)."""
    out = {}
    for k, v in d.items():
        if not isinstance(k, str):
            raise ClaimError(f"details keys must be strings, got {k!r}")
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, Mapping):
            v = _plain(v)
        try:
            json.dumps(v)
        except TypeError as e:
            raise ClaimError(f"details[{k!r}] is not JSON-serialisable: {v!r}") from e
        out[k] = v
    return out


def verdict(claim: Claim, m: Measurement | None) -> tuple[str, str]:
    """``(verdict, reason)`` by the one rule of the module docstring."""
    if m is None:
        return "not tested", "no measurement"
    short = [f"{k} {m.scale.get(k, 0):g} < {v:g}" for k, v in claim.min_scale.items()
             if not isinstance(m.scale.get(k), (int, float)) or m.scale.get(k) < v]
    if short:  # said first: a run below scale is the reason, even when it also gave no value
        return "not tested", "below the claim's minimum scale: " + ", ".join(short)
    if m.n == 0:
        return "not tested", "no measurement: the run recorded no value of the quantity"
    if m.n < 2 or not (math.isfinite(m.low) and math.isfinite(m.high)):
        return "not tested", f"an interval needs at least 2 {claim.unit}s (n = {m.n})"
    c, k = claim.comparison, claim.kind
    if k in ("greater_than_null", "less_than_null"):
        if m.null_low is None:
            return "not tested", "the claim is judged against a null model, and none was measured"
        threshold = m.null_high if k == "greater_than_null" else m.null_low
        k = "greater" if k == "greater_than_null" else "less"
        c = {k: threshold}
    if k == "greater":
        t = c["greater"]
        side = "supported" if m.low > t else "contradicted" if m.high < t else "inconclusive"
        return side, f"interval [{m.low:.4g}, {m.high:.4g}] vs > {t:.4g}"
    if k == "less":
        t = c["less"]
        side = "supported" if m.high < t else "contradicted" if m.low > t else "inconclusive"
        return side, f"interval [{m.low:.4g}, {m.high:.4g}] vs < {t:.4g}"
    x = c["within"]
    half = abs(x) * c["rel"] if "rel" in c else c["abs"]
    a, b = x - half, x + half
    if a <= m.low and m.high <= b:
        return "supported", f"interval [{m.low:.4g}, {m.high:.4g}] inside [{a:.4g}, {b:.4g}]"
    if m.high < a or m.low > b:
        return "contradicted", f"interval [{m.low:.4g}, {m.high:.4g}] outside [{a:.4g}, {b:.4g}]"
    return "inconclusive", f"interval [{m.low:.4g}, {m.high:.4g}] overlaps the edge of [{a:.4g}, {b:.4g}]"


def read_measurements(root: Path | None = None) -> dict[str, Measurement]:
    """The recorded measurements of the executed notebooks (``book/generated/*/*.claims.json``),
    by claim id (a later record of the same claim replaces an earlier one)."""
    from rlinside.utils import repo_root

    root = Path(root) if root is not None else repo_root()
    out: dict[str, Measurement] = {}
    for f in sorted((root / "book" / "generated").glob("*/*.claims.json")):
        for d in json.loads(f.read_text()):
            out[d["claim"]] = Measurement.from_dict(d)
    return out


def _scale_text(scale: Mapping[str, Any]) -> str:
    parts = []
    for k, v in scale.items():
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        parts.append(f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k} {v}")
    return ", ".join(parts)


def claims_table(claims: Sequence[Claim], measurements: Mapping[str, Measurement]) -> list[dict[str, str]]:
    """One row per claim: claim, where, the paper's evidence, our estimate [interval], n, scale,
    verdict (computed) and its reason."""
    rows = []
    for c in claims:
        m = measurements.get(c.id)
        word, reason = verdict(c, m)
        if m is None or m.n == 0:
            ours, n, scale = "—", "—", "—"
        else:
            ours = f"{m.estimate:.4g} [{m.low:.4g}, {m.high:.4g}]" if math.isfinite(m.low) else f"{m.estimate:.4g}"
            if m.null_high is not None:
                ours += f"; null [{m.null_low:.4g}, {m.null_high:.4g}]"
            if m.interval_from:
                ours += f" (interval: {m.interval_from})"
            n, scale = f"{m.n} {c.unit}s", _scale_text(m.scale)
        rows.append({"id": c.id, "claim": c.statement, "where": c.where, "paper": c.paper,
                     "quantity": f"{c.quantity} ({c.describe()})", "ours": ours, "n": n, "scale": scale,
                     "verdict": word, "reason": reason, "notebook": c.notebook or "", "chapter": c.chapter})
    return rows


def markdown_table(rows: Sequence[Mapping[str, str]], *, link_notebooks: bool = True) -> str:
    """A MyST table of :func:`claims_table` rows (verdict in bold; the notebook linked)."""
    def cell(s: str) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| claim | paper | quantity (claimed) | ours: estimate [95 % interval] | n | scale | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        where = r["where"] + (f": {r['paper']}" if r["paper"] else "")
        nb = r["notebook"]
        source = f" ({{doc}}`/book/generated/{nb}`)" if link_notebooks and nb and r["ours"] != "—" else ""
        lines.append(f"| {cell(r['claim'])} | {cell(where)} | {cell(r['quantity'])} | {cell(r['ours'])}{source} | "
                     f"{cell(r['n'])} | {cell(r['scale'])} | **{r['verdict']}**: {cell(r['reason'])} |")
    return "\n".join(lines) + "\n"
