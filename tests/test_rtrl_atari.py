"""The RTRL Atari prediction benchmark's inputs, returns and run (rlinside.rtrl.atari), on a
synthetic stream whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from rlinside.envs.trace_patterning import discounted_return
from rlinside.rtrl import atari as A


def synthetic_stream(T=3000, n_actions=6, seed=0):
    rng = np.random.default_rng(seed)
    starts = np.zeros(T, bool)
    starts[[0, 1000, 2200]] = True
    actions = rng.integers(n_actions, size=T).astype(np.uint8)
    rewards = np.where(rng.random(T) < 0.05, rng.choice([-5.0, 1.0, 3.0], size=T), 0.0).astype(np.float32)
    frames = rng.integers(256, size=(T, 16, 16)).astype(np.uint8)
    # a reward follows a bright top-left pixel 3 steps later: something a learner can predict
    frames[:, 0, 0] = 0
    for t in np.flatnonzero(rewards != 0):
        if t >= 3:
            frames[t - 3, 0, 0] = 255
    return {"frames": frames, "actions": actions, "rewards": rewards, "starts": starts}


def test_inputs_are_the_papers_277_features():
    s = synthetic_stream()
    f, e = A.atari_inputs(s, action_pad=20)
    assert f.shape == (3000, 256) and e.shape == (3000, 21) and A.n_inputs() == 277
    assert f.dtype == np.float32 and f.min() >= 0 and f.max() <= 1
    t = 5
    assert e[t, s["actions"][t - 1]] == 1 and e[t, :20].sum() == 1
    assert e[t, -1] == np.clip(s["rewards"][t - 1], -1, 1)
    assert not e[1000].any() and not e[0].any()  # a game's first step: no previous action or reward
    with pytest.raises(ValueError, match="action_pad"):
        A.atari_inputs(s, action_pad=4)


def test_periodic_returns_continue_round_the_stream():
    rng = np.random.default_rng(1)
    c = rng.normal(size=50)
    G = A.periodic_returns(c, 0.9)
    long = discounted_return(np.tile(c, 40), 0.9)[:50]  # the same stream repeated: tail gamma^1950 ~ 0
    np.testing.assert_allclose(G, long, rtol=0, atol=1e-12)
    np.testing.assert_allclose(G[:-1], c[1:] + 0.9 * G[1:], atol=1e-12)
    assert G[-1] == pytest.approx(c[0] + 0.9 * G[0])


@pytest.fixture()
def stream(monkeypatch):
    s = synthetic_stream()
    monkeypatch.setattr(A, "_stream", lambda game, key: (s, "synthetic"))
    return s


@pytest.mark.parametrize("learner", [
    {"method": "columnar", "n_features": 3, "step_size": 1e-3, "optimizer": "rmsprop"},
    {"method": "hybrid", "n_features": 4, "features_per_stage": 2, "steps_per_stage": 4000, "step_size": 1e-3,
     "optimizer": "rmsprop"},
    {"method": "tbptt", "n_features": 3, "truncation": 4, "step_size": 1e-3, "optimizer": "rmsprop"},
])
def test_run_learns_and_is_fixed_by_its_seed(stream, learner):
    cfg = {"game": "Synthetic", "n_steps": 9000, "bin_steps": 900, "final_steps": 3000, **learner}
    r = A.run_atari_prediction(cfg, seed=3)
    m = r["metrics"]
    assert m["steps"] == 9000 and m["final_steps"] == 3000 and r["arrays"]["error"].shape == (10,)
    assert np.isfinite(m["final_error"]) and m["final_error"] < 1.2 * m["return_var"]
    assert r["arrays"]["error"][-1] < r["arrays"]["error"][0]  # it learns
    again = A.run_atari_prediction(cfg, seed=3)
    assert again["metrics"] == m
    other = A.run_atari_prediction(cfg, seed=4)
    assert other["metrics"]["offset"] != m["offset"]  # each seed starts at its own place


def test_the_final_window_follows_the_papers_fraction(stream):
    cfg = {"game": "Synthetic", "n_steps": 50_000, "bin_steps": 200, "method": "columnar", "n_features": 1,
           "step_size": 1e-3, "optimizer": "rmsprop"}
    r = A.run_atari_prediction(cfg, seed=0)
    assert r["metrics"]["final_steps"] == 200  # 0.4 % of the run, as 200k of 50M
    assert r["metrics"]["final_error"] == pytest.approx(r["arrays"]["error"][-1], rel=1e-12)  # the last bin
    tail_sq = (r["arrays"]["tail_prediction"] - r["arrays"]["tail_return"]) ** 2
    assert r["arrays"]["tail_prediction"].shape == (2000,)
    assert tail_sq[-200:].mean() == pytest.approx(r["metrics"]["final_error"], rel=1e-9)


def test_relative_and_average_over_games_pair_by_seed():
    from rlinside.studies.rtrl import average_relative, relative_errors

    assert relative_errors({0: 1.0, 1: 2.0, 2: 3.0}, {0: 2.0, 1: 0.0, 3: 1.0}) == {0: 0.5}
    fin = {"A": {"h": {0: 1.0, 1: 4.0}, "t": {0: 2.0, 1: 2.0}},
           "B": {"h": {0: 3.0, 1: 1.0, 2: 5.0}, "t": {0: 3.0, 1: 4.0, 2: 5.0}}}
    avg = average_relative(fin, {"A": "t", "B": "t"}, "h", ["A", "B"])
    assert avg == {0: 0.75, 1: 1.125}  # seed 2 is missing in game A, so it is left out


def test_best_tbptt_is_chosen_on_tuning_errors_only():
    import pandas as pd

    from rlinside.studies.rtrl import best_tbptt

    class R:  # the part of a StudyResult that best_tbptt reads
        def __init__(self, tuned):
            self.tuning = pd.DataFrame({"mean final_error": tuned})

    res = {"T-BPTT 15:2": R([0.3, 0.2]), "T-BPTT 8:5": R([0.1]), "T-BPTT 5:8": R([0.5])}
    assert best_tbptt(res, labels=tuple(res)) == "T-BPTT 8:5"


def test_win_share_draws_resample_seeds_within_fixed_games():
    from rlinside.studies.rtrl import win_share_draws

    clear = {g: {i: 0.5 + 0.01 * i for i in range(5)} for g in "abcdefg"} | {"h": {i: 2.0 for i in range(5)}}
    d = win_share_draws(clear, list(clear), draws=2000)
    assert d.shape == (2000,) and np.all(d == 7 / 8)  # every seed wins clearly: no doubt left
    close = dict(clear, g={0: 0.8, 1: 1.3, 2: 0.9, 3: 1.1, 4: 0.95})  # a game whose mean sits near 1
    d = win_share_draws(close, list(close), draws=2000)
    assert set(np.unique(d)) == {6 / 8, 7 / 8}
    with pytest.raises(ValueError, match="no report seed"):
        win_share_draws(dict(clear, h={}), list(clear))


def test_compute_matched_tbptt_excludes_the_configurations_far_from_hybrids_flops():
    import pandas as pd

    from rlinside.studies.rtrl import ATARI_PAPER_TBPTT, atari_tbptt_budget

    class R:
        def __init__(self, tuned):
            self.tuning = pd.DataFrame({"mean final_error": [tuned]})

    # the 2:25 configuration (1.6 x hybrid's FLOPs as run) tunes best, but is not compute-matched
    tuned = {"T-BPTT 15:2": 0.3, "T-BPTT 8:5": 0.2, "T-BPTT 5:8": 0.25, "T-BPTT 4:10": 0.4, "T-BPTT 2:25": 0.05}
    results = {"A": {lab: R(v) for lab, v in tuned.items()}}
    fin = {"A": {"hybrid 20/5": {0: 1.0, 1: 2.0}, "T-BPTT 8:5": {0: 2.0, 1: 2.0}, "T-BPTT 2:25": {0: 0.5, 1: 0.5}}}
    table, rel = atari_tbptt_budget(fin, results, ["A"])
    assert list(table["T-BPTT"]) == list(ATARI_PAPER_TBPTT)
    assert list(table["matched"]) == [False, True, True, True, False]
    assert table["share, that reading"].between(0.85, 1.02).all()  # the other reading: all about equal
    assert rel == {0: 0.5, 1: 1.0}  # against 8:5, the best matched one


def test_the_other_reading_of_table_1_gives_five_pairs_of_about_equal_compute():
    from rlinside.rtrl.flops import tbptt_flops
    from rlinside.studies.rtrl import ATARI_TBPTT_READINGS, atari_specs, atari_tbptt_labels

    as_labelled, other = ATARI_TBPTT_READINGS["truncation:features"], ATARI_TBPTT_READINGS["features:truncation"]
    assert other == tuple((d, k) for k, d in as_labelled)  # the same numbers, the other way round
    costs = {r: [tbptt_flops(d, 277, k) for k, d in pairs] for r, pairs in ATARI_TBPTT_READINGS.items()}
    assert max(costs["features:truncation"]) / min(costs["features:truncation"]) < 1.2
    assert max(costs["truncation:features"]) / min(costs["truncation:features"]) > 2
    specs = atari_specs("Pong", "k", n_steps=1000, step_sizes=[1e-3], epsilons=[0.01], bin_steps=10, tbptt=other)
    tb = [s for s in specs if s.label.startswith("T-BPTT")]
    assert tuple(s.label for s in tb) == atari_tbptt_labels("features:truncation")
    assert [(s.base["truncation"], s.base["n_features"]) for s in tb] == list(other)
    with pytest.raises(ValueError, match="reading"):
        atari_tbptt_labels("features")
