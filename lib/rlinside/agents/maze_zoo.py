"""The shipped marble-maze policies: store, find and load them (artifact kind ``maze-policy``).

An artifact holds the float16 weights (``weights.pt``), the run's log (``metrics.csv`` for
A2C, one row per episode; ``log.csv`` for DAgger, one row per round) and
``eval.json`` (40 greedy test episodes from start angles spread evenly over the outer ring,
with memory and with the LSTM state reset at every step), and a manifest with the training
config, the steps, the wall time and the success rates.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from rlinside import store
from rlinside.agents import shipped
from rlinside.agents.maze_a2c import (
    evaluate_maze,
    export_maze_weights,
    load_maze_policy,
)

__all__ = ["ARTIFACT_KIND", "ship_policy", "find_policies", "load_policy", "policy_config"]

ARTIFACT_KIND = "maze-policy"
ARTIFACT_VERSION = "1"


def ship_policy(run_dir: str | Path, *, episodes: int = 40, root: Path | None = None) -> store.Artifact:
    """Evaluate ``run_dir/final.pt`` and store it (``root``: default ``data/``)."""
    from rlinside.agents.maze_a2c import MazeA2CConfig

    run_dir = Path(run_dir)
    final = run_dir / "final.pt"
    if not final.exists():
        raise FileNotFoundError(f"{final} does not exist: finish the run first (scripts/train_maze.py)")
    with tempfile.TemporaryDirectory() as tmp:
        weights = export_maze_weights(final, Path(tmp) / "weights.pt")
        net, meta = load_maze_policy(weights)
        cfg = MazeA2CConfig(**meta["config"])
        with_memory = evaluate_maze(net, cfg.env_config(), episodes)
        without = evaluate_maze(net, cfg.env_config(), episodes, memory=False)
        report = {"episodes": episodes, "protocol": "greedy actions; episode i starts at angle 2 pi i / episodes, "
                  "seed 1000 + i", "memory": with_memory, "no_memory": without}
        (Path(tmp) / "eval.json").write_text(json.dumps(report, indent=1))
        log = run_dir / "metrics.csv" if (run_dir / "metrics.csv").exists() else run_dir / "log.csv"
        shutil.copyfile(log, Path(tmp) / log.name)  # A2C: one row per episode; DAgger: one per round
        config = {**meta["config"], "step": int(meta["step"]), "trainer": meta.get("trainer", "a2c")}
        if "dagger" in meta:
            config["dagger"] = meta["dagger"]
        rate = float(np.mean([r["success"] for r in with_memory]))
        rate0 = float(np.mean([r["success"] for r in without]))
        metrics = {"success_rate": rate, "success_rate_no_memory": rate0, "episodes": episodes,
                   "steps": int(meta["step"]), "train_wall_time_s": meta.get("wall_time"),
                   "mean_steps_success": float(np.mean([r["steps"] for r in with_memory if r["success"]]))
                   if rate > 0 else None}
        return store.save(ARTIFACT_KIND, config, ARTIFACT_VERSION,
                          {n: Path(tmp) / n for n in ("weights.pt", "eval.json", log.name)},
                          metrics=metrics, root=root if root is not None else store.data_root(),
                          command=f"python scripts/train_maze.py --run-dir {run_dir} --ship",
                          wall_time_s=meta.get("wall_time"))


def find_policies(**filters) -> list[store.Artifact]:
    """Stored maze policies matching config filters (e.g. ``lstm_size=64``), oldest step first."""
    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, **filters)
    return sorted(found, key=lambda a: a.config.get("step", 0))


def load_policy(**filters) -> tuple[torch.nn.Module, store.Artifact]:
    """The most trained stored maze policy matching the filters: ``(net, artifact)``."""
    found = [a for a in find_policies(**filters) if not a.config.get("env", {}).get("obs_delay")] \
        if "env" not in filters else find_policies(**filters)
    if not found:
        raise store.ArtifactError(
            f"no {ARTIFACT_KIND} artifact in {store.data_root()} or {store.cache_root()}; train one with "
            "python scripts/train_maze.py --run-dir runs/maze_s0 and ship it with --ship"
        )
    art = shipped.most_trained(found)
    net, _ = shipped.load_net("maze-policy", art)
    return net, art


def policy_config(art: store.Artifact):
    """The training config (:class:`~rlinside.agents.maze_a2c.MazeA2CConfig`) of a stored
    policy; its ``env_config()`` is the maze the policy was trained and is tested in."""
    from rlinside.agents.maze_a2c import MazeA2CConfig

    return MazeA2CConfig(**{k: v for k, v in art.config.items() if k not in ("step", "trainer", "dagger")})
