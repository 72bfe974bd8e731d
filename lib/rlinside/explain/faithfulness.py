"""Faithfulness of a saliency map: deletion and insertion curves.

A map claims that some pixels matter more than others to the explained output. Petsiuk et
al. (2018, "RISE", Sec. 4.1) test the claim directly: *delete* the pixels in the map's order,
most salient first, and watch the output fall (a faithful map makes it fall fast: a small
area under the curve); or start from a baseline image and *insert* the pixels in that order
(a faithful map makes the output rise fast: a large area). Rosynski et al. argue about which
map is right but do not measure it; this module does.

Definitions used here (every choice is a parameter):

- *pixels* are the ``H x W`` positions of the input; a position is deleted in every stacked
  frame at once (an Atari agent sees the same screen position in each). The order is by the
  map's magnitude at each position, summed over its channels (``|map|``; a signed map's
  negative pixels count as salient too), ties broken by position (a stable sort).
- *deleted* means replaced by the ``baseline``: by default the observation blurred with a
  Gaussian of standard deviation ``blur_sigma`` pixels (as in Greydanus et al.'s
  perturbation, applied to the whole frame), so deletion removes detail rather than adding
  black shapes the network never saw.
- the curve is read at ``steps + 1`` evenly spaced fractions ``0, 1/steps, ..., 1`` of the
  positions. At each, two numbers: the explained output, normalized to 1 on the intact input
  and 0 on the full baseline, ``(y_k - y_base) / (y_0 - y_base)`` (NaN when ``y_0 = y_base``);
  and whether the action the agent chose on the intact input is still the one it ranks first.
- the area under a curve is the trapezoid rule over the fractions (the curve's mean).

:func:`random_order` gives the baseline order a map has to beat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn

__all__ = ["Curves", "blurred", "salience_order", "random_order", "deletion_insertion", "area"]


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion curves of one map on one observation."""

    fractions: np.ndarray  #: (steps + 1,) share of positions deleted / inserted
    deletion: np.ndarray  #: normalized output as positions are deleted (1 -> 0)
    insertion: np.ndarray  #: normalized output as positions are inserted into the baseline (0 -> 1)
    deletion_action: np.ndarray  #: 1 where the chosen action is still ranked first, deleting
    insertion_action: np.ndarray  #: the same, inserting

    def areas(self) -> dict[str, float]:
        """Area under each curve (trapezoid rule over the fractions)."""
        return {"deletion": area(self.fractions, self.deletion), "insertion": area(self.fractions, self.insertion),
                "deletion, action kept": area(self.fractions, self.deletion_action),
                "insertion, action kept": area(self.fractions, self.insertion_action)}


def area(fractions: np.ndarray, curve: np.ndarray) -> float:
    """Trapezoid-rule area under ``curve`` over ``fractions`` (NaN if any point is NaN)."""
    f, c = np.asarray(fractions, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    return float(np.sum((c[1:] + c[:-1]) * np.diff(f)) / 2)


def blurred(obs: torch.Tensor, blur_sigma: float = 3.0) -> torch.Tensor:
    """``obs (1, C, H, W)`` with every frame blurred by a Gaussian of ``blur_sigma`` pixels."""
    if not blur_sigma > 0:
        raise ValueError(f"blur_sigma must be > 0, got {blur_sigma!r}")
    frames = obs.detach().float()[0].cpu().numpy()
    return torch.from_numpy(np.stack([ndimage.gaussian_filter(f, sigma=blur_sigma) for f in frames]))[None]


def salience_order(saliency: Any, size: tuple[int, int]) -> np.ndarray:
    """Positions ``0 .. H*W - 1`` (row-major) from the most to the least salient by
    ``|saliency|`` summed over its leading dimensions (``(H, W)``, ``(C, H, W)`` or ``(1, C, H,
    W)``); a stable sort, so ties keep their position order."""
    s = saliency.detach().cpu().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)
    s = np.abs(s.astype(np.float64))
    if s.shape[-2:] != tuple(size):
        raise ValueError(f"saliency must end in the input's size {tuple(size)}, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("saliency contains NaN or infinite values")
    flat = s.reshape(-1, size[0] * size[1]).sum(0)
    return np.argsort(-flat, kind="stable")


def random_order(size: tuple[int, int], seed: int) -> np.ndarray:
    """A uniformly random order of the ``H * W`` positions (seeded): the baseline a map must beat."""
    return np.random.default_rng(seed).permutation(size[0] * size[1])


@torch.no_grad()
def deletion_insertion(
    model: nn.Module,
    obs: torch.Tensor,
    order: np.ndarray,
    action: int,
    *,
    steps: int = 20,
    baseline: torch.Tensor | None = None,
    output: Callable[[Any], torch.Tensor] | None = None,
) -> Curves:
    """Deletion and insertion curves of ``order`` (from :func:`salience_order` or
    :func:`random_order`) for ``model`` on ``obs (1, C, H, W)``, explaining output column
    ``action`` (and checking whether ``action`` stays ranked first). ``baseline`` defaults to
    :func:`blurred` ``(obs)``; ``output`` picks the ``(B, n)`` tensor from what the model returns
    (default: the first element of a tuple)."""
    if not isinstance(obs, torch.Tensor) or obs.ndim != 4 or obs.shape[0] != 1:
        raise ValueError(f"obs must be a tensor (1, C, H, W), got {getattr(obs, 'shape', type(obs).__name__)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    _, c, h, w = obs.shape
    order = np.asarray(order)
    if order.shape != (h * w,) or not np.array_equal(np.sort(order), np.arange(h * w)):
        raise ValueError(f"order must be a permutation of the {h * w} positions, got shape {order.shape}")
    pick = output if output is not None else (lambda out: out[0] if isinstance(out, tuple) else out)
    x = obs.detach().float()
    base = blurred(obs) if baseline is None else baseline.detach().float()
    if base.shape != x.shape:
        raise ValueError(f"baseline must have the observation's shape {tuple(x.shape)}, got {tuple(base.shape)}")
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(int)
    rank = np.empty(h * w, dtype=np.int64)
    rank[order] = np.arange(h * w)
    rank = torch.from_numpy(rank.reshape(1, 1, h, w))
    deleted = torch.cat([torch.where(rank < k, base, x) for k in counts])  # top-k positions from the baseline
    inserted = torch.cat([torch.where(rank < k, x, base) for k in counts])  # top-k positions from the input
    out = pick(model(torch.cat([deleted, inserted]))).double()
    n_actions = out.shape[1]
    if not 0 <= int(action) < n_actions:
        raise ValueError(f"action must be in [0, {n_actions}), got {action!r}")
    y = out[:, int(action)]
    y_del, y_ins = y[:len(counts)], y[len(counts):]
    y0, yb = float(y_del[0]), float(y_del[-1])
    scale = y0 - yb

    def norm(v: torch.Tensor) -> np.ndarray:
        return ((v - yb) / scale).numpy() if scale != 0 else np.full(len(v), np.nan)

    kept = (out.argmax(1) == int(action)).double().numpy()
    return Curves(counts / (h * w), norm(y_del), norm(y_ins), kept[:len(counts)], kept[len(counts):])
