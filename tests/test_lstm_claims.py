"""The LSTM-contribution chapter's claim statistics and their time-shift null on synthetic
episodes: a contribution that follows the gate by a known lag lies outside the null, one
independent of the gate inside it; the vectorised offsets equal the reference loop; the
per-episode statistics on hand examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlinside import claims as C
from rlinside.envs.marble_maze import MarbleMazeConfig
from rlinside.explain.contribution import action_order, all_offsets, channel_actions, contributions, salient_channels
from rlinside.studies import lstm_contribution as study


def _episode(rng: np.random.Generator, T: int = 600, n_l: int = 8, lag: int | None = 6, open_len: int = 20,
             run: int = 3) -> dict:
    """Gates that open for ``open_len`` steps after closed stretches of 15-40 steps; each channel
    is salient for ``run`` steps starting ``lag`` steps after each opening, or (``lag`` None)
    for as many runs of ``run`` steps at random times, independent of the gate."""
    gate = np.full((T, n_l), 0.2)
    mask = np.zeros((T, n_l), dtype=bool)
    for j in range(n_l):
        t = int(rng.integers(0, 30))
        opens = []
        while t + open_len < T:
            gate[t:t + open_len, j] = 0.9
            opens.append(t)
            t += open_len + int(rng.integers(15, 41))
        starts = [t0 + lag for t0 in opens] if lag is not None else rng.choice(T - run, size=len(opens), replace=False)
        for s in starts:
            mask[s:s + run, j] = True
    ring = np.repeat([4, 3, 2, 1], T // 4)
    return {"output": gate, "mask": mask, "ring": ring, "distance_px": np.linspace(30.0, 5.0, T),
            "actions": rng.integers(0, 5, T)}


def _null_claim() -> C.Claim:
    return C.Claim(id="demo.gate", chapter="demo", statement="gate leads", where="Fig. 5", quantity="positive share",
                   unit="episode", comparison={"greater_than_null": True}, min_scale={"episodes": 10})


@pytest.mark.parametrize("lag, outside", [(6, True), (None, False)])
def test_time_shift_null_separates_a_known_lag_from_independence(lag, outside):
    rng = np.random.default_rng(0)
    episodes = [_episode(rng, lag=lag) for _ in range(10)]
    real = study.per_episode(episodes, study.offset_statistics)
    null = np.nanmean(study.time_shift_null(episodes, study.offset_statistics, n_draws=200, seed=1)["positive share"],
                      axis=1)
    assert null.shape == (200,)
    low, high = np.quantile(null, [0.025, 0.975])
    pooled = np.nanmean(real["positive share"])
    if outside:
        assert pooled == 1.0 and high < 1.0  # every offset is the lag; chance timing often lands on t0
        assert set(np.concatenate([study.first_salient_offsets(e["output"], e["mask"])["offset"]
                                   for e in episodes])) == {6}
    else:
        assert low <= pooled <= high
    m = C.measure("demo.gate", real["positive share"], scale={"episodes": 10}, null=null)
    assert (C.verdict(_null_claim(), m)[0] == "supported") is outside


def test_shift_mask_keeps_each_channels_runs_and_moves_them():
    rng = np.random.default_rng(3)
    mask = rng.random((50, 6)) < 0.3
    shifted = study.shift_mask(mask, np.random.default_rng(4))
    lags = np.random.default_rng(4).integers(0, 50, size=6)
    for j in range(6):
        np.testing.assert_array_equal(shifted[:, j], np.roll(mask[:, j], lags[j]))
    assert (shifted.sum(0) == mask.sum(0)).all() and not np.array_equal(shifted, mask)


def test_vectorised_offsets_equal_the_reference_loop():
    rng = np.random.default_rng(5)
    for _ in range(10):
        T, n = int(rng.integers(2, 200)), int(rng.integers(1, 7))
        gate = 1 / (1 + np.exp(-np.cumsum(rng.normal(size=(T, n)), 0)))
        mask = rng.random((T, n)) < 0.2
        ref = all_offsets(gate, mask.astype(float), theta_g=0.5, theta_c=0.5)
        got = study.first_salient_offsets(gate, mask, 0.5)
        for key in ("channel", "t0", "t", "offset"):
            assert got[key].tolist() == ref[key].tolist(), key


def test_offset_statistics_and_ring_means_on_a_hand_example():
    gate = np.array([[0.9], [0.9], [0.9], [0.1], [0.9], [0.9]])
    mask = np.array([[False], [False], [True], [False], [True], [True]])
    ep = {"output": gate, "mask": mask, "ring": np.array([3, 3, 2, 2, 1, 1]),
          "distance_px": np.array([30.0, 28, 20, 18, 9, 8])}
    s = study.offset_statistics(ep, mask)  # offsets: 2 (at step 2, ring 2) and 0 (at step 4, ring 1)
    assert s["offsets"] == 2 and s["positive share"] == 0.5 and s["mean"] == 1.0 and np.isnan(s["spearman"])
    assert s["ring count"].tolist() == [0, 1, 1, 0, 0] and s["ring sum"].tolist() == [0, 0, 2, 0, 0]
    pooled = study.pooled_ring_means({"ring sum": np.stack([s["ring sum"]] * 3),
                                      "ring count": np.stack([s["ring count"]] * 3)})
    assert pooled["ring 1"] == 0 and pooled["ring 2"] == 2 and np.isnan(pooled["ring 3"])


def test_mask_statistics_on_a_hand_example():
    T = 40
    mask = np.zeros((T, 3), dtype=bool)
    mask[:20, 0] = True  # salient in ring 4 only, always for action 1
    mask[::2, 1] = True  # salient in both rings, for both actions
    mask[:5, 2] = True  # too few steps
    ep = {"ring": np.repeat([4, 3], 20), "actions": np.where(np.arange(T) < 20, 1, 2)}
    s = study.mask_statistics(ep, mask, min_steps=10)
    assert s["channels"] == 2
    assert s["ring share"] == pytest.approx(np.median([1.0, 0.5])) and s["ring pure share"] == 0.5
    assert s["pure share"] == 0.5


def test_readout_flips_per_episode_pool_to_the_ablation():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(5, 6)), rng.normal(size=5)
    episodes = []
    for T in (30, 50):
        h = rng.normal(size=(T, 6))
        a = (h @ W.T + b).argmax(1)
        _, r = contributions(W, h, a)
        episodes.append({"h": h, "actions": a, "mask": salient_channels(r)})
    mask = np.concatenate([e["mask"] for e in episodes])
    acts = np.concatenate([e["actions"] for e in episodes])
    table = channel_actions(mask, acts, 5)
    tests = study.ContributionTests(MarbleMazeConfig(), episodes, W, b, mask, acts, table, action_order(table))
    flips = study.readout_flips(tests, k=2)
    pooled = study.readout_ablation(tests, ks=(2,))
    assert flips.index.tolist() == [0, 1]
    for name in flips.columns:
        assert np.average(flips[name], weights=[30, 50]) == pytest.approx(pooled.loc[name, 2])


def test_crossing_times_and_memoryless_crossings():
    results = [
        {"episode": 0, "success": False, "steps": 1000, "entered": {4: 0, 3: 80, 2: 170, 1: 260}},
        {"episode": 1, "success": True, "steps": 500, "entered": {4: 0, 3: 100, 2: 200, 1: 300, 0: 500}},
        {"episode": 2, "success": False, "steps": 1000, "entered": {4: 0}},
    ]
    ct = study.crossing_times(results, 4)
    assert list(ct.columns) == ["episode", "wall", "steps to cross", "crossed"]
    first = ct[ct.episode == 0]
    assert first["steps to cross"].tolist() == [80, 90, 90, 740] and first["crossed"].tolist() == [True] * 3 + [False]
    assert ct[ct.episode == 2]["steps to cross"].tolist() == [1000]
    m = study.memoryless_crossings(results, 4)
    assert m["reached inner ring"].tolist() == [1.0, 1.0, 0.0]
    assert m.loc[0, "last minus outer"] == pytest.approx(740 - np.mean([80, 90, 90]))
    assert m.loc[1, "last minus outer"] == pytest.approx(200 - 100) and bool(m.loc[1, "last crossed"])
    assert np.isnan(m.loc[2, "last minus outer"])


def test_mean_offset_by_episode():
    offs = pd.DataFrame({"episode": [0, 0, 2], "offset": [1, 3, 5]})
    assert study.mean_offset_by_episode(offs) == {0: 2.0, 2: 5.0}
