"""How focused a soft attention is: summaries of attention weights over ``L`` locations.

Used on the three attention maps of :class:`rlinside.nets.attention.RecurrentAttentionQNetwork`
(saliency notebook 02 and ``scripts/eval_snapshots.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["attention_summary", "ReceptiveField", "receptive_field", "attention_on_input", "mean_over_fields"]


def attention_summary(weights: torch.Tensor) -> dict[str, float]:
    """Summaries of one attention distribution ``weights`` (any shape, ``L`` entries, each
    >= 0, summing to 1):

    - ``locations``: ``exp(entropy)``, the number of locations it effectively uses (``L`` for
      uniform attention, 1 for a single location);
    - ``peak / uniform``: ``L * max(weights)`` (1 for uniform attention, ``L`` at most);
    - ``logit spread``: ``log max - log min``, the range of the softmax's logits (0 for uniform
      attention, infinite when a weight is 0).
    """
    a = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if a.numel() == 0 or (a < 0).any() or not math.isclose(float(a.sum()), 1.0, abs_tol=1e-4):
        raise ValueError(
            f"weights must be non-negative and sum to 1, got {a.numel()} entries summing to "
            f"{float(a.sum()) if a.numel() else 0.0:.6g} (min {float(a.min()) if a.numel() else 0.0:.3g})"
        )
    positive = a[a > 0]
    entropy = float(-(positive * positive.log()).sum())
    smallest = float(a.min())
    return {
        "locations": math.exp(entropy),
        "peak / uniform": a.numel() * float(a.max()),
        "logit spread": math.log(float(a.max()) / smallest) if smallest > 0 else math.inf,
    }


@dataclass(frozen=True)
class ReceptiveField:
    """Where the cells of a conv stack's last feature map look in its input (one axis; the
    stacks here are square): cell ``i`` covers input pixels ``[start + i * jump, start + i *
    jump + size)`` (clipped to the input), centred at ``start + i * jump + (size - 1) / 2``."""

    size: int  #: pixels of the input one cell sees
    jump: int  #: input pixels between two neighbouring cells
    start: int  #: first input pixel of cell 0 (negative with padding)

    def span(self, i: int, length: int) -> tuple[int, int]:
        """Pixels ``[lo, hi)`` of an input of ``length`` that cell ``i`` covers."""
        lo = self.start + i * self.jump
        return max(lo, 0), min(lo + self.size, length)

    def centre(self, i: int) -> float:
        return self.start + i * self.jump + (self.size - 1) / 2


def receptive_field(convs: list[nn.Conv2d] | nn.Module) -> ReceptiveField:
    """The receptive field of the last of ``convs`` (in order, input first; or a module whose
    ``nn.Conv2d`` children are taken in order), from their kernel sizes, strides and padding
    (the standard recursion: ``size += (k - 1) * jump``, ``start -= padding * jump``,
    ``jump *= stride``). Pooling layers in between are not supported: use convolutions only.
    For the Nature CNN (8/4, 4/2, 3/1, no padding): size 36, jump 8, start 0."""
    layers = [m for m in convs.modules() if isinstance(m, nn.Conv2d)] if isinstance(convs, nn.Module) else list(convs)
    if not layers or not all(isinstance(m, nn.Conv2d) for m in layers):
        raise ValueError("convs must be a non-empty list of nn.Conv2d (or a module containing them)")
    size, jump, start = 1, 1, 0
    for m in layers:
        k, st, pad = m.kernel_size[0], m.stride[0], m.padding[0]
        if m.kernel_size[0] != m.kernel_size[1] or m.stride[0] != m.stride[1] or m.dilation != (1, 1) \
                or not isinstance(m.padding, tuple) or m.padding[0] != m.padding[1]:
            raise ValueError("receptive_field handles square kernels, strides and padding without dilation")
        size += (k - 1) * jump
        start -= pad * jump
        jump *= st
    return ReceptiveField(size, jump, start)


def attention_on_input(weights: torch.Tensor, rf: ReceptiveField, size: tuple[int, int] = (84, 84)) -> torch.Tensor:
    """Place attention weights ``(..., h, w)`` over the feature map's cells on the input:
    each cell's weight is spread evenly over the input pixels its receptive field ``rf``
    covers, and the cells' contributions add up. Returns ``(..., H, W)``; its sum equals the
    weights' sum (so an attention over the cells stays a distribution over the pixels).

    Stretching the ``h x w`` map over the frame instead (bilinear upsampling) puts cell ``i``
    at ``(i + 0.5) * H / h``, off its receptive field's centre everywhere but the middle."""
    w = torch.as_tensor(weights)
    if w.ndim < 2:
        raise ValueError(f"weights must have shape (..., h, w), got {tuple(w.shape)}")
    h, wd = w.shape[-2:]
    H, W = size
    _check_fit(rf, (h, wd), (H, W))
    rows, cols = _spread(rf, h, H), _spread(rf, wd, W)
    out = torch.einsum("...ij,ia,jb->...ab", w.double(), rows, cols)
    return out.to(w.dtype if w.is_floating_point() else torch.float64)


def _check_fit(rf: ReceptiveField, cells: tuple[int, int], size: tuple[int, int]) -> None:
    """Every cell of an ``h x w`` map must start inside the input ``(H, W)``."""
    (h, w), (H, W) = cells, size
    if rf.start + (h - 1) * rf.jump >= H or rf.start + (w - 1) * rf.jump >= W:
        raise ValueError(f"a {h} x {w} map with receptive field {rf} does not fit an input of {(H, W)}")


def _spread(rf: ReceptiveField, n_cells: int, length: int) -> torch.Tensor:
    """``(n_cells, length)``: row ``i`` is ``1 / |field|`` on the pixels cell ``i`` covers."""
    m = torch.zeros(n_cells, length, dtype=torch.float64)
    for i in range(n_cells):
        lo, hi = rf.span(i, length)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def mean_over_fields(maps: torch.Tensor, rf: ReceptiveField, cells: tuple[int, int] = (7, 7)) -> torch.Tensor:
    """The mean of input maps ``(..., H, W)`` over each cell's receptive field: ``(..., h, w)``
    (the cells of a ``cells`` feature map). The counterpart of :func:`attention_on_input` for
    comparing a pixel map (a saliency map) with an attention over the cells."""
    m = torch.as_tensor(maps)
    if m.ndim < 2:
        raise ValueError(f"maps must have shape (..., H, W), got {tuple(m.shape)}")
    H, W = m.shape[-2:]
    h, w = cells
    _check_fit(rf, (h, w), (H, W))
    out = torch.einsum("...ab,ia,jb->...ij", m.double(), _spread(rf, h, H), _spread(rf, w, W))
    return out.to(m.dtype if m.is_floating_point() else torch.float64)
