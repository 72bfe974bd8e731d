"""Seed discipline: named, disjoint seed ranges, and separate random streams per purpose.

PROTOCOL.md, rule 5: tune on other seeds than you report. A seed of this project means one
thing only:

- :data:`REPORT` seeds (0-9,999) make the runs whose numbers a figure or a claim reports;
- :data:`TUNING` seeds (10,000-19,999) make the runs that choose hyperparameters;
- :data:`EVALUATION` seeds (20,000-29,999) seed held-out evaluation games, goals or episodes.

Within one run, the seed is split into independent streams with
:class:`numpy.random.SeedSequence` (:func:`streams`): the environment or data stream and the
network initialisation never share a generator, so changing how many networks are built does
not change the stream, and the reverse.

A sweep (:mod:`rlinside.sweep`) that reruns its best configuration checks that its tuning and
report seeds are disjoint (:func:`check_disjoint`); reproducing a paper's own protocol where it
reuses them is allowed only when the sweep names that variant (``select: {reuse_tuning_seeds:
true}``), and the page shows it beside the disjoint one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

__all__ = ["SeedRange", "REPORT", "TUNING", "EVALUATION", "RANGES", "streams", "check_disjoint", "purpose_of"]


@dataclasses.dataclass(frozen=True)
class SeedRange:
    """Seeds ``start <= s < stop`` kept for one purpose."""

    name: str
    start: int
    stop: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.stop:
            raise ValueError(f"seed range {self.name}: need 0 <= start < stop, got {self.start}, {self.stop}")

    def __contains__(self, seed: object) -> bool:
        return isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and self.start <= seed < self.stop

    def take(self, n: int, offset: int = 0) -> list[int]:
        """The first ``n`` seeds of the range (after ``offset``)."""
        if n < 0 or offset < 0 or self.start + offset + n > self.stop:
            raise ValueError(f"seed range {self.name} [{self.start}, {self.stop}) has no {n} seeds after offset "
                             f"{offset}")
        return list(range(self.start + offset, self.start + offset + n))


REPORT = SeedRange("report", 0, 10_000)
TUNING = SeedRange("tuning", 10_000, 20_000)
EVALUATION = SeedRange("evaluation", 20_000, 30_000)
RANGES = (REPORT, TUNING, EVALUATION)

#: Stream names of :func:`streams`, each spawned from its own child of the seed's sequence.
STREAMS = ("env", "init", "policy", "minibatch")


def purpose_of(seed: int) -> str | None:
    """The name of the range ``seed`` belongs to, or None."""
    for r in RANGES:
        if seed in r:
            return r.name
    return None


def streams(seed: int, names: Iterable[str] = STREAMS) -> dict[str, np.random.Generator]:
    """Independent generators for the named purposes of one run with ``seed``: the same seed
    always gives the same generator for a name, and two names never share a stream
    (``SeedSequence(seed).spawn``, children in the order of :data:`STREAMS`)."""
    names = list(names)
    unknown = [n for n in names if n not in STREAMS]
    if unknown:
        raise ValueError(f"unknown stream names {unknown}; allowed: {', '.join(STREAMS)}")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {n: np.random.default_rng(children[STREAMS.index(n)]) for n in names}


def check_disjoint(tuning: Iterable[int], report: Iterable[int], *, what: str = "", allow_reuse: bool = False) -> None:
    """ValueError when tuning and report seeds overlap (unless ``allow_reuse``, the named
    variant that reproduces a paper's own protocol)."""
    shared = sorted(set(tuning) & set(report))
    if shared and not allow_reuse:
        where = f" in {what}" if what else ""
        raise ValueError(
            f"tuning and report seeds overlap{where} ({shared[:5]}{'...' if len(shared) > 5 else ''}): a "
            "configuration chosen on the seeds it is reported on is flattered. Use disjoint seeds "
            f"(rlinside.seeds: report {REPORT.start}-{REPORT.stop - 1}, tuning {TUNING.start}-{TUNING.stop - 1}) "
            "or name the paper's variant with select: {reuse_tuning_seeds: true}"
        )
