"""Columnar, constructive and hybrid RTRL learners as one staged learner (Javed et al.).

All three methods of the paper are "stages of independent LSTM columns":

- stage ``s`` has ``m_s`` single-unit LSTM columns (:mod:`rlinside.rtrl.column`, eqs. 13-18);
- a column of stage ``s`` reads the raw observation ``x_t`` plus the *normalized* features of
  all earlier stages at the same step ``t``; inside a stage the columns are independent
  (each sees only its own ``h(t-1)``), so exact RTRL costs O(#parameters) (eq. 9);
- stage ``s`` is the learning stage from step ``s * steps_per_stage`` on; when it begins, the
  columns of earlier stages freeze. The last stage keeps learning to the end of the stream.
  A stage that has not begun is not computed and its readout weights are 0;
- the readout ``y_t = w . f_hat_t + b`` over the normalized features of all begun stages
  learns at every step.

The methods are special cases (see :class:`RTRLConfig`): **columnar** = one stage of ``d``
columns (paper Fig. 1 left), **constructive** = ``d`` stages of one column (Fig. 1 right),
**hybrid** = stages of ``features_per_stage`` columns (Fig. 2).

Feature normalization (Appendix A, eqs. 10-12)
----------------------------------------------
For every computed feature ``f_k = h_k(t)``, at every step::

    mu_k  <- beta mu_k + (1 - beta) f_k                       (10)
    var_k <- beta var_k + (1 - beta) (mu_k - f_k)^2            (11)  (uses the new mu_k)
    f_hat_k = (f_k - mu_k) / sqrt(max(var_k, epsilon))         (12)

with ``mu = 0, var = 1`` when the feature is added. The floor is on the *variance*
(Appendix A's prose and the authors' code; eq. 12 as printed floors the standard deviation
``max(epsilon, sigma)`` instead). The floor is applied when dividing; the running estimate
itself is not overwritten. **The statistics are treated as constants for the gradient:**
``d f_hat_k / d h_k = 1 / sqrt(max(var_k, epsilon))`` with this step's statistics.

TD(lambda) with RTRL gradients (order of operations of one step ``t``)
-----------------------------------------------------------------------
1. Stage schedule: if ``t`` is a stage start, the next stage begins (fresh columns with zero
   state and traces, readout weight 0, ``mu = 0, var = 1``).
2. Forward, stage by stage with the current parameters: frozen stages by eqs. 13-18, the
   learning stage by eqs. 13-18 plus the exact trace update ``TH, TC`` (Appendix B);
   normalization (10-12); prediction ``y_t``.
3. If ``t > 0``: TD error ``delta = c_t + gamma y_t - y_{t-1}`` with the cumulant
   ``c_t = x_t[cumulant_index]`` (so ``delta`` is the paper's
   ``delta_{t-1} = c_t + gamma y_t - y_{t-1}``, eq. 1's return ``G_{t-1} = c_t + gamma G_t``),
   and the update ``theta <- theta + alpha delta e`` with the trace ``e`` of step ``t-1``, for the
   learning stage's column parameters and the readout ``(w, b)``.
4. Trace: ``e <- gamma lambda e + grad_theta y_t``, with ``grad y_t`` evaluated at the
   parameters used in step 2: ``w_k / sqrt(max(var_k, eps)) * TH_k`` for the learning
   columns, ``f_hat_t`` for ``w``, 1 for ``b``.

The two predictions in a TD error are thus made with parameters one update apart, as in
classical online TD(lambda). As usual for RTRL with parameters that change every step,
``TH`` sums ``dh_t/dtheta_k`` over the parameters of past steps (paper eq. 5); for fixed
parameters it is the exact full-BPTT gradient (tests/test_rtrl_gradients.py). Eligibility
traces of the readout continue across stage changes; those of a frozen stage are dropped.
At a stage change the update of step 3 already belongs to the new stage, whose traces are
zero, so the old stage misses its last update (the one whose TD error arrives one step
after it froze): one update in ``steps_per_stage``.

Step-size modes (``RTRLConfig.optimizer``)
------------------------------------------
- ``"sgd"``: ``theta <- theta + alpha delta e`` (the paper).
- ``"rmsprop"``: per parameter ``v <- rho v + (1 - rho) (delta e)^2`` (``v`` starts at 1),
  ``theta <- theta + alpha delta e / (sqrt(v) + eps_rms)``; ``rho = rms_decay`` (default
  0.9999), ``eps_rms = 1e-8``. This is the normalization of the authors' later C++ code; it
  rescales the TD(lambda) update, not the gradient.

Choices where the paper is silent
---------------------------------
- Readout step size is ``alpha`` for every weight (the authors' code divides it by the number
  of active features in its RMSProp variant).
- Normalization statistics of every begun feature keep updating after its stage freezes, so
  later stages and the readout see the same ``f_hat``. ``freeze_stage_statistics=True``
  freezes them with the stage's weights instead, which makes a frozen stage a fixed function
  of the input history.
- Column inputs ``x_t`` are used raw by default; only the learned features are normalized.
  ``normalize_inputs=True`` normalizes ``x_t`` too, by eqs. 10-12 with the same ``beta`` and
  ``epsilon`` (the cumulant is still read from the raw ``x_t``). The authors' code normalizes
  every input of a column: the rare 0/1 CS inputs become about 10 when on, which makes plain
  sgd's steps on their weights larger. Whether that alone lets sgd learn trace patterning
  within a few million steps is not measured here (the book's exercise 1 measures sgd with
  raw inputs).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from rlinside.rtrl import column as _column_module
from rlinside.rtrl.column import (
    N_ACT,
    gate_direct_terms,
    lstm_columns_forward,
    lstm_columns_trace_update,
    trace_coefficients,
)
from rlinside.utils import is_int as _is_int
from rlinside.utils import is_real as _is_real

__all__ = ["RTRLConfig", "StagedRTRL", "StagedParams", "predict_gradients", "METHODS", "OPTIMIZERS"]

METHODS = ("columnar", "constructive", "hybrid")
OPTIMIZERS = ("sgd", "rmsprop")

# slots of the scalar state vector passed to the kernel
_B, _EB, _VB, _YPREV, _HASPREV = 0, 1, 2, 3, 4
_N_SCALARS = 5




@dataclass(frozen=True)
class RTRLConfig:
    """Every hyper-parameter of a staged RTRL learner (paper Appendix A, Table 1).

    ``features_per_stage`` and ``steps_per_stage`` depend on the method:

    ============  =============================  ===========================
    method        features_per_stage             steps_per_stage
    ============  =============================  ===========================
    columnar      None or n_features (1 stage)   None (learns forever)
    constructive  None or 1                      required (5M in the paper)
    hybrid        required, 1 .. n_features      required (10M in Table 1)
    ============  =============================  ===========================

    If ``n_features`` is not a multiple of ``features_per_stage`` the last stage is smaller.
    """

    method: str = "columnar"            #: "columnar" | "constructive" | "hybrid"
    n_features: int = 5                 #: total number of LSTM columns d
    features_per_stage: int | None = None  #: columns learned together (hybrid's u)
    steps_per_stage: int | None = None  #: steps a stage learns before the next one begins
    step_size: float = 1e-3             #: alpha
    epsilon: float = 0.01               #: variance floor of the normalization (eq. 12)
    beta: float = 0.99999               #: decay of the running mean/variance (eqs. 10-11)
    gamma: float = 0.9                  #: discount of the predicted return
    lam: float = 0.99                   #: lambda of TD(lambda)
    optimizer: str = "sgd"              #: "sgd" (paper) | "rmsprop" (authors' later code)
    rms_decay: float = 0.9999           #: rho of the RMSProp normalization
    rms_eps: float = 1e-8               #: added to sqrt(v) in the RMSProp normalization
    init_scale: float = 0.1             #: column parameters ~ U(-init_scale, init_scale)
    cumulant_index: int = 6             #: index of the cumulant c_t in x_t
    freeze_stage_statistics: bool = False  #: freeze a stage's normalization stats with its weights
    normalize_inputs: bool = False      #: also normalize the raw inputs x_t (eqs. 10-12) before the columns

    def __post_init__(self) -> None:
        errs: list[str] = []

        def bad(name: str, allowed: str) -> None:
            errs.append(f"{name}={getattr(self, name)!r}: must be {allowed}")

        if self.method not in METHODS:
            bad("method", f"one of {METHODS}")
        if not _is_int(self.n_features) or self.n_features < 1:
            bad("n_features", "an integer >= 1")
        fps, sps, d = self.features_per_stage, self.steps_per_stage, self.n_features
        d_ok = _is_int(d) and d >= 1
        if self.method == "columnar":
            if fps is not None and fps != d:
                bad("features_per_stage", f"None or n_features={d} for method='columnar' (one stage)")
            if sps is not None:
                bad("steps_per_stage", "None for method='columnar' (its single stage learns forever)")
        elif self.method == "constructive":
            if fps is not None and fps != 1:
                bad("features_per_stage", "None or 1 for method='constructive'")
        elif self.method == "hybrid":
            if fps is None or not _is_int(fps) or (d_ok and not 1 <= fps <= d):
                bad("features_per_stage", f"an integer in [1, n_features={d}] for method='hybrid'")
        if self.method in ("constructive", "hybrid") and (sps is None or not _is_int(sps) or sps < 1):
            bad("steps_per_stage", f"an integer >= 1 for method={self.method!r}")
        for name in ("step_size", "epsilon", "rms_eps"):
            v = getattr(self, name)
            if not _is_real(v) or not math.isfinite(v) or v <= 0:
                bad(name, "a finite number > 0")
        for name in ("beta", "rms_decay"):
            v = getattr(self, name)
            if not _is_real(v) or not 0.0 <= v < 1.0:
                bad(name, "a number in [0, 1)")
        for name in ("gamma", "lam"):
            v = getattr(self, name)
            if not _is_real(v) or not 0.0 <= v <= 1.0:
                bad(name, "a number in [0, 1]")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"one of {OPTIMIZERS}")
        if not _is_real(self.init_scale) or not math.isfinite(self.init_scale) or self.init_scale < 0:
            bad("init_scale", "a finite number >= 0")
        if not _is_int(self.cumulant_index) or self.cumulant_index < 0:
            bad("cumulant_index", "an integer >= 0")
        for name in ("freeze_stage_statistics", "normalize_inputs"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                bad(name, "True or False")
        if errs:
            raise ValueError("invalid RTRLConfig: " + "; ".join(errs))

    @property
    def stage_sizes(self) -> tuple[int, ...]:
        """Columns per stage, e.g. (4, 4, 4, 4, 4) for hybrid 20/4, (5,) for columnar 5."""
        d = self.n_features
        if self.method == "columnar":
            return (d,)
        u = 1 if self.method == "constructive" else int(self.features_per_stage)  # type: ignore[arg-type]
        return tuple([u] * (d // u) + ([d % u] if d % u else []))

    @property
    def n_stages(self) -> int:
        return len(self.stage_sizes)

    @classmethod
    def trace_patterning(cls, method: str, **overrides: Any) -> "RTRLConfig":
        """The paper's trace-patterning architecture for ``method`` (Appendix A, Table 1).

        columnar: 5 features; constructive: 10 features, 5M steps per stage; hybrid: 20
        features, 4 per stage, 10M steps per stage (Table 1; the main text says new features
        arrive "every 5 million steps"). gamma 0.9, lambda 0.99, beta 0.99999. The paper does
        not report the selected step-size and epsilon (swept over {1e-2, 1e-3, 1e-4} and
        {0.1, 0.01, 0.001}); pass them as overrides.
        """
        arch = {
            "columnar": dict(n_features=5),
            "constructive": dict(n_features=10, steps_per_stage=5_000_000),
            "hybrid": dict(n_features=20, features_per_stage=4, steps_per_stage=10_000_000),
        }
        if method not in arch:
            raise ValueError(f"method={method!r}: must be one of {METHODS}")
        return cls(**{"method": method, **arch[method], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StagedParams:
    """Parameters of the begun stages of a staged network; the last stage is the learning one.

    W: per stage ``(m_s, 4, n_in_s)`` input weights, gates (i, f, o, g), where
    ``n_in_s = n_inputs + (columns of earlier stages)``; the first ``n_inputs`` inputs are
    ``x_t``, the rest the normalized earlier features in column order.
    u, b: per stage ``(m_s, 4)`` recurrent weights and biases.
    readout_w: ``(d_active,)``; readout_b: scalar.
    mean, var: ``(d_active,)`` normalization statistics (eqs. 10-12); epsilon: variance floor.
    input_mean, input_var: ``(n_inputs,)`` statistics of the raw inputs when the learner
    normalizes them (``RTRLConfig.normalize_inputs``), else None.
    """

    W: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    readout_w: np.ndarray
    readout_b: float
    mean: np.ndarray
    var: np.ndarray
    epsilon: float
    input_mean: np.ndarray | None = None
    input_var: np.ndarray | None = None
    stage_sizes: tuple[int, ...] = field(init=False)
    n_inputs: int = field(init=False)

    def __post_init__(self) -> None:
        if not (len(self.W) == len(self.u) == len(self.b)) or len(self.W) == 0:
            raise ValueError("W, u and b must be non-empty sequences of the same length (one per stage)")
        self.W = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in self.W)
        self.u = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in self.u)
        self.b = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in self.b)
        self.stage_sizes = tuple(int(a.shape[0]) for a in self.W)
        self.n_inputs = int(self.W[0].shape[2])
        before = 0
        for s, (W, u, b) in enumerate(zip(self.W, self.u, self.b)):
            m = self.stage_sizes[s]
            if W.shape != (m, 4, self.n_inputs + before):
                raise ValueError(f"W[{s}] must have shape {(m, 4, self.n_inputs + before)}, got {W.shape}")
            if u.shape != (m, 4) or b.shape != (m, 4):
                raise ValueError(f"u[{s}] and b[{s}] must have shape {(m, 4)}, got {u.shape}, {b.shape}")
            before += m
        for name in ("readout_w", "mean", "var"):
            a = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if a.shape != (before,):
                raise ValueError(f"{name} must have shape ({before},), got {a.shape}")
            setattr(self, name, a)
        self.readout_b = float(self.readout_b)
        if (self.input_mean is None) != (self.input_var is None):
            raise ValueError("input_mean and input_var must both be given or both be None")
        if self.input_mean is not None:
            for name in ("input_mean", "input_var"):
                a = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
                if a.shape != (self.n_inputs,):
                    raise ValueError(f"{name} must have shape ({self.n_inputs},), got {a.shape}")
                setattr(self, name, a)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon={self.epsilon!r}: must be > 0")

    @property
    def n_features(self) -> int:
        return sum(self.stage_sizes)

    def flat_theta(self) -> np.ndarray:
        """All column parameters in the learner's flat layout ``(sum_s m_s 4 (n_in_s + 2),)``."""
        return np.concatenate(
            [np.concatenate([W, u[:, :, None], b[:, :, None]], axis=2).ravel()
             for W, u, b in zip(self.W, self.u, self.b)]
        )


# ---------------------------------------------------------------------------------------------
# the hot loop
# ---------------------------------------------------------------------------------------------
def _column_source_sha256() -> str:
    """sha256 of ``column.py``.

    numba's on-disk cache of a function is invalidated by changes to the function's own file
    only; the learner kernel inlines the column kernels of ``column.py``, so their source hash
    is captured in the kernel's closure, which numba includes in its cache key. Editing
    ``column.py`` therefore recompiles the learner kernel instead of loading stale code.
    """
    return hashlib.sha256(Path(_column_module.__file__).read_bytes()).hexdigest()


def _make_staged_rtrl_learn(column_source_sha256: str):
    @njit(cache=True, fastmath={"contract"}, error_model="numpy")
    def staged_rtrl_learn(
        x, y_out, theta, TH, TC, E, V,
        stage_col0, stage_m, stage_n_in, stage_p0, stage_start,
        h, c, act, mu, var, inv_sd, fhat, w, Ew, Vw, zbuf, zeta, sc,
        step0, step_size, gamma, lam, beta, epsilon, use_rms, rms_decay, rms_eps,
        cumulant_index, learn, update_stats, freeze_stage_statistics, normalize_inputs, xmu, xvar,
    ):
        """Run a staged RTRL learner over ``x: (T, n_x)``, writing the predictions into ``y_out: (T,)``.

        One call per chunk; every array is updated in place so the state carries over to the
        next call. ``theta, TH, TC, E, V``: flat ``(n_params,)`` column parameters, RTRL traces
        (Appendix B), TD(lambda) eligibility traces and RMSProp second moments. ``stage_*``:
        ``(S,)`` int64 first column, columns, inputs, first parameter and first step of each
        stage. ``h, c, mu, var, inv_sd, fhat, w, Ew, Vw``: ``(d,)`` per-feature state; ``act``:
        ``(d, N_ACT)`` scratch; ``zbuf``: ``(n_x + d,)`` scratch input vector (x_t then the
        normalized features); ``zeta``: ``(n_x + d + 2,)`` scratch of the trace update; ``sc``:
        ``(5,)`` readout bias b, its trace, its RMSProp moment, ``y_{t-1}``, and whether
        ``y_{t-1}`` exists. ``step0``: global index of ``x[0]``. ``xmu, xvar``: ``(n_x,)``
        statistics of the raw inputs, used when ``normalize_inputs``. With ``learn=False`` nothing
        is updated but the state and the RTRL traces; with ``update_stats=False`` the
        normalization statistics stay fixed. Returns the learning stage after the last step.
        """
        if column_source_sha256 == "":   # never true: only puts the hash into numba's cache key
            return -1
        T = x.shape[0]
        n_x = x.shape[1]
        S = stage_m.shape[0]
        gl = gamma * lam
        one_m_beta = 1.0 - beta
        one_m_rho = 1.0 - rms_decay
        s_cur = 0
        coef = np.empty((stage_m.max(), 9), dtype=theta.dtype)
        for t in range(T):
            g = step0 + t
            while s_cur + 1 < S and g >= stage_start[s_cur + 1]:
                s_cur += 1
            if normalize_inputs:
                for j in range(n_x):
                    xj = x[t, j]
                    if update_stats:
                        mj = beta * xmu[j] + one_m_beta * xj                 # eqs. 10-12 on x_t
                        dj = mj - xj
                        xvar[j] = beta * xvar[j] + one_m_beta * dj * dj
                        xmu[j] = mj
                    vj = xvar[j] if xvar[j] > epsilon else epsilon
                    zbuf[j] = (xj - xmu[j]) / math.sqrt(vj)
            else:
                for j in range(n_x):
                    zbuf[j] = x[t, j]
            # ---- forward: frozen stages, then the learning stage with its RTRL traces ----
            for s in range(s_cur + 1):
                k0 = stage_col0[s]
                m = stage_m[s]
                n_in = stage_n_in[s]
                lstm_columns_forward(theta, stage_p0[s], m, n_in, zbuf, h, c, k0, act)
                if s == s_cur and not learn:
                    lstm_columns_trace_update(theta, stage_p0[s], m, n_in, zbuf, k0, act, TH, TC, zeta)
                stats = update_stats and (s == s_cur or not freeze_stage_statistics)
                for k in range(k0, k0 + m):
                    f = h[k]
                    if stats:
                        mk = beta * mu[k] + one_m_beta * f                   # eq. 10
                        dk = mk - f
                        var[k] = beta * var[k] + one_m_beta * dk * dk        # eq. 11
                        mu[k] = mk
                    vk = var[k] if var[k] > epsilon else epsilon
                    isd = 1.0 / math.sqrt(vk)
                    inv_sd[k] = isd
                    fh = (f - mu[k]) * isd                                   # eq. 12
                    fhat[k] = fh
                    zbuf[n_x + k] = fh
            k0c = stage_col0[s_cur]
            mc = stage_m[s_cur]
            n_act = k0c + mc
            y = sc[_B]
            for k in range(n_act):
                y += w[k] * fhat[k]
            y_out[t] = y
            if not learn:
                continue
            # ---- TD(lambda): update with the previous trace, then extend the trace ----
            has_prev = sc[_HASPREV] > 0.0
            dl = 0.0
            if has_prev:
                dl = x[t, cumulant_index] + gamma * y - sc[_YPREV]
            ad = step_size * dl
            # the learning stage's columns in three passes, each over contiguous views so LLVM
            # vectorizes the loops: the trace coefficients (column.py's recursion reads theta
            # before this step's update), the parameter update with the previous eligibility
            # trace, then this step's RTRL traces and the eligibility traces' extension with
            # the new dh/dtheta. Each value is computed by the same operations as in one fused
            # pass (a test pins short runs to digests), only in another order.
            n_in_c = stage_n_in[s_cur]
            P = n_in_c + 2
            for j in range(n_in_c):
                zeta[j] = zbuf[j]
            zeta[n_in_c + 1] = 1.0
            p0c = stage_p0[s_cur]
            # 1. every learning column's trace coefficients, from theta before this step's update
            for k in range(k0c, n_act):
                cf = coef[k - k0c]
                (cf[0], cf[1], cf[2], cf[3], cf[4], cf[5], cf[6], cf[7]) = trace_coefficients(
                    theta, p0c + (k - k0c) * 4 * P, P, n_in_c, act, k)
                cf[8] = w[k] * inv_sd[k]        # dy/dh_k with the statistics held constant
            # 2. the parameter update with the previous eligibility traces, one pass over the
            # stage's whole block (it needs nothing per column, so it vectorizes end to end)
            n_blk = mc * 4 * P
            e_b = E[p0c : p0c + n_blk]
            w_b = theta[p0c : p0c + n_blk]
            if use_rms and has_prev:
                v_b = V[p0c : p0c + n_blk]
                for i in range(n_blk):
                    de = dl * e_b[i]
                    v = rms_decay * v_b[i] + one_m_rho * de * de
                    v_b[i] = v
                    w_b[i] += step_size * de / (math.sqrt(v) + rms_eps)
            elif has_prev:
                for i in range(n_blk):
                    w_b[i] += ad * e_b[i]
            # 3. the RTRL traces of this step, and the eligibility traces extended with them
            p = p0c
            for k in range(k0c, n_act):
                cf = coef[k - k0c]
                gf = cf[0]
                kc = cf[1]
                kh = cf[2]
                oo = cf[3]
                gs = cf[8]
                zeta[n_in_c] = act[k, 6]        # h_k(t-1)
                for r in range(4):
                    dc, dh = gate_direct_terms(r, cf[4], cf[5], cf[6], cf[7])
                    o = p + r * P
                    th_r = TH[o : o + P]
                    tc_r = TC[o : o + P]
                    e_r = E[o : o + P]
                    for j in range(P):
                        A = th_r[j]
                        tcn = gf * tc_r[j] + kc * A + dc * zeta[j]
                        tc_r[j] = tcn
                        thn = oo * tcn + kh * A + dh * zeta[j]
                        th_r[j] = thn
                        e_r[j] = gl * e_r[j] + gs * thn
                p += 4 * P
            for k in range(n_act):
                e = Ew[k]
                if has_prev:
                    if use_rms:
                        de = dl * e
                        v = rms_decay * Vw[k] + one_m_rho * de * de
                        Vw[k] = v
                        w[k] += step_size * de / (math.sqrt(v) + rms_eps)
                    else:
                        w[k] += ad * e
                Ew[k] = gl * e + fhat[k]
            e = sc[_EB]
            if has_prev:
                if use_rms:
                    de = dl * e
                    v = rms_decay * sc[_VB] + one_m_rho * de * de
                    sc[_VB] = v
                    sc[_B] += step_size * de / (math.sqrt(v) + rms_eps)
                else:
                    sc[_B] += ad * e
            sc[_EB] = gl * e + 1.0
            sc[_YPREV] = y
            sc[_HASPREV] = 1.0
        return s_cur

    return staged_rtrl_learn


staged_rtrl_learn = _make_staged_rtrl_learn(_column_source_sha256())


def _stage_layout(n_inputs: int, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """First column, columns, inputs and first flat parameter of each stage: four ``(S,)`` int64."""
    m = np.asarray(sizes, dtype=np.int64)
    col0 = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
    n_in = (n_inputs + col0).astype(np.int64)
    p0 = np.concatenate([[0], np.cumsum(m * 4 * (n_in + 2))[:-1]]).astype(np.int64)
    return col0, m, n_in, p0


# ---------------------------------------------------------------------------------------------
# the learner object
# ---------------------------------------------------------------------------------------------
class StagedRTRL:
    """Online TD(lambda) learner with a staged network of LSTM columns and exact RTRL gradients.

    ``StagedRTRL(config, n_inputs, seed).learn(x)`` consumes a chunk ``x: (T, n_inputs)`` and
    returns the prediction ``y: (T,)`` made at each step (before that step's update). State
    carries across calls, so a 50M-step run streams in chunks; each call is a single numba
    loop. See the module docstring for the exact per-step order of operations.

    Initialization (``seed``): every column parameter ``~ U(-init_scale, init_scale)``, drawn
    for all columns at construction; readout ``w = 0, b = 0`` (paper, Fig. 1 caption: new
    features start with outgoing weight 0); ``h = c = 0``; ``mu = 0, var = 1`` (Appendix A).
    """

    def __init__(self, config: RTRLConfig, n_inputs: int, seed: int = 0) -> None:
        if not isinstance(config, RTRLConfig):
            raise TypeError(f"config must be an RTRLConfig, got {type(config).__name__}")
        if not _is_int(n_inputs) or n_inputs < 1:
            raise ValueError(f"n_inputs={n_inputs!r}: must be an integer >= 1")
        if config.cumulant_index >= n_inputs:
            raise ValueError(
                f"cumulant_index={config.cumulant_index}: must be < n_inputs={n_inputs} (the cumulant is read from x_t)"
            )
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed={seed!r}: must be a non-negative integer")
        self.config = config
        self.n_inputs = int(n_inputs)
        self.seed = int(seed)
        sizes = config.stage_sizes
        self._stage_col0, self._stage_m, self._stage_n_in, self._stage_p0 = _stage_layout(self.n_inputs, sizes)
        S = len(sizes)
        sps = config.steps_per_stage or 0
        self._stage_start = np.arange(S, dtype=np.int64) * sps
        n_params = int(self._stage_p0[-1] + self._stage_m[-1] * 4 * (self._stage_n_in[-1] + 2))
        rng = np.random.default_rng(self.seed)
        theta = rng.uniform(-config.init_scale, config.init_scale, n_params)
        self._allocate(theta, config.n_features)
        self.steps_done = 0

    def _allocate(self, theta: np.ndarray, d: int) -> None:
        n_params = theta.size
        self._theta = theta
        self._TH = np.zeros(n_params)
        self._TC = np.zeros(n_params)
        self._E = np.zeros(n_params)
        self._V = np.ones(n_params)           # RMSProp second moments start at 1
        self._h = np.zeros(d)
        self._c = np.zeros(d)
        self._act = np.zeros((d, N_ACT))
        self._mu = np.zeros(d)
        self._var = np.ones(d)
        self._inv_sd = np.ones(d)
        self._fhat = np.zeros(d)
        self._w = np.zeros(d)
        self._Ew = np.zeros(d)
        self._Vw = np.ones(d)
        self._zbuf = np.zeros(self.n_inputs + d)
        self._zeta = np.zeros(self.n_inputs + d + 2)
        self._xmu = np.zeros(self.n_inputs)
        self._xvar = np.ones(self.n_inputs)
        self._sc = np.zeros(_N_SCALARS)
        self._sc[_VB] = 1.0

    # -- schedule -------------------------------------------------------------------------
    @property
    def n_stages(self) -> int:
        return int(self._stage_m.size)

    @property
    def n_params(self) -> int:
        """Column parameters of all stages (begun or not), excluding the readout."""
        return int(self._theta.size)

    def stage_at(self, step: int) -> int:
        """Index of the learning stage at global step ``step``."""
        return int(np.searchsorted(self._stage_start, step, side="right") - 1)

    @property
    def current_stage(self) -> int:
        """The learning stage of the next step to be learned."""
        return self.stage_at(self.steps_done)

    @property
    def n_active_features(self) -> int:
        """Features computed (and read out) at the next step."""
        s = self.current_stage
        return int(self._stage_col0[s] + self._stage_m[s])

    def stage_boundaries(self, total_steps: int) -> np.ndarray:
        """Steps ``< total_steps`` at which a new stage begins: ``(n,)`` int64.

        Stage 0 begins at step 0 and is not listed; columnar learners have none. For plotting
        the moments new features are added (paper Fig. 4's steps in the error curves).
        """
        if not _is_int(total_steps) or total_steps < 0:
            raise ValueError(f"total_steps={total_steps!r}: must be an integer >= 0")
        b = self._stage_start[1:]
        return b[b < total_steps].copy()

    # -- learning -------------------------------------------------------------------------
    def _check_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"x must have shape (T, n_inputs={self.n_inputs}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"x must be a real array, got dtype {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float64)
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        return x

    def learn(self, x: np.ndarray) -> np.ndarray:
        """Learn online from ``x: (T, n_inputs)``; returns the predictions ``y: (T,)``.

        ``y[t]`` is made at step ``t`` before that step's update (the quantity scored by the
        paper's eq. 1).
        """
        x = self._check_x(x)
        y = np.empty(x.shape[0])
        self._run(x, y, learn=True, update_stats=True)
        return y

    def _run(self, x: np.ndarray, y: np.ndarray, learn: bool, update_stats: bool) -> None:
        cfg = self.config
        staged_rtrl_learn(
            x, y, self._theta, self._TH, self._TC, self._E, self._V,
            self._stage_col0, self._stage_m, self._stage_n_in, self._stage_p0, self._stage_start,
            self._h, self._c, self._act, self._mu, self._var, self._inv_sd, self._fhat,
            self._w, self._Ew, self._Vw, self._zbuf, self._zeta, self._sc,
            self.steps_done, float(cfg.step_size), float(cfg.gamma), float(cfg.lam), float(cfg.beta),
            float(cfg.epsilon), cfg.optimizer == "rmsprop", float(cfg.rms_decay), float(cfg.rms_eps),
            int(cfg.cumulant_index), learn, update_stats, bool(cfg.freeze_stage_statistics),
            bool(cfg.normalize_inputs), self._xmu, self._xvar,
        )
        self.steps_done += x.shape[0]

    # -- inspection -----------------------------------------------------------------------
    def params(self, all_stages: bool = False) -> StagedParams:
        """A copy of the begun stages' parameters (the last is the learning stage).

        ``all_stages=True`` includes the stages that have not begun yet (their initial
        weights; readout 0, ``mean 0, var 1``).
        """
        S = self.n_stages if all_stages else self.current_stage + 1
        W, u, b = [], [], []
        for s in range(S):
            m, n_in, p0 = int(self._stage_m[s]), int(self._stage_n_in[s]), int(self._stage_p0[s])
            th = self._theta[p0 : p0 + m * 4 * (n_in + 2)].reshape(m, 4, n_in + 2)
            W.append(th[:, :, :n_in].copy())
            u.append(th[:, :, n_in].copy())
            b.append(th[:, :, n_in + 1].copy())
        d = self.config.n_features if all_stages else self.n_active_features
        return StagedParams(
            W=tuple(W), u=tuple(u), b=tuple(b), readout_w=self._w[:d].copy(),
            readout_b=float(self._sc[_B]), mean=self._mu[:d].copy(), var=self._var[:d].copy(),
            epsilon=self.config.epsilon,
            input_mean=self._xmu.copy() if self.config.normalize_inputs else None,
            input_var=self._xvar.copy() if self.config.normalize_inputs else None,
        )

    @property
    def features(self) -> np.ndarray:
        """Normalized features ``f_hat: (d_active,)`` of the last learned step."""
        return self._fhat[: self.n_active_features].copy()

    _STATE = ("_theta", "_TH", "_TC", "_E", "_V", "_h", "_c", "_mu", "_var", "_w", "_Ew", "_Vw", "_sc", "_xmu", "_xvar")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, n_inputs, seed, steps_done and the arrays."""
        out: dict[str, Any] = {k.lstrip("_"): getattr(self, k).copy() for k in self._STATE}
        out.update(config=self.config.to_dict(), n_inputs=self.n_inputs, seed=self.seed, steps_done=self.steps_done)
        return out

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "StagedRTRL":
        """Rebuild a learner from :meth:`state_dict`; it continues exactly where it stopped."""
        obj = cls(RTRLConfig(**state["config"]), state["n_inputs"], state["seed"])
        for k in cls._STATE:
            a = np.asarray(state[k.lstrip("_")], dtype=np.float64)
            if a.shape != getattr(obj, k).shape:
                raise ValueError(f"state[{k.lstrip('_')!r}] has shape {a.shape}, expected {getattr(obj, k).shape}")
            getattr(obj, k)[...] = a
        obj.steps_done = int(state["steps_done"])
        return obj


def predict_gradients(params: StagedParams, x: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Predictions of a fixed network and the exact RTRL gradient of its last prediction.

    The network (all stages of ``params``; the last is the learning stage) runs from a zero
    state over ``x: (T, n_inputs)`` without learning and with the normalization statistics
    held fixed at ``params.mean, params.var`` (and ``params.input_mean, params.input_var`` if
    given). Returns ``y: (T,)`` and the gradient of
    ``y[T-1]`` with respect to the learning stage's parameters and the readout::

        {"W": (m, 4, n_in), "u": (m, 4), "b": (m, 4), "readout_w": (d,), "readout_b": 1.0}

    (gates i, f, o, g). It is computed by the same kernels as :class:`StagedRTRL`
    (forward-mode, Appendix B), so tests can compare it with autograd through the whole
    trajectory (full BPTT).
    """
    if not isinstance(params, StagedParams):
        raise TypeError(f"params must be StagedParams, got {type(params).__name__}")
    sizes = params.stage_sizes
    # a learner whose stages are exactly those of params, all begun at step 0
    lrn = StagedRTRL.__new__(StagedRTRL)
    lrn.config = RTRLConfig(method="columnar", n_features=params.n_features, epsilon=params.epsilon, cumulant_index=0)
    lrn.n_inputs, lrn.seed, lrn.steps_done = params.n_inputs, 0, 0
    lrn._stage_col0, lrn._stage_m, lrn._stage_n_in, lrn._stage_p0 = _stage_layout(params.n_inputs, sizes)
    lrn._stage_start = np.zeros(len(sizes), dtype=np.int64)
    lrn._allocate(params.flat_theta(), params.n_features)
    d = params.n_features
    lrn._w[:] = params.readout_w
    lrn._sc[_B] = params.readout_b
    lrn._mu[:] = params.mean
    lrn._var[:] = params.var
    x = lrn._check_x(x)
    if x.shape[0] < 1:
        raise ValueError("x must hold at least one step")
    if params.input_mean is not None:                   # fixed input statistics (eqs. 10-12 on x_t)
        x = np.ascontiguousarray((x - params.input_mean) / np.sqrt(np.maximum(params.input_var, params.epsilon)))
    y = np.empty(x.shape[0])
    lrn._run(x, y, learn=False, update_stats=False)
    s = len(sizes) - 1
    m, n_in, p0, k0 = sizes[s], int(lrn._stage_n_in[s]), int(lrn._stage_p0[s]), int(lrn._stage_col0[s])
    TH = lrn._TH[p0 : p0 + m * 4 * (n_in + 2)].reshape(m, 4, n_in + 2)
    scale = params.readout_w[k0 : k0 + m] / np.sqrt(np.maximum(params.var[k0 : k0 + m], params.epsilon))
    g = TH * scale[:, None, None]
    grads = {
        "W": g[:, :, :n_in].copy(),
        "u": g[:, :, n_in].copy(),
        "b": g[:, :, n_in + 1].copy(),
        "readout_w": lrn._fhat[:d].copy(),
        "readout_b": 1.0,
    }
    return y, grads
