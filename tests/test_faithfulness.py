"""Deletion and insertion curves (rlinside.explain.faithfulness) on a worked example."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rlinside.explain.faithfulness import area, blurred, deletion_insertion, random_order, salience_order


class Weighted(nn.Module):
    """Two outputs: y0 = sum of w * x over the pixels (both frames), y1 = a constant 0.5 * sum(w) * 255."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, x):
        y0 = (x * self.w).flatten(1).sum(1)
        return torch.stack([y0, torch.full_like(y0, 0.5 * float(self.w.sum()) * 255 * 2)], 1)


def test_worked_example_4x4():
    """Weights 4, 3, 2, 1 on four positions of a 4 x 4 input of 255s, zero baseline: deleting
    in the map's order removes 4/10, 3/10, 2/10, 1/10 of the output, one position per step."""
    w = torch.zeros(1, 1, 4, 4)
    w[0, 0, 0, 0], w[0, 0, 1, 1], w[0, 0, 2, 2], w[0, 0, 3, 3] = 4, 3, 2, 1
    model = Weighted(w)
    obs = torch.full((1, 2, 4, 4), 255.0)
    order = salience_order(w[0], (4, 4))
    assert order[:4].tolist() == [0, 5, 10, 15]
    c = deletion_insertion(model, obs, order, action=0, steps=16, baseline=torch.zeros_like(obs))
    np.testing.assert_allclose(c.fractions, np.arange(17) / 16)
    expect_del = np.r_[1.0, 0.6, 0.3, 0.1, np.zeros(13)]
    np.testing.assert_allclose(c.deletion, expect_del, atol=1e-12)
    np.testing.assert_allclose(c.insertion, 1 - expect_del, atol=1e-12)
    # y0 = 20 * 255 intact (above the constant 10 * 255): action 0 ranked first until 50% is gone
    np.testing.assert_array_equal(c.deletion_action[:3], [1, 1, 0])
    # the map's order beats a random one on both curves
    r = deletion_insertion(model, obs, random_order((4, 4), seed=0), action=0, steps=16,
                           baseline=torch.zeros_like(obs))
    assert c.areas()["deletion"] < r.areas()["deletion"] and c.areas()["insertion"] > r.areas()["insertion"]
    assert area(np.array([0, 0.5, 1]), np.array([1.0, 0.5, 0])) == pytest.approx(0.5)


def test_flat_output_gives_nan_and_bad_inputs_are_named():
    model = Weighted(torch.zeros(1, 1, 4, 4))
    obs = torch.full((1, 1, 4, 4), 100.0)
    c = deletion_insertion(model, obs, random_order((4, 4), 0), action=0, steps=4)
    assert np.isnan(c.deletion).all()
    with pytest.raises(ValueError, match="permutation"):
        deletion_insertion(model, obs, np.zeros(16, dtype=int), action=0)
    with pytest.raises(ValueError, match="steps must be"):
        deletion_insertion(model, obs, random_order((4, 4), 0), action=0, steps=0)
    with pytest.raises(ValueError, match="action must be in"):
        deletion_insertion(model, obs, random_order((4, 4), 0), action=5)
    with pytest.raises(ValueError, match="input's size"):
        salience_order(torch.ones(3, 3), (4, 4))
    assert blurred(obs).shape == obs.shape
