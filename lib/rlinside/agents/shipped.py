"""Which stored agent wins, how it is loaded and how it is shipped: one rule and one verb each.

Every family's zoo (:mod:`rlinside.agents.zoo` for Atari, :mod:`rlinside.agents.maze_zoo`,
:func:`rlinside.agents.arm_dqn.load_arm_agent`) finds the artifacts that match a request
with :func:`rlinside.store.find`, then hands them to :func:`most_trained` to choose one and
to :func:`load_net` to build its network with the family's loader from the registry
(:mod:`rlinside.agents.registry`). Written once here, tested once in
``tests/test_shipped.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rlinside import store
from rlinside.agents import registry

__all__ = ["training_amount", "most_trained", "load_net", "ship"]


def training_amount(artifact: store.Artifact) -> float:
    """How much training an artifact's weights had: its config's ``step`` (agent steps; for
    data made by an agent, ``agent_step``), else its metrics' ``training_episodes``, else 0."""
    for key in ("step", "agent_step"):
        if key in artifact.config:
            return float(artifact.config[key])
    return float(artifact.metrics.get("training_episodes", 0) or 0)


def most_trained(artifacts: Sequence[store.Artifact]) -> store.Artifact:
    """The rule for which artifact wins among those matching a request: the most trained one
    (:func:`training_amount`); at equal training a shipped one (``data/``) before a local
    build (the cache); then the smallest key, so that the choice never depends on listing
    order. ValueError for an empty list."""
    if not artifacts:
        raise ValueError("no artifact to choose from")
    return min(artifacts, key=lambda a: (-training_amount(a), not a.shipped, a.key))


def load_net(kind: str, artifact: store.Artifact, device: torch.device | None = None) -> tuple[Any, dict]:
    """``(net, meta)`` of the stored agent ``artifact`` of family ``kind``, by the family's
    registered loader, from the artifact's ``weights.pt``."""
    loader = registry.get(kind).function("load")
    path = artifact.file("weights.pt")
    return loader(path, device=device) if device is not None else loader(path)


def ship(kind: str, run_dir, **options: Any) -> store.Artifact:
    """The one ship verb: evaluate the trained agent of ``run_dir`` (family ``kind``) and store
    it as an artifact in ``data/`` by the family's registered ``ship`` function, with the
    family's fixed arguments (e.g. the Atari family's name) and ``options`` (e.g.
    ``stage="final"``, ``episodes=10``)."""
    k = registry.get(kind)
    return k.function("ship")(run_dir, **k.ship_options, **options)
