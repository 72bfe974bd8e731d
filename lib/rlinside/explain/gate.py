"""A sensitivity gate: does the agent's decision depend on its input at all?

A saliency map is a derivative of the agent's output with respect to its input pixels. If the
output does not depend on the input (an agent that acts on its recurrent state alone, or one
whose units are saturated), the derivative is numerically zero, and a map scaled to [-1, 1]
for display shows float32 rounding noise that still *looks* like a map. Adebayo et al. (2018,
"Sanity checks for saliency maps") make the general point; the saliency chapter's first
recurrent A2C was such an agent (its largest input gradient over 20 states was about 1e-10).

The gate runs before any map is drawn or counted. Over a set of states (each a model, an
observation and the explained action) it measures three things:

1. ``grad_max``: the largest ``|d y / d pixel|`` of the explained output ``y`` (a Q-value or
   policy logit) over all states and pixels, in output units per grey level (pixels are 0..255).
2. ``fd_rel_error``: a finite-difference check of that gradient (float32 forward passes, as
   the agent runs; ``h`` = 1 grey level by default): at the ``k``
   pixels of largest ``|gradient|`` of each state, the central difference
   ``(y(x + h e_i) - y(x - h e_i)) / 2h`` against the autograd value; the median over states
   and pixels of ``|fd - grad| / max(|fd|, |grad|)``. A gradient that autograd reports but the
   function does not have (or the reverse) shows here.
3. ``shuffle_change`` and ``blank_change``: how much the policy moves when the input is taken
   away. Each state's observation is replaced by another state's (a random permutation, so
   every observation is still a real frame) or by a blank frame (all zeros), with the model
   (and, for a recurrent agent, the state it carried) unchanged; the change is the total
   variation distance between the action distributions, averaged over states. For a Q-learning
   agent the distribution is its greedy action (so the change is the share of states whose
   action changes); for an actor-critic, ``softmax(logits)``.

The gate passes when ``grad_max >= GRAD_MIN``, ``fd_rel_error <= FD_MAX`` and
``shuffle_change >= SHUFFLE_MIN`` (the thresholds below, chosen to sit orders of magnitude
between the blind agent and the working ones; the chapter prints every measured value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["GateResult", "sensitivity_gate", "GRAD_MIN", "FD_MAX", "SHUFFLE_MIN", "DISTRIBUTIONS"]

#: A pixel's full range (255 grey levels) must move the explained output by >= 2.55e-4.
GRAD_MIN = 1e-6
#: Median relative disagreement of finite differences and autograd at the largest pixels.
FD_MAX = 0.1
#: Mean total-variation change of the action distribution when the input is shuffled.
SHUFFLE_MIN = 0.01
#: How an output becomes an action distribution: ``greedy`` (one-hot argmax, Q-learning
#: agents) or ``softmax`` (policy logits, actor-critics).
DISTRIBUTIONS = ("greedy", "softmax")


@dataclass(frozen=True)
class GateResult:
    """What :func:`sensitivity_gate` measured, and its verdict."""

    n_states: int
    grad_max: float
    grad_median: float  #: median over states of each state's largest |gradient|
    fd_rel_error: float
    shuffle_change: float
    blank_change: float
    passed: bool
    reason: str  #: "" when passed, else which test failed and by how much

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _first(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def _distribution(out: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "softmax":
        return torch.softmax(out.double(), dim=1)
    return nn.functional.one_hot(out.argmax(dim=1), out.shape[1]).double()


def _check(steps, distribution: str, k: int, h: float) -> None:
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if len(steps) < 2:
        raise ValueError(f"the gate needs at least 2 states (the shuffle test swaps inputs), got {len(steps)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if not h > 0:
        raise ValueError(f"h must be > 0 (grey levels), got {h!r}")
    for i, (model, obs, _action) in enumerate(steps):
        if not isinstance(model, nn.Module):
            raise ValueError(f"steps[{i}]: the model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(obs, torch.Tensor) or obs.ndim != 4 or obs.shape[0] != 1:
            raise ValueError(f"steps[{i}]: obs must be a tensor (1, C, H, W), got "
                             f"{getattr(obs, 'shape', type(obs).__name__)}")


def sensitivity_gate(
    steps: Sequence[tuple[nn.Module, torch.Tensor, int]],
    *,
    distribution: str = "greedy",
    k: int = 8,
    h: float = 1.0,
    seed: int = 0,
    output: Callable[[Any], torch.Tensor] = _first,
) -> GateResult:
    """Run the gate over ``steps``, each ``(model, obs (1, C, H, W), action)``.

    ``model(x)`` must accept a batch of observations like ``obs`` (a recurrent agent: the
    :class:`~rlinside.explain.saliency.Unrolled` model of the state it carried); ``output``
    picks the tensor ``(B, n_actions)`` of Q-values or logits from its output (default: the
    first element of a tuple). ``action`` indexes the explained output. ``k`` pixels per state
    are checked by finite differences with step ``h`` grey levels; ``seed`` fixes the shuffle.
    """
    _check(steps, distribution, k, h)
    grad_max_per_state, fd_errors = [], []
    for model, obs, action in steps:
        x = obs.detach().float().clone().requires_grad_(True)
        with torch.enable_grad():
            y = output(model(x))[0, int(action)]
            (grad,) = torch.autograd.grad(y, x, allow_unused=True)
        grad = torch.zeros_like(x) if grad is None else grad
        flat = grad.flatten().abs()
        grad_max_per_state.append(float(flat.max()))
        idx = torch.topk(flat, min(k, flat.numel())).indices
        base = obs.detach().float().flatten()
        batch = base.repeat(2 * len(idx), 1)
        rows = torch.arange(len(idx))
        batch[rows, idx] += h
        batch[rows + len(idx), idx] -= h
        with torch.no_grad():
            ys = output(model(batch.reshape(-1, *obs.shape[1:]))).double()[:, int(action)]
        fd = (ys[:len(idx)] - ys[len(idx):]) / (2 * h)
        g = grad.flatten()[idx].double()
        denom = torch.maximum(fd.abs(), g.abs())
        rel = torch.where(denom > 0, (fd - g).abs() / denom.clamp_min(1e-300), torch.zeros_like(denom))
        fd_errors.extend(rel.tolist())
    perm = np.random.default_rng(seed).permutation(len(steps))
    if np.any(perm == np.arange(len(steps))):  # a derangement: every state gets another's input
        perm = np.roll(np.arange(len(steps)), 1)
    shuffle, blank = [], []
    with torch.no_grad():
        for i, (model, obs, _) in enumerate(steps):
            other = steps[int(perm[i])][1].to(obs.dtype)
            outs = output(model(torch.cat([obs, other, torch.zeros_like(obs)]).float()))
            p = _distribution(outs, distribution)
            shuffle.append(0.5 * float((p[0] - p[1]).abs().sum()))
            blank.append(0.5 * float((p[0] - p[2]).abs().sum()))
    grad_max = float(max(grad_max_per_state))
    fd_rel = float(np.median(fd_errors))
    shuffle_change, blank_change = float(np.mean(shuffle)), float(np.mean(blank))
    reasons = []
    if grad_max < GRAD_MIN:
        reasons.append(f"largest input gradient {grad_max:.2g} < {GRAD_MIN:g}")
    if fd_rel > FD_MAX:
        reasons.append(f"finite differences disagree with the gradient (median relative error "
                       f"{fd_rel:.2g} > {FD_MAX:g})")
    if shuffle_change < SHUFFLE_MIN:
        reasons.append(f"shuffling the inputs changes the policy by {shuffle_change:.2g} < {SHUFFLE_MIN:g}")
    return GateResult(
        n_states=len(steps), grad_max=grad_max, grad_median=float(np.median(grad_max_per_state)),
        fd_rel_error=fd_rel, shuffle_change=shuffle_change, blank_change=blank_change,
        passed=not reasons, reason="; ".join(reasons),
    )
