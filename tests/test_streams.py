"""Prediction streams of the RTRL Atari benchmark: shapes, whole games, bit-for-bit repeatable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlinside.agents.streams import StreamConfig, collect_stream
from rlinside.nets.atari import DuelingQNetwork


def _net():
    torch.manual_seed(0)
    return DuelingQNetwork(n_actions=6, in_channels=4).eval()


def test_stream_of_small_frames_repeats_bit_for_bit():
    cfg = StreamConfig(steps=60, seed=20_000, max_steps=120)  # a hard stop: an untrained agent's game is long
    a = collect_stream("dddqn", _net(), "Pong", cfg)
    b = collect_stream("dddqn", _net(), "Pong", cfg)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    t = a["actions"].size
    assert t == 120 and a["frames"].shape == (t, 16, 16) and a["frames"].dtype == np.uint8
    assert a["starts"][0] and a["rewards"].dtype == np.float32 and a["actions"].max() < 6
    assert a["frames"].std() > 0  # a picture, not a constant
    other = collect_stream("dddqn", _net(), "Pong", StreamConfig(steps=60, seed=20_001, max_steps=120))
    assert not np.array_equal(other["frames"], a["frames"])  # another seed: other no-op starts


def test_bad_stream_configs_are_refused():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        StreamConfig(steps=0)
    with pytest.raises(ValueError, match="max_steps"):
        StreamConfig(steps=10, max_steps=5)
    with pytest.raises(ValueError, match="does not play Atari"):
        collect_stream("arm-dqn", _net(), "Pong", StreamConfig(steps=1))
