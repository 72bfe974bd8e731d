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


# ------------------------------------------------------------------ the notebooks' tables and measurements


def test_tau_summary_averages_over_agents_and_counts_passed_runs():
    import math

    import pandas as pd

    sweep = pd.DataFrame([
        {"seed": 0, "tau": 0.1, "neurons_before": 100, "neurons_after": 60, "accuracy_pruned": 0.5,
         "retrain_episodes": 200},
        {"seed": 1, "tau": 0.1, "neurons_before": 100, "neurons_after": 40, "accuracy_pruned": 0.7,
         "retrain_episodes": None},
        {"seed": 0, "tau": 0.3, "neurons_before": 100, "neurons_after": 20, "accuracy_pruned": 0.1,
         "retrain_episodes": None},
    ])
    s = arm_pruning.tau_summary(sweep)
    assert list(s.index) == [0.1, 0.3]
    assert s.loc[0.1, "size_share"] == pytest.approx(0.5)
    assert s.loc[0.1, "accuracy_pruned"] == pytest.approx(0.6)
    assert s.loc[0.1, "retrain_episodes_of_passed"] == 200.0  # the run that did not pass is left out
    assert math.isnan(s.loc[0.3, "retrain_episodes_of_passed"])
    assert list(s["passed_within_budget"]) == [1, 0] and list(s["agents"]) == [2, 1]


def _episodes(rng, n_episodes=3, T=40):
    """Activations ``episodes[e][l]``: layer 1 has neuron 1 = 2 x neuron 0 (distance 0), layer 3 one neuron."""
    eps = []
    for _ in range(n_episodes):
        a = rng.random((T, 4))
        a[:, 1] = 2 * a[:, 0]
        eps.append([a, rng.random((T, 3)), rng.random((T, 1))])
    return eps


def test_distance_densities_tables_and_curves():
    import numpy as np

    acts = {"x": _episodes(np.random.default_rng(0)), "y": _episodes(np.random.default_rng(1))}
    d = arm_pruning.distance_densities(acts)
    assert list(d.stats["network"]) == ["x", "y"]
    n = 4 + 3 + 1
    for name in acts:
        (g, dens, pairs_all), (_, _, pairs_layer) = d.curves[name]["all-to-all"], d.curves[name]["layer-wise"]
        assert g.shape == dens.shape and (dens >= 0).all()
        assert pairs_all == n * (n - 1) // 2 and pairs_layer == 6 + 3  # the one-neuron layer has no pair
    assert list(d.per_layer.columns) == ["layer 1", "layer 2"]  # ... and no column
    assert (d.stats["pairs at distance < 0.1"] >= 1 / 28).all()  # the scaled copy is at distance 0


def test_cluster_trees_keep_one_neuron_per_cluster_below_the_cut():
    import numpy as np

    acts = {"x": [ep[:2] for ep in _episodes(np.random.default_rng(0))]}
    at_zero, at_one = arm_pruning.cluster_trees(acts, 0.0)["x"], arm_pruning.cluster_trees(acts, 1.0)["x"]
    assert [t.neurons for t in at_zero] == [4, 3]
    assert [t.kept for t in at_zero] == [3, 3]  # tau = 0: only the scaled copy merges
    assert [t.kept for t in at_one] == [1, 1]  # the whole tree is below its own largest merge
    assert at_one[0].cut == pytest.approx(at_one[0].linkage[:, 2].max())


def test_project_arms_on_one_agent_uses_project_networks(monkeypatch):
    """One agent (few samples, so a light penalty): the reflexive map and an untrained source;
    the fit is project_networks' (the same weights as fitting the recorded activations) and the
    grid reads the reflexive cell."""
    import numpy as np

    from rlinside.explain import projection

    calls = []
    real = projection.project_networks
    monkeypatch.setattr(arm_pruning, "project_networks", lambda *a, **k: calls.append(k) or real(*a, **k))
    r = arm_pruning.project_arms([2], 32, [0], n_episodes=2, episode_seed=5, lam=1.0, transform="balanced")
    assert len(calls) == 2 and r.diag_kind == "reflexive"
    assert list(r.table.index) == [("2→2", "reflexive"), ("2→2", "untrained source")]
    err = r.table[("normalised error", "mean")]
    assert err[("2→2", "reflexive")] < err[("2→2", "untrained source")]
    assert arm_pruning.error_grid(r, "naive")[0, 0] == err[("2→2", "reflexive")]
    assert arm_pruning.error_grid(r, "untrained source")[0, 0] == err[("2→2", "untrained source")]
    (s_act, t_act), = r.pair_activations[(2, 2)]
    again = projection.fit_projection(s_act, t_act, "linear", 1.0)
    np.testing.assert_array_equal(r.projections[(2, 2, "reflexive")][0].weights, again.weights)
    mean_P, layers = arm_pruning.layer_projections(r)
    assert mean_P[(2, 2)].shape == (6, 6) and list(layers["source→target"]) == ["2→2"]
    cka, cka_table = arm_pruning.layer_cka(r)
    assert cka["2→2"][0, 0] == pytest.approx(1.0)  # a layer against itself


def test_lambda_comparison_trades_error_for_fewer_sources():
    from rlinside.studies.neuron_activation import lambda_comparison

    t = lambda_comparison(3, 32, [0, 1], [1.0, 1000.0], n_episodes=3, episode_seed=5)
    assert len(t) == 2 * 2 and set(t["lambda"]) == {1.0, 1000.0}  # 2 ordered pairs x 2 penalties
    small, large = (t[t["lambda"] == v].mean(numeric_only=True) for v in (1.0, 1000.0))
    assert small["normalised error (held out)"] < large["normalised error (held out)"]


def test_dead_pruned_maps_drop_the_dead_neurons_and_keep_the_pairs():
    from rlinside.studies import neuron_activation as study

    setup = dict(n_episodes=2, episode_seed=5, lam=1.0, transform="balanced")
    arms = study.project_arms([2, 3], 32, [0], **setup)
    pruned = study.project_arms([2, 3], 32, [0], **setup, dead_pruned=True)
    assert set(pruned.mappings["inputs"]) == {"reflexive", "balanced"}  # no naive, no untrained source
    for (a, b, kind), maps in pruned.projections.items():
        full = arms.projections[(a, b, kind)][0]
        assert maps[0].weights.shape[0] <= full.weights.shape[0]  # fewer (or as many) source neurons
    assert sum(p.weights.shape[0] for p in pruned.projections[(2, 3, "balanced")]) < \
        sum(p.weights.shape[0] for p in arms.projections[(2, 3, "balanced")])  # width-32 agents have dead neurons
    table = study.dead_pruned_table(arms, pruned)
    assert list(table.columns.get_level_values(0).unique()) == ["normalised error", "saturation", "coverage"]
    assert table.loc[("2→3", "balanced"), ("coverage", "all neurons")] == pytest.approx(
        arms.mappings.query("`source→target` == '2→3' and inputs == 'balanced'")["coverage"].mean())
    saturation = study.error_grid(arms, "balanced", "saturation")
    assert saturation[0, 1] == pytest.approx(table.loc[("2→3", "balanced"), ("saturation", "all neurons")])


def test_input_transformation_figure_draws_both_modes():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from rlinside.envs.planar_arm import joint_positions, transform_joint_angles
    from rlinside.plots.neurons import plot_input_transformations

    fig = plot_input_transformations([(2, 4), (4, 2)], n_poses=2)
    assert len(fig.axes) == 4 and "balanced" in fig.axes[1].get_title()
    # balanced 2 -> 4: the 4-joint arm puts its fingertip where the 2-joint arm's is
    pose = np.array([[0.7, -0.4]])
    four = transform_joint_angles(pose, 4, "balanced")
    np.testing.assert_allclose(joint_positions(four[0], np.full(4, 0.25))[-1],
                               joint_positions(pose[0], np.full(2, 0.5))[-1], atol=1e-12)
