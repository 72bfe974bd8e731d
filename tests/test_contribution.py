"""LSTM channel contributions and preceding offsets (Lee et al. 2019) against hand examples
and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlinside.explain.contribution import (
    action_order,
    all_offsets,
    channel_actions,
    contributions,
    preceding_offsets,
    salient_channels,
    sparsity,
    threshold_intervals,
)
from rlinside.nets.maze import MazePolicy


def test_contribution_is_gradient_times_activation():
    torch.manual_seed(0)
    net = MazePolicy(lstm_size=16).eval()
    x = torch.randint(0, 255, (6, 1, 64, 64), dtype=torch.uint8)
    logits, _, (h, _) = net(x)
    actions = logits.argmax(1)
    # independent: autograd of the chosen score with respect to h, times h, clamped
    hh = h.detach().clone().requires_grad_(True)
    scores = net.policy(hh).gather(1, actions[:, None]).sum()
    (grad,) = torch.autograd.grad(scores, hh)
    expected = (grad * hh).detach().clamp(min=0).numpy()
    c, r = contributions(net.policy.weight, h, actions)
    assert np.allclose(c, expected, atol=1e-6)
    assert np.allclose(r.sum(1), 1.0)
    # and the unclamped sum is the score minus the bias
    assert np.allclose((grad * hh).sum(1).detach().numpy(),
                       (logits.gather(1, actions[:, None])[:, 0] - net.policy.bias[actions]).detach().numpy(),
                       atol=1e-5)


def test_salient_channels_hand_example():
    r = np.array([[0.4, 0.3, 0.2, 0.1, 0.0],  # 0.4 + 0.3 > 0.5: two channels
                  [0.6, 0.1, 0.1, 0.1, 0.1],  # one channel
                  [0.25, 0.25, 0.25, 0.25, 0.0],  # exactly 0.5 is not "more than": three
                  [0.0, 0.0, 0.0, 0.0, 0.0]])  # nothing contributes
    m = salient_channels(r)
    assert m.tolist() == [[True, True, False, False, False], [True, False, False, False, False],
                          [True, True, True, False, False], [False] * 5]
    s = sparsity(m)
    assert s["mean"] == pytest.approx(1.5) and s["max"] == 3 and s["channels_ever_salient"] == 3
    with pytest.raises(ValueError, match="fraction"):
        salient_channels(r, fraction=1.0)


def test_channel_actions_and_order():
    mask = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 1]], dtype=bool)
    actions = np.array([2, 2, 0, 2])
    t = channel_actions(mask, actions, 3)
    assert t["dominant action"].tolist() == [2, -1, 2] and t["purity"].iloc[0] == 1.0
    assert t["purity"].iloc[2] == pytest.approx(2 / 3)
    assert action_order(t).tolist() == [0, 2, 1]


def test_threshold_intervals_and_offsets_on_a_synthetic_series():
    gate = np.array([0.1, 0.7, 0.8, 0.9, 0.2, 0.6, 0.6, 0.1, 0.9])
    contrib = np.array([0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.5])
    assert threshold_intervals(gate, 0.5) == [(1, 3), (5, 6), (8, 8)]
    offs = preceding_offsets(gate, contrib, theta_g=0.5, theta_c=0.1)
    assert [(o["t0"], o["t"], o["offset"]) for o in offs] == [(1, 3, 2), (8, 8, 0)]  # (5, 6) never contributes
    # a known delay: the contribution lags the gate by d steps
    rng = np.random.default_rng(0)
    for d in (0, 3, 7):
        g = np.zeros(200)
        c = np.zeros(200)
        for start in rng.choice(np.arange(10, 180, 20), 5, replace=False):
            g[start:start + 12] = 0.9
            c[start + d] = 0.6
        table = all_offsets(np.stack([g, g], 1), np.stack([c, np.zeros(200)], 1))
        assert set(table.offset) == {d} and set(table.channel) == {0}
    with pytest.raises(ValueError, match="same length"):
        preceding_offsets(gate, contrib[:-1])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="channels but weight"):
        contributions(np.ones((5, 3)), np.ones((2, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"lie in \[0, 5\)"):
        contributions(np.ones((5, 3)), np.ones((2, 3)), np.array([0, 5]))
    with pytest.raises(ValueError, match="integers"):
        contributions(np.ones((5, 3)), np.ones((2, 3)), np.array([0.0, 1.0]))
