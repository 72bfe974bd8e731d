"""Channel contributions of an LSTM layer and the preceding offsets of its gates.

Paper: Lee et al. 2019, *Analysis of the contribution and temporal dependency of LSTM layers
for reinforcement learning tasks*, Secs. 3 and 4. For a model whose action scores are a linear
layer over the LSTM's hidden state, ``s_t = W_a h_t (+ b)``:

- :func:`contributions`: ``c_t[j] = max(0, W_a[a_t, j] h_t[j])`` and its share
  ``r_t[j] = c_t[j] / sum_j' c_t[j']`` (Sec. 3). ``W_a[a_t, j]`` is also
  ``d s_t[a_t] / d h_t[j]``, so ``W_a[a_t, j] h_t[j]`` is gradient times activation; the bias
  belongs to no channel and is left out.
- :func:`salient_channels`: per step, the smallest set of channels whose shares add up to more
  than ``fraction`` (0.5 in the paper) -- the channels "filtered" at that step.
- :func:`sparsity`, :func:`channel_actions`, :func:`action_order`: how many channels are
  needed, which action each channel contributes to, and the row order of the paper's
  Figure 2 (channels grouped by the action they serve).
- :func:`threshold_intervals` and :func:`preceding_offsets` (Sec. 4): the maximal intervals
  ``[t0, t1]`` in which a gate stays above ``theta_g``; within each, the first step ``t`` with a
  contribution above ``theta_c``; the preceding offset is ``t - t0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

__all__ = [
    "contributions",
    "salient_channels",
    "sparsity",
    "channel_actions",
    "action_order",
    "threshold_intervals",
    "preceding_offsets",
    "all_offsets",
]


def _np(x: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def contributions(weight: Any, hidden: Any, actions: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(c, r)``, each ``(T, n_l)``: clamped weighted activations and their shares per step.

    Args:
        weight: ``W_a``, ``(n_a, n_l)`` (e.g. ``policy.weight`` of an ``nn.Linear``).
        hidden: ``h_t`` for ``T`` steps, ``(T, n_l)``.
        actions: ``a_t``, ``(T,)`` ints in ``[0, n_a)``: the action whose score is explained
            (the paper: the action with the largest score).

    A step where no channel contributes positively has all shares 0.
    """
    w = _np(weight, "weight", 2)
    h = _np(hidden, "hidden", 2)
    a = np.asarray(actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else actions)
    if h.shape[1] != w.shape[1]:
        raise ValueError(f"hidden has {h.shape[1]} channels but weight has {w.shape[1]} columns")
    if a.shape != (h.shape[0],) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"actions must be {h.shape[0]} integers, got shape {a.shape} dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() >= w.shape[0]):
        raise ValueError(f"actions must lie in [0, {w.shape[0]}), got {a.min()}..{a.max()}")
    c = np.maximum(0.0, w[a] * h)
    total = c.sum(axis=1, keepdims=True)
    r = np.divide(c, total, out=np.zeros_like(c), where=total > 0)
    return c, r


def salient_channels(shares: Any, fraction: float = 0.5) -> np.ndarray:
    """``(T, n_l)`` bool: per step the fewest channels whose shares sum to more than
    ``fraction`` (largest shares first; ties broken by channel index). Steps without any
    positive share select nothing."""
    r = _np(shares, "shares", 2)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    order = np.argsort(-r, axis=1, kind="stable")
    sorted_r = np.take_along_axis(r, order, axis=1)
    cum = np.cumsum(sorted_r, axis=1)
    # number needed: first index where the running sum exceeds the fraction, plus one
    needed = (cum <= fraction).sum(axis=1) + 1
    needed = np.where(r.sum(axis=1) > 0, np.minimum(needed, r.shape[1]), 0)
    mask = np.zeros_like(r, dtype=bool)
    rows = np.arange(r.shape[0])[:, None]
    keep = np.arange(r.shape[1])[None, :] < needed[:, None]
    mask[np.broadcast_to(rows, order.shape)[keep], order[keep]] = True
    return mask


def sparsity(mask: Any) -> dict[str, float]:
    """Summary of :func:`salient_channels`: channels needed per step (mean, median, max), that
    number as a fraction of all channels, and the share of steps needing fewer than 10 %."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be (T, n_l), got shape {m.shape}")
    counts = m.sum(axis=1)
    n = m.shape[1]
    return {"channels": n, "mean": float(counts.mean()), "median": float(np.median(counts)),
            "max": int(counts.max()) if len(counts) else 0, "mean_fraction": float(counts.mean() / n),
            "steps_below_10pct": float(np.mean(counts < 0.1 * n)),
            "channels_ever_salient": int(m.any(axis=0).sum())}


def channel_actions(mask: Any, actions: Any, n_actions: int) -> pd.DataFrame:
    """One row per channel: how often it is salient for each action, its dominant action and
    the *purity* (share of its salient steps that serve the dominant action; 1 = a channel of
    a single action, the single-coloured rows of the paper's Figure 2)."""
    m = np.asarray(mask, dtype=bool)
    a = np.asarray(actions)
    if a.shape != (m.shape[0],):
        raise ValueError(f"actions must have shape ({m.shape[0]},), got {a.shape}")
    counts = np.zeros((m.shape[1], n_actions), dtype=np.int64)
    for k in range(n_actions):
        counts[:, k] = m[a == k].sum(axis=0)
    total = counts.sum(axis=1)
    df = pd.DataFrame(counts, columns=[f"action {k}" for k in range(n_actions)])
    df.insert(0, "channel", np.arange(m.shape[1]))
    df["salient steps"] = total
    df["dominant action"] = np.where(total > 0, counts.argmax(axis=1), -1)
    df["purity"] = np.divide(counts.max(axis=1), total, out=np.full(len(total), np.nan), where=total > 0)
    return df


def action_order(table: pd.DataFrame) -> np.ndarray:
    """Channel order of the paper's Figure 2: grouped by dominant action, most salient first
    within a group; never-salient channels last."""
    t = table.assign(_group=np.where(table["dominant action"] < 0, np.iinfo(np.int64).max, table["dominant action"]))
    return t.sort_values(["_group", "salient steps"], ascending=[True, False])["channel"].to_numpy()


def threshold_intervals(series: Any, theta: float) -> list[tuple[int, int]]:
    """Maximal intervals ``[t0, t1]`` (inclusive) where ``series > theta``."""
    x = _np(series, "series", 1)
    above = np.concatenate([[False], x > theta, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2])]


def preceding_offsets(gate: Any, contribution: Any, theta_g: float = 0.5, theta_c: float = 0.1) -> list[dict]:
    """Lee et al., Sec. 4, for one channel: for every interval ``[t0, t1]`` where ``gate > theta_g``,
    the first ``t`` in it with ``contribution[t] > theta_c``; ``offset = t - t0``. Intervals
    without such a step give no offset."""
    g = _np(gate, "gate", 1)
    c = _np(contribution, "contribution", 1)
    if g.shape != c.shape:
        raise ValueError(f"gate and contribution must have the same length, got {g.shape} and {c.shape}")
    out = []
    for t0, t1 in threshold_intervals(g, theta_g):
        hits = np.flatnonzero(c[t0:t1 + 1] > theta_c)
        if len(hits):
            t = t0 + int(hits[0])
            out.append({"t0": t0, "t1": t1, "t": t, "offset": t - t0})
    return out


def all_offsets(gates: Any, shares: Any, theta_g: float = 0.5, theta_c: float = 0.1,
                channels: Any = None) -> pd.DataFrame:
    """:func:`preceding_offsets` for every channel (or the given ones) of ``gates`` and
    ``shares`` (both ``(T, n_l)``): one row per offset, with its ``channel``."""
    g = _np(gates, "gates", 2)
    r = _np(shares, "shares", 2)
    if g.shape != r.shape:
        raise ValueError(f"gates and shares must have the same shape, got {g.shape} and {r.shape}")
    chans = range(g.shape[1]) if channels is None else channels
    rows = [{"channel": int(j), **o} for j in chans for o in preceding_offsets(g[:, j], r[:, j], theta_g, theta_c)]
    return pd.DataFrame(rows, columns=["channel", "t0", "t1", "t", "offset"])
