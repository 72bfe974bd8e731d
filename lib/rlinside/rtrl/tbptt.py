"""Truncated back-propagation through time (T-BPTT): the baseline of Javed et al.'s RTRL paper.

A fully connected LSTM with ``d`` hidden features reads the observation ``x_t`` (``n``
inputs); a linear readout makes the prediction (RTRL paper, eq. 3; the bias ``b_out`` is
optional and off by default, as in eq. 3 and the authors' dense LSTM)

    y_t = w . hhat_t + b_out,    hhat_t = h_t                                    (default)
                                 hhat_t = (h_t - mu_t) / sqrt(max(var_t, eps))   (normalize)

and is trained online, at every step, by TD(lambda) on the cumulant ``c_t`` (the US of the
trace patterning task, input ``cumulant_index``). The gradient of ``y_t`` with respect to
the LSTM parameters is computed by back-propagation through the last ``k`` steps only
(Williams and Peng 1990): the hidden and cell states that enter the oldest step of the
window are constants. The activations of those ``k`` steps sit in a ring buffer, so one
gradient costs ``k`` backward cell steps on top of the forward step: the paper's compute
estimate (Appendix, "Equations for estimating compute")

    (k + 1) (4 d^2 + 4 d n + 4 d)  operations per step    (:func:`~rlinside.rtrl.flops.tbptt_flops`)

LSTM cell (Appendix B, eqs. 13-18, for a d-dimensional state; gate order ``(i, f, g, o)``
as in PyTorch's ``nn.LSTMCell``, one bias per gate as in the authors' C++ implementation)::

    z_{q,t} = W_q x_t + U_q h_{t-1} + b_q                    q in (i, f, g, o)
    i_t = sigma(z_i)  f_t = sigma(z_f)  g_t = tanh(z_g)  o_t = sigma(z_o)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

Feature normalization (optional, Appendix A eqs. 10-12, the same as the RTRL learners):
``mu <- beta mu + (1 - beta) h``, then ``var <- beta var + (1 - beta) (mu - h)^2`` with the
new ``mu``, ``hhat = (h - mu) / sqrt(max(var, epsilon))`` (the floor on the variance, as in
Appendix A's prose and :mod:`rlinside.rtrl.learner`), ``mu = 0, var = 1`` at the start; the
statistics are constants for the gradient: ``d y / d h = w / sqrt(max(var, epsilon))``.

Per-step order of the online learner (step ``t``, observation ``x_t`` arrives), the same as
:class:`rlinside.rtrl.learner.StagedRTRL`::

    1. forward:   h_t, c_t from (x_t, h_{t-1}, c_{t-1}) with the current theta; normalization
                  statistics updated with h_t; y_t = w . hhat_t + b_out
    2. gradient:  g_t = d y_t / d theta by BPTT through the last min(k, t + 1) steps, with the
                  theta that produced y_t
    3. TD error:  delta = c_t + gamma y_t - y_{t-1}, c_t = x_t[cumulant_index]
                  (the paper's delta_{t-1}; skipped at the first step)
    4. update:    theta <- theta + alpha delta e               (e: the trace of step t-1;
                  SGD, or RMSprop, see :class:`TBPTTConfig`)
    5. trace:     e <- gamma lambda e + g_t

This is online TD(lambda) with accumulating traces (Sutton 1988); the update with
``delta_t = c_{t+1} + gamma y_{t+1} - y_t`` needs ``y_{t+1}``, so it is applied at step
``t + 1``, after ``y_{t+1}`` was predicted. ``theta`` holds the LSTM weights and the readout
``(w, b_out)``, all learned the same way (``d y_t / d w = hhat_t``, ``d y_t / d b_out = 1``
when the bias is on). The ring buffer keeps the activations as they were computed when each
step was taken; the backward pass multiplies by the current recurrent weights (as the
authors' C++ ``DenseLSTM`` does).

Arrays are float64 throughout; the hot loop is one numba call per chunk of observations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
from numba import njit

from rlinside.rtrl.flops import tbptt_flops
from rlinside.utils import is_int as _is_int
from rlinside.utils import is_real as _is_real

__all__ = [
    "TBPTTConfig",
    "TBPTTLearner",
    "LSTMParams",
    "truncated_gradient",
]

OPTIMIZERS = ("sgd", "rmsprop")




# ----------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TBPTTConfig:
    """Every hyper-parameter of a T-BPTT learner (RTRL paper, Experiment 1 and Appendix A).

    The paper's trace patterning sweep pairs features and truncation so that the per-step
    compute stays near 4,000 operations (``d:k`` = 13:2, 10:3, 8:5, 6:8, 5:10, 4:15, 3:20,
    2:30; the best is 2:30) and sweeps ``step_size`` over {1e-2, 3e-3, 1e-3, 3e-4, 1e-4}.

    Optimizer: the paper's text describes plain TD(lambda) (``"sgd"``, the default, as for
    the RTRL learners). The authors' released camera-ready T-BPTT sweep for trace patterning
    (``tbptt_rmsprop``) used RMSprop with ``beta_2 = 0.9999``, ``eps = 1e-8`` and step sizes
    {1e-3, 3e-4, 1e-4, 3e-5}: ``optimizer="rmsprop"`` with the default ``rms_decay`` and
    ``rms_eps``. RMSprop, elementwise: ``v <- rho v + (1 - rho) (delta e)^2``,
    ``theta <- theta + alpha delta e / (sqrt(v) + rms_eps)``, ``v`` starting at 1.

    Normalization and the readout bias are off by default: the authors' dense LSTM reads
    ``h`` directly with ``y = w . h`` (eq. 3), and the paper motivates normalization by the
    unequal fan-in of constructive and hybrid networks (Table 1 tunes epsilon for those only).
    :class:`rlinside.rtrl.learner.StagedRTRL` always normalizes and learns a readout bias;
    ``normalize=True, readout_bias=True`` gives T-BPTT the same readout. (Normalized
    features have zero mean, so without the bias the prediction cannot carry the mean.)
    """

    n_features: int                  #: d, hidden features of the LSTM
    truncation: int                  #: k, cell steps the gradient flows back through (>= 1)
    step_size: float                 #: alpha (0 freezes the learner)
    gamma: float = 0.9               #: discount of the predicted return
    lam: float = 0.99                #: lambda of TD(lambda)
    optimizer: str = "sgd"           #: "sgd" (paper text) | "rmsprop" (authors' T-BPTT runs)
    rms_decay: float = 0.9999        #: rho of RMSprop
    rms_eps: float = 1e-8            #: added to sqrt(v) in RMSprop
    normalize: bool = False          #: online feature normalization of h (eqs. 10-12)
    epsilon: float = 0.01            #: variance floor of the normalization (eq. 12)
    beta: float = 0.99999            #: decay of the running mean/variance (eqs. 10-11)
    readout_bias: bool = False       #: learn b_out in y = w . hhat + b_out (else it stays 0)
    init_scale: float | None = None  #: W, U, b ~ U(-s, s); None: s = 1/sqrt(d) (PyTorch, authors)
    cumulant_index: int = 6          #: index of the cumulant c_t in x_t (trace patterning: US)

    def __post_init__(self) -> None:
        errs: list[str] = []

        def bad(name: str, allowed: str) -> None:
            errs.append(f"{name}={getattr(self, name)!r}: must be {allowed}")

        if not _is_int(self.n_features) or self.n_features < 1:
            bad("n_features", "an integer >= 1")
        if not _is_int(self.truncation) or self.truncation < 1:
            bad("truncation", "an integer >= 1 (1: no gradient through time)")
        if not _is_real(self.step_size) or not math.isfinite(self.step_size) or self.step_size < 0:
            bad("step_size", "a finite number >= 0")
        for name in ("epsilon", "rms_eps"):
            v = getattr(self, name)
            if not _is_real(v) or not math.isfinite(v) or v <= 0:
                bad(name, "a finite number > 0")
        for name in ("gamma", "beta", "rms_decay"):
            v = getattr(self, name)
            if not _is_real(v) or not 0.0 <= v < 1.0:
                bad(name, "a number in [0, 1)")
        if not _is_real(self.lam) or not 0.0 <= self.lam <= 1.0:
            bad("lam", "a number in [0, 1]")
        if not isinstance(self.optimizer, str) or self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"one of {OPTIMIZERS}")
        for name in ("normalize", "readout_bias"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                bad(name, "True or False")
        s = self.init_scale
        if s is not None and (not _is_real(s) or not math.isfinite(s) or s < 0):
            bad("init_scale", "None (1/sqrt(n_features)) or a finite number >= 0")
        if not _is_int(self.cumulant_index) or self.cumulant_index < 0:
            bad("cumulant_index", "an integer >= 0")
        if errs:
            raise ValueError("invalid TBPTTConfig: " + "; ".join(errs))

    def flops_per_step(self, n_inputs: int) -> int:
        """The paper's per-step compute estimate ``(k+1)(4d^2 + 4dn + 4d)`` for ``n_inputs``.

        (Appendix, compute equations; with the 7 trace patterning inputs 2:30 -> 2,480,
        10:3 -> 2,880, 13:2 -> 3,276 for ``d:k``.)
        """
        return tbptt_flops(int(self.n_features), n_inputs, int(self.truncation))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------
# parameters: flat layout W (4,d,n) | U (4,d,d) | b (4,d) | w (d,) | b_out
# ----------------------------------------------------------------------------------------
class LSTMParams(NamedTuple):
    """Parameters (or gradients) of a fully connected LSTM with a linear readout.

    Gate order ``(i, f, g, o)`` along the first axis, PyTorch's: ``W.reshape(4d, n)`` is
    ``nn.LSTMCell.weight_ih``, ``U.reshape(4d, d)`` is ``weight_hh``, ``b.reshape(4d)`` is
    ``bias_ih`` (with ``bias_hh = 0``).
    """

    W: np.ndarray        #: (4, d, n) input weights
    U: np.ndarray        #: (4, d, d) recurrent weights; U[q, a, m]: h_{t-1, m} -> gate q of unit a
    b: np.ndarray        #: (4, d) gate biases
    w: np.ndarray        #: (d,) readout weights
    b_out: float = 0.0   #: readout bias


def _n_params(d: int, n: int) -> int:
    return 4 * d * n + 4 * d * d + 4 * d + d + 1


def _unflatten(theta: np.ndarray, d: int, n: int) -> LSTMParams:
    """Copies of a flat parameter vector ``theta: (P,)`` as :class:`LSTMParams`."""
    o1 = 4 * d * n
    o2 = o1 + 4 * d * d
    o3 = o2 + 4 * d
    return LSTMParams(
        theta[:o1].reshape(4, d, n).copy(), theta[o1:o2].reshape(4, d, d).copy(),
        theta[o2:o3].reshape(4, d).copy(), theta[o3:o3 + d].copy(), float(theta[o3 + d]),
    )


def _flatten(params: LSTMParams) -> tuple[np.ndarray, int, int]:
    """Validate ``params`` and pack them into a new flat float64 vector; returns (theta, d, n)."""
    if not isinstance(params, LSTMParams):
        raise TypeError(f"params must be an LSTMParams, got {type(params).__name__}")
    W, U, b, w = (np.asarray(a) for a in params[:4])
    if W.ndim != 3 or W.shape[0] != 4 or min(W.shape) < 1:
        raise ValueError(f"params.W must have shape (4, d, n), got {W.shape}")
    _, d, n = W.shape
    for name, a, shape in (("U", U, (4, d, d)), ("b", b, (4, d)), ("w", w, (d,))):
        if a.shape != shape:
            raise ValueError(f"params.{name} must have shape {shape} for d={d}, got {a.shape}")
    for name, a in zip(LSTMParams._fields, (W, U, b, w)):
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"params.{name} must be a real array, got dtype {a.dtype}")
    if not _is_real(params.b_out):
        raise ValueError(f"params.b_out={params.b_out!r}: must be a real number")
    theta = np.concatenate([W.ravel(), U.ravel(), b.ravel(), w.ravel(), [params.b_out]])
    return theta.astype(np.float64), d, n


def _check_x(x: Any, n: int, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float64 ``(T, n)`` array of finite values (as StagedRTRL)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError(f"{name} must have shape (T, n_inputs={n}), got {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must be a real array, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


# ----------------------------------------------------------------------------------------
# numba kernels
# ----------------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


@njit(cache=True, error_model="numpy", inline="always")
def _add_products4(M, a, v, n, z0, z1, z2, z3):
    """``z_i + sum_m M[a + i, m] v[m]`` for rows ``a .. a + 3`` of ``M``, each sum in order of
    ``m``: four independent chains advanced together (the processor overlaps them)."""
    for m in range(n):
        vm = v[m]
        z0 += M[a, m] * vm
        z1 += M[a + 1, m] * vm
        z2 += M[a + 2, m] * vm
        z3 += M[a + 3, m] * vm
    return z0, z1, z2, z3


@njit(cache=True, error_model="numpy")
def _lstm_forward(theta, d, n, x, h_prev, c_prev, slot, rx, rgate, rtc, rhp, rcp, h, c):
    """One LSTM step (eqs. 13-18) from ``h_prev, c_prev: (d,)`` and ``x: (n,)`` into ``h, c``.

    Stores what the backward pass needs into ring slot ``slot``: ``rx[slot] = x``, the gate
    activations ``rgate[slot]: (4, d)``, ``rtc[slot] = tanh(c_t)``, ``rhp[slot] = h_{t-1}``,
    ``rcp[slot] = c_{t-1}``. ``h, c`` must not alias ``h_prev, c_prev``.
    """
    o1 = 4 * d * n
    o2 = o1 + 4 * d * d
    W = theta[:o1].reshape((4, d, n))
    U = theta[o1:o2].reshape((4, d, d))
    b = theta[o2:o2 + 4 * d].reshape((4, d))
    for m in range(n):
        rx[slot, m] = x[m]
    for a in range(d):
        rhp[slot, a] = h_prev[a]
        rcp[slot, a] = c_prev[a]
    # Each pre-activation is summed in the order b, W x (m ascending), U h (m ascending); four
    # units at a time, so the four independent sums overlap in the pipeline instead of one
    # long dependent chain (same operations in the same order per unit: identical results).
    for q in range(4):
        a = 0
        while a + 4 <= d:
            z0 = b[q, a]
            z1 = b[q, a + 1]
            z2 = b[q, a + 2]
            z3 = b[q, a + 3]
            z0, z1, z2, z3 = _add_products4(W[q], a, x, n, z0, z1, z2, z3)
            z0, z1, z2, z3 = _add_products4(U[q], a, h_prev, d, z0, z1, z2, z3)
            rgate[slot, q, a] = math.tanh(z0) if q == 2 else _sigmoid(z0)
            rgate[slot, q, a + 1] = math.tanh(z1) if q == 2 else _sigmoid(z1)
            rgate[slot, q, a + 2] = math.tanh(z2) if q == 2 else _sigmoid(z2)
            rgate[slot, q, a + 3] = math.tanh(z3) if q == 2 else _sigmoid(z3)
            a += 4
        a_rest = a
        for a in range(a_rest, d):
            z = b[q, a]
            for m in range(n):
                z += W[q, a, m] * x[m]
            for m in range(d):
                z += U[q, a, m] * h_prev[m]
            rgate[slot, q, a] = math.tanh(z) if q == 2 else _sigmoid(z)
    for a in range(d):
        c[a] = rgate[slot, 1, a] * c_prev[a] + rgate[slot, 0, a] * rgate[slot, 2, a]
        tc = math.tanh(c[a])
        rtc[slot, a] = tc
        h[a] = rgate[slot, 3, a] * tc


@njit(cache=True, error_model="numpy")
def _bptt(theta, d, n, dh_out, last_slot, n_back, K, rx, rgate, rtc, rhp, rcp, g, dh, dc, dz):
    """Add ``d y / d(W, U, b)`` to ``g: (P,)`` by BPTT through ``n_back`` ring steps.

    ``dh_out: (d,)`` is ``d y / d h`` at the newest step (ring slot ``last_slot`` of ``K``);
    the state entering the oldest step is a constant (the truncation). ``dh, dc: (d,)`` and
    ``dz: (4, d)`` are scratch. The readout part of ``g`` is left alone.
    """
    o1 = 4 * d * n
    o2 = o1 + 4 * d * d
    U = theta[o1:o2].reshape((4, d, d))
    gW = g[:o1].reshape((4, d, n))
    gU = g[o1:o2].reshape((4, d, d))
    gb = g[o2:o2 + 4 * d].reshape((4, d))
    for a in range(d):
        dh[a] = dh_out[a]
        dc[a] = 0.0
    for j in range(n_back):
        s = last_slot - j
        if s < 0:
            s += K
        for a in range(d):
            ig = rgate[s, 0, a]
            fg = rgate[s, 1, a]
            gg = rgate[s, 2, a]
            og = rgate[s, 3, a]
            tc = rtc[s, a]
            # d y / d c_t: through h_t = o tanh(c_t), plus what flows back from c_{t+1}
            dct = dc[a] + dh[a] * og * (1.0 - tc * tc)
            dz[0, a] = dct * gg * ig * (1.0 - ig)            # input gate pre-activation
            dz[1, a] = dct * rcp[s, a] * fg * (1.0 - fg)     # forget gate
            dz[2, a] = dct * ig * (1.0 - gg * gg)            # candidate g
            dz[3, a] = dh[a] * tc * og * (1.0 - og)          # output gate
            dc[a] = dct * fg                                 # to c_{t-1}
        for q in range(4):
            for a in range(d):
                dzq = dz[q, a]
                gb[q, a] += dzq
                for m in range(n):
                    gW[q, a, m] += dzq * rx[s, m]
                for m in range(d):
                    gU[q, a, m] += dzq * rhp[s, m]
        if j + 1 < n_back:  # d y / d h_{t-1}; nothing flows past the oldest step
            # dh[m] = sum over (q, a) in order of dz[q, a] U[q, a, m], accumulated for all m at
            # once (contiguous in m, so the loop vectorizes; same order per m: same result)
            for m in range(d):
                dh[m] = 0.0
            for q in range(4):
                for a in range(d):
                    dza = dz[q, a]
                    Uqa = U[q, a]
                    for m in range(d):
                        dh[m] += dza * Uqa[m]


@njit(cache=True, error_model="numpy")
def _truncated_gradient_kernel(theta, d, n, X, k):
    """Forward over ``X: (T, n)`` from zero state; ``(d y_{T-1} / d theta: (P,), y_{T-1})``."""
    T = X.shape[0]
    K = min(k, T)
    P = theta.shape[0]
    rx = np.zeros((K, n))
    rgate = np.zeros((K, 4, d))
    rtc = np.zeros((K, d))
    rhp = np.zeros((K, d))
    rcp = np.zeros((K, d))
    h = np.zeros(d)
    c = np.zeros(d)
    h2 = np.zeros(d)
    c2 = np.zeros(d)
    for t in range(T):
        _lstm_forward(theta, d, n, X[t], h, c, t % K, rx, rgate, rtc, rhp, rcp, h2, c2)
        h, h2 = h2, h
        c, c2 = c2, c
    ow = P - d - 1
    w = theta[ow:ow + d]
    g = np.zeros(P)
    y = theta[P - 1]
    for a in range(d):
        y += w[a] * h[a]
        g[ow + a] = h[a]
    g[P - 1] = 1.0
    _bptt(theta, d, n, w, (T - 1) % K, K, K, rx, rgate, rtc, rhp, rcp, g,
          np.zeros(d), np.zeros(d), np.zeros((4, d)))
    return g, y


@njit(cache=True, error_model="numpy")
def _tbptt_learn_chunk(X, y_out, theta, trace, grad, opt_v, h, c, mu, var,
                       rx, rgate, rtc, rhp, rcp, istate, fstate, dims, hyper):
    """Learn online from ``X: (T, n)``; writes the predictions into ``y_out: (T,)``.

    State (mutated in place, carried across chunks): ``theta, trace, grad, opt_v: (P,)``,
    ``h, c, mu, var: (d,)``, the ring buffer ``rx: (k, n)``, ``rgate: (k, 4, d)``,
    ``rtc, rhp, rcp: (k, d)``, ``istate = [next slot, filled slots, has previous
    prediction, steps done]`` and ``fstate = [previous prediction]``.
    ``dims = [d, n, k, cumulant_index, rmsprop?, normalize?, readout_bias?]``,
    ``hyper = [alpha, gamma, lambda, epsilon, beta, rms_decay, rms_eps]``.
    """
    d = dims[0]
    n = dims[1]
    K = dims[2]
    ci = dims[3]
    use_rms = dims[4] != 0
    normalize = dims[5] != 0
    bias_grad = 1.0 if dims[6] != 0 else 0.0
    alpha = hyper[0]
    gamma = hyper[1]
    gl = hyper[1] * hyper[2]
    eps = hyper[3]
    nb = hyper[4]
    rho = hyper[5]
    reps = hyper[6]
    P = theta.shape[0]
    ow = P - d - 1
    h2 = np.empty(d)
    c2 = np.empty(d)
    dh_out = np.empty(d)
    dh = np.empty(d)
    dc = np.empty(d)
    dz = np.empty((4, d))
    for t in range(X.shape[0]):
        x = X[t]
        slot = istate[0]
        # 1. forward with the current theta (eqs. 13-18), normalization (eqs. 10-12), eq. 3
        _lstm_forward(theta, d, n, x, h, c, slot, rx, rgate, rtc, rhp, rcp, h2, c2)
        y = theta[P - 1]
        for a in range(d):
            h[a] = h2[a]
            c[a] = c2[a]
            if normalize:
                m = nb * mu[a] + (1.0 - nb) * h[a]                 # eq. 10
                dev = m - h[a]
                var[a] = nb * var[a] + (1.0 - nb) * dev * dev       # eq. 11
                mu[a] = m
                isd = 1.0 / math.sqrt(var[a] if var[a] > eps else eps)
                hhat = (h[a] - m) * isd                             # eq. 12
                dh_out[a] = theta[ow + a] * isd
            else:
                hhat = h[a]
                dh_out[a] = theta[ow + a]
            grad[ow + a] = hhat
            y += theta[ow + a] * hhat
        grad[P - 1] = bias_grad
        y_out[t] = y
        # 2. gradient of y_t through the last min(k, t+1) steps, with the theta of step 1
        filled = min(istate[1] + 1, K)
        istate[1] = filled
        _bptt(theta, d, n, dh_out, slot, filled, K, rx, rgate, rtc, rhp, rcp, grad, dh, dc, dz)
        # 3.-5. TD error of the previous prediction, update with its trace, extend the trace
        if istate[2] != 0:
            delta = x[ci] + gamma * y - fstate[0]
            if use_rms:
                for p in range(P):
                    u = delta * trace[p]
                    v = rho * opt_v[p] + (1.0 - rho) * u * u
                    opt_v[p] = v
                    theta[p] += alpha * u / (math.sqrt(v) + reps)
                    trace[p] = gl * trace[p] + grad[p]
                    grad[p] = 0.0
            else:
                ad = alpha * delta
                for p in range(P):
                    theta[p] += ad * trace[p]
                    trace[p] = gl * trace[p] + grad[p]
                    grad[p] = 0.0
        else:
            for p in range(P):
                trace[p] = gl * trace[p] + grad[p]
                grad[p] = 0.0
        fstate[0] = y
        istate[2] = 1
        istate[0] = slot + 1 if slot + 1 < K else 0
        istate[3] += 1


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------
def truncated_gradient(params: LSTMParams, x_seq: np.ndarray, k: int) -> LSTMParams:
    """``d y_T / d theta`` of the last prediction, back-propagated through the last ``k`` steps.

    The LSTM starts from ``h = c = 0``, reads ``x_seq: (T, n)`` with the fixed ``params``
    and predicts ``y_T = w . h_T + b_out`` (eq. 3, no normalization) at the last step. The
    gradient flows through the last ``min(k, T)`` cell steps; the state entering the oldest
    of them is a constant, so ``k >= T`` is full BPTT (eq. 7 unrolled to the start). Returns
    the gradient in the shapes of ``params``: ``W (4, d, n)``, ``U (4, d, d)``, ``b (4, d)``,
    ``w (d,)``, ``b_out`` (= 1). Computed by the same numba kernels as :class:`TBPTTLearner`.
    """
    theta, d, n = _flatten(params)
    x = _check_x(x_seq, n, "x_seq")
    if x.shape[0] < 1:
        raise ValueError("x_seq must hold at least one step, got T=0")
    if not _is_int(k) or k < 1:
        raise ValueError(f"k={k!r}: must be an integer >= 1")
    g, _ = _truncated_gradient_kernel(theta, d, n, x, int(k))
    return _unflatten(g, d, n)


class TBPTTLearner:
    """Online TD(lambda) prediction with an LSTM trained by T-BPTT (the RTRL paper's baseline).

    ``TBPTTLearner(config, n_inputs, seed).learn(x)`` consumes a chunk ``x: (T, n_inputs)``
    and returns the prediction ``y: (T,)`` made at each step (before that step's update; see
    the module docstring for the order of operations). Everything (parameters, eligibility
    and RMSprop traces, LSTM state, the ring buffer of the last ``k`` steps, normalization
    statistics, the pending prediction) persists across calls: learning in chunks equals
    learning at once, bit for bit, and one call is a single numba loop.

    Initialization (``seed``): ``W, U, b ~ U(-s, s)``, ``s = init_scale`` or ``1/sqrt(d)``
    (PyTorch's LSTM default, the authors' C++); readout ``w = 0, b_out = 0``; ``h = c = 0``;
    ``mu = 0, var = 1``; RMSprop moments 1 (the authors' C++ and StagedRTRL).
    """

    def __init__(self, config: TBPTTConfig, n_inputs: int, seed: int = 0) -> None:
        if not isinstance(config, TBPTTConfig):
            raise TypeError(f"config must be a TBPTTConfig, got {type(config).__name__}")
        if not _is_int(n_inputs) or n_inputs < 1:
            raise ValueError(f"n_inputs={n_inputs!r}: must be an integer >= 1")
        if config.cumulant_index >= n_inputs:
            raise ValueError(
                f"cumulant_index={config.cumulant_index}: must be < n_inputs={n_inputs} "
                "(the cumulant is read from x_t)"
            )
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed={seed!r}: must be a non-negative integer")
        self.config = config
        self.n_inputs = int(n_inputs)
        self.seed = int(seed)
        d, n, k = config.n_features, self.n_inputs, config.truncation
        P = _n_params(d, n)
        rng = np.random.default_rng(self.seed)
        s = 1.0 / math.sqrt(d) if config.init_scale is None else float(config.init_scale)
        self._theta = np.zeros(P)
        self._theta[: P - d - 1] = rng.uniform(-s, s, size=P - d - 1)  # W, U, b; readout 0
        self._trace = np.zeros(P)
        self._grad = np.zeros(P)
        self._opt_v = np.ones(P)
        self._h = np.zeros(d)
        self._c = np.zeros(d)
        self._mu = np.zeros(d)
        self._var = np.ones(d)
        self._rx = np.zeros((k, n))
        self._rgate = np.zeros((k, 4, d))
        self._rtc = np.zeros((k, d))
        self._rhp = np.zeros((k, d))
        self._rcp = np.zeros((k, d))
        self._istate = np.zeros(4, dtype=np.int64)
        self._fstate = np.zeros(1)
        self._dims = np.array(
            [d, n, k, config.cumulant_index, int(config.optimizer == "rmsprop"),
             int(bool(config.normalize)), int(bool(config.readout_bias))], dtype=np.int64,
        )
        self._hyper = np.array(
            [config.step_size, config.gamma, config.lam, config.epsilon, config.beta,
             config.rms_decay, config.rms_eps], dtype=np.float64,
        )

    # -- learning ---------------------------------------------------------------------
    def learn(self, x: np.ndarray) -> np.ndarray:
        """Learn online from ``x: (T, n_inputs)``; returns the predictions ``y: (T,)``.

        ``y[t]`` is made at step ``t`` before that step's update (the quantity scored by the
        paper's eq. 1). The TD error of a chunk's last prediction is applied at the first
        step of the next call.
        """
        x = _check_x(x, self.n_inputs, "x")
        y = np.empty(x.shape[0])
        if x.shape[0]:
            _tbptt_learn_chunk(
                x, y, self._theta, self._trace, self._grad, self._opt_v, self._h, self._c,
                self._mu, self._var, self._rx, self._rgate, self._rtc, self._rhp, self._rcp,
                self._istate, self._fstate, self._dims, self._hyper,
            )
        return y

    # -- inspection -------------------------------------------------------------------
    @property
    def steps_done(self) -> int:
        """Observations learned from so far."""
        return int(self._istate[3])

    @property
    def n_params(self) -> int:
        """LSTM parameters ``4dn + 4d^2 + 4d``, excluding the readout (as StagedRTRL.n_params)."""
        return int(self._theta.size) - self.config.n_features - 1

    @property
    def flops_per_step(self) -> int:
        """The paper's compute estimate ``(k+1)(4d^2 + 4dn + 4d)``."""
        return self.config.flops_per_step(self.n_inputs)

    def params(self) -> LSTMParams:
        """A copy of the current parameters."""
        return _unflatten(self._theta, self.config.n_features, self.n_inputs)

    def eligibility_trace(self) -> LSTMParams:
        """A copy of the trace ``e = sum_j (gamma lambda)^(t-j) d y_j / d theta`` (after step t)."""
        return _unflatten(self._trace, self.config.n_features, self.n_inputs)

    def set_params(self, params: LSTMParams) -> None:
        """Overwrite the parameters with ``params``: ``(4,d,n), (4,d,d), (4,d), (d,)``, scalar."""
        theta, d, n = _flatten(params)
        if (d, n) != (self.config.n_features, self.n_inputs):
            raise ValueError(
                f"params are for d={d}, n={n}; this learner has d={self.config.n_features}, "
                f"n={self.n_inputs}"
            )
        self._theta[:] = theta

    # -- checkpointing ----------------------------------------------------------------
    _STATE = ("_theta", "_trace", "_grad", "_opt_v", "_h", "_c", "_mu", "_var", "_rx", "_rgate",
              "_rtc", "_rhp", "_rcp", "_istate", "_fstate")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, n_inputs, seed and copies of the arrays."""
        out: dict[str, Any] = {k.lstrip("_"): getattr(self, k).copy() for k in self._STATE}
        out.update(config=self.config.to_dict(), n_inputs=self.n_inputs, seed=self.seed)
        return out

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "TBPTTLearner":
        """Rebuild a learner from :meth:`state_dict`; it continues exactly where it stopped."""
        obj = cls(TBPTTConfig(**state["config"]), state["n_inputs"], state["seed"])
        for k in cls._STATE:
            cur = getattr(obj, k)
            a = np.asarray(state[k.lstrip("_")])
            if a.shape != cur.shape:
                raise ValueError(
                    f"state[{k.lstrip('_')!r}] has shape {a.shape}, expected {cur.shape}"
                )
            cur[...] = a
        return obj

    def __repr__(self) -> str:
        if not hasattr(self, "_istate"):
            return "TBPTTLearner(<not initialized>)"
        c = self.config
        return (f"TBPTTLearner(d={c.n_features}, k={c.truncation}, n_inputs={self.n_inputs}, "
                f"step_size={c.step_size}, optimizer={c.optimizer!r}, normalize={c.normalize}, "
                f"steps_done={self.steps_done})")
