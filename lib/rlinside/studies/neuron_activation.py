"""The neuron-activation chapter's studies: distances (Figure 2), pruning (Figure 3) and
projections between networks (Figures 4-5, the mapping tables).

**Pruning (Figure 3), as stored experiments.** Two experiments on shipped planar-arm agents
(:mod:`rlinside.agents.arm_dqn`), each a store artifact (kind ``arm-pruning``) so that the
book reads results computed once:

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
:func:`iterative_table` runs the iterative study over the chapter's agents for ``02_pruning``.

**Pruning against simple rules.** :func:`pruning_comparison_task` (a :mod:`rlinside.sweep`
task, ``sweeps/arm_pruning_*.yml``) prunes one agent at one ``tau`` by the cluster merge and
cuts it to the same layer sizes by two simple rules (:data:`PRUNING_METHODS`), with or without
retraining; :func:`pruning_comparison` reads or computes a grid of them, and
:func:`merge_rows`, :func:`zero_rows`, :func:`comparison_summary`, :func:`baseline_gap_values`,
:func:`baseline_retrain_values` and :func:`shape_table` give ``02_pruning``'s tables and claim
values.

**Distances (Figure 2).** :func:`figure2_networks` gives a random, the trained and the pruned
network of one agent with their activations on the same sample episodes;
:func:`distance_densities` the densities and tables of their neuron distances (eq. 2),
:func:`cluster_trees` the per-layer cluster trees cut at ``tau`` (eq. 3), and
:func:`trained_vs_random` the same comparison over every shipped agent of a width.

**Projections (Section 6).** :func:`project_arms` maps every ordered pair of agents of the
given arms with the linear mapping (eq. 5; :func:`rlinside.explain.projection.project_networks`)
and scores it (eqs. 6-8); :func:`error_grid`, :func:`layer_projections` (eq. 9) and
:func:`layer_cka` summarise the maps per pair of arms; :func:`compare_techniques` sets the
greedy against the linear map between agents of one arm, on held-out samples.

**Claims.** :func:`distance_claim_values`, :func:`episode_distance_stats` /
:func:`pruned_vs_trained_episodes`, :func:`zero_tau_values`, :func:`tau_linearity`,
:func:`retrain_cost_values`, :func:`retrain_cost_rise`, :func:`iterative_values`,
:func:`projection_claim_values`, :func:`technique_values` and
:func:`transfer_success_differences` turn the notebooks' tables into the per-unit values of the
chapter's claims (``notebooks/neuron_activation/claims.yml``), which the notebooks hand to
:func:`rlinside.claims.measure`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rlinside import store
from rlinside.agents.arm_dqn import (
    ArmDQNConfig,
    build_q_network,
    find_arm_agents,
    load_arm_agent,
    load_arm_weights,
    retrain_until_valid,
    run_episodes,
    save_arm_weights,
    validate,
)
from rlinside.envs.planar_arm import transform_joint_observations
from rlinside.explain.activations import (
    distance_kde,
    layer_linkages,
    layerwise_neuron_distances,
    live_neurons,
    neuron_distances,
    record_activations,
    upper_triangle,
)
from rlinside.explain.projection import Projection, cka_matrix, deduplicate_inputs, project_networks
from rlinside.explain.pruning import bfs_segmentation, prune_mlp
from rlinside.nets.mlp import MLP
from rlinside.utils import seed_everything

__all__ = ["ARTIFACT_KIND", "tau_sweep", "iterative_study", "pruned_agent", "mean_or_nan",
           "sweep_agents", "iterative_table",
           "ArmNetworks", "figure2_networks", "DistanceDensities", "distance_densities", "LayerTree",
           "cluster_trees", "TrainedVsRandom", "trained_vs_random", "RANDOM_NETWORKS", "dead_neuron_table",
           "ArmProjections", "project_arms", "error_grid", "layer_projections", "layer_cka", "layer_pair_errors",
           "TechniqueComparison", "compare_techniques", "distance_claim_values", "distance_variants",
           "AGENT_INPUTS", "activations_on", "episode_distance_stats",
           "pruned_vs_trained_episodes", "zero_tau_values", "zero_tau_depth_values", "tau_linearity",
           "retrain_cost_values", "mean_replaced_comparison", "baseline_gap_table",
           "retrain_cost_rise", "iterative_values", "projection_claim_values", "technique_values",
           "transfer_success_differences", "PRUNING_METHODS", "pruning_comparison_task", "COMPARISON_SWEEPS",
           "comparison_agents", "pruning_comparison", "merge_rows", "zero_rows", "comparison_summary",
           "baseline_gap_values", "baseline_retrain_values", "PAPER_SHAPE", "shape_table"]

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


# ------------------------------------------------------------------------------ pruning tables (02)


def sweep_agents(n_joints: int, width: int, agent_seeds) -> list:
    """The shipped agents of the tau sweep: the first stored ``arm-dqn`` artifact of
    ``(n_joints, width, seed)`` for each seed of ``agent_seeds``. A seed without an agent is an
    error that names the command to train it (a profile never silently runs on fewer agents
    than it asks for)."""
    found = {s: find_arm_agents(n_joints, width, s)[:1] for s in agent_seeds}
    missing = [s for s, a in found.items() if not a]
    if missing:
        raise store.ArtifactError(
            f"no stored {n_joints}-joint agent of width {width} for seed(s) {missing}; train each with "
            f"python scripts/train_arm.py --joints {n_joints} --width {width} --seed S (or run the profile's sweep)")
    return [a for s in agent_seeds for a in found[s]]


def agents_table(widths: list[int] | None = None) -> pd.DataFrame:
    """Every stored arm agent (of ``widths``, default all): its arm, width and seed, the training
    episodes it took to pass validation, and its success on the 300 validation goals and on 300
    fresh hold-out goals, with whether the hold-out test (at least 279 of 300) passed too. An
    agent can pass validation (where training stopped) and still fail the hold-out test."""
    rows = []
    for a in find_arm_agents():
        if widths is not None and a.config["width"] not in widths:
            continue
        m = a.manifest.get("metrics", {})
        rows.append({"joints": a.config["n_joints"], "width": a.config["width"], "seed": a.config["seed"],
                     "agent": a.key, "training episodes": m.get("training_episodes"),
                     "validation success": m.get("validation_success_rate_shipped", m.get("validation_success_rate")),
                     "hold-out success": m.get("holdout_success_rate"), "hold-out passed": m.get("holdout_passed")})
    return pd.DataFrame(rows)


def iterative_table(n_joints: int, widths, tau: float, *, steps: int, n_episodes: int, episode_seed: int,
                    retrain_budget: int) -> tuple[pd.DataFrame, list[int]]:
    """:func:`iterative_study` of the shipped seed-0 agent of each width: ``(table, missing)``.

    ``table`` has one row per (width, step), the ``width`` first and then
    :func:`iterative_study`'s columns; ``missing`` lists the widths with no shipped agent.
    """
    iter_rows, missing = [], []
    for w in widths:
        found = find_arm_agents(n_joints, w, 0)
        if not found:
            missing.append(w)
            continue
        for r in iterative_study(found[0], tau, steps=steps, n_episodes=n_episodes,
                                 episode_seed=episode_seed, retrain_budget=retrain_budget):
            iter_rows.append({"width": w, **r})
    return pd.DataFrame(iter_rows), missing


# ------------------------------------------------------------------------------ distances (01)


@dataclass
class ArmNetworks:
    """The three networks of Figure 2 and their hidden activations on the same sample episodes."""

    config: ArmDQNConfig  #: the trained agent's configuration (shared by all three)
    nets: dict[str, MLP]  #: ``"random"``, ``"trained"``, ``"pruned"``
    activations: dict[str, list[list[np.ndarray]]]  #: name -> ``episodes[e][l]: (T, n_l)``
    prune_rows: list[dict[str, Any]]  #: the steps that made the pruned network (:func:`iterative_study`)
    summary: pd.DataFrame  #: one row per network: ``hidden layer sizes``, ``validation success``


def figure2_networks(n_joints: int, width: int, agent_seed: int, *, n_episodes: int, episode_seed: int,
                     tau: float, prune_steps: int, prune_episodes: int, retrain_budget: int) -> ArmNetworks:
    """The shipped agent ``(n_joints, width, agent_seed)``, a network of its architecture with
    fresh random weights (seed 1234) and the agent after ``prune_steps`` prune-retrain steps at
    ``tau`` (:func:`pruned_agent`, stored; ``prune_episodes`` sample episodes decide the
    clusters), with the activations of each on ``n_episodes`` episodes (goals from
    ``episode_seed``) and their validation success rates."""
    trained, artifact = load_arm_agent(n_joints, width, agent_seed)
    config = ArmDQNConfig.from_dict(artifact.config)
    seed_everything(1234)
    untrained = build_q_network(config)  # same architecture, fresh random weights
    pruned, prune_rows = pruned_agent(artifact, tau, steps=prune_steps, n_episodes=prune_episodes,
                                      episode_seed=episode_seed, retrain_budget=retrain_budget)
    nets = {"random": untrained, "trained": trained, "pruned": pruned}
    acts = {k: run_episodes(m, config, n_episodes, episode_seed).activations for k, m in nets.items()}
    summary = pd.DataFrame([{"network": k, "hidden layer sizes": m.hidden_sizes,
                             "validation success": validate(m, config).success_rate} for k, m in nets.items()])
    return ArmNetworks(config, nets, acts, prune_rows, summary)


@dataclass
class DistanceDensities:
    """Neuron distances (eq. 2) of several networks: densities and summary tables."""

    #: name -> ``{"all-to-all": (grid (G,), density (G,), n_pairs), "layer-wise": (...)}``
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray, int]]]
    stats: pd.DataFrame  #: one row per network: mean and std of the distances, share below 0.1
    per_layer: pd.DataFrame  #: index network, one column per layer: mean within-layer distance


def distance_densities(activations: dict[str, list[list[np.ndarray]]]) -> DistanceDensities:
    """Distances between the hidden neurons of each network, all-to-all (every pair of hidden
    neurons) and layer-wise (pairs within a layer; layers of one neuron are left out), their
    kernel density estimates (:func:`~rlinside.explain.activations.distance_kde`) and tables.

    ``activations``: name -> ``episodes[e][l]: (T, n_l)`` (e.g. :attr:`ArmNetworks.activations`).
    """
    curves, stats, per_layer = {}, [], []
    for name, a in activations.items():
        d_all = upper_triangle(neuron_distances(a))
        layers = layerwise_neuron_distances(a)
        d_layer = np.concatenate([upper_triangle(D) for D in layers if len(D) > 1])
        curves[name] = {scope: (*distance_kde(d), len(d)) for scope, d in (("all-to-all", d_all),
                                                                            ("layer-wise", d_layer))}
        stats.append({"network": name, "mean distance (all-to-all)": d_all.mean(),
                      "std (all-to-all)": d_all.std(), "mean distance (layer-wise)": d_layer.mean(),
                      "std (layer-wise)": d_layer.std(), "pairs at distance < 0.1": (d_all < 0.1).mean()})
        per_layer.append({"network": name, **{f"layer {k + 1}": upper_triangle(D).mean()
                                               for k, D in enumerate(layers) if len(D) > 1}})
    return DistanceDensities(curves, pd.DataFrame(stats), pd.DataFrame(per_layer).set_index("network"))


@dataclass(frozen=True)
class LayerTree:
    """The cluster tree of one hidden layer, cut where pruning cuts it."""

    linkage: np.ndarray  #: ``(n_l - 1, 4)`` SciPy linkage (average linkage on eq. 2's distances)
    cut: float  #: ``tau`` times the layer's largest merge distance
    kept: int  #: clusters below the cut: the neurons the layer keeps when pruned at ``tau``

    @property
    def neurons(self) -> int:
        """Neurons of the layer, ``n_l``."""
        return len(self.linkage) + 1


def cluster_trees(activations: dict[str, list[list[np.ndarray]]], tau: float) -> dict[str, list[LayerTree]]:
    """Per network (``activations``: name -> ``episodes[e][l]: (T, n_l)``), one
    :class:`LayerTree` per hidden layer, cut at ``tau`` of the layer's largest merge distance
    (:func:`~rlinside.explain.pruning.bfs_segmentation`, as :func:`~rlinside.explain.pruning.prune_mlp`)."""
    trees = {}
    for name, a in activations.items():
        trees[name] = []
        for Z in layer_linkages(a):
            cut = tau * Z[:, 2].max()
            trees[name].append(LayerTree(Z, cut, len(bfs_segmentation(Z, cut))))
    return trees


@dataclass
class TrainedVsRandom:
    """Neuron distances of trained agents against random networks of the same architecture."""

    #: one row per (agent, network): joints, seed, network, mean/std distance over all neurons
    #: and over the live ones, dead neurons (in all and per layer), layer ratio, and the mean
    #: within-layer distance of each hidden layer (``layer 1`` ... ``layer L``). ``network`` is
    #: ``trained``, ``random`` (Xavier initialisation, the paper's reference) or ``random
    #: (default init)`` (PyTorch's default, the initialisation our agents train from).
    rows: pd.DataFrame
    paired: pd.DataFrame  #: index (joints, seed), columns (measure, network)
    trained_mean_below: float  #: share of agents whose trained mean distance is below the random one's
    trained_std_below: float  #: the same for the spread (std) of the distances
    trained_ratio_above: float  #: share whose trained last/first layer ratio is above the random one's


#: The random reference networks of :func:`trained_vs_random`: name -> initialisation.
RANDOM_NETWORKS = {"random": "xavier", "random (default init)": "default"}
#: the Xavier random network run on the trained agent's observations instead of its own episodes
AGENT_INPUTS = "random, agent's inputs"


def activations_on(model: Any, observations: np.ndarray) -> list[list[np.ndarray]]:
    """The hidden ReLU activations of ``model`` for ``observations: (N, T, obs_dim)`` (say, another
    network's episodes), per episode and layer as :attr:`Rollouts.activations`: ``[(T, width_l)]``."""
    import torch

    N, T = observations.shape[:2]
    with torch.no_grad():
        _, acts = model(torch.from_numpy(np.ascontiguousarray(observations, np.float32).reshape(N * T, -1)),
                        return_activations=True)
    layers = [h.numpy().reshape(N, T, -1) for h in acts]
    return [[lay[i] for lay in layers] for i in range(N)]


def _distance_row(activations: list[list[np.ndarray]]) -> dict[str, float]:
    """All-neuron and live-neuron distance statistics of one network's sample episodes."""
    D = neuron_distances(activations)
    live = np.concatenate(live_neurons(activations))
    layers = layerwise_neuron_distances(activations)
    layer_means = [upper_triangle(Dl).mean() for Dl in layers]
    d_all, d_live = upper_triangle(D), upper_triangle(D[np.ix_(live, live)]) if live.sum() > 1 else np.array([np.nan])
    dead = [int((~m).sum()) for m in live_neurons(activations)]
    return {"mean distance": d_all.mean(), "std distance": d_all.std(),
            "mean distance (live)": float(d_live.mean()), "std distance (live)": float(d_live.std()),
            "dead neurons": int(sum(dead)), "last/first layer ratio": layer_means[-1] / layer_means[0],
            **{f"layer {k + 1}": v for k, v in enumerate(layer_means)},
            **{f"dead in layer {k + 1}": v for k, v in enumerate(dead)}}


def trained_vs_random(joints, width: int, *, n_episodes: int, episode_seed: int) -> TrainedVsRandom:
    """Every shipped agent of ``width`` for the arms in ``joints`` against random networks of
    its own architecture (seeded ``1234 + agent seed``), one per initialisation of
    :data:`RANDOM_NETWORKS`, on ``n_episodes`` sample episodes (goals from ``episode_seed``):
    all-to-all mean and std of the distances (eq. 2) over all neurons and over the live ones
    (:func:`~rlinside.explain.activations.live_neurons`), the dead neurons per layer, and the
    mean within-layer distance of the last hidden layer over that of the first. The summary
    shares compare the trained network with the Xavier one (``random``)."""
    from rlinside.agents import shipped

    summary_rows = []
    found = [a for j in joints for a in find_arm_agents(j, width)]
    by_agent: dict[tuple[int, int], list] = {}
    for a in found:  # one agent per (arm, seed), as load_arm_agent picks it (runs of other budgets exist)
        by_agent.setdefault((a.config["n_joints"], a.config["seed"]), []).append(a)
    for art in [shipped.most_trained(v) for _, v in sorted(by_agent.items())]:
        cfg = ArmDQNConfig.from_dict(art.config)
        nets = {"trained": load_arm_weights(art.file("weights.pt"))[0]}
        for name, init in RANDOM_NETWORKS.items():
            seed_everything(1234 + art.config["seed"])
            nets[name] = build_q_network(cfg, init=init)
        own = {}
        for name, m in nets.items():
            own[name] = run_episodes(m, cfg, n_episodes, episode_seed)
            summary_rows.append({"joints": cfg.n_joints, "seed": cfg.seed, "network": name,
                                 **_distance_row(own[name].activations)})
        # the alternative reading: the Xavier network fed the trained agent's own observations
        a = activations_on(nets["random"], own["trained"].observations)
        summary_rows.append({"joints": cfg.n_joints, "seed": cfg.seed, "network": AGENT_INPUTS, **_distance_row(a)})
    across = pd.DataFrame(summary_rows)
    if not len(across):
        empty = pd.DataFrame()
        return TrainedVsRandom(across, empty, float("nan"), float("nan"), float("nan"))
    paired = across.pivot_table(index=["joints", "seed"], columns="network",
                                values=["mean distance", "std distance", "mean distance (live)",
                                        "std distance (live)", "dead neurons", "last/first layer ratio"])
    lower_mean = (paired[("mean distance", "trained")] < paired[("mean distance", "random")]).mean()
    lower_std = (paired[("std distance", "trained")] < paired[("std distance", "random")]).mean()
    ratio_up = (paired[("last/first layer ratio", "trained")] > paired[("last/first layer ratio", "random")]).mean()
    return TrainedVsRandom(across, paired, lower_mean, lower_std, ratio_up)


def dead_neuron_table(across: TrainedVsRandom) -> pd.DataFrame:
    """Mean dead neurons per hidden layer, by network, over the agents of ``across``."""
    cols = [c for c in across.rows.columns if c.startswith("dead in layer ")]
    if not cols:
        return pd.DataFrame()
    return across.rows.groupby("network", sort=False)[cols].mean().rename(
        columns=lambda c: c.replace("dead in ", ""))


# ------------------------------------------------------------------------------ projections (03)


def _diagonal_share(P: np.ndarray) -> float:
    """Share of target layers whose largest entry of the layer projection ``P: (L_s, L_t)`` is
    the source layer of the same depth (NaN entries never win)."""
    return float(np.mean(np.nanargmax(np.nan_to_num(P, nan=-1), axis=0) == np.arange(P.shape[1])))


def _samples(model: MLP, config: ArmDQNConfig, n_episodes: int, episode_seed: int) -> np.ndarray:
    """Deduplicated observations ``(N, n_in)`` of ``n_episodes`` episodes of ``model``."""
    obs = run_episodes(model, config, n_episodes, episode_seed, record_activations=False).observations
    return deduplicate_inputs(obs.reshape(-1, obs.shape[-1]))


@dataclass
class ArmProjections:
    """Linear mappings between every ordered pair of agents of several arms (:func:`project_arms`)."""

    joints: list[int]  #: the arms
    agent_seeds: list[int]  #: training seeds of the agents per arm
    transform: str  #: input transformation of the main figures between arms (``balanced``, ``naive``)
    #: one row per mapping: ``source→target`` (arms), ``inputs`` (reflexive, same arm, naive,
    #: balanced, untrained source), source and target seed, normalised error, saturation, coverage
    mappings: pd.DataFrame
    table: pd.DataFrame  #: ``mappings`` by (source→target, inputs): mean, std, count of the three metrics
    projections: dict[tuple[int, int, str], list[Projection]]  #: (source arm, target arm, inputs) -> maps
    #: (source arm, target arm) -> ``(source, target)`` per-layer activations ``(N, n_l)`` of each
    #: mapping with ``transform`` inputs (same-arm pairs: other agents; reflexive with one seed)
    pair_activations: dict[tuple[int, int], list[tuple[list[np.ndarray], list[np.ndarray]]]]
    #: (source arm, target arm, inputs) -> ``(source seed, target seed)`` of each map in ``projections``
    projection_keys: dict[tuple[int, int, str], list[tuple[int, int]]] = field(default_factory=dict)
    #: (source arm, target arm) -> ``(untrained source, target)`` per-layer activations, as
    #: ``pair_activations`` with the untrained source networks (the baseline of CKA)
    untrained_activations: dict[tuple[int, int], list[tuple[list[np.ndarray], list[np.ndarray]]]] = \
        field(default_factory=dict)

    @property
    def diag_kind(self) -> str:
        """The inputs of the same-arm cells: ``same arm`` (other agents), or ``reflexive`` with one seed."""
        return "same arm" if len(self.agent_seeds) > 1 else "reflexive"


def project_arms(joints, width: int, agent_seeds, *, n_episodes: int, episode_seed: int, lam: float,
                 transform: str, dead_pruned: bool = False) -> ArmProjections:
    """Map every ordered pair of the shipped agents ``(arm in joints, seed in agent_seeds)`` of
    ``width`` with the linear mapping (eq. 5, penalty ``lam``) on the target's samples
    (deduplicated observations of ``n_episodes`` episodes, goals from ``episode_seed``),
    translated into the source arm's inputs.

    Between arms both ``naive`` and ``balanced`` inputs are mapped; an agent onto itself is the
    ``reflexive`` baseline, onto another agent of its arm ``same arm``. For each target agent
    and source arm one ``untrained source`` (Xavier-initialised weights, seeded 99, of the
    source's architecture) with ``transform`` inputs. The errors (eq. 6) are measured on the fitting
    samples. The fit is :func:`~rlinside.explain.projection.project_networks`; the activations
    for the error and for CKA are recorded once more from the same inputs (identical values).

    ``dead_pruned``: every trained agent is first pruned at ``tau = 0`` on its own ``n_episodes``
    episodes (:func:`~rlinside.explain.pruning.prune_mlp`: its dead neurons removed, exact
    duplicates merged; the same function), so the maps see only its live neurons; only the
    ``transform`` maps between arms are fitted, and no untrained source.
    """
    keys = [(n, s) for n in joints for s in agent_seeds]  # (joints, training seed) of each agent
    agents = {k: load_arm_agent(k[0], width, k[1]) for k in keys}
    models = {k: m for k, (m, _) in agents.items()}
    configs = {k: ArmDQNConfig.from_dict(a.config) for k, (_, a) in agents.items()}
    samples = {k: _samples(models[k], configs[k], n_episodes, episode_seed) for k in keys}
    if dead_pruned:
        models = {k: prune_mlp(m, run_episodes(m, configs[k], n_episodes, episode_seed).activations, 0.0)[0]
                  for k, m in models.items()}
    seed_everything(99)
    untrained = {k: build_q_network(configs[k], init="xavier") for k in keys}

    def mapping(src: tuple[int, int], tgt: tuple[int, int], mode: str, source_models=models):
        xt = samples[tgt]
        xs = transform_joint_observations(xt, tgt[0], src[0], mode) if src[0] != tgt[0] else xt
        p = project_networks(source_models[src], models[tgt], xt, source_inputs=xs, method="linear", lam=lam)
        s_act = record_activations(source_models[src], [xs])[0]
        t_act = record_activations(models[tgt], [xt])[0]
        return p, p.normalized_error(s_act, t_act), (s_act, t_act)

    def input_kinds(src, tgt) -> tuple[str, ...]:
        if src == tgt:
            return ("reflexive",)
        if src[0] == tgt[0]:
            return ("same arm",)
        return (transform,) if dead_pruned else ("naive", "balanced")

    rows, projections, pair_acts, projection_keys, untrained_acts = [], {}, {}, {}, {}
    for src, tgt in itertools.product(keys, keys):
        for kind in input_kinds(src, tgt):
            p, err, a_ = mapping(src, tgt, "naive" if kind in ("naive", "same arm", "reflexive") else kind)
            projections.setdefault((src[0], tgt[0], kind), []).append(p)
            projection_keys.setdefault((src[0], tgt[0], kind), []).append((src[1], tgt[1]))
            if kind in (transform, "same arm") or (kind == "reflexive" and len(agent_seeds) == 1):
                pair_acts.setdefault((src[0], tgt[0]), []).append(a_)
            rows.append({"source→target": f"{src[0]}→{tgt[0]}", "inputs": kind, "source seed": src[1],
                         "target seed": tgt[1], "normalised error": err,
                         "saturation": p.saturation(), "coverage": p.coverage()})
        if src[1] == tgt[1] and not dead_pruned:  # one untrained source per (target agent, source arm)
            kind = transform if src[0] != tgt[0] else "naive"
            u, u_err, u_acts = mapping(src, tgt, kind, source_models=untrained)
            untrained_acts.setdefault((src[0], tgt[0]), []).append(u_acts)
            rows.append({"source→target": f"{src[0]}→{tgt[0]}", "inputs": "untrained source",
                         "source seed": src[1], "target seed": tgt[1], "normalised error": u_err,
                         "saturation": u.saturation(), "coverage": u.coverage()})
    mappings = pd.DataFrame(rows)
    table = (mappings.groupby(["source→target", "inputs"], sort=False)
             [["normalised error", "saturation", "coverage"]].agg(["mean", "std", "count"]))
    return ArmProjections(list(joints), list(agent_seeds), transform, mappings, table, projections, pair_acts,
                          projection_keys, untrained_acts)


def dead_pruned_table(arms: ArmProjections, pruned: ArmProjections) -> pd.DataFrame:
    """The three mapping metrics of the same agent pairs before and after pruning the agents'
    dead neurons (``pruned``: :func:`project_arms` with ``dead_pruned=True``): one row per
    (source→target, inputs) of ``arms.transform`` inputs between arms and ``diag_kind`` within
    one, columns (metric, ``all neurons`` / ``dead pruned``) of the means over the agent pairs."""
    kinds = (arms.transform, arms.diag_kind)
    metrics = ["normalised error", "saturation", "coverage"]
    out = {}
    for label, r in (("all neurons", arms), ("dead pruned", pruned)):
        m = r.mappings[r.mappings["inputs"].isin(kinds)]
        out[label] = m.groupby(["source→target", "inputs"], sort=False)[metrics].mean()
    return pd.concat(out, axis=1).swaplevel(0, 1, axis=1)[metrics]


def error_grid(result: ArmProjections, kind: str, metric: str = "normalised error") -> np.ndarray:
    """Mean ``metric`` (``normalised error``, ``saturation``, ``coverage``) per (source arm,
    target arm), ``(J, J)`` in the order of ``result.joints``, for inputs ``kind`` (``naive``,
    ``balanced``, ``untrained source``).
    Same-arm cells use other agents of the arm (the reflexive map when only one seed is given),
    except for untrained sources."""
    joints, table = result.joints, result.table
    g = np.full((len(joints), len(joints)), np.nan)
    for i, a in enumerate(joints):
        for j, b in enumerate(joints):
            k = kind if a != b or kind == "untrained source" else result.diag_kind
            g[i, j] = table.loc[(f"{a}→{b}", k), (metric, "mean")]
    return g


def layer_projections(result: ArmProjections) -> tuple[dict[tuple[int, int], np.ndarray], pd.DataFrame]:
    """Mean layer projection matrices (eq. 9) per pair of arms, ``(a, b) -> (L_source, L_target)``
    (NaN-mean over the agent pairs; ``result.transform`` inputs between arms, ``diag_kind`` maps
    within one), and a table per pair: the mean share from source layer 1, the shares of target
    layers fed mostly by the same-depth source layer and by source layer 1, the mean diagonal share."""
    joints = result.joints
    mean_P = {(a, b): np.nanmean([p.layer_projection()
                                  for p in result.projections[(a, b, result.transform if a != b
                                                               else result.diag_kind)]], axis=0)
              for a, b in itertools.product(joints, joints)}
    layer_rows = []
    for (a, b), P in mean_P.items():
        best = np.nanargmax(np.nan_to_num(P, nan=-1), axis=0)
        layer_rows.append({"source→target": f"{a}→{b}", "mean share from source layer 1": float(np.nanmean(P[0])),
                           "target layers fed mostly by the same-depth source layer":
                               float(np.mean(best == np.arange(P.shape[1]))),
                           "target layers fed mostly by source layer 1": float(np.mean(best == 0)),
                           "mean diagonal share": float(np.nanmean(np.diag(P)))})
    return mean_P, pd.DataFrame(layer_rows)


def layer_cka(result: ArmProjections) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Mean linear CKA between the layers of the agents of each pair of arms, ``"a→b" ->
    (L_source, L_target)`` over :attr:`ArmProjections.pair_activations`, and a table per pair:
    the mean diagonal CKA and the CKA of the first and of the last layers."""
    joints = result.joints
    cka = {f"{a}→{b}": np.mean([cka_matrix(sa, ta) for sa, ta in result.pair_activations[(a, b)]], axis=0)
           for a, b in itertools.product(joints, joints)}
    base = {f"{a}→{b}": np.mean([cka_matrix(sa, ta) for sa, ta in result.untrained_activations[(a, b)]], axis=0)
            for a, b in itertools.product(joints, joints) if result.untrained_activations.get((a, b))}
    table = pd.DataFrame([{"source→target": k, "mean diagonal CKA": float(np.mean(np.diag(v))),
                           "mean diagonal CKA, untrained source": float(np.mean(np.diag(base[k]))) if k in base
                           else float("nan"),
                           "layer 1 ↔ layer 1": float(v[0, 0]), "layer 6 ↔ layer 6": float(v[-1, -1])}
                          for k, v in cka.items()])
    return cka, table


def layer_pair_errors(result: ArmProjections, *, max_samples: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """The paper's layer-by-layer error table (Fig. 5, top right): for each pair of arms ``"a→b"``,
    the normalised error (eq. 6) of a linear mapping (eq. 5, ``lam`` of the study not stored:
    the paper's 50) fitted from each source layer alone onto each target layer alone,
    ``(L_source, L_target)``, on the first agent pair of :attr:`ArmProjections.pair_activations`
    (at most ``max_samples`` of its samples, drawn with ``seed``: 36 fits per pair)."""
    from rlinside.explain.projection import layerwise_projection_errors

    out = {}
    rng = np.random.default_rng(seed)
    for (a, b), pairs in result.pair_activations.items():
        sa, ta = pairs[0]
        n = sa[0].shape[0]
        idx = np.sort(rng.choice(n, size=min(n, max_samples), replace=False))
        out[f"{a}→{b}"] = layerwise_projection_errors([x[idx] for x in sa], [x[idx] for x in ta])
    return out


@dataclass
class TechniqueComparison:
    """Greedy against linear maps between agents of one arm (:func:`compare_techniques`)."""

    n_agents: int  #: agents of the arm
    #: one row per (ordered pair, method): source, target, method, normalised error (held out),
    #: saturation, coverage, diagonal (share of target layers fed mostly by the same-depth layer)
    pairs: pd.DataFrame
    means: pd.DataFrame  #: the metrics averaged per method


def compare_techniques(same_arm: int, *, n_episodes: int, episode_seed: int, lam: float) -> TechniqueComparison:
    """Greedy and linear (``lam``) maps between every ordered pair of the shipped agents of the
    arm ``same_arm`` (all widths and seeds, one agent each), fitted on the samples of ``n_episodes`` episodes of
    the target agent (goals from ``episode_seed``) and scored (eq. 6) on held-out episodes of the
    target (``episode_seed + 1000``). Fits by :func:`~rlinside.explain.projection.project_networks`."""
    from rlinside.agents import shipped

    by_agent: dict[tuple[int, int], list] = {}
    for a in find_arm_agents(same_arm):  # one per (width, seed): runs of two budgets can hold the same network
        by_agent.setdefault((a.config["width"], a.config["seed"]), []).append(a)
    agents = [shipped.most_trained(v) for _, v in sorted(by_agent.items())]
    same = [(a.config["width"], a.config["seed"], load_arm_weights(a.file("weights.pt"))[0]) for a in agents]
    cfg_same = ArmDQNConfig.from_dict(agents[0].config)
    # each mapping is fitted and scored on the samples of its target agent's own episodes
    fit = {(w, s): _samples(m, cfg_same, n_episodes, episode_seed) for w, s, m in same}
    held_out = {(w, s): _samples(m, cfg_same, n_episodes, episode_seed + 1000) for w, s, m in same}
    technique_rows = []
    for (wa, sa, ma), (wb, sb, mb) in itertools.permutations(same, 2):
        x_fit, x_test = fit[wb, sb], held_out[wb, sb]
        src_test, tgt_test = record_activations(ma, [x_test])[0], record_activations(mb, [x_test])[0]
        for method in ("greedy", "linear"):
            proj = project_networks(ma, mb, x_fit, method=method, lam=lam)
            technique_rows.append({
                "source": f"w{wa} s{sa}", "target": f"w{wb} s{sb}", "method": method,
                "normalised error (held out)": proj.normalized_error(src_test, tgt_test),
                "saturation": proj.saturation(), "coverage": proj.coverage(),
                "diagonal": _diagonal_share(proj.layer_projection()),
            })
    techniques = pd.DataFrame(technique_rows)
    means = techniques.groupby("method")[["normalised error (held out)", "saturation", "coverage", "diagonal"]].mean()
    return TechniqueComparison(len(same), techniques, means)


def lambda_comparison(same_arm: int, width: int, agent_seeds: list[int], lams: list[float], *, n_episodes: int,
                      episode_seed: int) -> pd.DataFrame:
    """The choice of the lasso penalty: linear maps between every ordered pair of the shipped
    agents ``(same_arm, width, seed)`` for each ``lam`` of ``lams``, fitted on the target's
    episodes and scored on held-out ones (as :func:`compare_techniques`). One row per (pair,
    lam): held-out normalised error (eq. 6), saturation (eq. 7) and coverage (eq. 8). A small
    penalty fits best but spreads each target neuron over many sources; a large one forces
    few sources at the cost of error: the paper's 50 sits between."""
    agents = sweep_agents(same_arm, width, agent_seeds)
    cfg = ArmDQNConfig.from_dict(agents[0].config)
    nets = {a.config["seed"]: load_arm_weights(a.file("weights.pt"))[0] for a in agents}
    fit = {s: _samples(m, cfg, n_episodes, episode_seed) for s, m in nets.items()}
    held_out = {s: _samples(m, cfg, n_episodes, episode_seed + 1000) for s, m in nets.items()}
    rows = []
    for sa, sb in itertools.permutations(sorted(nets), 2):
        src_test, tgt_test = (record_activations(nets[k], [held_out[sb]])[0] for k in (sa, sb))
        for lam in lams:
            proj = project_networks(nets[sa], nets[sb], fit[sb], method="linear", lam=lam)
            rows.append({"source": sa, "target": sb, "lambda": float(lam),
                         "normalised error (held out)": proj.normalized_error(src_test, tgt_test),
                         "saturation": proj.saturation(), "coverage": proj.coverage()})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ the claims' values
#
# Each function below turns a table of the notebooks into the per-unit values of the chapter's
# claims (notebooks/neuron_activation/claims.yml), keyed by the unit: an agent ``(joints, seed)``
# (or ``(width, seed)`` in the pruning study), a width, or an episode. The notebooks hand the
# values to :func:`rlinside.claims.measure`.


def _inner_mean(row, n_layers: int) -> float:
    """Mean within-layer distance over the inner hidden layers 2 .. L-1 of a row of
    :attr:`TrainedVsRandom.rows`."""
    return float(np.mean([row[f"layer {k}"] for k in range(2, n_layers)]))


def distance_claim_values(across: TrainedVsRandom, live: bool = False,
                          reference: str = "random") -> dict[str, dict[tuple[int, int], float]]:
    """Per agent ``(joints, seed)`` of :func:`trained_vs_random`, against its ``reference`` network
    (default ``random``: Xavier initialisation, the paper's reference, on its own episodes;
    :data:`AGENT_INPUTS`: the same network on the agent's observations; ``live=True``: the
    all-to-all statistics over live neurons only):

    * ``mean_gap``: random minus trained mean all-to-all distance;
    * ``std_gap``: random minus trained standard deviation of the all-to-all distances;
    * ``output_rise``: the trained network's mean within-layer distance over the second half of
      its hidden layers minus that over the first half, minus the same for the random network;
    * ``first_layer``: the trained network's mean within-layer distance of layer 1 minus the mean
      over the inner layers 2 .. L-1.
    """
    rows = across.rows
    n_layers = sum(c.startswith("layer ") and c[6:].isdigit() for c in rows.columns)
    if n_layers < 3:
        raise ValueError(f"the layer claims need at least 3 hidden layers, got {n_layers}")
    half = n_layers // 2

    def rise(r) -> float:  # second half of the layers minus the first half
        return float(np.mean([r[f"layer {k}"] for k in range(half + 1, n_layers + 1)])
                     - np.mean([r[f"layer {k}"] for k in range(1, half + 1)]))

    out: dict[str, dict[tuple[int, int], float]] = {k: {} for k in ("mean_gap", "std_gap", "output_rise",
                                                                   "first_layer")}
    for (joints, seed), g in rows.groupby(["joints", "seed"]):
        by = {r["network"]: r for _, r in g.iterrows()}
        if not {"trained", reference} <= set(by):
            continue
        tr, rd = by["trained"], by[reference]
        key = (int(joints), int(seed))
        suffix = " (live)" if live else ""
        out["mean_gap"][key] = float(rd["mean distance" + suffix] - tr["mean distance" + suffix])
        out["std_gap"][key] = float(rd["std distance" + suffix] - tr["std distance" + suffix])
        out["output_rise"][key] = rise(tr) - rise(rd)
        out["first_layer"][key] = float(tr["layer 1"]) - _inner_mean(tr, n_layers)
    return out


def distance_variants(across: TrainedVsRandom) -> pd.DataFrame:
    """The trained-against-random gaps of the mean and the spread of the distances under each
    reading (all neurons or live ones; the random network on its own episodes or on the agent's
    observations): per reading, the mean over agents and its 95 % bootstrap interval."""
    from rlinside import claims

    rows = []
    for reference, inputs in (("random", "its own episodes"), (AGENT_INPUTS, "the agent's observations")):
        for live in (False, True):
            v = distance_claim_values(across, live=live, reference=reference)
            for k, what in (("mean_gap", "mean"), ("std_gap", "spread")):
                vals = [v[k][a] for a in sorted(v[k])]
                lo, hi = claims.bootstrap_ci(vals) if len(vals) > 1 else (float("nan"), float("nan"))
                rows.append({"statistic": what, "neurons": "live" if live else "all", "random network on": inputs,
                             "random minus trained": float(np.mean(vals)) if vals else float("nan"),
                             "low": lo, "high": hi, "agents": len(vals)})
    return pd.DataFrame(rows)


def episode_distance_stats(activations: dict[str, list[list[np.ndarray]]], live: bool = False) -> pd.DataFrame:
    """Per network and sample episode ``E``: the mean and the standard deviation, over every pair
    of hidden neurons (``live=True``: of live neurons only, those positive at least once over
    all the episodes), of ``||z_i^(E) / Z_i - z_j^(E) / Z_j||`` (eq. 2 before its mean over
    episodes; ``Z`` over all episodes). The mean over episodes of ``mean`` is eq. 2's all-to-all
    mean distance. ``activations``: name -> ``episodes[e][l]: (T, n_l)``. One row per (network,
    episode): ``network``, ``episode``, ``mean``, ``std``."""
    from scipy.spatial.distance import pdist

    from rlinside.explain.activations import normalized_activations

    rows = []
    for name, a in activations.items():
        keep = np.concatenate(live_neurons(a))
        for e, layers in enumerate(normalized_activations(a)):
            x = np.concatenate(layers, axis=1)  # (T, n): every hidden neuron
            if live:
                x = x[:, keep]
            d = pdist(x.T) if x.shape[1] > 1 else np.zeros(0)
            rows.append({"network": name, "episode": e, "mean": float(d.mean()) if d.size else float("nan"),
                         "std": float(d.std()) if d.size else float("nan")})
    return pd.DataFrame(rows)


def pruned_vs_trained_episodes(stats: pd.DataFrame, *, pruned: str = "pruned",
                               trained: str = "trained") -> dict[str, dict[int, float]]:
    """Per sample episode (both networks ran the same goals): ``mean_gap`` (pruned minus trained
    mean pairwise distance) and ``std_gap`` (pruned minus trained spread), from
    :func:`episode_distance_stats`."""
    s = stats.set_index(["network", "episode"])
    out: dict[str, dict[int, float]] = {"mean_gap": {}, "std_gap": {}}
    if pruned not in s.index.get_level_values(0) or trained not in s.index.get_level_values(0):
        return out
    p, t = s.loc[pruned], s.loc[trained]
    for e in sorted(set(p.index) & set(t.index)):
        out["mean_gap"][int(e)] = float(p.loc[e, "mean"] - t.loc[e, "mean"])
        out["std_gap"][int(e)] = float(p.loc[e, "std"] - t.loc[e, "std"])
    return out


def zero_tau_values(zero: pd.DataFrame) -> dict[str, dict[tuple[int, int], float]]:
    """Per agent ``(width, seed)`` of :func:`zero_tau_table`: ``removed`` (the share of hidden
    neurons that pruning at tau = 0 removes) and ``success_change`` (validation success right
    after pruning minus before)."""
    out: dict[str, dict[tuple[int, int], float]] = {"removed": {}, "success_change": {}}
    for _, r in zero.iterrows():
        key = (int(r["width"]), int(r["seed"]))
        out["removed"][key] = 1.0 - float(r["neurons left"])
        out["success_change"][key] = float(r["success after"]) - float(r["success before"])
    return out


def zero_tau_depth_values(zero: pd.DataFrame) -> dict[tuple[int, int], float]:
    """Per agent ``(width, seed)`` of :func:`zero_tau_table`: the share of the neurons of the
    deeper half of the hidden layers that pruning at tau = 0 removes, minus the same share of
    the first half (positive: the deeper layers lose more). Every hidden layer of a shipped
    agent starts at its ``width``."""
    out = {}
    for _, r in zero.iterrows():
        sizes = np.asarray(r["sizes after"], dtype=np.float64)
        half = len(sizes) // 2
        removed = 1.0 - sizes / float(r["width"])
        out[(int(r["width"]), int(r["seed"]))] = float(removed[half:].mean() - removed[:half].mean())
    return out


def tau_linearity(sweep: pd.DataFrame, zero: pd.DataFrame, width: int) -> dict[int, float]:
    """Per agent seed of the tau sweep (:func:`tau_sweep_table`, agents of ``width``): the
    coefficient of determination R^2 of a straight line fitted to the share of hidden neurons
    left against tau, over the sweep's thresholds and tau = 0 (from :func:`zero_tau_table`, when
    it has the agent). NaN for an agent with fewer than three thresholds."""
    out = {}
    for seed, g in sweep.groupby("seed"):
        taus = list(g["tau"].astype(float))
        left = list(g["neurons_after"] / g["neurons_before"])
        z = zero[(zero["width"] == width) & (zero["seed"] == seed)] if len(zero) else zero
        if len(z) and 0.0 not in taus:
            taus.append(0.0)
            left.append(float(z["neurons left"].iloc[0]))
        t, y = np.asarray(taus), np.asarray(left)
        if len(np.unique(t)) < 3:
            out[int(seed)] = float("nan")
            continue
        fit = np.polyval(np.polyfit(t, y, 1), t)
        ss = float(((y - y.mean()) ** 2).sum())
        out[int(seed)] = 1.0 - float(((y - fit) ** 2).sum()) / ss if ss > 0 else float("nan")
    return out


def _retrain_episodes(sweep: pd.DataFrame, seed: int, tau: float, budget: int) -> float:
    """Retraining episodes of ``seed`` at ``tau`` in the sweep, ``budget`` when it did not pass
    (a lower bound of the true cost); NaN when the sweep has no such row."""
    g = sweep[(sweep["seed"] == seed) & np.isclose(sweep["tau"].astype(float), tau)]
    if not len(g):
        return float("nan")
    ep = g["retrain_episodes"].iloc[0]
    return float(budget) if ep is None or (isinstance(ep, float) and np.isnan(ep)) else float(ep)


def retrain_cost_values(sweep: pd.DataFrame, agents, *, tau: float, budget: int) -> dict[int, float]:
    """Per agent seed: the retraining episodes after one pruning step at ``tau`` (``budget`` when
    validation did not pass within it: a lower bound) as a share of the episodes the agent took
    to pass validation when trained from scratch (its manifest's ``training_episodes``)."""
    out = {}
    for art in agents:
        seed, scratch = int(art.config["seed"]), art.manifest.get("metrics", {}).get("training_episodes")
        ep = _retrain_episodes(sweep, seed, tau, budget)
        out[seed] = ep / float(scratch) if scratch else float("nan")
    return out


def retrain_cost_rise(sweep: pd.DataFrame, *, low: float, high: float, budget: int,
                      floor: int = 50) -> dict[int, float]:
    """Per agent seed: retraining episodes at ``high`` over those at ``low`` (at least ``floor``,
    the validation interval, so that a network passing at once does not divide by zero). A run at
    ``high`` that did not pass counts the budget (the ratio is then a lower bound); NaN when the
    run at ``low`` did not pass (nothing to compare with) or a threshold is missing."""
    out = {}
    for seed in sorted(sweep["seed"].unique()) if len(sweep) else []:
        g = sweep[(sweep["seed"] == seed) & np.isclose(sweep["tau"].astype(float), low)]
        if not len(g) or pd.isna(g["retrain_episodes"].iloc[0]):
            out[int(seed)] = float("nan")
            continue
        lo, hi = float(g["retrain_episodes"].iloc[0]), _retrain_episodes(sweep, int(seed), high, budget)
        out[int(seed)] = hi / max(lo, float(floor))
    return out


def iterative_values(iterative: pd.DataFrame, *, narrow_max: int = 48,
                     wide_min: int = 128) -> dict[str, dict[int, float]]:
    """Per initial width of :func:`iterative_table`:

    * ``first_step_share``: neurons removed by the first step as a share of all removed over the
      steps that were run (NaN when the study stopped after its first step);
    * ``wide_spread``: for widths ``>= wide_min``, the relative distance of the size after step 1
      from the mean over those widths, ``|n_1 / mean - 1|``;
    * ``taper``: for widths ``<= narrow_max``, the Spearman correlation of the layer sizes after
      the last step with depth (negative: the network narrows towards the output);
    * ``hourglass``: for widths ``>= wide_min``, the size of the last hidden layer after the last
      step over that of the smallest inner layer (2 .. L-1), minus 1 (positive: the network
      narrows in the middle and widens again at the end).
    """
    from scipy.stats import spearmanr

    out: dict[str, dict[int, float]] = {k: {} for k in ("first_step_share", "wide_spread", "taper", "hourglass")}
    if not len(iterative):
        return out
    step1 = {}
    for w, g in iterative.groupby("width"):
        g = g.sort_values("step")
        w, n = int(w), list(g["neurons"])
        if len(n) >= 3 and n[0] > n[-1]:
            out["first_step_share"][w] = (n[0] - n[1]) / (n[0] - n[-1])
        elif len(n) >= 2:
            out["first_step_share"][w] = float("nan")
        if len(n) >= 2:
            step1[w] = n[1]
        sizes = np.asarray(g["sizes"].iloc[-1], dtype=float)
        if w <= narrow_max and len(sizes) > 2:
            out["taper"][w] = float(spearmanr(np.arange(len(sizes)), sizes)[0])
        if w >= wide_min and len(sizes) > 2:
            out["hourglass"][w] = float(sizes[-1] / sizes[1:-1].min() - 1.0)
    wide = {w: n for w, n in step1.items() if w >= wide_min}
    if wide:
        m = float(np.mean(list(wide.values())))
        out["wide_spread"] = {w: abs(n / m - 1.0) for w, n in wide.items()}
    return out


def _arms(label: str) -> tuple[int, int]:
    a, b = label.split("→")
    return int(a), int(b)


def _nanmean(x) -> float:
    """Mean of the finite entries of ``x``; NaN (without a warning) when there are none."""
    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def projection_claim_values(result: ArmProjections) -> dict[str, dict[tuple[int, int], float]]:
    """Per agent ``(joints, seed)`` of :func:`project_arms`, the values of the projection claims
    (normalised error, eq. 6; layer projection, eq. 9). "Same-arm" maps are from the other agents
    of the agent's arm; between arms the inputs are ``result.transform`` unless named:

    * ``untrained_gap`` (per target agent): the error of the untrained source minus the mean error
      of the trained sources with the same inputs, averaged over the source arms;
    * ``naive_minus_balanced`` (per target agent of an arm that has an arm two or more joints away):
      the mean over the sources of that arm of the naive error minus the balanced error;
    * ``joint_difference_slope`` (per target agent): the least-squares slope of the error
      (naive inputs; same-arm maps at difference 0) against the joint difference ``|a - b|``;
    * ``complex_to_simple`` (per agent, over its partners of other arms): the error of the map from
      the simpler to the more complex arm minus that of the reverse map, averaged over partners;
    * ``diagonal`` (per target agent, same-arm maps): the mean diagonal entry of the layer
      projection minus its mean off-diagonal entry;
    * ``first_last`` (per target agent, same-arm maps): the mean of the first and the last
      diagonal entries minus the mean of the inner ones;
    * ``distant_first_layer`` (per target agent with an arm two or more joints away): the mean share
      of its target layers that comes from the source's first layer, maps from the most distant
      arm minus same-arm maps.
    """
    m = result.mappings.copy()
    m[["source arm", "target arm"]] = [list(_arms(s)) for s in m["source→target"]]
    out: dict[str, dict[tuple[int, int], float]] = {k: {} for k in (
        "untrained_gap", "naive_minus_balanced", "joint_difference_slope", "complex_to_simple",
        "diagonal", "first_last", "distant_first_layer")}
    joints, tf = result.joints, result.transform

    def trained_kind(a: int, b: int) -> str:
        return "same arm" if a == b else tf

    def errors(a: int, b: int, t: int, kind: str, s: int | None = None) -> pd.Series:
        sel = (m["source arm"] == a) & (m["target arm"] == b) & (m["target seed"] == t) & (m["inputs"] == kind)
        if s is not None:
            sel &= m["source seed"] == s
        return m.loc[sel, "normalised error"]

    def most_distant(b: int) -> int | None:
        far = max(joints, key=lambda a: abs(a - b))
        return far if abs(far - b) >= 2 else None

    targets = sorted({(int(b), int(t)) for b, t in zip(m["target arm"], m["target seed"])})
    for b, t in targets:
        gaps = []
        for a in joints:
            u, tr = errors(a, b, t, "untrained source"), errors(a, b, t, trained_kind(a, b))
            if len(u) and len(tr):
                gaps.append(float(u.mean() - tr.mean()))
        if gaps:
            out["untrained_gap"][(b, t)] = float(np.mean(gaps))
        far = most_distant(b)
        if far is not None:
            nv, bl = errors(far, b, t, "naive"), errors(far, b, t, "balanced")
            if len(nv) and len(bl):
                out["naive_minus_balanced"][(b, t)] = float(nv.mean() - bl.mean())
        pts = [(abs(a - b), e) for a in joints
               for e in errors(a, b, t, "same arm" if a == b else "naive")]
        if len({d for d, _ in pts}) >= 2:
            d, e = np.asarray(pts, dtype=float).T
            out["joint_difference_slope"][(b, t)] = float(np.polyfit(d, e, 1)[0])
    agents = sorted(set(targets) | {(int(a), int(s)) for a, s in zip(m["source arm"], m["source seed"])})
    for a, s in agents:
        diffs = []
        for b, t in agents:
            if b == a:
                continue
            (lo, lo_seed), (hi, hi_seed) = sorted([(a, s), (b, t)])
            up, down = errors(lo, hi, hi_seed, tf, lo_seed), errors(hi, lo, lo_seed, tf, hi_seed)
            if len(up) and len(down):
                diffs.append(float(up.iloc[0] - down.iloc[0]))
        if diffs:
            out["complex_to_simple"][(a, s)] = float(np.mean(diffs))

    def layer_maps(a: int, b: int, kind: str) -> dict[int, list[np.ndarray]]:
        by_target: dict[int, list[np.ndarray]] = {}
        for p, (_, t) in zip(result.projections.get((a, b, kind), []), result.projection_keys.get((a, b, kind), [])):
            by_target.setdefault(int(t), []).append(p.layer_projection())
        return by_target

    for b in joints:
        same = layer_maps(b, b, "same arm")
        far = most_distant(b)
        distant = layer_maps(far, b, tf) if far is not None else {}
        for t, Ps in same.items():
            diag, first_last, first_share = [], [], []
            for P in Ps:
                dg = np.diag(P)
                diag.append(_nanmean(dg) - _nanmean(P[~np.eye(*P.shape, dtype=bool)]))
                first_last.append(_nanmean([dg[0], dg[-1]]) - _nanmean(dg[1:-1]))
                first_share.append(_nanmean(P[0]))
            out["diagonal"][(b, t)] = _nanmean(diag)
            out["first_last"][(b, t)] = _nanmean(first_last)
            if distant.get(t):
                far_share = _nanmean([_nanmean(P[0]) for P in distant[t]])
                out["distant_first_layer"][(b, t)] = far_share - _nanmean(first_share)
    return out


def technique_values(same: TechniqueComparison) -> dict[str, float]:
    """Per target agent of :func:`compare_techniques`: the mean over its source agents of the
    greedy map's held-out normalised error minus the linear map's."""
    p = same.pairs.pivot_table(index=["source", "target"], columns="method", values="normalised error (held out)")
    if not {"greedy", "linear"} <= set(p.columns):
        return {}
    return {str(t): float(v) for t, v in (p["greedy"] - p["linear"]).groupby(level="target").mean().items()}


def transfer_success_differences(results: dict[int, tuple[dict, dict]]) -> dict[tuple[int, int], float]:
    """Per arm and goal ``(joints, episode)``: success in pybullet minus success in the planar
    model (1, 0 or -1) on the same goal; ``results``: joints -> ``(planar, bullet)`` as returned by
    :func:`~rlinside.envs.planar_arm_bullet.run_policy_planar` and
    :func:`~rlinside.envs.planar_arm_bullet.run_policy`."""
    out = {}
    for n, (planar, bullet) in results.items():
        a, b = np.asarray(planar["success"], dtype=float), np.asarray(bullet["success"], dtype=float)
        for e in range(min(len(a), len(b))):
            out[(int(n), e)] = float(b[e] - a[e])
    return out


def transfer_runs(joints: list[int], width: int, agent_seed: int, *, episodes: int,
                  seed: int) -> tuple[dict[int, tuple[dict, dict]], pd.DataFrame]:
    """Each shipped agent (``joints`` x ``width``, seed ``agent_seed``) on the same ``episodes``
    goals in the planar model and in the default pybullet twin: ``joints -> (planar, bullet)``
    runs and a table of success rates and final distances per arm."""
    from rlinside.agents.arm_dqn import greedy_actions, load_arm_agent
    from rlinside.envs.planar_arm_bullet import run_policy, run_policy_planar

    results, rows = {}, []
    for n in joints:
        model, art = load_arm_agent(n, width, agent_seed)

        def policy(obs, model=model):
            return greedy_actions(model, np.asarray(obs, dtype=np.float32)[None])[0]

        planar = run_policy_planar(policy, n, episodes=episodes, seed=seed)
        bullet = run_policy(policy, n, episodes=episodes, seed=seed)
        results[n] = (planar, bullet)
        rows.append({"joints": n, "agent": art.key, "episodes": episodes,
                     "success planar": planar["success_rate"], "success pybullet": bullet["success_rate"],
                     "mean final distance planar": float(planar["final_distance"].mean()),
                     "mean final distance pybullet": float(bullet["final_distance"].mean()),
                     "pybullet control steps/s": round(bullet["steps_per_s"], 1)})
    return results, pd.DataFrame(rows)


#: The twin's settings of the transfer study (:func:`actuator_sweep`): motor strength (the
#: acceleration its torque limit is sized for, rad/s^2), control delay (cycles of 50 ms) and
#: viscous joint damping (N m s/rad); the first entry of each is the default twin.
ACTUATOR_DEFAULTS = {"motor_accel": 200.0, "control_delay": 0, "joint_damping": 0.0}


def actuator_sweep(joints: list[int], width: int, agent_seed: int, *, episodes: int, seed: int,
                   settings: Mapping[str, list]) -> pd.DataFrame:
    """The transfer test with a twin that can fail: each shipped agent (``joints`` x ``width``,
    seed ``agent_seed``) on the same ``episodes`` goals (goal seed ``seed``) in the planar model
    and in the pybullet twin with each value of each actuator setting of ``settings`` (keys of
    :data:`ACTUATOR_DEFAULTS`: one setting changed at a time from the default twin).

    Returns one row per (arm, setting, value, goal): ``success`` in the twin, ``planar`` success
    on the same goal, and their difference ``gap`` (twin minus planar)."""
    from rlinside.agents.arm_dqn import greedy_actions, load_arm_agent
    from rlinside.envs.planar_arm_bullet import run_policy, run_policy_planar

    unknown = set(settings) - set(ACTUATOR_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown actuator setting(s) {sorted(unknown)}; allowed: {sorted(ACTUATOR_DEFAULTS)}")
    rows = []
    for n in joints:
        model, _ = load_arm_agent(n, width, agent_seed)

        def policy(obs, model=model):
            return greedy_actions(model, np.asarray(obs, dtype=np.float32)[None])[0]

        planar = np.asarray(run_policy_planar(policy, n, episodes=episodes, seed=seed)["success"], dtype=float)
        for name, values in settings.items():
            for v in values:
                twin = run_policy(policy, n, episodes=episodes, seed=seed, **{**ACTUATOR_DEFAULTS, name: v})
                ok = np.asarray(twin["success"], dtype=float)
                rows += [{"joints": n, "setting": name, "value": v, "goal": e, "success": ok[e],
                          "planar": planar[e], "gap": ok[e] - planar[e]} for e in range(len(ok))]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------- pruning against baselines

#: The pruning methods of :func:`pruning_comparison_task`: the paper's cluster merge, then two
#: simple rules at the sizes the merge reached (:func:`rlinside.explain.pruning.baseline_keep`).
PRUNING_METHODS = ("cluster merge", "low-activation", "random-live")


def pruning_comparison_task(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A :mod:`rlinside.sweep` task: prune the shipped agent ``(n_joints, width, seed)`` (the one
    trained with ``agent_max_episodes``; see ``sweeps/arm_pruning_agents.yml``) at ``tau`` by
    each of :data:`PRUNING_METHODS` at the same per-layer sizes, and for each measure the
    validation success right after pruning and the retraining episodes needed to pass again
    (up to ``retrain_budget``; -1 when the budget was spent without passing, so a binding
    budget shows).

    ``config``: ``n_joints``, ``width``, ``tau``, ``retrain_budget``, ``n_episodes`` (sample
    episodes for the activations), ``episode_seed``, ``agent_max_episodes``, ``baseline_seed``."""
    from rlinside.explain.pruning import baseline_keep, keep_neurons

    need = {"n_joints", "width", "tau", "retrain_budget", "n_episodes", "episode_seed", "agent_max_episodes",
            "baseline_seed"}
    missing, extra = need - set(config), set(config) - need
    if missing or extra:
        raise ValueError(f"pruning_comparison_task config needs exactly {sorted(need)}; missing {sorted(missing)}, "
                         f"unknown {sorted(extra)}")
    _check([config["tau"]], config["n_episodes"], config["retrain_budget"])
    found = find_arm_agents(int(config["n_joints"]), int(config["width"]), int(seed),
                            max_episodes=int(config["agent_max_episodes"]))
    if not found:
        raise ValueError(f"no arm agent with n_joints={config['n_joints']}, width={config['width']}, seed={seed}, "
                         f"max_episodes={config['agent_max_episodes']}: run sweeps/arm_pruning_agents.yml first")
    model, cfg = _agent(found[0])
    acts = run_episodes(model, cfg, int(config["n_episodes"]), int(config["episode_seed"])).activations
    merged, _ = prune_mlp(model, acts, float(config["tau"]))
    sizes = merged.hidden_sizes
    nets = {"cluster merge": merged}
    for rule in PRUNING_METHODS[1:]:
        nets[rule] = keep_neurons(model, baseline_keep(acts, sizes, rule, seed=int(config["baseline_seed"]) + seed))
    metrics: dict[str, Any] = {"agent": found[0].key, "accuracy_before": validate(model, cfg).success_rate,
                               "neurons_before": int(sum(model.hidden_sizes)), "neurons_after": int(sum(sizes)),
                               "validation_passed_before": bool(found[0].metrics.get("validation_passed", True))}
    arrays = {"sizes_after": np.asarray(sizes, dtype=np.int64)}
    for name, net in nets.items():
        _, episodes = _retrain(net, cfg, int(config["retrain_budget"]))
        key = name.replace(" ", "_").replace("-", "_")
        metrics[f"{key}_accuracy_pruned"] = validate(net, cfg).success_rate
        metrics[f"{key}_retrain_episodes"] = -1 if episodes is None else int(episodes)
    return {"metrics": metrics, "arrays": arrays}


COMPARISON_SWEEPS = {True: "arm-pruning-comparison", False: "arm-pruning-no-retrain"}  #: by "retrains?"
COMPARISON_VERSION = 1


def comparison_agents(n_joints: int, widths, agent_seeds, *, agent_max_episodes: int) -> list:
    """The agents of the pruning comparison (``sweeps/arm_pruning_agents.yml``): for each width
    and seed the stored ``arm-dqn`` artifact trained with ``agent_max_episodes``. A missing one
    is an error naming the sweep that trains it, raised before any work starts."""
    found = {(int(w), int(s)): find_arm_agents(int(n_joints), int(w), int(s), max_episodes=int(agent_max_episodes))
             for w in widths for s in agent_seeds}
    missing = sorted(k for k, v in found.items() if not v)
    if missing:
        raise store.ArtifactError(
            f"no stored {n_joints}-joint agent trained with max_episodes={agent_max_episodes} for (width, seed) "
            f"{missing}; train them with: rlinside sweep sweeps/arm_pruning_agents.yml (edit its grid and seeds)")
    return [found[k][0] for k in sorted(found)]


def pruning_comparison(n_joints: int, widths, agent_seeds, taus, *, retrain_budget: int, n_episodes: int,
                       episode_seed: int, agent_max_episodes: int, baseline_seed: int = 0,
                       workers: int | None = None) -> pd.DataFrame:
    """The pruning comparison (:func:`pruning_comparison_task`) of every (width, tau, seed), read
    from the store or computed there (sweep ``arm-pruning-comparison``, or
    ``arm-pruning-no-retrain`` when ``retrain_budget`` is 0: the same tasks as
    ``sweeps/arm_pruning_*.yml``, so the book reads what the background sweeps stored).

    One row per (width, seed, tau, method of :data:`PRUNING_METHODS`): ``neurons_before``,
    ``neurons_after``, ``sizes_after`` (per layer, the same for every method), ``accuracy_before``,
    ``accuracy_pruned`` (validation success right after pruning), ``retrain_episodes`` (to pass
    validation again; None when the budget was spent; with a zero budget 0 means it passes as it
    is) and ``retrain_budget``."""
    from rlinside import sweep

    _check(taus, n_episodes, retrain_budget)
    comparison_agents(n_joints, widths, agent_seeds, agent_max_episodes=agent_max_episodes)
    base = {"n_joints": int(n_joints), "retrain_budget": int(retrain_budget), "n_episodes": int(n_episodes),
            "episode_seed": int(episode_seed), "agent_max_episodes": int(agent_max_episodes),
            "baseline_seed": int(baseline_seed)}
    configs = sweep.grid(base, {"width": [int(w) for w in widths], "tau": [float(t) for t in taus]})
    report = sweep.run_sweep(pruning_comparison_task, configs, [int(s) for s in agent_seeds],
                             name=COMPARISON_SWEEPS[int(retrain_budget) > 0], version=COMPARISON_VERSION,
                             scheduler="synchronous" if (workers or 1) == 1 else None, workers=workers,
                             progress=False, command=DEFAULT_COMMAND)
    if report.failed:
        raise RuntimeError(report.summary())
    rows = []
    for r in report.results:
        m, sizes = r.metrics, [int(x) for x in r.arrays()["sizes_after"]]
        for method in PRUNING_METHODS:
            key = method.replace(" ", "_").replace("-", "_")
            ep = int(m[f"{key}_retrain_episodes"])
            rows.append({"width": int(r.config["width"]), "seed": int(r.seed), "tau": float(r.config["tau"]),
                         "method": method, "neurons_before": int(m["neurons_before"]),
                         "neurons_after": int(m["neurons_after"]), "sizes_after": sizes,
                         "accuracy_before": float(m["accuracy_before"]),
                         "accuracy_pruned": float(m[f"{key}_accuracy_pruned"]),
                         "retrain_episodes": None if ep < 0 else ep, "retrain_budget": int(retrain_budget)})
    return pd.DataFrame(rows).sort_values(["width", "seed", "tau", "method"], ignore_index=True)


def merge_rows(comparison: pd.DataFrame, width: int) -> pd.DataFrame:
    """The cluster-merge rows of :func:`pruning_comparison` for ``width``, in the columns of
    :func:`tau_sweep_table` (``seed``, ``tau``, sizes, accuracies, ``retrain_episodes``)."""
    g = comparison[(comparison["method"] == PRUNING_METHODS[0]) & (comparison["width"] == int(width))]
    cols = ["seed", "tau", "neurons_before", "neurons_after", "sizes_after", "accuracy_before", "accuracy_pruned",
            "retrain_episodes"]
    return g[cols].sort_values(["seed", "tau"], ignore_index=True)


def zero_rows(comparison: pd.DataFrame) -> pd.DataFrame:
    """The tau = 0 cluster-merge rows of :func:`pruning_comparison` (every width) in the columns
    of :func:`zero_tau_table`."""
    g = comparison[(comparison["method"] == PRUNING_METHODS[0]) & np.isclose(comparison["tau"].astype(float), 0.0)]
    return pd.DataFrame({"width": g["width"], "seed": g["seed"], "sizes after": g["sizes_after"],
                         "neurons left": g["neurons_after"] / g["neurons_before"],
                         "success before": g["accuracy_before"], "success after": g["accuracy_pruned"]}
                        ).reset_index(drop=True)


def comparison_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """:func:`pruning_comparison` per (width, tau, method) over the agent seeds: the mean share of
    hidden neurons left, the mean success right after pruning with a 95 % bootstrap interval over
    seeds, and the retraining episodes: median over seeds (a run that spent the budget counts
    the budget, so a median at the budget means at least half did not pass) and how many passed."""
    from rlinside import claims

    rows = []
    for (w, tau, method), g in comparison.groupby(["width", "tau", "method"], sort=True):
        acc = g["accuracy_pruned"].to_numpy(dtype=float)
        low, high = claims.bootstrap_ci(acc)
        ep = g["retrain_episodes"].astype(float).fillna(float(g["retrain_budget"].iloc[0]))
        rows.append({"width": w, "tau": tau, "method": method, "seeds": len(g),
                     "neurons left": float((g["neurons_after"] / g["neurons_before"]).mean()),
                     "success after pruning": float(acc.mean()), "low": low, "high": high,
                     "retrain episodes (median)": float(ep.median()) if g["retrain_budget"].iloc[0] else None,
                     "passed": int(g["retrain_episodes"].notna().sum())})
    return pd.DataFrame(rows)


PAPER_SHAPE = (51.6, 21.0, 15.9, 12.6, 10.2, 16.7)  #: Sec. 5: mean layer sizes, widths 256/512, 3 steps, tau 0.2


def shape_table(iterative: pd.DataFrame) -> pd.DataFrame:
    """The layer sizes after the last step of each width of :func:`iterative_table`, with the
    paper's mean shape (:data:`PAPER_SHAPE`) as the last row, and each row's sizes as shares of
    its largest layer (the shapes compare at any scale)."""
    rows = []
    for w, g in iterative.groupby("width"):
        last = g.iloc[-1]
        rows.append({"network": f"ours: width {w}, after step {int(last['step'])}", "sizes": list(last["sizes"])})
    rows.append({"network": "paper: widths 256/512, after step 3, tau 0.2", "sizes": list(PAPER_SHAPE)})
    out = pd.DataFrame(rows)
    out["shape (share of largest layer)"] = [[round(x / max(r), 2) for x in r] for r in out["sizes"]]
    return out


def baseline_gap_values(comparison: pd.DataFrame, baseline: str) -> dict[tuple[int, int], float]:
    """Per agent ``(width, seed)``: the cluster merge's validation success right after pruning
    minus that of ``baseline`` (a rule of :data:`PRUNING_METHODS`) at the same layer sizes,
    averaged over the thresholds tau > 0 of ``comparison`` (at tau = 0 every rule removes the
    same dead neurons), so that no single threshold is picked."""
    g = comparison[comparison["tau"].astype(float) > 0]
    acc = g.pivot_table(index=["width", "seed", "tau"], columns="method", values="accuracy_pruned")
    if not len(acc):
        return {}
    gap = (acc[PRUNING_METHODS[0]] - acc[baseline]).groupby(level=["width", "seed"]).mean()
    return {(int(w), int(s)): float(v) for (w, s), v in gap.items()}


def mean_replaced_comparison(n_joints: int, widths, agent_seeds, taus, *, n_episodes: int, episode_seed: int,
                             agent_max_episodes: int, baseline_seed: int = 0) -> pd.DataFrame:
    """The comparison without retraining (:func:`pruning_comparison` with ``retrain_budget=0``)
    with stronger simple rules: each neuron they drop is replaced by its mean activation on the
    sample episodes, folded into the next layer's bias (:func:`~rlinside.explain.pruning.keep_neurons`
    with ``fill``), as the merge folds a cluster into one neuron. Same agents, episodes, layer
    sizes and random draws as the sweep's tasks; columns ``width, seed, tau, method,
    accuracy_pruned`` (the merge's rows too, which must equal the sweep's). Stored per agent and
    threshold list (kind ``arm-pruning``), so a rerun reads it back."""
    _check(taus, n_episodes, 0)
    rows = []
    for art in comparison_agents(n_joints, widths, agent_seeds, agent_max_episodes=agent_max_episodes):
        config = {"study": "mean-replaced", "agent": art.key, "taus": sorted(float(t) for t in taus),
                  "n_episodes": int(n_episodes), "episode_seed": int(episode_seed), "baseline_seed": int(baseline_seed)}
        built = store.load_or_build(ARTIFACT_KIND, config, lambda work, a=art, c=config: _mean_replaced(a, c, work),
                                    version=VERSION, command=DEFAULT_COMMAND)
        rows += json.loads(built.file("rows.json").read_text())
    return pd.DataFrame(rows)


def _mean_replaced(art, config: Mapping[str, Any], work) -> dict[str, Any]:
    from rlinside.explain.pruning import baseline_keep, keep_neurons

    model, cfg = _agent(art)
    seed = int(art.config["seed"])
    acts = run_episodes(model, cfg, config["n_episodes"], config["episode_seed"]).activations
    fill = [np.concatenate([ep[l] for ep in acts], axis=0).mean(0) for l in range(len(model.hidden_sizes))]
    rows = []
    for tau in config["taus"]:
        merged, _ = prune_mlp(model, acts, float(tau))
        nets = {PRUNING_METHODS[0]: merged}
        for rule in PRUNING_METHODS[1:]:
            keep = baseline_keep(acts, merged.hidden_sizes, rule, seed=config["baseline_seed"] + seed)
            nets[rule] = keep_neurons(model, keep, fill=fill)
        rows += [{"width": int(art.config["width"]), "seed": seed, "tau": float(tau), "method": name,
                  "accuracy_pruned": validate(net, cfg).success_rate} for name, net in nets.items()]
    (work / "rows.json").write_text(json.dumps(rows, indent=1))
    return {"rows": len(rows)}


def baseline_gap_table(plain: pd.DataFrame, replaced: pd.DataFrame) -> pd.DataFrame:
    """The merge's advantage over each simple rule (:func:`baseline_gap_values`: per agent, averaged
    over tau > 0), with the rules as they are and with mean replacement
    (:func:`mean_replaced_comparison`): mean over agents and its 95 % bootstrap interval."""
    from rlinside import claims

    rows = []
    for which, table in (("as they are", plain), ("mean-replaced", replaced)):
        for rule in PRUNING_METHODS[1:]:
            v = list(baseline_gap_values(table, rule).values())
            lo, hi = claims.bootstrap_ci(v) if len(v) > 1 else (float("nan"), float("nan"))
            rows.append({"simple rule": rule, "dropped neurons": which, "merge minus rule": float(np.mean(v)) if v
                         else float("nan"), "low": lo, "high": hi, "agents": len(v)})
    return pd.DataFrame(rows)


def baseline_retrain_values(comparison: pd.DataFrame) -> dict[tuple[int, int], float]:
    """Per agent ``(width, seed)``: the retraining episodes of the better simple rule (the fewer
    of the two) minus those of the cluster merge, averaged over the thresholds tau > 0 of
    ``comparison``; a run that spent the budget counts the budget, so where both sides spent it
    the difference is 0 (nothing learned)."""
    g = comparison[comparison["tau"].astype(float) > 0].copy()
    if not len(g):
        return {}
    g["episodes"] = g["retrain_episodes"].astype(float).fillna(g["retrain_budget"].astype(float))
    ep = g.pivot_table(index=["width", "seed", "tau"], columns="method", values="episodes")
    diff = ep[list(PRUNING_METHODS[1:])].min(axis=1) - ep[PRUNING_METHODS[0]]
    return {(int(w), int(s)): float(v) for (w, s), v in diff.groupby(level=["width", "seed"]).mean().items()}


def figure2_claims(study: Any, across: Any, *, n_joints: int, width: int, agent_seed: int, tau: float,
                   n_episodes: int, profile: str | None) -> list:
    """The measurements of notebook 01's claims: per agent (``across``, :func:`trained_vs_random`:
    each agent against the Xavier random network of its shape) the mean and spread gaps, the
    rise of distances to the output and the first layer's distinctness; per sample episode of
    the one pruned agent (``study``, :func:`figure2_networks`) the pruning claims, over all
    neurons and over live ones only."""
    from rlinside import claims

    per_agent = distance_claim_values(across)
    per_episode = pruned_vs_trained_episodes(episode_distance_stats(study.activations))
    per_episode_live = pruned_vs_trained_episodes(episode_distance_stats(study.activations, live=True))
    scale = {"profile": profile, "agents": len(across.paired), "episodes": n_episodes}
    pruned_scale = {"profile": profile, "agents": 1, "episodes": n_episodes, "prune_steps": len(study.prune_rows) - 1}
    agent = f"{n_joints} joints, width {width}, seed {agent_seed}"
    measured = [claims.measure(cid, [per_agent[k][a] for a in sorted(per_agent[k])], scale=scale,
                               details={"agents": [f"{j} joints, seed {s}" for j, s in sorted(per_agent[k])]})
                for cid, k in [("neuron_activation.trained_mean_below_random", "mean_gap"),
                               ("neuron_activation.trained_spread_below_random", "std_gap"),
                               ("neuron_activation.distances_rise_to_output", "output_rise"),
                               ("neuron_activation.first_layer_distinct", "first_layer")]]
    live = distance_claim_values(across, live=True)  # eq. 2 defines distances for neurons that fire
    measured += [claims.measure(cid, [live[k][a] for a in sorted(live[k])], scale=scale,
                                details={"agents": [f"{j} joints, seed {s}" for j, s in sorted(live[k])],
                                         "neurons": "live only"})
                 for cid, k in [("neuron_activation.trained_mean_below_random_live", "mean_gap"),
                                ("neuron_activation.trained_spread_below_random_live", "std_gap")]]
    measured += [claims.measure(cid, [per_episode[k][e] for e in sorted(per_episode[k])], scale=pruned_scale,
                                details={"agent": agent, "tau": tau,
                                         "pruned sizes": list(study.nets["pruned"].hidden_sizes)})
                 for cid, k in [("neuron_activation.pruning_raises_mean", "mean_gap"),
                                ("neuron_activation.pruning_narrows_spread", "std_gap")]]
    measured.append(claims.measure(
        "neuron_activation.pruning_raises_mean_live",
        [per_episode_live["mean_gap"][e] for e in sorted(per_episode_live["mean_gap"])], scale=pruned_scale,
        details={"agent": agent, "tau": tau, "neurons": "live only"}))
    return measured


def pruning_claims(comparison: pd.DataFrame, sizes: pd.DataFrame, iterative: pd.DataFrame, agents: list, *,
                   width: int, steps: int, n_episodes: int, retrain_budget: int,
                   iterative_retrain_budget: int, profile: str | None) -> list:
    """The measurements of notebook 02's claims. ``comparison`` and ``sizes`` are
    :func:`pruning_comparison` with and without retraining; ``agents`` the comparison's agents of
    ``width`` (:func:`comparison_agents`). Per agent at tau = 0 (the cluster merge's rows of
    ``sizes``, every width), per agent seed of ``width`` for the size and retraining claims (a
    retraining that did not pass counts its budget, a lower bound of its cost), per agent against
    the simple rules (averaged over the thresholds above 0), per initial width in the iterative study
    (``iterative``), and Exercise 1 (which layers lose neurons at tau = 0)."""
    from rlinside import claims

    retrain_sweep, size_sweep, zero = merge_rows(comparison, width), merge_rows(sizes, width), zero_rows(sizes)
    zero_v, it_v = zero_tau_values(zero), iterative_values(iterative)
    it_widths = sorted(set(iterative["width"])) if len(iterative) else []
    size_taus = sorted({float(t) for t in size_sweep["tau"]} | ({0.0} if len(zero) else set()))
    seeds_of = {w: g["seed"].nunique() for w, g in sizes.groupby("width")}
    zero_scale = {"profile": profile, "agents": len(zero), "episodes": n_episodes}
    size_scale = {"profile": profile, "seeds": int(size_sweep["seed"].nunique()), "taus": len(size_taus),
                  "episodes": n_episodes}
    retrain_scale = {"profile": profile, "seeds": len(agents), "episodes": n_episodes, "retrain_budget": retrain_budget}
    base_scale = {"profile": profile, "seeds": min(seeds_of.values(), default=0), "widths": len(seeds_of),
                  "episodes": n_episodes}
    it_scale = {"profile": profile, "widths": len(it_widths), "wide_widths": sum(w >= 128 for w in it_widths),
                "narrow_widths": sum(w <= 48 for w in it_widths), "seeds": 1, "steps": steps,
                "retrain_budget": iterative_retrain_budget}

    def values(d):
        return [d[k] for k in sorted(d)]

    def finite(d):  # the seeds a ratio exists for (both thresholds run, the lower one passed)
        return int(np.isfinite(values(d)).sum()) if d else 0

    barely = retrain_cost_rise(retrain_sweep, low=0.1, high=0.2, budget=retrain_budget)
    rises = retrain_cost_rise(retrain_sweep, low=0.2, high=0.4, budget=retrain_budget)

    deep = zero_tau_depth_values(zero)
    gaps = {b: baseline_gap_values(sizes, b) for b in PRUNING_METHODS[1:]}
    faster = baseline_retrain_values(comparison[comparison["width"] == int(width)])
    gap_taus = sorted(float(t) for t in set(sizes["tau"]) if t > 0)
    retrain_taus = sorted(float(t) for t in set(comparison["tau"]) if t > 0)
    rows = [
        ("neuron_activation.tau0_shrinks", values(zero_v["removed"]), zero_scale,
         {"agents": sorted(zero_v["removed"])}),
        ("neuron_activation.tau0_costs_nothing", values(zero_v["success_change"]), zero_scale, {}),
        ("neuron_activation.size_linear_in_tau", values(tau_linearity(size_sweep, zero, width)), size_scale,
         {"taus": size_taus, "width": width}),
        ("neuron_activation.retraining_cheap_at_tau_0_2",
         values(retrain_cost_values(retrain_sweep, agents, tau=0.2, budget=retrain_budget)), retrain_scale,
         {"scratch episodes": [a.manifest["metrics"].get("training_episodes") for a in agents]}),
        ("neuron_activation.retraining_barely_rises_to_0_2", values(barely), {**retrain_scale, "seeds": finite(barely)},
         {"taus": [0.1, 0.2]}),
        ("neuron_activation.retraining_cost_rises", values(rises), {**retrain_scale, "seeds": finite(rises)},
         {"taus": [0.2, 0.4]}),
        ("neuron_activation.merge_beats_low_activation", values(gaps["low-activation"]), base_scale,
         {"taus": gap_taus, "agents (width, seed)": sorted(gaps["low-activation"])}),
        ("neuron_activation.merge_beats_random_live", values(gaps["random-live"]), base_scale,
         {"taus": gap_taus, "agents (width, seed)": sorted(gaps["random-live"])}),
        ("neuron_activation.merge_retrains_faster", values(faster), retrain_scale,
         {"taus": retrain_taus, "width": width}),
        ("neuron_activation.first_step_removes_most", values(it_v["first_step_share"]), it_scale,
         {"widths": it_widths}),
        ("neuron_activation.wide_widths_similar_size", values(it_v["wide_spread"]), it_scale, {}),
        ("neuron_activation.narrow_networks_taper", values(it_v["taper"]), it_scale, {}),
        ("neuron_activation.wide_networks_hourglass", values(it_v["hourglass"]), it_scale, {}),
        ("neuron_activation.ex1", values(deep), zero_scale,
         {"n_episodes": n_episodes, "agents": len(zero),
          "success_change": float(np.mean(values(zero_v["success_change"]))) if len(zero) else float("nan"),
          "sizes": "; ".join(f"width {int(r['width'])} seed {int(r['seed'])}: {list(r['sizes after'])}"
                             for _, r in zero.iterrows())}),
    ]
    return [claims.measure(cid, v, scale=sc, details=det) for cid, v, sc, det in rows]


def projection_claims(arms: Any, same: Any, *, n_episodes: int, transform: str, profile: str | None) -> list:
    """The measurements of notebook 03's claims, per agent (a target agent's value averages the
    maps from its source agents): greedy against linear maps on the same arm (``same``,
    :func:`compare_techniques`) and the between-arm claims of :func:`projection_claim_values`
    (``arms``, :func:`project_arms`)."""
    from rlinside import claims

    proj_v = projection_claim_values(arms)
    technique_v = technique_values(same)
    scale = {"profile": profile, "agents": len(arms.joints) * len(arms.agent_seeds), "episodes": n_episodes}
    measured = [claims.measure("neuron_activation.linear_beats_greedy", [technique_v[k] for k in sorted(technique_v)],
                               scale={"profile": profile, "agents": same.n_agents, "episodes": n_episodes},
                               details={"agents": sorted(technique_v),
                                        "means": same.means["normalised error (held out)"].to_dict()})]
    for cid, key in [("neuron_activation.corresponding_layers_map_best", "diagonal"),
                     ("neuron_activation.first_last_layers_map_best", "first_last"),
                     ("neuron_activation.worse_with_joint_difference", "joint_difference_slope"),
                     ("neuron_activation.complex_to_simple_better", "complex_to_simple"),
                     ("neuron_activation.balanced_beats_naive", "naive_minus_balanced"),
                     ("neuron_activation.distant_arms_use_first_layer", "distant_first_layer"),
                     ("neuron_activation.trained_beats_untrained", "untrained_gap")]:
        d = proj_v[key]
        measured.append(claims.measure(cid, [d[k] for k in sorted(d)], scale=scale,
                                       details={"agents": [f"{j} joints, seed {s}" for j, s in sorted(d)],
                                                "transform": transform}))
    return measured
