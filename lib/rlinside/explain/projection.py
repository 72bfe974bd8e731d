"""Projections of one network's neuron activations onto another's, their metrics, and CKA.

Paper: *Neuron activation analysis in multi-joint robot reinforcement learning*, Section 6,
equations 5-9 and Figures 4-5 (the OCR garbles the equations; rebuilt here from the prose).
Linear CKA (Kornblith et al. 2019, *Similarity of neural network representations revisited*)
is an addition beyond the paper.

Setting
    The same ``N`` inputs go through a *source* network (``K`` neurons, activations
    ``B: (N, K)``) and a *target* network (``M`` neurons, ``A: (N, M)``); a projection
    ``P: (K, M) >= 0`` predicts ``A ~ B P``. Every column is first scaled into [0, 1] by its
    maximum over the fitting samples, ``beta_k = max_n B[n, k]``, ``alpha_m = max_n A[n, m]``
    (a dead column, maximum 0, keeps scale 1). All fitting and all metrics work on the scaled
    ``B~ = B / beta``, ``A~ = A / alpha`` and the scaled projection ``P~``; the projection in
    original units is ``P_km = alpha_m / beta_k * P~_km`` (:attr:`Projection.raw_weights`;
    the paper's garbled "P_km = ... P~_km" rebuilt from ``A = A~ alpha``, ``B~ = B / beta``).
    The paper's mapping "a-b" (e.g. "4-2") has source ``a`` and target ``b``.

Greedy mapping
    ``P~_km = 1`` if ``k = argmin_i d(m, i)`` else 0, with ``d`` the eq. 2 distance between the
    scaled columns over the ``N`` samples taken as one episode, i.e. ``||A~_m - B~_i||_2``
    (ties: lowest ``i``). Our choice: a dead target neuron (``alpha_m = 0``) gets a zero column.

Linear mapping, eq. 5 (rebuilt)
    Each target neuron separately::

        p_m = argmin_{p >= 0} || B~ p - A~_m ||_2^2 + lambda * ||p||_1

    The loss is the *sum* of squared errors over the N samples (not divided by N or by 2): with
    the paper's lambda = 50 and N in the thousands this is a light penalty, whereas with a mean
    it would zero almost every projection. The penalty is therefore not scale-free in N: the
    same lambda shrinks more on fewer samples (reflexive error with lambda = 50 is ~0.01 at
    N = 15000 but ~0.3 at N = 300 in our tests); compare lambdas only at equal N. (In
    scikit-learn's ``Lasso(positive=True)`` convention, ``1/(2N) ||.||^2 + a ||p||_1``, this is
    ``a = lambda / (2N)``.) Since ``p >= 0``, ``||p||_1 = sum(p)`` and the problem is a convex
    QP, solved exactly as a non-negative least-squares problem,
    ``||R p - R^{-T}(B~^T A~_m - lambda/2)||^2`` with ``R^T R = B~^T B~`` (Cholesky; a ridge of
    1e-12 of the mean diagonal keeps ``R`` invertible for collinear sources), by SciPy's
    Lawson-Hanson ``nnls`` (active set, finite termination). Dead source columns get
    ``p_k = 0``. (A projected coordinate descent was tried and dropped: on correlated ReLU
    activations it had not converged after 10^4 sweeps where NNLS took seconds.)

Eq. 6, normalized error (rebuilt)
    ::

        E(P, X) = sum_m || A~_m - B~ p_m ||_1  /  sum_m || A~_m ||_1

    the mean absolute prediction error divided by that of the zero projection ``P0 = 0``
    (the ``1/(N M)`` of both means cancels). It is a ratio of *sums*, so adding dead target
    neurons (predicted 0 exactly) leaves it unchanged, and it works on scaled activations, so it
    is invariant to weight scaling, as the paper requires. On validation data the fitting
    samples' ``alpha``, ``beta`` are used.

Eq. 7, saturation; eq. 8, coverage; eq. 9, layer-to-layer projection (rebuilt)
    With the column-normalized projection ``Q_km = P~_km / ||P~_m||_1`` (a distribution over
    source neurons for each target neuron)::

        S(P) = -1/M sum_m sum_k Q_km log_K Q_km           in [0, 1]
        C(P) = -sum_k kappa_k log_K kappa_k,  kappa_k = 1/M sum_m Q_km     in [0, 1]
        P_ij = 1/|L_j| sum_{k in L_i(source)} sum_{m in L_j(target)} Q_km

    ``0 log 0 = 0``; logarithms to base ``K`` (the number of source neurons), so both metrics lie
    in [0, 1] (defined as 0 when ``K = 1``). ``P_ij`` is the probability of reaching source layer
    ``i`` from a uniformly random neuron of target layer ``j``, shape ``(L_source, L_target)``,
    each column summing to 1. Reflexive mapping (a network onto itself) gives error 0,
    saturation 0 and coverage 1. Our choice for target neurons with an all-zero projection
    column (dead targets, or a lambda large enough to zero them): they cannot be "passed on",
    so they are left out of ``M`` and ``|L_j|`` (the metrics are then invariant to adding dead
    target neurons); if no column is non-zero the metric is NaN. The metrics use the scaled
    ``P~`` (not ``P``), so they do not depend on neuron scaling either. Dead *source* neurons
    still count in ``K`` (the paper's log base), so a reflexive mapping of a network with dead
    neurons has coverage ``log K_live / log K < 1``; prune dead neurons first (as the paper does)
    to get exactly 1.

Linear CKA (Kornblith et al. 2019, beyond the paper)
    ``CKA(X, Y) = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` with column-centred
    ``X_c, Y_c``; invariant to orthogonal transforms and isotropic scaling of either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy.linalg import LinAlgError, cholesky, solve_triangular
from scipy.optimize import nnls
from scipy.spatial.distance import cdist

from .activations import record_activations

__all__ = [
    "Projection",
    "fit_projection",
    "greedy_projection",
    "linear_projection",
    "nonnegative_lasso",
    "normalized_error",
    "saturation",
    "coverage",
    "layer_projection",
    "layerwise_projection_errors",
    "project_networks",
    "deduplicate_inputs",
    "linear_cka",
    "cka_matrix",
]

Activations = np.ndarray | Sequence[np.ndarray]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _matrix(a: Any, name: str, *, nonneg: bool = True) -> np.ndarray:
    a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, n) with N, n >= 1, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if nonneg and (a < 0).any():
        raise ValueError(
            f"{name} has negative values (min {a.min():.3g}); projections scale non-negative "
            "(ReLU) activations into [0, 1] by their maximum"
        )
    return a


def _stack_layers(x: Activations, name: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """``(N, n)`` array or list of per-layer ``(N, n_l)`` arrays -> concatenated array and sizes."""
    if isinstance(x, (np.ndarray, torch.Tensor)):
        a = _matrix(x, name)
        return a, (a.shape[1],)
    if not isinstance(x, Sequence) or len(x) == 0:
        raise TypeError(f"{name} must be an (N, n) array or a non-empty list of per-layer (N, n_l) arrays")
    layers = [_matrix(a, f"{name}[{i}]") for i, a in enumerate(x)]
    if len({a.shape[0] for a in layers}) != 1:
        counts = [a.shape[0] for a in layers]
        raise ValueError(f"{name}: all layers must have the same number of samples N, got {counts}")
    return np.concatenate(layers, axis=1), tuple(a.shape[1] for a in layers)


def _check_lam(lam: Any) -> float:
    real = isinstance(lam, (int, float, np.integer, np.floating)) and not isinstance(lam, bool)
    if not real or not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam={lam!r}: the lasso penalty must be a finite number >= 0")
    return float(lam)


def _scale(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=0)
    return np.where(m > 0, m, 1.0)


# --------------------------------------------------------------------------------------------
# the projection
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """A fitted projection from source neurons onto target neurons.

    ``weights: (K, M)`` the scaled projection ``P~`` (acts on activations scaled into [0, 1]);
    ``source_scale: (K,)`` and ``target_scale: (M,)`` the scaling maxima ``beta``, ``alpha`` of
    the fitting samples (1 for dead neurons); ``source_sizes`` / ``target_sizes`` the layer
    widths (one entry when a single array was given); ``method`` ``"greedy"`` or ``"linear"``;
    ``lam`` the lasso penalty (None for greedy).
    """

    weights: np.ndarray
    source_scale: np.ndarray
    target_scale: np.ndarray
    source_sizes: tuple[int, ...]
    target_sizes: tuple[int, ...]
    method: str
    lam: float | None = None

    @property
    def raw_weights(self) -> np.ndarray:
        """``P_km = alpha_m / beta_k * P~_km``, ``(K, M)``: the projection on unscaled activations."""
        return self.weights * self.target_scale[None, :] / self.source_scale[:, None]

    def predict(self, source: Activations) -> np.ndarray:
        """Predicted target activations ``(N, M)`` from source activations ``(N, K)`` (unscaled)."""
        b, _ = _stack_layers(source, "source")
        if b.shape[1] != self.weights.shape[0]:
            raise ValueError(f"source has {b.shape[1]} neurons, the projection expects {self.weights.shape[0]}")
        return b @ self.raw_weights

    def normalized_error(self, source: Activations, target: Activations) -> float:
        """Eq. 6 on ``source (N, K)`` and ``target (N, M)`` activations (e.g. validation samples)."""
        return normalized_error(self, source, target)

    def saturation(self) -> float:
        """Eq. 7, the mean entropy of the target neurons' projection weights."""
        return saturation(self.weights)

    def coverage(self) -> float:
        """Eq. 8, the entropy of the source-neuron usage."""
        return coverage(self.weights)

    def layer_projection(self) -> np.ndarray:
        """Eq. 9, ``(L_source, L_target)``: how much each target layer draws on each source layer."""
        return layer_projection(self.weights, self.source_sizes, self.target_sizes)


def nonnegative_lasso(B: np.ndarray, A: np.ndarray, lam: float) -> np.ndarray:
    """Eq. 5 for every column of ``A``: ``argmin_{p >= 0} ||B p - a_m||_2^2 + lam * sum(p)``.

    ``B: (N, K)``, ``A: (N, M)`` (any real values; the [0, 1] scaling happens in
    :func:`linear_projection`), ``lam >= 0``. Returns ``P: (K, M) >= 0``, solved as an exact
    NNLS rewrite through a Cholesky factor of ``B^T B`` (module docstring).
    """
    B = _matrix(B, "B", nonneg=False)
    A = _matrix(A, "A", nonneg=False)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"B and A must have the same number of samples, got {B.shape[0]} and {A.shape[0]}")
    lam = _check_lam(lam)
    G = B.T @ B
    C = B.T @ A
    K, M = C.shape
    live = np.diag(G) > 0
    P = np.zeros((K, M))
    if not live.any():
        return P
    P[live] = _nn_lasso_nnls(G[np.ix_(live, live)], C[live], lam)
    return P


def _nn_lasso_nnls(G: np.ndarray, C: np.ndarray, lam: float) -> np.ndarray:
    K = G.shape[0]
    base = float(np.trace(G)) / K
    for rel in (1e-12, 1e-10, 1e-8, 1e-6):
        try:
            R = cholesky(G + rel * base * np.eye(K), lower=False)
            break
        except LinAlgError:
            continue
    else:  # pragma: no cover - G + 1e-6 * mean(diag) I is positive definite in practice
        raise LinAlgError("the source Gram matrix could not be factorized")
    rhs = solve_triangular(R, C - lam / 2.0, trans="T", lower=False)  # R^T d = B^T a - lam/2
    P = np.empty_like(C)
    for m in range(C.shape[1]):
        P[:, m], _ = nnls(R, rhs[:, m], maxiter=50 * K)
    return P


def greedy_projection(source: Activations, target: Activations) -> Projection:
    """Greedy mapping (Sec. 6): each target neuron from its single nearest source neuron.

    ``source: (N, K)`` / ``target: (N, M)`` activations on the same inputs, or lists of
    per-layer arrays. ``P~_km = 1`` for ``k = argmin_i ||A~_m - B~_i||_2`` (eq. 2 on the scaled
    columns, the N samples as one episode); dead target neurons get a zero column.
    """
    b, ks = _stack_layers(source, "source")
    a, ms = _stack_layers(target, "target")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"source and target must have the same number of samples, got {b.shape[0]} and {a.shape[0]}")
    beta, alpha = _scale(b), _scale(a)
    d = cdist((a / alpha).T, (b / beta).T)  # (M, K)
    best = np.argmin(d, axis=1)
    W = np.zeros((b.shape[1], a.shape[1]))
    W[best, np.arange(a.shape[1])] = 1.0
    W[:, a.max(axis=0) == 0] = 0.0
    return Projection(W, beta, alpha, ks, ms, "greedy", None)


def linear_projection(
    source: Activations,
    target: Activations,
    lam: float = 50.0,
) -> Projection:
    """Linear mapping (Sec. 6, eq. 5): each target neuron a non-negative lasso combination of
    all source neurons, fitted on activations scaled into [0, 1].

    ``source: (N, K)`` / ``target: (N, M)`` (or lists of per-layer arrays); ``lam >= 0`` the
    penalty of eq. 5 on the sum-of-squares loss (the paper's best: 50, with N in the thousands).
    """
    b, ks = _stack_layers(source, "source")
    a, ms = _stack_layers(target, "target")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"source and target must have the same number of samples, got {b.shape[0]} and {a.shape[0]}")
    lam = _check_lam(lam)
    beta, alpha = _scale(b), _scale(a)
    W = nonnegative_lasso(b / beta, a / alpha, lam)
    return Projection(W, beta, alpha, ks, ms, "linear", lam)


def fit_projection(
    source: Activations,
    target: Activations,
    method: Literal["linear", "greedy"] = "linear",
    lam: float = 50.0,
) -> Projection:
    """Fit a greedy or linear projection; see :func:`greedy_projection`, :func:`linear_projection`.

    Reflexive baseline: ``fit_projection(acts, acts)``. Untrained baseline: record the
    activations of an untrained network of the same shape and pass them as ``source``.
    """
    if method == "linear":
        return linear_projection(source, target, lam)
    if method == "greedy":
        return greedy_projection(source, target)
    raise ValueError(f"method={method!r}: must be 'linear' or 'greedy'")


# --------------------------------------------------------------------------------------------
# metrics (eqs. 6-9)
# --------------------------------------------------------------------------------------------


def normalized_error(projection: Projection, source: Activations, target: Activations) -> float:
    """Eq. 6: ``sum_m ||A~_m - B~ p_m||_1 / sum_m ||A~_m||_1`` (error relative to ``P0 = 0``).

    ``source: (N, K)``, ``target: (N, M)`` activations on the same (e.g. validation) inputs,
    scaled with the projection's fitting-sample maxima.
    """
    if not isinstance(projection, Projection):
        raise TypeError(f"projection must be a Projection, got {type(projection).__name__}")
    b, _ = _stack_layers(source, "source")
    a, _ = _stack_layers(target, "target")
    K, M = projection.weights.shape
    if b.shape[1] != K or a.shape[1] != M:
        raise ValueError(f"expected source (N, {K}) and target (N, {M}), got {b.shape} and {a.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"source and target must have the same number of samples, got {b.shape[0]} and {a.shape[0]}")
    at = a / projection.target_scale
    zero_err = np.abs(at).sum()
    if zero_err == 0:
        raise ValueError("every target activation is 0: the normalized error (eq. 6) is undefined")
    return float(np.abs(at - (b / projection.source_scale) @ projection.weights).sum() / zero_err)


def _column_distributions(weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """``Q = P / ||P_m||_1`` for the non-zero columns; returns (Q (K, M'), mask of kept columns (M,))."""
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(f"weights must be a (K, M) projection matrix, got shape {W.shape}")
    if not np.all(np.isfinite(W)) or (W < 0).any():
        raise ValueError("projection weights must be finite and non-negative")
    s = W.sum(axis=0)
    keep = s > 0
    return W[:, keep] / s[keep], keep


def _entropy_base_k(q: np.ndarray, K: int, axis: int = 0) -> np.ndarray:
    if K == 1:
        return np.zeros(np.delete(q.shape, axis)) if q.ndim > 1 else np.float64(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(q > 0, q * np.log(q), 0.0)
    return -t.sum(axis=axis) / np.log(K)


def saturation(weights: np.ndarray, *, per_neuron: bool = False) -> float | np.ndarray:
    """Eq. 7: ``S(P) = -1/M sum_m sum_k Q_km log_K Q_km`` in [0, 1], ``Q_km = P_km / ||P_m||_1``.

    ``weights: (K, M)`` (scaled) projection. Low saturation: few source neurons describe a
    target neuron. ``per_neuron=True`` returns ``(M,)`` per-target entropies (NaN for zero
    columns) instead of their mean over the non-zero columns.
    """
    Q, keep = _column_distributions(weights)
    K = Q.shape[0]
    ent = _entropy_base_k(Q, K, axis=0) if Q.shape[1] else np.zeros(0)
    if per_neuron:
        out = np.full(keep.size, np.nan)
        out[keep] = ent
        return out
    return float(np.mean(ent)) if ent.size else float("nan")


def coverage(weights: np.ndarray) -> float:
    """Eq. 8: ``C(P) = -sum_k kappa_k log_K kappa_k``, ``kappa_k = 1/M sum_m Q_km``, in [0, 1].

    The entropy of the source neuron reached by picking a (non-zero-column) target neuron
    uniformly and following its projection distribution. Low coverage: little of the source
    network is used.
    """
    Q, _ = _column_distributions(weights)
    if Q.shape[1] == 0:
        return float("nan")
    kappa = Q.mean(axis=1)
    return float(_entropy_base_k(kappa, Q.shape[0]))


def layer_projection(
    weights: np.ndarray, source_sizes: Sequence[int], target_sizes: Sequence[int]
) -> np.ndarray:
    """Eq. 9: ``P_ij = 1/|L_j| sum_{k in L_i} sum_{m in L_j} Q_km``, shape ``(L_source, L_target)``.

    The probability of reaching source layer ``i`` from a uniformly random (non-zero-column)
    neuron of target layer ``j``; each column sums to 1 (NaN for a target layer whose
    projection columns are all zero). ``weights: (K, M)`` with ``K = sum(source_sizes)``,
    ``M = sum(target_sizes)``, neurons in layer order.
    """
    W = np.asarray(weights, dtype=np.float64)
    ss, ts = [int(s) for s in source_sizes], [int(s) for s in target_sizes]
    if any(s < 1 for s in ss + ts):
        raise ValueError(f"layer sizes must be >= 1, got source {ss} and target {ts}")
    if W.ndim != 2 or W.shape != (sum(ss), sum(ts)):
        raise ValueError(
            f"weights must have shape (sum(source_sizes), sum(target_sizes)) = ({sum(ss)}, {sum(ts)}), got {W.shape}"
        )
    Q, keep = _column_distributions(W)
    full = np.zeros_like(W)
    full[:, keep] = Q
    sb, tb = np.cumsum([0, *ss]), np.cumsum([0, *ts])
    out = np.full((len(ss), len(ts)), np.nan)
    for j in range(len(ts)):
        cols = slice(tb[j], tb[j + 1])
        n = int(keep[cols].sum())
        if n == 0:
            continue
        for i in range(len(ss)):
            out[i, j] = full[sb[i]:sb[i + 1], cols].sum() / n
    return out


def layerwise_projection_errors(
    source_layers: Sequence[np.ndarray],
    target_layers: Sequence[np.ndarray],
    method: Literal["linear", "greedy"] = "linear",
    lam: float = 50.0,
    *,
    validation: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> np.ndarray:
    """Normalized error (eq. 6) of a projection fitted from each source layer onto each target
    layer separately (the layer-wise table of Fig. 5, top right): ``(L_source, L_target)``.

    ``source_layers[i]: (N, k_i)``, ``target_layers[j]: (N, m_j)``; errors are measured on
    ``validation = (source_layers_v, target_layers_v)`` when given, else on the fitting samples.
    """
    if isinstance(source_layers, np.ndarray) or isinstance(target_layers, np.ndarray):
        raise TypeError("source_layers and target_layers must be lists of per-layer (N, n_l) arrays")
    src = [_matrix(a, f"source_layers[{i}]") for i, a in enumerate(source_layers)]
    tgt = [_matrix(a, f"target_layers[{j}]") for j, a in enumerate(target_layers)]
    if not src or not tgt:
        raise ValueError("source_layers and target_layers must be non-empty lists")
    if validation is None:
        vsrc, vtgt = src, tgt
    else:
        vsrc = [_matrix(a, f"validation[0][{i}]") for i, a in enumerate(validation[0])]
        vtgt = [_matrix(a, f"validation[1][{j}]") for j, a in enumerate(validation[1])]
        if len(vsrc) != len(src) or len(vtgt) != len(tgt):
            raise ValueError("validation must hold as many source and target layers as the fitting data")
    out = np.empty((len(src), len(tgt)))
    for i, b in enumerate(src):
        for j, a in enumerate(tgt):
            proj = fit_projection(b, a, method, lam)
            out[i, j] = normalized_error(proj, vsrc[i], vtgt[j])
    return out


def project_networks(
    source_model: torch.nn.Module,
    target_model: torch.nn.Module,
    target_inputs: np.ndarray,
    *,
    source_inputs: np.ndarray | None = None,
    method: Literal["linear", "greedy"] = "linear",
    lam: float = 50.0,
) -> Projection:
    """Record both networks' hidden activations and fit a projection source -> target.

    ``target_inputs: (N, n_in_target)`` (deduplicated samples of the target network's episodes,
    :func:`deduplicate_inputs`); ``source_inputs: (N, n_in_source)`` the same inputs in the
    source network's input space (e.g. :func:`rlinside.envs.planar_arm.transform_joint_observations` of them); default:
    ``target_inputs``. Models follow :func:`rlinside.explain.activations.record_activations`.
    The projection keeps the layer widths, so ``.layer_projection()`` gives eq. 9.
    """
    xt = np.asarray(target_inputs)
    xs = xt if source_inputs is None else np.asarray(source_inputs)
    if xt.ndim != 2 or xs.ndim != 2 or xs.shape[0] != xt.shape[0]:
        raise ValueError(
            f"target_inputs and source_inputs must be (N, n_in) with the same N, got {xt.shape} and {xs.shape}"
        )
    src = record_activations(source_model, [xs])[0]
    tgt = record_activations(target_model, [xt])[0]
    return fit_projection(src, tgt, method, lam)


def deduplicate_inputs(inputs: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Unique input rows in order of first appearance (Sec. 6: samples "without duplicates").

    ``inputs: (N, n_in)`` or a list of per-episode ``(T_e, n_in)`` arrays (concatenated first).
    """
    x = np.concatenate([np.asarray(e) for e in inputs], 0) if not isinstance(inputs, np.ndarray) else inputs
    if x.ndim != 2:
        raise ValueError(f"inputs must be (N, n_in) or a list of (T, n_in) arrays, got shape {x.shape}")
    _, first = np.unique(x, axis=0, return_index=True)
    return x[np.sort(first)]


# --------------------------------------------------------------------------------------------
# linear CKA (Kornblith et al. 2019)
# --------------------------------------------------------------------------------------------


def _cka(X: np.ndarray, Y: np.ndarray) -> float:
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    if Xc.shape[1] + Yc.shape[1] < Xc.shape[0]:  # feature space: ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
        hsic = np.linalg.norm(Yc.T @ Xc) ** 2
        nx, ny = np.linalg.norm(Xc.T @ Xc), np.linalg.norm(Yc.T @ Yc)
    else:  # sample space: <K, L>_F / (||K||_F ||L||_F), K = X X^T, L = Y Y^T
        Kx, Ly = Xc @ Xc.T, Yc @ Yc.T
        hsic = float(np.sum(Kx * Ly))
        nx, ny = np.linalg.norm(Kx), np.linalg.norm(Ly)
    if nx == 0 or ny == 0:
        return float("nan")
    return float(hsic / (nx * ny))


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA (Kornblith et al. 2019) between representations ``X: (N, p)`` and ``Y: (N, q)``
    of the same ``N`` inputs: ``||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` in [0, 1].

    Raises ``ValueError`` if either representation is constant over the samples.
    """
    X = _matrix(X, "X", nonneg=False)
    Y = _matrix(Y, "Y", nonneg=False)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must describe the same N samples, got {X.shape[0]} and {Y.shape[0]} rows")
    if X.shape[0] < 2:
        raise ValueError("linear_cka needs at least 2 samples")
    for name, Z in (("X", X), ("Y", Y)):
        if np.ptp(Z, axis=0).max() == 0:
            raise ValueError(f"{name} is constant over the samples: CKA is undefined")
    return _cka(X, Y)


def cka_matrix(layers_x: Sequence[np.ndarray], layers_y: Sequence[np.ndarray]) -> np.ndarray:
    """Linear CKA between every layer of one network and every layer of another, ``(L_x, L_y)``.

    ``layers_x[i]: (N, p_i)``, ``layers_y[j]: (N, q_j)`` on the same inputs. A constant layer
    (e.g. all neurons dead) gives NaN entries instead of an error.
    """
    if isinstance(layers_x, np.ndarray) or isinstance(layers_y, np.ndarray):
        raise TypeError("layers_x and layers_y must be lists of per-layer (N, n_l) arrays")
    xs = [_matrix(a, f"layers_x[{i}]", nonneg=False) for i, a in enumerate(layers_x)]
    ys = [_matrix(a, f"layers_y[{j}]", nonneg=False) for j, a in enumerate(layers_y)]
    if not xs or not ys:
        raise ValueError("layers_x and layers_y must be non-empty lists")
    if len({a.shape[0] for a in xs + ys}) != 1:
        raise ValueError("all layers must describe the same N samples")
    return np.array([[_cka(x, y) for y in ys] for x in xs])
