"""The pruning study of the neuron-activation chapter (Figure 3), as stored experiments.

Two experiments on shipped planar-arm agents (:mod:`rlinside.agents.arm_dqn`), each a store
artifact (kind ``arm-pruning``) so that the book reads results computed once:

* :func:`tau_sweep` (Fig. 3 left): prune the agent once at each threshold ``tau`` and record
  the network size, the validation success rate right after pruning (before any retraining:
  the paper's "initial accuracy") and the training episodes needed to pass validation again;
* :func:`iterative_study` (Fig. 3 right): prune, retrain, repeat ``steps`` times at one
  ``tau``, recording the layer sizes after each step and storing the network after each
  step (``step<s>.pt``; :func:`pruned_agent` loads it, e.g. for Figure 2's pruned network).

Pruning (:func:`rlinside.explain.pruning.prune_mlp`) reads the activations of
``n_episodes`` sample episodes (goals from ``episode_seed``); retraining
(:func:`rlinside.agents.arm_dqn.retrain_until_valid`) continues DQN training of the pruned
network until the 300-episode validation test passes, with at most ``retrain_budget``
episodes. A network that does not pass within the budget is recorded with
``retrain_episodes = None`` (and, in the iterative study, the study stops there).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from rlinside import store
from rlinside.agents.arm_dqn import (
    ArmDQNConfig,
    load_arm_weights,
    retrain_until_valid,
    run_episodes,
    save_arm_weights,
    validate,
)
from rlinside.explain.pruning import prune_mlp

__all__ = ["ARTIFACT_KIND", "tau_sweep", "iterative_study", "pruned_agent"]

ARTIFACT_KIND = "arm-pruning"
DEFAULT_COMMAND = "rlinside run neuron_activation/02_pruning"  # the notebook that runs the study
VERSION = "2"  # 2: one artifact per tau; the iterative study stores the network of every step


def _agent(artifact) -> tuple[Any, ArmDQNConfig]:
    model, _ = load_arm_weights(artifact.file("weights.pt"))
    return model, ArmDQNConfig.from_dict(artifact.config)


def _retrain(model, config: ArmDQNConfig, budget: int):
    """``(model, episodes)`` after retraining until validation passes (``episodes`` None: not
    within ``budget``); a zero budget only checks whether the model passes as it is."""
    if budget == 0:
        return model, (0 if validate(model, config).passed else None)
    return retrain_until_valid(model, ArmDQNConfig.from_dict({**config.to_dict(), "max_episodes": int(budget)}))


def _check(taus, n_episodes, retrain_budget) -> None:
    for tau in taus:
        if not 0.0 <= float(tau) <= 1.0:
            raise ValueError(f"every tau must be in [0, 1], got {tau!r}")
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes!r}")
    if int(retrain_budget) < 0:
        raise ValueError(f"retrain_budget must be >= 0, got {retrain_budget!r}")


def _tau_row(artifact, tau: float, *, n_episodes: int, episode_seed: int, retrain_budget: int,
             command: str | None = None) -> dict[str, Any]:
    """One pruning step of ``artifact`` at ``tau``, stored on its own (one artifact per tau, so
    a sweep over other thresholds reuses every tau already computed)."""
    config = {"study": "tau", "agent": artifact.key, "tau": float(tau), "n_episodes": int(n_episodes),
              "episode_seed": int(episode_seed), "retrain_budget": int(retrain_budget)}

    def build(work) -> dict[str, Any]:
        t0 = time.perf_counter()
        model, cfg = _agent(artifact)
        acts = run_episodes(model, cfg, n_episodes, episode_seed).activations
        pruned, _ = prune_mlp(model, acts, tau)
        acc = validate(pruned, cfg).success_rate
        retrained, episodes = _retrain(pruned, cfg, int(retrain_budget))
        row = {
            "tau": float(tau), "sizes_before": list(model.hidden_sizes), "sizes_after": list(pruned.hidden_sizes),
            "neurons_before": int(sum(model.hidden_sizes)), "neurons_after": int(sum(pruned.hidden_sizes)),
            "accuracy_before": validate(model, cfg).success_rate, "accuracy_pruned": acc,
            "retrain_episodes": episodes, "accuracy_retrained": validate(retrained, cfg).success_rate,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        (work / "row.json").write_text(json.dumps(row, indent=1))
        return {"neurons_after": row["neurons_after"], "retrain_episodes": episodes}

    art = store.load_or_build(ARTIFACT_KIND, config, build, version=VERSION, command=command or DEFAULT_COMMAND)
    return json.loads(art.file("row.json").read_text())


def tau_sweep(artifact, taus, *, n_episodes: int, episode_seed: int, retrain_budget: int,
              command: str | None = None) -> list[dict[str, Any]]:
    """Prune the shipped agent ``artifact`` once at each ``tau`` (each stored; see module docstring).

    Returns one row per tau: ``tau``, ``sizes_before``, ``sizes_after`` (per layer),
    ``neurons_before``, ``neurons_after``, ``accuracy_before`` (validation success rate of the
    unpruned agent), ``accuracy_pruned`` (right after pruning), ``retrain_episodes`` (None:
    budget spent without passing), ``accuracy_retrained``.
    """
    taus = [float(t) for t in taus]
    _check(taus, n_episodes, retrain_budget)
    return [_tau_row(artifact, t, n_episodes=n_episodes, episode_seed=episode_seed,
                     retrain_budget=retrain_budget, command=command) for t in taus]


def _iterative_artifact(artifact, tau: float, *, steps: int, n_episodes: int, episode_seed: int,
                        retrain_budget: int, command: str | None = None):
    _check([tau], n_episodes, retrain_budget)
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    config = {"study": "iterative", "agent": artifact.key, "tau": float(tau), "steps": int(steps),
              "n_episodes": int(n_episodes), "episode_seed": int(episode_seed),
              "retrain_budget": int(retrain_budget)}

    def build(work) -> dict[str, Any]:
        model, cfg = _agent(artifact)
        rows = [{"step": 0, "sizes": list(model.hidden_sizes), "neurons": int(sum(model.hidden_sizes)),
                 "accuracy_pruned": validate(model, cfg).success_rate, "retrain_episodes": 0}]
        for s in range(1, int(steps) + 1):
            acts = run_episodes(model, cfg, n_episodes, episode_seed).activations
            pruned, _ = prune_mlp(model, acts, tau)
            acc = validate(pruned, cfg).success_rate
            model, episodes = _retrain(pruned, cfg, int(retrain_budget))
            save_arm_weights(model, work / f"step{s}.pt", cfg, pruning_step=s, tau=float(tau),
                             retrain_episodes=episodes, source_agent=artifact.key)
            rows.append({"step": s, "sizes": list(pruned.hidden_sizes), "neurons": int(sum(pruned.hidden_sizes)),
                         "accuracy_pruned": acc, "retrain_episodes": episodes})
            if episodes is None:
                break
        (work / "rows.json").write_text(json.dumps(rows, indent=1))
        return {"steps": len(rows) - 1, "final_neurons": rows[-1]["neurons"]}

    return store.load_or_build(ARTIFACT_KIND, config, build, version=VERSION, command=command or DEFAULT_COMMAND)


def iterative_study(artifact, tau: float, *, steps: int, n_episodes: int, episode_seed: int,
                    retrain_budget: int, command: str | None = None) -> list[dict[str, Any]]:
    """Prune-retrain ``steps`` times at ``tau`` (stored). Row 0 is the unpruned agent; row
    ``s`` the network after step ``s``: ``step``, ``sizes`` (per layer), ``neurons``,
    ``accuracy_pruned``, ``retrain_episodes`` (None: not passed within the budget, the study
    stops)."""
    art = _iterative_artifact(artifact, tau, steps=steps, n_episodes=n_episodes, episode_seed=episode_seed,
                              retrain_budget=retrain_budget, command=command)
    return json.loads(art.file("rows.json").read_text())


def pruned_agent(artifact, tau: float, *, steps: int, n_episodes: int, episode_seed: int,
                 retrain_budget: int, command: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """The network at the end of :func:`iterative_study` (same arguments, same stored
    artifact): ``(model, rows)``. ``model`` is the float32 :class:`~rlinside.nets.mlp.MLP`
    after the last step that was run, retrained (it passed validation unless the last row's
    ``retrain_episodes`` is None)."""
    art = _iterative_artifact(artifact, tau, steps=steps, n_episodes=n_episodes, episode_seed=episode_seed,
                              retrain_budget=retrain_budget, command=command)
    rows = json.loads(art.file("rows.json").read_text())
    model, _ = load_arm_weights(art.file(f"step{rows[-1]['step']}.pt"))
    return model, rows


def mean_or_nan(values) -> float:
    """Mean of the values that are neither None nor NaN (retraining runs that passed); NaN if none."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    return float(np.mean(vals)) if vals else float("nan")
