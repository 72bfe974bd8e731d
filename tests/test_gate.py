"""The sensitivity gate (rlinside.explain.gate) on models whose answer is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlinside.explain.gate import GRAD_MIN, sensitivity_gate


class Linear(nn.Module):
    """Q-values linear in the pixels: sensitive, with an exact gradient."""

    def __init__(self, n_actions: int = 3, scale: float = 1e-3) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(n_actions, 2 * 8 * 8, generator=g) * scale)

    def forward(self, x):
        return x.flatten(1).float() @ self.w.T


class Blind(nn.Module):
    """Ignores its input entirely (like a policy acting on its recurrent state alone)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.1, 0.5, -0.2]))

    def forward(self, x):
        return (self.bias + 0 * x.flatten(1).sum(1, keepdim=True)).expand(x.shape[0], 3), None


class _NoGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.01  # wrong on purpose: 100 times too small


class WrongGradient(Linear):
    """Depends on the input, but autograd is told a gradient 100 times too small."""

    def forward(self, x):
        return _NoGrad.apply(x.flatten(1).float()) @ self.w.T


def _steps(model, n=6):
    g = torch.Generator().manual_seed(1)
    return [(model, torch.randint(0, 256, (1, 2, 8, 8), generator=g).float(), 0) for _ in range(n)]


def test_sensitive_model_passes_with_exact_finite_differences():
    r = sensitivity_gate(_steps(Linear()), distribution="softmax")
    assert r.passed and r.reason == ""
    assert r.grad_max >= GRAD_MIN
    assert r.fd_rel_error < 1e-2
    assert r.shuffle_change > 0.01


def test_blind_model_fails_every_test_and_says_why():
    r = sensitivity_gate(_steps(Blind()), distribution="softmax")
    assert not r.passed
    assert r.grad_max == 0 and r.shuffle_change == 0 and r.blank_change == 0
    assert "largest input gradient" in r.reason and "shuffling the inputs" in r.reason


def test_a_wrong_gradient_is_caught_by_finite_differences():
    r = sensitivity_gate(_steps(WrongGradient()), distribution="softmax")
    assert not r.passed
    assert r.fd_rel_error > 0.9
    assert "finite differences disagree" in r.reason


def test_greedy_distribution_counts_changed_actions():
    r = sensitivity_gate(_steps(Linear(scale=1.0)), distribution="greedy")
    assert 0 <= r.shuffle_change <= 1
    assert r.shuffle_change * 6 == pytest.approx(round(r.shuffle_change * 6))


@pytest.mark.parametrize("kwargs, match", [
    ({"distribution": "argmax"}, "distribution must be one of"),
    ({"k": 0}, "k must be an int >= 1"),
    ({"h": 0.0}, "h must be > 0"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sensitivity_gate(_steps(Linear()), **kwargs)


def test_needs_two_states_and_batched_observations():
    with pytest.raises(ValueError, match="at least 2 states"):
        sensitivity_gate(_steps(Linear(), n=1))
    with pytest.raises(ValueError, match=r"obs must be a tensor \(1, C, H, W\)"):
        sensitivity_gate([(Linear(), torch.zeros(2, 8, 8), 0)] * 2)
