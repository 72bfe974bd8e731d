"""Neuron activation distances, their densities and per-layer clustering.

Paper: *Neuron activation analysis in multi-joint robot reinforcement learning* (ICLR 2021
submission), Section 4, equations 2 and 3. The OCR of the paper garbles both equations; this
module rebuilds them from the prose, as follows.

Equation 2, the neuron distance (rebuilt)
    For every neuron ``n`` and episode ``E``, ``z_n^(E) in R^T_{>=0}`` is the neuron's activation
    series over the episode and ``Z_n = max_E max_t z_n^(E)(t)`` its maximum over *all* sample
    episodes ("normalize this activation in range [0, 1] in reference to the maximum value
    attained"). Then::

        d(n_i, n_j) = 1/|E| * sum_{E in E} || z_{n_i}^(E) / Z_{n_i} - z_{n_j}^(E) / Z_{n_j} ||_2

    The norm is the plain Euclidean (L2) norm of the length-``T`` difference vector, as the
    equation's subscript ``L2`` says; the text divides by nothing else, so **there is no
    normalization by the episode length T** (``length_normalized=False``, the default). With
    episodes of different lengths that weights long episodes more (a norm grows like
    ``sqrt(T)``); ``length_normalized=True`` divides each episode's norm by ``sqrt(T_E)`` (an
    RMS difference), an option beyond the paper.

    "All-to-all" is this matrix over every hidden neuron of the network; "layer-wise" is the same
    formula restricted to the neurons of one layer (the diagonal blocks of the all-to-all matrix:
    the normalization is per neuron, so it does not change). The distance densities are built
    from the strict upper triangle (``i < j``) of either matrix.

Dead neurons (our choice; the paper assumes ``Z_n > 0``)
    A neuron whose maximum over all episodes is 0 is *dead*. Its normalized series is defined
    as all zeros (we divide by 1 instead of 0). So two dead neurons are at distance 0 and a dead
    neuron's distance to a live neuron ``j`` is the mean norm of ``j``'s normalized series.
    Dead neurons therefore cluster together at height 0, and the pruning step removes them
    (see :mod:`rlinside.explain.pruning`), which is what the paper reports for ``tau = 0``.

Equation 3, the mean cluster distance (rebuilt), and how it relates to average linkage
    ::

        D(C) = 1 / (|C| (|C| - 1)) * sum_{n in C} sum_{n' in C \\ {n}} d(n, n')

    i.e. the mean distance over all ordered pairs of distinct neurons *inside* cluster ``C``
    (``D(C) = 0`` for a single neuron). This is **not** the UPGMA (average linkage, Hastie et
    al. 2009 "group average") criterion, which scores a merge of clusters ``A`` and ``B`` by the
    mean distance *between* them, ``1/(|A||B|) sum_{a in A, b in B} d(a, b)``. The two agree
    for merges of two single neurons (the first level of the tree) and differ afterwards: e.g.
    merging ``{a1, a2}`` with ``{b}`` scores ``(d(a1,b) + d(a2,b)) / 2`` under UPGMA and
    ``(d(a1,a2) + d(a1,b) + d(a2,b)) / 3`` under equation 3. Equation 3 as written is the
    "within-groups average linkage" criterion: merge the pair of clusters whose union has the
    smallest mean internal distance.

    :func:`cluster_linkage` offers both: ``method="average"`` (the default; SciPy's UPGMA on
    the precomputed distances, which is what "hierarchical clustering as described in Hastie
    et al." most likely meant in practice) and ``method="within"`` (equation 3 literally; our
    own implementation, whose merge heights are ``D(C)`` of equation 3 and may be
    non-monotone). :func:`mean_cluster_distance` evaluates equation 3 for any set of neurons.

Data layout used throughout: ``episodes[e][l]`` is an array ``(T_e, n_l)`` of the activations of
hidden layer ``l`` during episode ``e`` (what :func:`record_activations` returns). An episode may
also be given as a single ``(T_e, n)`` array, meaning one layer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numba
import numpy as np
import torch
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from scipy.stats import gaussian_kde
from threadpoolctl import threadpool_limits

__all__ = [
    "record_activations",
    "max_activations",
    "live_neurons",
    "normalized_activations",
    "neuron_distances",
    "layerwise_neuron_distances",
    "upper_triangle",
    "distance_histogram",
    "distance_kde",
    "mean_cluster_distance",
    "cluster_linkage",
    "layer_linkages",
    "dendrogram_data",
]

LinkageMethod = Literal["average", "within"]

# A squared distance below this fraction of |x_i|^2 + |x_j|^2 is recomputed from the difference
# itself: the Gram-matrix formula loses all its digits there (cancellation).
_CANCELLATION_RTOL = 1e-6


# --------------------------------------------------------------------------------------------
# recording and validation
# --------------------------------------------------------------------------------------------


def record_activations(
    model: torch.nn.Module, inputs_per_episode: Sequence[np.ndarray | torch.Tensor]
) -> list[list[np.ndarray]]:
    """Hidden activations of ``model`` for every episode's input sequence.

    ``model`` is any module whose ``forward(x, return_activations=True)`` returns
    ``(out, [h_0, ..., h_{L-1}])`` with ``h_l: (B, n_l)``, e.g. :class:`rlinside.nets.mlp.MLP`.
    Each episode's inputs ``(T_e, n_in)`` go through the network as one batch (the network is
    feed-forward, so time steps are independent). The model is put in eval mode under
    ``torch.no_grad()`` and its training flag is restored afterwards.

    Returns ``episodes[e][l]``: a NumPy array ``(T_e, n_l)`` in the model's dtype.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(inputs_per_episode, (np.ndarray, torch.Tensor)) or not isinstance(inputs_per_episode, Sequence):
        raise TypeError(
            "inputs_per_episode must be a list of (T, n_in) arrays, one per episode, got "
            f"{type(inputs_per_episode).__name__}"
        )
    if len(inputs_per_episode) == 0:
        raise ValueError("inputs_per_episode is empty: give at least one episode")
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    dtype = params[0].dtype if params else torch.float32
    n_in = getattr(model, "n_in", None)
    xs = []
    for e, x in enumerate(inputs_per_episode):
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if t.ndim != 2 or t.shape[0] < 1:
            raise ValueError(f"inputs_per_episode[{e}] must have shape (T, n_in) with T >= 1, got {tuple(t.shape)}")
        if n_in is not None and t.shape[1] != n_in:
            raise ValueError(f"inputs_per_episode[{e}] has {t.shape[1]} features, the model expects n_in={n_in}")
        xs.append(t.to(device=device, dtype=dtype))
    lengths = [int(x.shape[0]) for x in xs]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            result = model(torch.cat(xs, 0), return_activations=True)
    finally:
        model.train(was_training)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError("model(x, return_activations=True) must return (out, [hidden activations])")
    hidden = [h.detach().cpu().numpy() for h in result[1]]
    bounds = np.cumsum([0, *lengths])
    return [[h[a:b].copy() for h in hidden] for a, b in zip(bounds[:-1], bounds[1:])]


def _episodes(episodes: Any, name: str = "episodes") -> tuple[list[list[np.ndarray]], list[int]]:
    """Validate ``episodes[e][l]: (T_e, n_l)``; returns float64 arrays and the layer widths."""
    if isinstance(episodes, (np.ndarray, torch.Tensor)) or not isinstance(episodes, Sequence):
        raise TypeError(
            f"{name} must be a list over episodes of lists over layers of (T, n_l) arrays "
            f"(as record_activations returns), got {type(episodes).__name__}"
        )
    if len(episodes) == 0:
        raise ValueError(f"{name} is empty: give at least one episode")
    out: list[list[np.ndarray]] = []
    widths: list[int] | None = None
    for e, ep in enumerate(episodes):
        layers = [ep] if isinstance(ep, (np.ndarray, torch.Tensor)) else ep
        if not isinstance(layers, Sequence) or len(layers) == 0:
            raise ValueError(f"{name}[{e}] must be a non-empty list of (T, n_l) arrays")
        arrs = []
        for l, a in enumerate(layers):
            a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
            if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
                raise ValueError(f"{name}[{e}][{l}] must have shape (T, n_l) with T, n_l >= 1, got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name}[{e}][{l}] contains NaN or infinite values")
            if (a < 0).any():
                raise ValueError(
                    f"{name}[{e}][{l}] has negative values (min {a.min():.3g}); the neuron distance "
                    "(eq. 2) normalizes non-negative ReLU activations by their maximum"
                )
            arrs.append(a)
        w = [a.shape[1] for a in arrs]
        if widths is None:
            widths = w
        elif w != widths:
            raise ValueError(f"{name}[{e}] has layer widths {w}, but {name}[0] has {widths}")
        if len({a.shape[0] for a in arrs}) != 1:
            steps = [a.shape[0] for a in arrs]
            raise ValueError(f"{name}[{e}]: all layers must have the same number of steps T, got {steps}")
        out.append(arrs)
    assert widths is not None
    return out, widths


def live_neurons(episodes: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Per layer, a boolean mask of the neurons that are *live*: positive at least once over all
    the sample episodes (the others are dead: their normalized series is all zeros, see the
    module docstring)."""
    return [z > 0 for z in max_activations(episodes)]


def max_activations(episodes: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """``Z_n`` of eq. 2: each neuron's maximum activation over all steps of all episodes.

    Returns one array ``(n_l,)`` per layer; a 0 marks a dead neuron.
    """
    eps, widths = _episodes(episodes)
    return [np.max([ep[l].max(0) for ep in eps], axis=0) for l in range(len(widths))]


def normalized_activations(episodes: Sequence[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """``z_n^(E) / Z_n`` of eq. 2 for every episode and layer, ``(T_e, n_l)`` each, in [0, 1].

    Dead neurons (``Z_n = 0``) keep their all-zero series.
    """
    eps, widths = _episodes(episodes)
    zmax = [np.max([ep[l].max(0) for ep in eps], axis=0) for l in range(len(widths))]
    safe = [np.where(z > 0, z, 1.0) for z in zmax]
    return [[ep[l] / safe[l] for l in range(len(widths))] for ep in eps]


# --------------------------------------------------------------------------------------------
# distances (eq. 2)
# --------------------------------------------------------------------------------------------


_BLOCK_ROWS = 128  # rows of the distance matrix accumulated together (kept in cache)


@numba.njit(nogil=True, cache=True)
def _accumulate_block(total, G, sq_rows, sq_cols, x_rows, x_cols, rtol, scale):  # pragma: no cover - numba
    """``total[a, c] += scale * |x_rows[:, a] - x_cols[:, c]|`` from the Gram block ``G``,
    recomputing from the difference where ``|x_a|^2 + |x_c|^2 - 2 G`` cancels."""
    for a in range(G.shape[0]):
        for c in range(G.shape[1]):
            both = sq_rows[a] + sq_cols[c]
            d2 = both - 2.0 * G[a, c]
            if d2 <= rtol * both:
                d2 = 0.0
                if both > 0.0:  # both silent: exactly 0; else recompute from the difference
                    for t in range(x_rows.shape[0]):
                        diff = x_rows[t, a] - x_cols[t, c]
                        d2 += diff * diff
            total[a, c] += scale * np.sqrt(max(d2, 0.0))


def _mean_episode_distance(series: list[np.ndarray], length_normalized: bool) -> np.ndarray:
    """Mean over episodes of the Euclidean distances between the columns of ``series[e]: (T_e, n)``.

    Per episode the squared distances come from the Gram matrix, ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j``
    (BLAS), and where that formula cancels (squared distance below ``_CANCELLATION_RTOL`` of
    ``|x_i|^2 + |x_j|^2``) from the difference itself, so near-duplicate neurons get exact
    distances. The upper triangle is accumulated in blocks of rows that stay in cache while
    every episode is added (a numba kernel fuses the square root and the sum).
    """
    n = series[0].shape[1]
    xs = [np.ascontiguousarray(x, dtype=np.float64) for x in series]
    sqs = [np.einsum("tn,tn->n", x, x) for x in xs]
    scales = [1.0 / (np.sqrt(x.shape[0]) if length_normalized else 1.0) / len(xs) for x in xs]
    total = np.zeros((n, n))

    def row_block(r0: int) -> None:
        r1 = min(r0 + _BLOCK_ROWS, n)
        block = np.zeros((r1 - r0, n - r0))
        for x, sq, scale in zip(xs, sqs, scales):
            rows, cols = np.ascontiguousarray(x[:, r0:r1]), np.ascontiguousarray(x[:, r0:])
            _accumulate_block(block, rows.T @ cols, sq[r0:r1], sq[r0:], rows, cols,
                              _CANCELLATION_RTOL, scale)
        total[r0:r1, r0:] = block

    # Coarse parallelism: one row block per thread (numba and BLAS release the GIL), BLAS itself
    # single-threaded. Fine-grained threading (a parallel BLAS call or prange per episode)
    # synchronizes thousands of times and collapses when the cores are shared.
    starts = list(range(0, n, _BLOCK_ROWS))
    workers = min(len(starts), os.cpu_count() or 1)
    with threadpool_limits(limits=1, user_api="blas"):
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(row_block, starts))
        else:
            for r0 in starts:
                row_block(r0)
    total = np.triu(total, 1)
    return total + total.T


def neuron_distances(
    episodes: Sequence[Sequence[np.ndarray]], *, length_normalized: bool = False
) -> np.ndarray:
    """All-to-all neuron distance matrix of eq. 2 over every hidden neuron of the network.

    ``episodes[e][l]: (T_e, n_l)``. Returns ``D: (n, n)`` with ``n = sum_l n_l``, neurons in
    layer order (layer 0's neurons first), symmetric, zero diagonal.
    ``length_normalized=True`` divides each episode's norm by ``sqrt(T_e)`` (beyond the paper).
    """
    _check_bool(length_normalized, "length_normalized")
    norm = normalized_activations(episodes)
    series = [np.concatenate(ep, axis=1) for ep in norm]
    return _mean_episode_distance(series, length_normalized)


def layerwise_neuron_distances(
    episodes: Sequence[Sequence[np.ndarray]], *, length_normalized: bool = False
) -> list[np.ndarray]:
    """Layer-wise distance matrices of eq. 2: one ``(n_l, n_l)`` matrix per hidden layer.

    Equal to the diagonal blocks of :func:`neuron_distances` (computed per layer, cheaper).
    """
    _check_bool(length_normalized, "length_normalized")
    norm = normalized_activations(episodes)
    return [_mean_episode_distance([ep[l] for ep in norm], length_normalized) for l in range(len(norm[0]))]


def _check_bool(v: Any, name: str) -> None:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")


def _check_distance_matrix(D: Any, name: str = "D") -> np.ndarray:
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) distance matrix, got shape {D.shape}")
    if not np.all(np.isfinite(D)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if (D < 0).any():
        raise ValueError(f"{name} has negative entries (min {D.min():.3g}); distances are >= 0")
    scale = max(1.0, float(np.abs(D).max())) if D.size else 1.0
    if not np.allclose(D, D.T, rtol=0, atol=1e-10 * scale):
        raise ValueError(f"{name} must be symmetric (max |D - D.T| = {np.abs(D - D.T).max():.3g})")
    if np.abs(np.diag(D)).max(initial=0.0) > 1e-10 * scale:
        raise ValueError(f"{name} must have a zero diagonal")
    return D


# --------------------------------------------------------------------------------------------
# densities
# --------------------------------------------------------------------------------------------


def upper_triangle(D: np.ndarray) -> np.ndarray:
    """The values ``D[i, j], i < j`` of a distance matrix, ``(n (n - 1) / 2,)``: the sample the
    paper's distance densities are drawn from."""
    D = _check_distance_matrix(D)
    return D[np.triu_indices(D.shape[0], 1)]


def _check_values(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array of distances, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contains NaN or infinite entries")
    return v


def distance_histogram(
    values: np.ndarray, bins: int | np.ndarray = 50, range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram density of distance values: ``(density (n_bins,), edges (n_bins + 1,))``.

    The density integrates to 1 over the edges (``numpy.histogram(..., density=True)``).
    """
    v = _check_values(values)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool) and bins < 1:
        raise ValueError(f"bins={bins}: must be >= 1")
    density, edges = np.histogram(v, bins=bins, range=range, density=True)
    return density, edges


def distance_kde(
    values: np.ndarray,
    grid: np.ndarray | None = None,
    *,
    n_points: int = 200,
    bandwidth: float | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian kernel density estimate of distance values: ``(grid (G,), density (G,))``.

    Distances are non-negative, so the estimate is reflected at 0 (the kernel mass that would
    spill below 0 is folded back; the density integrates to 1 over ``[0, inf)`` and is 0 below).
    ``grid`` defaults to ``n_points`` points from 0 to the largest value padded by 3 bandwidths;
    ``bandwidth`` is passed to :class:`scipy.stats.gaussian_kde` (``None`` = Scott's rule, from
    the data without their reflection).
    """
    v = _check_values(values)
    if v.size < 2 or np.ptp(v) == 0:
        raise ValueError(
            f"distance_kde needs at least two distinct values, got {v.size} value(s) with range "
            f"{np.ptp(v) if v.size else 0.0}; use distance_histogram instead"
        )
    if not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise ValueError(f"n_points={n_points!r}: must be an integer >= 2")
    kde = gaussian_kde(v, bw_method=bandwidth)
    if grid is None:
        pad = 3.0 * float(np.sqrt(kde.covariance[0, 0]))
        grid = np.linspace(0.0, v.max() + pad, int(n_points))
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1:
        raise ValueError(f"grid must be 1-D, got shape {grid.shape}")
    density = np.where(grid >= 0, kde(grid) + kde(-grid), 0.0)
    return grid, density


# --------------------------------------------------------------------------------------------
# clustering (eq. 3)
# --------------------------------------------------------------------------------------------


def mean_cluster_distance(D: np.ndarray, members: Sequence[int]) -> float:
    """Eq. 3: ``D(C) = 1/(|C|(|C|-1)) sum_{n in C} sum_{n' in C, n' != n} d(n, n')``.

    The mean distance over ordered pairs of distinct neurons in ``C``; 0 for ``|C| = 1``.
    ``D: (n, n)`` distance matrix, ``members``: neuron indices of the cluster.
    """
    D = _check_distance_matrix(D)
    idx = np.asarray(members, dtype=np.int64)
    if idx.ndim != 1 or idx.size == 0:
        raise ValueError("members must be a non-empty list of neuron indices")
    if len(set(idx.tolist())) != idx.size or idx.min() < 0 or idx.max() >= D.shape[0]:
        raise ValueError(f"members must be distinct indices in [0, {D.shape[0]}), got {list(idx)}")
    c = idx.size
    if c == 1:
        return 0.0
    return float(D[np.ix_(idx, idx)].sum() / (c * (c - 1)))


def _within_group_linkage(D: np.ndarray) -> np.ndarray:
    """Agglomerative clustering merging the pair whose union minimizes eq. 3 (SciPy linkage format)."""
    n = D.shape[0]
    cross = D.copy()  # cross[a, b] = sum_{i in a, j in b} d(i, j) between the clusters in slots a, b
    inner = np.zeros(n)  # sum over ordered pairs of distinct members (numerator of eq. 3)
    size = np.ones(n)
    ident = np.arange(n)
    active = np.ones(n, dtype=bool)
    Z = np.zeros((n - 1, 4))
    for step in range(n - 1):
        slots = np.flatnonzero(active)
        s = size[slots]
        tot = s[:, None] + s[None, :]
        cand = (inner[slots][:, None] + inner[slots][None, :] + 2.0 * cross[np.ix_(slots, slots)]) / (tot * (tot - 1.0))
        np.fill_diagonal(cand, np.inf)
        flat = int(np.argmin(cand))
        a, b = slots[flat // slots.size], slots[flat % slots.size]
        a, b = min(a, b), max(a, b)
        height = float(cand[flat // slots.size, flat % slots.size])
        inner[a] = inner[a] + inner[b] + 2.0 * cross[a, b]
        cross[a, :] += cross[b, :]
        cross[:, a] += cross[:, b]
        size[a] += size[b]
        active[b] = False
        lo, hi = sorted((ident[a], ident[b]))
        Z[step] = (lo, hi, height, size[a])
        ident[a] = n + step
    return Z


def cluster_linkage(D: np.ndarray, method: LinkageMethod = "average") -> np.ndarray:
    """Hierarchical clustering of one layer's neurons from their distance matrix.

    ``D: (n, n)`` (e.g. one entry of :func:`layerwise_neuron_distances`), ``n >= 2``.
    Returns a SciPy linkage matrix ``Z: (n - 1, 4)`` (rows: child a, child b, height, size).

    ``method="average"``: UPGMA via :func:`scipy.cluster.hierarchy.linkage`; a merge's height
    is the mean distance between the two merged clusters. ``method="within"``: eq. 3 taken
    literally; each step merges the two clusters whose union has the smallest mean internal
    distance ``D(C)``, which becomes the merge height (heights may be non-monotone). See the
    module docstring for why these differ.
    """
    D = _check_distance_matrix(D)
    if D.shape[0] < 2:
        raise ValueError(f"clustering needs at least 2 neurons, got {D.shape[0]}")
    if method == "average":
        return hierarchy.linkage(squareform(D, checks=False), method="average")
    if method == "within":
        return _within_group_linkage(D)
    raise ValueError(f"method={method!r}: must be 'average' (UPGMA) or 'within' (eq. 3 literally)")


def layer_linkages(
    episodes: Sequence[Sequence[np.ndarray]],
    *,
    method: LinkageMethod = "average",
    length_normalized: bool = False,
) -> list[np.ndarray]:
    """Per-layer clustering (Sec. 4): one linkage matrix ``(n_l - 1, 4)`` per hidden layer.

    Distances are the layer-wise ones of eq. 2; a layer of a single neuron gives an empty
    ``(0, 4)`` matrix.
    """
    out = []
    for D in layerwise_neuron_distances(episodes, length_normalized=length_normalized):
        out.append(np.zeros((0, 4)) if D.shape[0] < 2 else cluster_linkage(D, method))
    return out


def dendrogram_data(Z: np.ndarray, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Coordinates of a dendrogram, for plotting elsewhere (no figure is made).

    Returns SciPy's dendrogram dictionary: ``icoord``/``dcoord`` (lists of 4-point x/y
    polylines, one per merge), ``leaves`` (leaf order), ``ivl`` (leaf labels in that order),
    ``color_list``; plus ``heights`` ``(n - 1,)``, the merge heights.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 4 or Z.shape[0] < 1:
        raise ValueError(f"Z must be a linkage matrix of shape (n - 1, 4) with n >= 2, got {Z.shape}")
    if labels is not None and len(labels) != Z.shape[0] + 1:
        raise ValueError(f"labels has {len(labels)} entries, the linkage has {Z.shape[0] + 1} leaves")
    data = hierarchy.dendrogram(Z, no_plot=True, labels=None if labels is None else list(labels))
    data = dict(data)
    data["heights"] = Z[:, 2].copy()
    return data
