"""The files of a training ``run_dir`` shared by the Atari agents (DQN, DRQN, A2C).

``checkpoint.pt`` (torch.save of a dict with ``format``, ``config``, ``counters``, ``rng`` and
the agent's own keys), ``metrics.csv`` (one row per finished training game, see
:class:`MetricsLog`), ``weights_step<N>.pt`` and ``final.pt`` (weights payloads, see
:func:`weights_payload`), plus the seeding of games (:func:`game_seed`) and the saving and
restoring of every random generator (:func:`rng_states`). Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlinside.agents._config import RunConfig, check_resumable
from rlinside.utils import atomic_write_bytes, torch_device

__all__ = [
    "Counters",
    "MetricsLog",
    "finish_run",
    "finished_run",
    "game_seed",
    "load_checkpoint",
    "load_weights_file",
    "open_checkpoint",
    "read_run_weights",
    "rng_states",
    "save_payload",
    "set_rng_states",
    "snapshot_path",
    "snapshots",
    "weights_payload",
]

#: ``weights_step<N>.pt``: the float16 snapshot of a run's weights at agent step N (9 digits).
_SNAPSHOT = re.compile(r"weights_step(\d+)\.pt")


def snapshot_path(run_dir: Path, step: int) -> Path:
    """Where a run keeps its float16 snapshot of agent step ``step`` (the one naming rule)."""
    return Path(run_dir) / f"weights_step{int(step):09d}.pt"


def snapshots(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every snapshot in ``run_dir``, by step (the one parser)."""
    found = []
    for path in Path(run_dir).glob("weights_step*.pt"):
        m = _SNAPSHOT.fullmatch(path.name)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def game_seed(seed: int, game_index: int, purpose: int = 0) -> int:
    """Seed of the ``game_index``-th game of a run with seed ``seed``: a 32-bit integer drawn
    from ``SeedSequence(seed, spawn_key=(purpose, game_index))``. ``purpose`` 0 is training,
    1 evaluation, so evaluation games never replay training games."""
    seq = np.random.SeedSequence(seed, spawn_key=(purpose, game_index))
    return int(seq.generate_state(1)[0])


@dataclass
class Counters:
    """Progress of a run, saved in its checkpoint (``dataclasses.asdict``)."""

    step: int = 0  # agent steps taken (A2C: summed over games)
    updates: int = 0  # gradient updates made
    episode: int = 0  # games finished (DQN, DRQN: index of the game being played)
    last_checkpoint_step: int = 0
    wall_time: float = 0.0  # seconds of training, summed over resumes
    recent_returns: list[float] = field(default_factory=list)  # for the progress bar only


class MetricsLog:
    """``metrics.csv``: one row per finished training game; on resume, rows of games after
    the checkpoint (recomputed now) are dropped first."""

    def __init__(self, path: Path, keep_episodes: int, fields: tuple[str, ...],
                 key_field: str = "episode") -> None:
        if key_field not in fields:
            raise ValueError(f"the metrics fields {fields!r} lack the key field {key_field!r}")
        key = list(fields).index(key_field)
        self.path = path
        self.fields = tuple(fields)
        rows: list[list[str]] = []
        if path.exists():
            with open(path, newline="") as f:
                reader = csv.reader(f)
                next(reader, None)
                rows = [r for r in reader if r and int(r[key]) < keep_episodes]
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.fields)
            writer.writerows(rows)
        self._file = open(path, "a", newline="")
        self._writer = csv.writer(self._file)

    def write(self, **row: float) -> None:
        self._writer.writerow([row[k] for k in self.fields])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def rng_states(rng: np.random.Generator) -> dict[str, Any]:
    """Every random state a run draws from: Python, NumPy's global, torch (and CUDA), ``rng``."""
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy_global": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "generator": rng.bit_generator.state,
    }
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any], rng: np.random.Generator) -> None:
    """Restore the states of :func:`rng_states`."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy_global"])
    torch.set_rng_state(states["torch"])
    rng.bit_generator.state = states["generator"]
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def save_payload(path: Path, payload: dict) -> None:
    """``torch.save(payload)`` to ``path``, atomically."""
    data = io.BytesIO()
    torch.save(payload, data)
    atomic_write_bytes(path, data.getbuffer())


def load_checkpoint(path: Path, checkpoint_format: str, what: str) -> dict[str, Any]:
    """The checkpoint dict at ``path``; ValueError unless its format is ``checkpoint_format``
    (``what``, e.g. "a DQN", names the expected kind in the message)."""
    # weights_only=False: the checkpoint holds Python/NumPy RNG states (A2C: emulator states);
    # it is our own local file. Shipped weights load with weights_only=True.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("format") != checkpoint_format:
        raise ValueError(f"{path} is not {what} checkpoint (format {payload.get('format')!r})")
    return payload


def open_checkpoint(
    path: Path,
    checkpoint_format: str,
    what: str,
    config: RunConfig,
    run_dir: Path,
    resumable: Set[str],
    rng: np.random.Generator,
) -> tuple[dict[str, Any], Counters]:
    """Resume from the checkpoint at ``path``: check that ``config`` may resume it, restore
    every random generator (``rng`` included) and return the checkpoint and its counters. The
    caller loads its networks, optimizer and the rest from the returned dict."""
    ckpt = load_checkpoint(path, checkpoint_format, what)
    check_resumable(type(config).from_dict(ckpt["config"]), config, run_dir, resumable)
    set_rng_states(ckpt["rng"], rng)
    return ckpt, Counters(**ckpt["counters"])


def finished_run(
    final_path: Path, config: RunConfig, run_dir: Path, resumable: Set[str], *, past_ok: bool = False
) -> bool:
    """Whether ``final_path`` holds the weights of a run that reached ``config.total_steps``
    (or went past it, with ``past_ok``); it must then have been made with a config that
    ``config`` may resume."""
    if not final_path.exists():
        return False
    done = torch.load(final_path, map_location="cpu", weights_only=True)
    if done["step"] == config.total_steps or (past_ok and done["step"] > config.total_steps):
        saved = type(config).from_dict(json.loads(done["config"]))
        check_resumable(saved, config, run_dir, resumable)
        return True
    return False


def finish_run(final_path: Path, payload: dict, counters: Counters, wall_start: float) -> Path:
    """Record the training time (``time.perf_counter()`` minus ``wall_start``) in ``counters``
    and in the weights ``payload``, save it as ``final_path`` and return that path."""
    counters.wall_time = time.perf_counter() - wall_start
    payload["wall_time"] = counters.wall_time
    save_payload(final_path, payload)
    return final_path


def weights_payload(
    weights_format: str,
    net: torch.nn.Module,
    config: RunConfig,
    step: int,
    dtype: torch.dtype,
    **meta: Any,
) -> dict:
    """A weights file's dict: ``format``, ``game``, the ``meta`` entries (in their order),
    ``step``, ``config`` (JSON) and the ``state_dict`` of ``net`` in ``dtype`` on the CPU."""
    return {
        "format": weights_format,
        "game": config.game,
        **meta,
        "step": int(step),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "state_dict": {
            k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()
        },
    }


def read_run_weights(
    run_dir: Path,
    config_cls: type[RunConfig],
    *,
    weights_format: str,
    checkpoint_format: str,
    checkpoint_key: str,
    what: str,
) -> tuple[dict[str, torch.Tensor], int, RunConfig]:
    """``(state_dict, step, config)`` of a run: from ``final.pt`` if training finished, else
    the network ``checkpoint_key`` of ``checkpoint.pt``."""
    final_path = run_dir / "final.pt"
    if final_path.exists():
        src = torch.load(final_path, map_location="cpu", weights_only=True)
        if src.get("format") != weights_format:
            raise ValueError(f"{final_path} is not {what} weights file")
        return src["state_dict"], src["step"], config_cls.from_dict(json.loads(src["config"]))
    if (run_dir / "checkpoint.pt").exists():
        ckpt = load_checkpoint(run_dir / "checkpoint.pt", checkpoint_format, what)
        return ckpt[checkpoint_key], ckpt["counters"]["step"], config_cls.from_dict(ckpt["config"])
    raise FileNotFoundError(f"{run_dir} holds neither final.pt nor checkpoint.pt")


def load_weights_file(
    path: str | Path,
    weights_format: str,
    what: str,
    new_network: Callable[[dict[str, Any]], torch.nn.Module],
    device: torch.device | None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a weights file into the float32 network ``new_network(payload)``, on ``device``
    (default :func:`rlinside.utils.torch_device`) in eval mode. Returns the network and the
    file's metadata (everything but the state dict; ``config`` as a dict)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != weights_format:
        raise ValueError(f"{path} is not {what} weights file (format {payload.get('format')!r})")
    net = new_network(payload)
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    net.to(device or torch_device()).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    meta["config"] = json.loads(meta["config"])
    return net, meta
