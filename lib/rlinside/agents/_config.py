"""What the run configurations of the Atari agents (DQN, DRQN, A2C) share: field validation,
the JSON round trip, and the check that a checkpoint may be resumed with a given config.

Each agent's config is a frozen dataclass deriving from :class:`RunConfig`; its
``__post_init__`` calls :meth:`RunConfig._validate` with the names of its fields by kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Set
from pathlib import Path
from typing import Any, TypeVar

from rlinside.envs.atari import ATARI_GAMES
from rlinside.utils import is_int, is_real

__all__ = ["RunConfig", "check_resumable"]

_C = TypeVar("_C", bound="RunConfig")


class RunConfig:
    """Base of the frozen run-config dataclasses that have ``game`` and ``snapshot_steps``
    fields: validation, and ``to_dict`` / ``from_dict`` (``snapshot_steps`` is a tuple in the
    config, a list in JSON)."""

    def _validate(
        self,
        *,
        positive_ints: Iterable[str] = (),
        non_negative_ints: Iterable[str] = (),
        learning_starts_min: str | None = None,
        unit_interval: Iterable[str] = (),
        positive: Iterable[str] = (),
        non_negative: Iterable[str] = (),
    ) -> None:
        """Raise ValueError naming the first bad field, in this order: ``game``, then the
        fields of each argument. ``learning_starts_min`` names the field or property that
        ``learning_starts`` must reach (it must not exceed ``buffer_size`` either). Finally
        ``snapshot_steps`` is made a tuple of ints."""
        if self.game not in ATARI_GAMES:
            raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {self.game!r}")
        for name in positive_ints:
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in non_negative_ints:
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if learning_starts_min is not None:
            minimum = getattr(self, learning_starts_min)
            if not is_int(self.learning_starts) or self.learning_starts < minimum:
                raise ValueError(
                    f"learning_starts must be an integer >= {learning_starts_min} ({minimum}), "
                    f"got {self.learning_starts!r}"
                )
            if self.learning_starts > self.buffer_size:
                raise ValueError(
                    f"learning_starts ({self.learning_starts}) must not exceed buffer_size "
                    f"({self.buffer_size})"
                )
        for name in unit_interval:
            value = getattr(self, name)
            if not is_real(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in positive:
            value = getattr(self, name)
            if not is_real(value) or not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        for name in non_negative:
            value = getattr(self, name)
            if not is_real(value) or not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        object.__setattr__(self, "snapshot_steps", tuple(int(s) for s in self.snapshot_steps))

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        d = dataclasses.asdict(self)
        d["snapshot_steps"] = list(self.snapshot_steps)
        return d

    @classmethod
    def from_dict(cls: type[_C], d: dict[str, Any]) -> _C:
        """The config of :meth:`to_dict` (``snapshot_steps`` may be missing: none)."""
        d = dict(d)
        d["snapshot_steps"] = tuple(d.get("snapshot_steps", ()))
        return cls(**d)


def check_resumable(
    saved: RunConfig | Mapping[str, Any], config: Any, run_dir: Path, resumable: Set[str]
) -> None:
    """Raise ValueError unless ``config`` equals the checkpoint's ``saved`` config (a config
    or its ``to_dict()``) in every field outside ``resumable`` (the fields that change when or
    how results are saved, never the numbers computed). A field missing from ``saved`` (added to
the config class after the checkpoint was made) counts as its default. Every trainer resumes
through it."""
    saved_d = dict(saved) if isinstance(saved, Mapping) else saved.to_dict()
    new_d = config.to_dict()
    if dataclasses.is_dataclass(config):  # a field added since the checkpoint: its default then
        for field in dataclasses.fields(config):
            if field.name not in saved_d and field.default is not dataclasses.MISSING:
                saved_d[field.name] = field.default
    differing = sorted(k for k in new_d if saved_d.get(k) != new_d[k] and k not in resumable)
    if differing:
        details = ", ".join(
            f"{k}: checkpoint {saved_d.get(k)!r} vs now {new_d[k]!r}" for k in differing
        )
        raise ValueError(
            f"the checkpoint in {run_dir} was made with a different configuration ({details}); "
            f"only {sorted(resumable)} may change on resume. Use another run_dir."
        )
