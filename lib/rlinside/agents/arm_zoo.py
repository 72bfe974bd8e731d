"""Train planar-arm agents and store them as ``arm-dqn`` artifacts (neuron-activation chapter).

One function, :func:`train_and_store`, turns an :class:`~rlinside.agents.arm_dqn.ArmDQNConfig`
into a stored agent; ``scripts/train_arm.py`` calls it to ship agents to ``data/``, and
:func:`sweep_task` calls it from a Dask sweep (``sweeps/arm_agents_paper.yml``) to train the
paper's 20 networks per setting into the cache, where the notebooks find them
(:func:`~rlinside.agents.arm_dqn.find_arm_agents` searches ``data/`` and the cache). On a
cluster the cache must be on a file system the workers share (``RLINSIDE_CACHE``).

What is stored, after training until the validation test passes or the budget is spent:

1. the weights, rounded to float16 when that keeps the validation outcome (passes if float32
   passed; no fewer successes if float32 did not pass), else float32;
2. the metrics: ``validation_passed``, ``training_episodes`` (the paper's training
   duration), validation success rates (float32 and shipped), the success rate on 300 fresh
   goals (``holdout_success_rate``: the validation goals decided when to stop, so their rate
   is optimistic), the weights' dtype, the training wall time;
3. ``metrics.csv`` (per training episode) and ``validation.csv`` of the run.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlinside import store
from rlinside.agents.arm_dqn import (
    ARTIFACT_KIND,
    ARTIFACT_VERSION,
    ArmDQNConfig,
    load_arm_weights,
    save_arm_weights,
    train_arm_dqn,
    validate,
)
from rlinside.envs.planar_arm import sample_goals

__all__ = ["HOLDOUT_SEED", "rounded", "train_and_store", "ship_run", "sweep_task"]

HOLDOUT_SEED = 7_000_000  # seeds the 300 fresh goals of the hold-out test


def rounded(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A float32 copy of ``model`` whose weights went through ``dtype`` and back (eval mode)."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.to(dtype).float())
    return m.eval()


def train_and_store(
    config: ArmDQNConfig,
    run_dir: str | Path,
    *,
    root: Path | None = None,
    command: str | None = None,
    store_failed: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[Any, bool]:
    """Train (or resume, from ``run_dir``) an arm agent and store it under ``root``.

    ``root``: the store root (default: the cache; ``store.data_root()`` ships to ``data/``).
    An agent that did not pass validation is stored with ``validation_passed: false`` unless
    ``store_failed`` is False. Returns ``(artifact or None, passed)``.
    """
    run_dir = Path(run_dir)
    res = train_arm_dqn(config, run_dir, progress=progress)
    assert res is not None
    log(f"{'passed' if res.passed else 'did NOT pass'} validation after {res.episodes} episodes "
        f"({res.success_rate:.1%} of 300), training wall time {res.wall_time:.0f} s")

    v32 = validate(res.model, config)
    v16 = validate(rounded(res.model, torch.float16), config)
    keeps = v16.passed if v32.passed else v16.successes >= v32.successes
    dtype = torch.float16 if keeps else torch.float32
    shipped = rounded(res.model, dtype)
    log(f"validation successes: float32 {v32.successes}/300, float16 {v16.successes}/300 "
        f"-> storing {str(dtype).removeprefix('torch.')}")
    holdout_goals = sample_goals(np.random.default_rng(HOLDOUT_SEED), 300,
                                 config.arm_config().link_lengths, config.workspace)
    hold = validate(shipped, config, goals=holdout_goals)
    log(f"hold-out test (300 fresh goals): {hold.successes}/300, passed={hold.passed}")
    if not res.passed and not store_failed:
        return None, False

    weights = save_arm_weights(res.model, run_dir / "weights.pt", config, dtype=dtype,
                               passed=res.passed, episodes=res.episodes)
    metrics = {
        "validation_passed": bool(res.passed),
        "training_episodes": int(res.episodes),
        "validation_success_rate": round(v32.success_rate, 4),
        "validation_success_rate_shipped": round(validate(shipped, config).success_rate, 4),
        "validation_threshold": int(v32.threshold),
        "holdout_success_rate": round(hold.success_rate, 4),
        "holdout_passed": bool(hold.passed),
        "weights_dtype": str(dtype).removeprefix("torch."),
        "training_wall_time_s": round(res.wall_time, 1),
        "hidden_sizes": list(res.model.hidden_sizes),
    }
    art = store.save(
        ARTIFACT_KIND, config.to_dict(), ARTIFACT_VERSION,
        {"weights.pt": weights, "metrics.csv": run_dir / "metrics.csv",
         "validation.csv": run_dir / "validation.csv"},
        metrics=metrics, command=command, wall_time_s=round(res.wall_time, 1), root=root,
    )
    log(f"stored {art.path}")
    return art, bool(res.passed)


def ship_run(run_dir: str | Path, *, root: Path | None = None, command: str | None = None,
             store_failed: bool = True, log: Callable[[str], None] = print) -> store.Artifact:
    """Ship the finished training run ``run_dir`` (its ``final.pt`` names the configuration)
    to ``root`` (default ``data/``): :func:`train_and_store`, which finds the run finished and
    only validates and stores it. The arm family's ``ship`` in the registry."""
    run_dir = Path(run_dir)
    final = run_dir / "final.pt"
    if not final.is_file():
        raise FileNotFoundError(f"{final} does not exist: train the run first (scripts/train_arm.py)")
    _, meta = load_arm_weights(final)
    art, _ = train_and_store(ArmDQNConfig.from_dict(meta["config"]), run_dir,
                             root=root if root is not None else store.data_root(), command=command,
                             store_failed=store_failed, progress=False, log=log)
    if art is None:
        raise ValueError(f"the run in {run_dir} did not pass validation and store_failed is False")
    return art


def sweep_task(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A :mod:`rlinside.sweep` task: train the agent ``ArmDQNConfig(**config, seed=seed)``
    into the store cache (skipped when that agent is already stored in ``data/`` or the
    cache) and report its metrics. ``config`` holds any :class:`ArmDQNConfig` fields except
    ``seed`` (e.g. ``n_joints``, ``width``, ``max_episodes``)."""
    if "seed" in config:
        raise ValueError("the sweep gives the seed; remove 'seed' from the sweep's base/grid")
    cfg = ArmDQNConfig.from_dict({**ArmDQNConfig().to_dict(), **dict(config), "seed": int(seed)})
    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, **cfg.to_dict())
    if found:
        art = found[0]
    else:
        with tempfile.TemporaryDirectory(prefix="arm-agent-") as tmp:
            art, _ = train_and_store(cfg, tmp, progress=False, log=lambda _msg: None,
                                     command=f"rlinside sweep (rlinside.agents.arm_zoo:sweep_task, seed {seed})")
    m = art.metrics
    return {"metrics": {"agent": art.key, "validation_passed": m["validation_passed"],
                        "training_episodes": m["training_episodes"],
                        "holdout_success_rate": m["holdout_success_rate"]},
            "arrays": {}}
