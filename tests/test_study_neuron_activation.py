"""The stored pruning study (Figure 3): rows as documented, computed once, bad input refused."""

from __future__ import annotations

import pytest

from rlinside.agents.arm_dqn import find_arm_agents
from rlinside.studies import neuron_activation as arm_pruning


@pytest.fixture()
def agent(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    found = find_arm_agents(2, 32, 0)
    assert found, "the shipped 2-joint agent of width 32 is missing from data/"
    return found[0]


def test_tau_sweep_rows_and_caching(agent, monkeypatch):
    rows = arm_pruning.tau_sweep(agent, [0.0, 0.5], n_episodes=3, episode_seed=1, retrain_budget=0)
    assert [r["tau"] for r in rows] == [0.0, 0.5]
    for r in rows:
        assert r["neurons_before"] == 6 * 32 == sum(r["sizes_before"])
        assert r["neurons_after"] == sum(r["sizes_after"]) <= r["neurons_before"]
        assert 0.0 <= r["accuracy_pruned"] <= 1.0
    # a larger threshold merges at least as much
    assert rows[1]["neurons_after"] <= rows[0]["neurons_after"]
    # tau = 0 merges only identical (or dead) neurons: the network behaves as before
    assert rows[0]["accuracy_pruned"] == pytest.approx(rows[0]["accuracy_before"], abs=0.02)

    def fail(*a, **k):
        raise AssertionError("recomputed a stored study")

    monkeypatch.setattr(arm_pruning, "prune_mlp", fail)
    again = arm_pruning.tau_sweep(agent, [0.0, 0.5], n_episodes=3, episode_seed=1, retrain_budget=0)
    assert again == rows


def test_iterative_study_stops_when_retraining_fails(agent):
    rows = arm_pruning.iterative_study(agent, 0.5, steps=3, n_episodes=3, episode_seed=1, retrain_budget=0)
    assert rows[0]["step"] == 0 and rows[0]["neurons"] == 192
    assert rows[1]["neurons"] < 192
    if rows[1]["retrain_episodes"] is None:  # a zero budget cannot repair a broken network
        assert len(rows) == 2
    model, again = arm_pruning.pruned_agent(agent, 0.5, steps=3, n_episodes=3, episode_seed=1, retrain_budget=0)
    assert again == rows  # the same stored study, not a new one
    assert model.hidden_sizes == rows[-1]["sizes"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(taus=[1.5]), "tau must be in"),
    (dict(n_episodes=0), "n_episodes"),
    (dict(retrain_budget=-1), "retrain_budget"),
])
def test_bad_input(agent, kwargs, match):
    args = dict(taus=[0.2], n_episodes=3, episode_seed=1, retrain_budget=0) | kwargs
    with pytest.raises(ValueError, match=match):
        arm_pruning.tau_sweep(agent, args.pop("taus"), **args)


def test_mean_or_nan_skips_runs_that_did_not_pass():
    import math

    import pandas as pd

    assert arm_pruning.mean_or_nan(pd.Series([800, None, 400])) == 600.0  # None becomes NaN in pandas
    assert arm_pruning.mean_or_nan([None, 300]) == 300.0
    assert math.isnan(arm_pruning.mean_or_nan([None, float("nan")]))
