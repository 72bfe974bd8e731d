"""How focused a soft attention is: summaries of attention weights over ``L`` locations.

Used on the three attention maps of :class:`rlinside.nets.attention.RecurrentAttentionQNetwork`
(saliency notebook 02 and ``scripts/eval_snapshots.py``).
"""

from __future__ import annotations

import math

import torch

__all__ = ["attention_summary"]


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
