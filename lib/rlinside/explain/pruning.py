"""Heuristic cluster-based pruning of a ReLU MLP, and its iterative prune-retrain driver.

Paper: *Neuron activation analysis in multi-joint robot reinforcement learning*, Section 5,
equation 4 (garbled in the OCR; rebuilt here from the prose).

Segmentation (Sec. 5, first paragraph)
    Each hidden layer's neurons are clustered (:func:`rlinside.explain.activations.cluster_linkage`,
    layer-wise distances of eq. 2). A breadth-first search from the root of the layer's cluster
    tree selects the *first encountered* nodes whose cluster distance is at most
    ``d_tau = tau * max_distance``, where ``max_distance`` is the largest merge height in that
    layer; leaves (single neurons) are always selected. The selected nodes partition the layer
    (the segmentation ``C^(l)``), and each becomes one neuron of the reduced network. A node's
    cluster distance is its merge height: the UPGMA between-cluster mean for
    ``method="average"`` (default), eq. 3's mean internal distance ``D(C)`` for
    ``method="within"`` (see :mod:`rlinside.explain.activations` on why these differ).

    Our reading of "below threshold": ``<=`` (not ``<``), so that ``tau = 0`` still merges
    clusters at distance exactly 0, i.e. dead neurons and exactly proportional neurons. The paper
    says "In case of tau = 0 only dead neurons are reduced"; with ``<`` nothing at all would be.
    For a network without dead or exactly proportional neurons ``tau = 0`` prunes nothing.
    For ``method="average"`` (monotone heights) the BFS equals
    ``scipy.cluster.hierarchy.fcluster(Z, d_tau, criterion="distance")``.

Equation 4, the reduced weights (rebuilt)
    Assume every neuron ``n`` of a cluster ``C`` is a scaled copy of one cluster activation:
    ``z_n = gamma_n * zeta_C`` with ``gamma_n > 0`` and ``sum_{n in C} gamma_n = 1`` (so
    ``zeta_C = sum_{n in C} z_n``). The paper generates the scaling factors from the maximum
    activations ``Z_n`` of eq. 2::

        gamma_n = Z_n / sum_{m in C} Z_m

    which recovers the true factors exactly when the neurons are exactly proportional. For any
    neuron ``n in C`` the forward pass ``z_n = ReLU(sum_m w_nm z_m + b_n)`` with
    ``z_m = gamma_m zeta_D`` for ``m in D in C^(l-1)`` and the positive homogeneity of ReLU give
    eq. 4::

        zeta_C = ReLU( sum_{D in C^(l-1)} zeta_D * (1/gamma_n) sum_{m in D} w_nm gamma_m  +  b_n / gamma_n )

    Any convex combination over ``n in C`` of these per-neuron formulas is still exact under the
    assumption (where ``zeta_C > 0`` all per-neuron pre-activations equal ``zeta_C``; where it is
    0 they are all <= 0). "All neurons of a cluster contribute" with their weights ``gamma_n``,
    which cancels the ``1/gamma_n``::

        omega_CD = sum_{n in C} sum_{m in D} w_nm gamma_m        (incoming weights)
        beta_C   = sum_{n in C} b_n                              (bias)

    The same formula, with the output layer's neurons as singleton clusters, gives the outgoing
    weights ``w'_kD = sum_{m in D} w_km gamma_m`` (the network input is likewise singletons with
    ``gamma = 1``). In matrix form, for the linear map into layer ``l``::

        W'_l = S_l^T W_l Gamma_{l-1},   b'_l = S_l^T b_l

    with ``S_l[n, C] = 1`` if ``n in C`` (live ``n`` only) and ``Gamma_l[m, D] = gamma_m`` if
    ``m in D``. So if the neurons of every cluster have exactly proportional activations the
    reduced network computes exactly the original function (tested).

Dead neurons (our choice)
    A neuron with ``Z_n = 0`` on the recorded episodes has ``gamma_n = 0`` and is left out of
    both sums (it contributed 0 on those inputs); a cluster made only of dead neurons is removed
    outright. If a whole layer is dead, one neuron with zero weights and bias is kept (an MLP
    layer needs width >= 1); the network then outputs the constant it produced on the data.
    Removing dead neurons is exact on the recorded inputs, not necessarily on inputs that would
    have woken them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..nets.mlp import MLP
from .activations import (
    LinkageMethod,
    _episodes,
    cluster_linkage,
    layerwise_neuron_distances,
)

__all__ = [
    "LayerPruneReport", "PruneStep", "bfs_segmentation", "cluster_scaling_factors", "prune_mlp", "iterative_prune",
    "BASELINE_RULES", "keep_neurons", "baseline_keep",
]


@dataclass(frozen=True)
class LayerPruneReport:
    """What pruning did to one hidden layer.

    ``clusters[c]`` lists the original neuron indices merged into new neuron ``c`` (new neurons
    are ordered by their smallest member); ``dead`` lists the neurons removed as dead (in
    all-dead clusters); ``gamma: (n_before,)`` the scaling factors (0 for dead neurons).
    A layer that was entirely dead has ``clusters == ()`` and ``n_after == 1`` (one silent
    neuron with zero weights keeps the layer).
    """

    layer: int
    n_before: int
    n_after: int
    clusters: tuple[tuple[int, ...], ...]
    dead: tuple[int, ...]
    max_distance: float
    threshold: float
    gamma: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class PruneStep:
    """One prune-retrain step of :func:`iterative_prune`.

    ``accuracy_before_retraining``: ``evaluate(pruned model)`` before any retraining (None when
    no ``evaluate`` was given); ``retrain_episodes``: what ``retrain`` reported it needed.
    """

    step: int
    sizes_before: tuple[int, ...]
    sizes_after: tuple[int, ...]
    accuracy_before_retraining: float | None
    retrain_episodes: int
    layers: tuple[LayerPruneReport, ...] = field(repr=False)

    @property
    def neurons_before(self) -> int:
        return int(sum(self.sizes_before))

    @property
    def neurons_after(self) -> int:
        return int(sum(self.sizes_after))


def _check_tau(tau: float) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float, np.integer, np.floating)) or not np.isfinite(tau):
        raise TypeError(f"tau must be a real number in [0, 1], got {tau!r}")
    if not 0.0 <= float(tau) <= 1.0:
        raise ValueError(f"tau={tau}: must be in [0, 1] (a fraction of the layer's largest cluster distance)")
    return float(tau)


def bfs_segmentation(Z: np.ndarray, threshold: float) -> list[list[int]]:
    """Breadth-first search of a cluster tree (Sec. 5): the first nodes with height <= ``threshold``.

    ``Z``: SciPy linkage matrix ``(n - 1, 4)`` of ``n`` leaves (``(0, 4)`` for one neuron).
    Returns the segmentation: a list of clusters (sorted neuron indices), ordered by smallest
    member; together they partition ``range(n)``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 4:
        raise ValueError(f"Z must be a linkage matrix of shape (n - 1, 4), got {Z.shape}")
    n = Z.shape[0] + 1
    if n == 1:
        return [[0]]

    def leaves(node: int) -> list[int]:
        out, stack = [], [node]
        while stack:
            v = stack.pop()
            if v < n:
                out.append(v)
            else:
                stack.extend((int(Z[v - n, 0]), int(Z[v - n, 1])))
        return sorted(out)

    clusters, queue = [], deque([2 * n - 2])
    while queue:
        v = queue.popleft()
        if v < n or Z[v - n, 2] <= threshold:
            clusters.append(leaves(v))
        else:
            queue.extend((int(Z[v - n, 0]), int(Z[v - n, 1])))
    return sorted(clusters, key=lambda c: c[0])


def cluster_scaling_factors(zmax: np.ndarray, clusters: Sequence[Sequence[int]]) -> np.ndarray:
    """Eq. 4's scaling factors ``gamma_n = Z_n / sum_{m in C} Z_m`` for every neuron, ``(n,)``.

    ``zmax: (n,)`` maximum activations ``Z_n``; ``clusters`` partition ``range(n)``. Dead
    neurons, and every neuron of an all-dead cluster, get ``gamma = 0``.
    """
    zmax = np.asarray(zmax, dtype=np.float64)
    gamma = np.zeros_like(zmax)
    for c in clusters:
        c = list(c)
        s = zmax[c].sum()
        if s > 0:
            gamma[c] = zmax[c] / s
    return gamma


def prune_mlp(
    model: MLP,
    activations: Sequence[Sequence[np.ndarray]],
    tau: float,
    *,
    method: LinkageMethod = "average",
    length_normalized: bool = False,
) -> tuple[MLP, list[LayerPruneReport]]:
    """Merge each hidden layer's clusters of similar neurons into single neurons (Sec. 5, eq. 4).

    ``model``: an :class:`rlinside.nets.mlp.MLP`; ``activations[e][l]: (T_e, n_l)`` its hidden
    activations on sample episodes (:func:`rlinside.explain.activations.record_activations`);
    ``tau`` in [0, 1]: threshold as a fraction of each layer's largest cluster distance.
    ``method`` and ``length_normalized`` choose the linkage and the eq. 2 variant.

    Returns a new MLP (same dtype, device and train/eval mode; the input is not modified) and one
    :class:`LayerPruneReport` per hidden layer.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an rlinside.nets.mlp.MLP, got {type(model).__name__}")
    tau = _check_tau(tau)
    eps, widths = _episodes(activations, "activations")
    if widths != model.hidden_sizes:
        raise ValueError(f"activations have layer widths {widths}, the model's hidden sizes are {model.hidden_sizes}")
    dists = layerwise_neuron_distances(eps, length_normalized=length_normalized)
    zmaxes = [np.max([ep[l].max(0) for ep in eps], axis=0) for l in range(len(widths))]

    reports: list[LayerPruneReport] = []
    S_list, G_list = [], []  # membership (live neurons) and gamma matrices, (n_l, c_l)
    for l, (D, zmax) in enumerate(zip(dists, zmaxes)):
        n = D.shape[0]
        Z = cluster_linkage(D, method) if n > 1 else np.zeros((0, 4))
        dmax = float(Z[:, 2].max()) if Z.shape[0] else 0.0
        thr = tau * dmax
        segmentation = bfs_segmentation(Z, thr)
        gamma = cluster_scaling_factors(zmax, segmentation)
        kept = [c for c in segmentation if zmax[c].sum() > 0]
        dead = sorted(i for c in segmentation if zmax[c].sum() == 0 for i in c)
        S = np.zeros((n, max(len(kept), 1)))
        G = np.zeros_like(S)
        for j, c in enumerate(kept):
            live = [i for i in c if zmax[i] > 0]
            S[live, j] = 1.0
            G[c, j] = gamma[c]
        S_list.append(S)
        G_list.append(G)
        reports.append(LayerPruneReport(
            layer=l, n_before=n, n_after=S.shape[1], clusters=tuple(tuple(c) for c in kept),
            dead=tuple(dead), max_distance=dmax, threshold=thr, gamma=gamma,
        ))

    p = next(model.parameters())
    new = MLP(model.n_in, [S.shape[1] for S in S_list], model.n_out).to(device=p.device, dtype=p.dtype)
    S_all = [*S_list, np.eye(model.n_out)]
    G_all = [np.eye(model.n_in), *G_list]
    with torch.no_grad():
        for k, (lin, lin_new) in enumerate(zip(model.linears, new.linears)):
            W = lin.weight.detach().cpu().double().numpy()
            b = lin.bias.detach().cpu().double().numpy()
            W_new = S_all[k].T @ W @ G_all[k]  # omega_CD = sum_{n in C} sum_{m in D} w_nm gamma_m
            b_new = S_all[k].T @ b  # beta_C = sum_{n in C} b_n
            lin_new.weight.copy_(torch.from_numpy(W_new))
            lin_new.bias.copy_(torch.from_numpy(b_new))
    new.train(model.training)
    return new, reports


def iterative_prune(
    model: MLP,
    get_activations: Callable[[MLP], Sequence[Sequence[np.ndarray]]],
    retrain: Callable[[MLP], tuple[MLP, int]],
    tau: float,
    steps: int = 3,
    *,
    evaluate: Callable[[MLP], float] | None = None,
    method: LinkageMethod = "average",
    length_normalized: bool = False,
) -> tuple[MLP, list[PruneStep]]:
    """Prune, evaluate, retrain, ``steps`` times (Sec. 5, Fig. 3).

    The caller supplies the agent-specific parts:

    - ``get_activations(model)`` -> ``activations[e][l]: (T_e, n_l)`` on sample episodes;
    - ``retrain(model)`` -> ``(retrained model, number of training episodes it needed)``;
    - ``evaluate(model)`` -> accuracy of the pruned network *before* retraining (optional).

    Returns the last retrained model and one :class:`PruneStep` per step.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps={steps!r}: must be an integer >= 1")
    for name, fn in (("get_activations", get_activations), ("retrain", retrain)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"evaluate must be callable or None, got {type(evaluate).__name__}")
    _check_tau(tau)
    history: list[PruneStep] = []
    for s in range(int(steps)):
        before = tuple(model.hidden_sizes)
        pruned, reports = prune_mlp(
            model, get_activations(model), tau, method=method, length_normalized=length_normalized
        )
        acc = None if evaluate is None else float(evaluate(pruned))
        result = retrain(pruned)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], MLP)):
            raise TypeError("retrain(model) must return (MLP, number of episodes)")
        model, n_episodes = result
        if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 0:
            raise TypeError(f"retrain returned {n_episodes!r} episodes: must be an integer >= 0")
        history.append(PruneStep(
            step=s, sizes_before=before, sizes_after=tuple(pruned.hidden_sizes),
            accuracy_before_retraining=acc, retrain_episodes=int(n_episodes), layers=tuple(reports),
        ))
    return model, history


# ------------------------------------------------------------------------------ baselines

#: Rules of :func:`baseline_keep`: ``low-activation`` drops each layer's neurons of lowest mean
#: activation over the sample episodes; ``random-live`` keeps a random subset of its live neurons.
BASELINE_RULES = ("low-activation", "random-live")


def keep_neurons(model: MLP, keep: Sequence[Sequence[int]], fill: Sequence[np.ndarray] | None = None) -> MLP:
    """The sub-network of ``model`` with only the hidden neurons ``keep[l]`` of each layer (in
    that order): their incoming and outgoing weights are kept as they are and the other
    neurons are dropped, without merging anything (the simple pruning the cluster merge of
    :func:`prune_mlp` has to beat). Same dtype, device and train/eval mode; ``model`` unchanged.

    ``fill``: per hidden layer, a value for each of its neurons (say its mean activation on sample
    episodes): a dropped neuron is then replaced by that constant, folded into the next layer's
    bias (mean replacement), so the next layer keeps its average input."""
    if not isinstance(model, MLP):
        raise TypeError(f"model must be an rlinside.nets.mlp.MLP, got {type(model).__name__}")
    if len(keep) != len(model.hidden_sizes):
        raise ValueError(f"keep must list the neurons of each of the {len(model.hidden_sizes)} hidden layers, "
                         f"got {len(keep)} lists")
    idx = []
    for l, (k, n) in enumerate(zip(keep, model.hidden_sizes)):
        k = [int(i) for i in k]
        if not k or len(set(k)) != len(k) or min(k) < 0 or max(k) >= n:
            raise ValueError(f"keep[{l}] must be distinct neuron indices in [0, {n}), at least one, got {k}")
        idx.append(torch.tensor(k))
    p = next(model.parameters())
    new = MLP(model.n_in, [len(i) for i in idx], model.n_out).to(device=p.device, dtype=p.dtype)
    rows = [*idx, torch.arange(model.n_out)]
    cols = [torch.arange(model.n_in), *idx]
    sizes = model.hidden_sizes
    if fill is not None and (len(fill) != len(idx) or any(np.shape(f) != (n,) for f, n in zip(fill, sizes))):
        raise ValueError(f"fill must give one value per neuron of each hidden layer {list(model.hidden_sizes)}")
    with torch.no_grad():
        for j, (lin, lin_new, r, c) in enumerate(zip(model.linears, new.linears, rows, cols)):
            lin_new.weight.copy_(lin.weight[r][:, c])
            bias = lin.bias[r].clone()
            if fill is not None and j > 0:  # the inputs this layer lost, at their fill values
                gone = np.setdiff1d(np.arange(model.hidden_sizes[j - 1]), idx[j - 1].numpy())
                if len(gone):
                    f = torch.as_tensor(np.asarray(fill[j - 1])[gone], dtype=lin.weight.dtype, device=lin.weight.device)
                    bias += lin.weight[r][:, torch.as_tensor(gone)] @ f
            lin_new.bias.copy_(bias)
    new.train(model.training)
    return new


def baseline_keep(activations: Sequence[Sequence[np.ndarray]], sizes: Sequence[int], rule: str,
                  seed: int = 0) -> list[list[int]]:
    """Which neurons a simple pruning keeps, ``sizes[l]`` per hidden layer (e.g. the sizes the
    cluster merge reached): ``low-activation`` keeps the neurons of highest mean activation over
    all steps of the sample ``activations`` (ties by index); ``random-live`` draws them at
    random (``seed``) among the live ones (positive at least once), topping up with dead ones
    only when a layer has fewer live neurons than ``sizes[l]``. Indices sorted per layer."""
    if rule not in BASELINE_RULES:
        raise ValueError(f"rule must be one of {BASELINE_RULES}, got {rule!r}")
    eps, widths = _episodes(activations, "activations")
    if len(sizes) != len(widths) or any(not 1 <= int(s) <= w for s, w in zip(sizes, widths)):
        raise ValueError(f"sizes must give 1 .. width neurons for each of the layers {widths}, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    out = []
    for l, s in enumerate(sizes):
        steps = np.concatenate([ep[l] for ep in eps], axis=0)  # (sum T, n_l)
        if rule == "low-activation":
            order = np.argsort(-steps.mean(0), kind="stable")
            chosen = order[:int(s)]
        else:
            live = np.flatnonzero(steps.max(0) > 0)
            dead = np.flatnonzero(steps.max(0) <= 0)
            pick = rng.permutation(live)[:int(s)]
            if len(pick) < int(s):
                pick = np.concatenate([pick, rng.permutation(dead)[:int(s) - len(pick)]])
            chosen = pick
        out.append(sorted(int(i) for i in chosen))
    return out
