"""Single-unit LSTM columns and their exact forward-mode (RTRL) gradient traces.

Javed et al., *Online real-time recurrent learning using sparse connections and selective
learning*, Appendix B. A column is an LSTM cell with one hidden unit (eqs. 13-18)::

    i(t) = sigma(W_i . z(t) + u_i h(t-1) + b_i)            (13)
    f(t) = sigma(W_f . z(t) + u_f h(t-1) + b_f)            (14)
    o(t) = sigma(W_o . z(t) + u_o h(t-1) + b_o)            (15)
    g(t) = tanh (W_g . z(t) + u_g h(t-1) + b_g)            (16)
    c(t) = f(t) c(t-1) + i(t) g(t)                         (17)
    h(t) = o(t) tanh(c(t))                                 (18)

A *group* is ``m`` such columns that read the same input vector ``z(t)`` (length ``n_in``)
and never each other: column ``k`` sees only its own ``h_k(t-1)``. Because
``dh_k/dh_j = 0`` for ``j != k``, RTRL for the group costs O(#parameters) per step (eq. 9).

Parameter layout
----------------
Column ``k`` has ``4 (n_in + 2)`` parameters, stored as ``theta[k, q, :]`` for gate ``q`` in
the order ``GATES = (i, f, o, g)`` (eqs. 13-16)::

    theta[k, q, :n_in]   = W_q   (input weights)
    theta[k, q, n_in]    = u_q   (recurrent weight on the column's own h(t-1))
    theta[k, q, n_in+1]  = b_q   (bias)

so the gate pre-activation is ``a_q = theta[k, q] . zeta`` with the augmented input
``zeta = (z(t), h_k(t-1), 1)``. This makes the trace recursion uniform over all parameters.

Trace recursion (derived from eqs. 13-18; Appendix B's eqs. 31-39 carry copy-paste slips)
-----------------------------------------------------------------------------------------
For a parameter ``p = theta[k, r, j]`` (gate ``r``, augmented-input index ``j``) let
``TH_p(t) = dh(t)/dp`` and ``TC_p(t) = dc(t)/dp`` (definitions 19-30, both 0 at t = 0),
``A = TH_p(t-1)``, and ``s_i = i(1-i)``, ``s_f = f(1-f)``, ``s_o = o(1-o)``, ``s_g = 1-g^2``.
Then ``da_q/dp = u_q A + [q == r] zeta_j`` and::

    TC_p(t) = f TC_p(t-1) + c(t-1) s_f da_f/dp + i s_g da_g/dp + g s_i da_i/dp
            = f TC_p(t-1) + kc A + dc_r zeta_j
    TH_p(t) = o (1 - tanh^2 c(t)) TC_p(t) + tanh(c(t)) s_o da_o/dp
            = oo TC_p(t) + kh A + dh_r zeta_j

with the per-column scalars ``kc = c(t-1) s_f u_f + i s_g u_g + g s_i u_i``,
``kh = tanh(c(t)) s_o u_o``, ``oo = o (1 - tanh^2 c(t))`` and the per-gate direct terms
``dc = (g s_i, c(t-1) s_f, 0, i s_g)``, ``dh = (0, 0, tanh(c(t)) s_o, 0)`` for (i, f, o, g).
That is 2 traces and about 10 flops per parameter per step.

Kernels work on *flat* float64 buffers with offsets so the learner can keep columns of
different input sizes in one array without allocating inside its step loop; the
``(m, 4, n_in + 2)`` wrappers :func:`columnar_rtrl_step` and :func:`columnar_forward_step`
are the convenient entry points for a single group.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "GATES",
    "N_ACT",
    "columnar_forward_step",
    "columnar_rtrl_step",
    "lstm_columns_forward",
    "lstm_columns_trace_update",
    "gate_direct_terms",
    "trace_coefficients",
]

#: floating-point flags: only contraction to fused multiply-adds (no reassociation, no
#: approximate functions), so results stay within a few ulp of the unfused evaluation
_FASTMATH = {"contract"}

#: gate order of the parameter layout (eqs. 13-16)
GATES = ("i", "f", "o", "g")

#: per-column activations saved by the forward pass for the trace update:
#: i, f, o, g, tanh(c(t)), c(t-1), h(t-1)
N_ACT = 7


@njit(cache=True, inline="always")
def _sigmoid(a: float) -> float:
    # branch-free: exp(-a) = inf for a << 0 gives exactly 0, never NaN
    return 1.0 / (1.0 + math.exp(-a))


@njit(cache=True, inline="always")
def _tanh(a: float) -> float:
    # tanh(a) = 2 sigmoid(2a) - 1: one exp (~3 ns) instead of libm tanh (~14 ns); absolute
    # error a few 1e-16 (relative error grows only for |a| << 1e-4, where tanh(a) ~ a)
    return 2.0 / (1.0 + math.exp(-2.0 * a)) - 1.0


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def _preactivations(theta, base, P, n_in, z, hp):
    """The four gate pre-activations ``a_q = theta[k, q] . (z, h(t-1), 1)`` of the column whose
    parameters start at ``theta[base]``, each summed in the same order: recurrent term and bias,
    then the inputs in index order."""
    a_i = theta[base + n_in] * hp + theta[base + n_in + 1]
    a_f = theta[base + P + n_in] * hp + theta[base + P + n_in + 1]
    a_o = theta[base + 2 * P + n_in] * hp + theta[base + 2 * P + n_in + 1]
    a_g = theta[base + 3 * P + n_in] * hp + theta[base + 3 * P + n_in + 1]
    for j in range(n_in):
        zj = z[j]
        a_i += theta[base + j] * zj
        a_f += theta[base + P + j] * zj
        a_o += theta[base + 2 * P + j] * zj
        a_g += theta[base + 3 * P + j] * zj
    return a_i, a_f, a_o, a_g


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def lstm_columns_forward(theta, p0, m, n_in, z, h, c, k0, act):
    """Advance ``m`` independent columns one step (eqs. 13-18), in place.

    theta: (n_params_total,) flat parameters; the group's block starts at ``p0`` and is laid
        out as ``(m, 4, n_in + 2)`` (see the module docstring).
    z: (>= n_in,) the shared input ``z(t)``; only ``z[:n_in]`` is read.
    h, c: (n_columns_total,) on entry ``h(t-1), c(t-1)`` of columns ``k0 .. k0+m-1``; on exit
        ``h(t), c(t)``.
    act: (n_columns_total, N_ACT) receives i, f, o, g, tanh(c(t)), c(t-1), h(t-1) per column.

    Several columns go in phases (all pre-activations, then all gates, then all cells), so
    that the calls to ``exp`` of different columns are independent of each other and nothing
    has to be kept across them; every value is computed by the same operations as column by
    column, so the results are identical to the last bit.
    """
    P = n_in + 2
    if m == 1:                               # one column (constructive's stages): no phases
        col = k0
        hp = h[col]
        cp = c[col]
        a_i, a_f, a_o, a_g = _preactivations(theta, p0, P, n_in, z, hp)
        gi = _sigmoid(a_i)
        gf = _sigmoid(a_f)
        go = _sigmoid(a_o)
        gg = _tanh(a_g)
        cn = gf * cp + gi * gg
        tc = _tanh(cn)
        c[col] = cn
        h[col] = go * tc
        act[col, 0] = gi
        act[col, 1] = gf
        act[col, 2] = go
        act[col, 3] = gg
        act[col, 4] = tc
        act[col, 5] = cp
        act[col, 6] = hp
        return
    for k in range(m):                       # pre-activations, kept in act[:, 0:4] for now
        col = k0 + k
        act[col, 0], act[col, 1], act[col, 2], act[col, 3] = _preactivations(theta, p0 + k * 4 * P, P, n_in, z, h[col])
    for col in range(k0, k0 + m):            # gates
        act[col, 0] = _sigmoid(act[col, 0])
        act[col, 1] = _sigmoid(act[col, 1])
        act[col, 2] = _sigmoid(act[col, 2])
        act[col, 3] = _tanh(act[col, 3])
    for col in range(k0, k0 + m):            # cells: c(t), then tanh(c(t)) and h(t)
        cp = c[col]
        act[col, 5] = cp
        act[col, 6] = h[col]
        c[col] = act[col, 1] * cp + act[col, 0] * act[col, 3]
    for col in range(k0, k0 + m):
        tc = _tanh(c[col])
        act[col, 4] = tc
        h[col] = act[col, 2] * tc


@njit(cache=True, fastmath=_FASTMATH)
def lstm_columns_trace_update(theta, p0, m, n_in, z, k0, act, TH, TC, zeta):
    """Exact RTRL trace update ``TH, TC <- dh(t)/dtheta, dc(t)/dtheta`` for ``m`` columns.

    Implements the recursion of the module docstring (Appendix B, eqs. 19-39 re-derived from
    eqs. 13-18). Must run after :func:`lstm_columns_forward` of the same step with the same
    ``theta`` (it reads the recurrent weights ``u_q`` and the saved activations ``act``).

    theta, TH, TC: (n_params_total,) flat, same layout; the group's block starts at ``p0``.
    z: (>= n_in,) the input of this step. act: (n_columns_total, N_ACT) from the forward pass.
    zeta: (>= n_in + 2,) scratch for the augmented input ``(z, h_k(t-1), 1)``.
    """
    P = n_in + 2
    for j in range(n_in):
        zeta[j] = z[j]
    zeta[n_in + 1] = 1.0
    for k in range(m):
        base = p0 + k * 4 * P
        col = k0 + k
        zeta[n_in] = act[col, 6]          # h(t-1)
        gf, kc, kh, oo, dc_i, dc_f, dc_g, dh_o = trace_coefficients(theta, base, P, n_in, act, col)
        for r in range(4):
            dc, dh = gate_direct_terms(r, dc_i, dc_f, dc_g, dh_o)
            o = base + r * P
            th_r = TH[o : o + P]              # contiguous views: a loop LLVM vectorizes
            tc_r = TC[o : o + P]
            for j in range(P):
                A = th_r[j]
                tcn = gf * tc_r[j] + kc * A + dc * zeta[j]
                tc_r[j] = tcn
                th_r[j] = oo * tcn + kh * A + dh * zeta[j]


@njit(cache=True, fastmath=_FASTMATH, inline="always")
def trace_coefficients(theta, base, P, n_in, act, col):
    """Per-column scalars of the trace recursion (module docstring) for the column whose
    parameters start at ``theta[base]``: ``(f, kc, kh, oo, dc_i, dc_f, dc_g, dh_o)``.

    Reads the recurrent weights ``u_q`` from ``theta``: call it before the column's
    parameters are updated in the step.
    """
    gi = act[col, 0]
    gf = act[col, 1]
    go = act[col, 2]
    gg = act[col, 3]
    tc = act[col, 4]
    cp = act[col, 5]
    s_i = gi * (1.0 - gi)
    s_f = gf * (1.0 - gf)
    s_o = go * (1.0 - go)
    s_g = 1.0 - gg * gg
    dc_i = gg * s_i
    dc_f = cp * s_f
    dc_g = gi * s_g
    dh_o = tc * s_o
    kc = dc_f * theta[base + P + n_in] + dc_g * theta[base + 3 * P + n_in] + dc_i * theta[base + n_in]
    kh = dh_o * theta[base + 2 * P + n_in]
    oo = go * (1.0 - tc * tc)
    return gf, kc, kh, oo, dc_i, dc_f, dc_g, dh_o


@njit(cache=True, inline="always")
def gate_direct_terms(r, dc_i, dc_f, dc_g, dh_o):
    """The direct terms ``(dc_r, dh_r)`` of gate ``r`` in the order (i, f, o, g)."""
    if r == 0:
        return dc_i, 0.0
    if r == 1:
        return dc_f, 0.0
    if r == 2:
        return 0.0, dh_o
    return dc_g, 0.0


@njit(cache=True)
def _columnar_rtrl_step_flat(theta, p0, m, n_in, z, h, c, k0, act, TH, TC, zeta):
    lstm_columns_forward(theta, p0, m, n_in, z, h, c, k0, act)
    lstm_columns_trace_update(theta, p0, m, n_in, z, k0, act, TH, TC, zeta)


def _check_group(theta: np.ndarray, z: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[int, int]:
    if theta.ndim != 3 or theta.shape[1] != 4 or theta.shape[2] < 2:
        raise ValueError(f"theta must have shape (m, 4, n_in + 2), got {theta.shape}")
    m, n_in = theta.shape[0], theta.shape[2] - 2
    if z.shape != (n_in,):
        raise ValueError(f"z must have shape (n_in,) = ({n_in},), got {z.shape}")
    if h.shape != (m,) or c.shape != (m,):
        raise ValueError(f"h and c must have shape (m,) = ({m},), got {h.shape} and {c.shape}")
    for name, a in (("theta", theta), ("z", z), ("h", h), ("c", c)):
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous float64 array")
    return m, n_in


def columnar_forward_step(theta: np.ndarray, z: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """One forward step of a group of ``m`` independent columns (eqs. 13-18), in place.

    theta: (m, 4, n_in + 2) parameters (gate order i, f, o, g; see the module docstring).
    z: (n_in,) shared input. h, c: (m,) ``h(t-1), c(t-1)`` in, ``h(t), c(t)`` out.
    Returns the activations ``act: (m, N_ACT)`` (i, f, o, g, tanh c(t), c(t-1), h(t-1)).
    """
    m, n_in = _check_group(theta, z, h, c)
    act = np.empty((m, N_ACT))
    lstm_columns_forward(theta.reshape(-1), 0, m, n_in, z, h, c, 0, act)
    return act


def columnar_rtrl_step(
    theta: np.ndarray, z: np.ndarray, h: np.ndarray, c: np.ndarray, TH: np.ndarray, TC: np.ndarray
) -> None:
    """Forward step plus exact RTRL trace update of ``m`` independent columns, in place.

    theta, TH, TC: (m, 4, n_in + 2); ``TH[k] = dh_k(t)/dtheta[k]``, ``TC[k] = dc_k(t)/dtheta[k]``
    (Appendix B, definitions 19-30; start from zeros). z: (n_in,). h, c: (m,) as in
    :func:`columnar_forward_step`. Cost O(m (n_in + 2)) per call (eq. 9).
    """
    m, n_in = _check_group(theta, z, h, c)
    for name, a in (("TH", TH), ("TC", TC)):
        if a.shape != theta.shape or a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous float64 array of shape {theta.shape}")
    act = np.empty((m, N_ACT))
    zeta = np.empty(n_in + 2)
    _columnar_rtrl_step_flat(theta.reshape(-1), 0, m, n_in, z, h, c, 0, act, TH.reshape(-1), TC.reshape(-1), zeta)
