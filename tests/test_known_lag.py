"""The cue -> response task with a known lag (rlinside.explain.known_lag)."""

from __future__ import annotations

import numpy as np
import pytest

from rlinside.explain import known_lag as K


def test_the_batch_holds_a_cue_and_a_go_exactly_lag_apart():
    x, y = K.cue_response_batch(50, 20, 6, np.random.default_rng(0))
    for e in range(50):
        cue_t = np.flatnonzero(x[e, :, :2].sum(1))
        go_t = np.flatnonzero(x[e, :, 2])
        assert cue_t.size == 1 and go_t.size == 1 and go_t[0] - cue_t[0] == 6
        assert y[e, go_t[0]] == x[e, cue_t[0], :2].argmax() + 1 and (y[e] > 0).sum() == 1
    with pytest.raises(ValueError, match="lag"):
        K.cue_response_batch(1, 5, 4, np.random.default_rng(0))


def test_a_trained_policy_solves_the_task_and_the_offsets_are_read_at_the_go_step():
    net, acc = K.train_cue_response(3, hidden=8, T=12, updates=400, seed=0)
    assert acc > 0.9  # it holds the cue for 3 steps
    tr = K.episode_trace(net, 3, 12, np.random.default_rng(5))
    import torch

    x = np.zeros((1, 12, 3), dtype=np.float32)  # the traced hidden state equals nn.LSTM's
    rng = np.random.default_rng(5)
    x[:], _ = K.cue_response_batch(1, 12, 3, rng)
    with torch.no_grad():
        h, _ = net.lstm(torch.from_numpy(x))
    np.testing.assert_allclose(tr.hidden, h[0].double().numpy(), atol=1e-5)
    off = K.lag_offsets(net, 3, episodes=10, T=12, gate="output")
    assert list(off.columns) == ["episode", "channel", "offset", "t0", "censored", "lag", "correct"]
    assert (off.offset >= 0).all() and (off.lag == 3).all()
    with pytest.raises(ValueError, match="gate"):
        K.lag_offsets(net, 3, gate="cell")
