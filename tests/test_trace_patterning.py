"""The trace patterning stream against its specification (RTRL paper, Experiment 1)."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rlinside.envs  # noqa: F401  (registers the environments)
from rlinside.envs.trace_patterning import (
    TracePatterningConfig,
    TracePatterningStream,
    all_patterns,
    discounted_return,
    stream_statistics,
)


def test_twenty_patterns_of_three_on():
    pats = all_patterns(6, 3)
    assert pats.shape == (20, 6)
    assert (pats.sum(1) == 3).all()
    assert len({tuple(p) for p in pats}) == 20


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_stream_statistics_match_spec(seed):
    cfg = TracePatterningConfig()
    s = TracePatterningStream(cfg, seed)
    x, G, trial = s.next(300_000)
    onsets = np.flatnonzero(trial >= 0)
    # a CS row has exactly three ones among the six CS features; all other rows have none
    cs_rows = x[:, :6].sum(1)
    assert set(np.unique(cs_rows[onsets])) == {3.0}
    assert (cs_rows[trial < 0] == 0).all()
    # exactly 10 of the 20 patterns are positive, and every pattern appears
    assert s.positive.sum() == 10
    counts = np.bincount(trial[onsets], minlength=20)
    assert (counts > 0).all()
    # roughly uniform over patterns: each within 30 % of the mean
    assert counts.min() > 0.7 * counts.mean() and counts.max() < 1.3 * counts.mean()
    us = np.flatnonzero(x[:, 6] > 0)
    # every US follows a positive pattern by ISI in [14, 26], and only positive ones get a US
    pos_onsets = onsets[s.positive[trial[onsets]]]
    assert len(us) in (len(pos_onsets), len(pos_onsets) - 1)  # the last trial may be cut
    isi = us - pos_onsets[: len(us)]
    assert isi.min() >= 14 and isi.max() <= 26
    assert set(np.unique(isi)) == set(range(14, 27))
    # onsets are ISI + ITI apart: 94..146
    gaps = np.diff(onsets)
    assert gaps.min() >= 14 + 80 and gaps.max() <= 26 + 120
    # ITI (US slot to next CS) covers 80..120: recover ISI for negative trials too is not possible,
    # so check the positive ones: next onset - US time
    nxt = np.searchsorted(onsets, us, side="right")
    ok = nxt < len(onsets)
    iti = onsets[nxt[ok]] - us[ok]
    assert iti.min() >= 80 and iti.max() <= 120


def test_positive_patterns_depend_on_seed():
    a = TracePatterningStream(seed=0).positive
    b = TracePatterningStream(seed=1).positive
    assert a.sum() == b.sum() == 10 and not np.array_equal(a, b)


def test_return_equals_brute_force_sum():
    cfg = TracePatterningConfig()
    s = TracePatterningStream(cfg, seed=3)
    x, G = s.sample(3000)
    # brute force from a longer, independent draw of the same seed
    x_long, _ = TracePatterningStream(cfg, seed=3).sample(3000 + 600)
    c = x_long[:, 6]
    for t in [0, 5, 17, 100, 1234, 2999]:
        brute = sum(cfg.gamma ** (j - t - 1) * c[j] for j in range(t + 1, len(c)))
        assert G[t] == pytest.approx(brute, abs=1e-12)


def test_discounted_return_hand_example():
    # c = [0, 0, 1, 0, 1], gamma = 0.5: G_0 = 0 + .5*1 + .125*1 ... by hand
    G = discounted_return(np.array([0, 0, 1, 0, 1.0]), 0.5)
    assert G.tolist() == pytest.approx([0 + 0.5 * 1 + 0.125 * 1, 1 + 0.25, 0 + 0.5, 1, 0])


def test_same_seed_same_stream_and_chunking_invariant():
    a_x, a_g = TracePatterningStream(seed=11).sample(5000)
    b = TracePatterningStream(seed=11)
    parts = list(b.chunks(5000, chunk=777))
    b_x = np.concatenate([p[0] for p in parts])
    b_g = np.concatenate([p[1] for p in parts])
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_allclose(a_g, b_g, rtol=0, atol=1e-13)
    c_x, _ = TracePatterningStream(seed=12).sample(5000)
    assert not np.array_equal(a_x, c_x)


def test_illustrative_setting_matches_figure_3():
    x, G = TracePatterningStream(TracePatterningConfig.illustrative(), seed=0).sample(30)
    onsets = np.flatnonzero(x[:, :6].sum(1) > 0)
    assert onsets[0] == 4 and onsets[1] == 4 + 3 + 7 and onsets[2] == 4 + 2 * 10
    us = np.flatnonzero(x[:, 6] > 0)
    assert all((u - 3) in onsets for u in us)


def test_gym_env_checker_and_returns():
    env = gym.make("rlinside/TracePatterning-v0")
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=5)
    x, G = TracePatterningStream(seed=5).sample(400)
    np.testing.assert_array_equal(obs, x[0])
    assert info["return"] == pytest.approx(G[0])
    for t in range(1, 400):
        obs, r, term, trunc, info = env.step(0)
        np.testing.assert_array_equal(obs, x[t])
        assert r == x[t, 6] and info["return"] == pytest.approx(G[t])
    with pytest.raises(ValueError, match="only action is 0"):
        env.unwrapped.step(3)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"k_on": 7}, "k_on=7"),
        ({"n_positive": 21}, "n_positive=21"),
        ({"isi_low": 30, "isi_high": 20}, "ISI range"),
        ({"iti_low": 0}, "ITI range"),
        ({"gamma": 1.0}, "gamma=1.0"),
    ],
)
def test_bad_config_is_a_clear_error(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        TracePatterningConfig(**kwargs)


def test_statistics_helper():
    st = stream_statistics(TracePatterningConfig(), 0, 50_000)
    assert st["positive_patterns"] == 10 and st["isi_min"] >= 14 and st["isi_max"] <= 26
    assert 94 <= st["onset_gap_min"] and st["onset_gap_max"] <= 146
    assert math.isclose(st["steps"], 50_000)
