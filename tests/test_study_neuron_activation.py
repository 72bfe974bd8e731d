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


def _comparison_rows():
    """A :func:`pruning_comparison` table: width 32, seeds 0-1, tau 0 and 0.2, three rules."""
    import pandas as pd

    rows = []
    acc = {"cluster merge": 0.8, "low-activation": 0.5, "random-live": 0.2}
    episodes = {"cluster merge": 300, "low-activation": None, "random-live": 900}
    for seed in (0, 1):
        for tau, after in ((0.0, 150), (0.2, 90)):
            for method in arm_pruning.PRUNING_METHODS:
                rows.append({"width": 32, "seed": seed, "tau": tau, "method": method, "neurons_before": 192,
                             "neurons_after": after + seed, "sizes_after": [after + seed], "accuracy_before": 0.95,
                             "accuracy_pruned": 0.9 if tau == 0 else acc[method] - 0.1 * seed,
                             "retrain_episodes": 0 if tau == 0 else episodes[method], "retrain_budget": 1000})
    return pd.DataFrame(rows)


def test_comparison_tables_and_claim_values():
    import math

    import pandas as pd

    table = _comparison_rows()
    merge = arm_pruning.merge_rows(table, 32)
    assert len(merge) == 4 and list(merge["tau"]) == [0.0, 0.2, 0.0, 0.2]
    assert arm_pruning.merge_rows(table, 48).empty
    zero = arm_pruning.zero_rows(table)
    assert list(zero["seed"]) == [0, 1] and zero["neurons left"].tolist() == pytest.approx([150 / 192, 151 / 192])
    s = arm_pruning.comparison_summary(table).set_index(["tau", "method"])
    assert s.loc[(0.2, "cluster merge"), "success after pruning"] == pytest.approx(0.75)
    assert s.loc[(0.2, "low-activation"), "passed"] == 0
    assert s.loc[(0.2, "low-activation"), "retrain episodes (median)"] == 1000.0  # spent: counts the budget
    assert s.loc[(0.2, "cluster merge"), "low"] <= 0.75 <= s.loc[(0.2, "cluster merge"), "high"]
    gaps = arm_pruning.baseline_gap_values(table, "random-live")  # tau = 0 left out: all rules agree there
    assert gaps == {(32, 0): pytest.approx(0.6), (32, 1): pytest.approx(0.6)}
    assert arm_pruning.baseline_gap_values(table[table["tau"] == 0], "random-live") == {}
    # the better simple rule is random-live (900 episodes; low-activation spent its 1000)
    assert arm_pruning.baseline_retrain_values(table) == {(32, 0): 600.0, (32, 1): 600.0}
    more = table.copy()
    more.loc[(more["tau"] == 0.2) & (more["seed"] == 0), "tau"] = 0.3  # seed 0 at two thresholds
    extra = table[(table["tau"] == 0.2) & (table["seed"] == 0)].assign(accuracy_pruned=0.8)
    mixed = arm_pruning.baseline_gap_values(pd.concat([more, extra]), "random-live")
    assert mixed[(32, 0)] == pytest.approx((0.6 + 0.0) / 2)  # the mean over its thresholds
    assert not any(math.isnan(v) for v in arm_pruning.baseline_retrain_values(table).values())


def test_shape_table_sets_the_papers_shape_last():
    import pandas as pd

    it = pd.DataFrame([{"width": 32, "step": 0, "sizes": [32] * 6}, {"width": 32, "step": 1, "sizes": [20, 10, 5]}])
    t = arm_pruning.shape_table(it)
    assert t["sizes"].iloc[0] == [20, 10, 5] and t["shape (share of largest layer)"].iloc[0] == [1.0, 0.5, 0.25]
    assert t["sizes"].iloc[-1] == list(arm_pruning.PAPER_SHAPE)


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


def test_mean_replaced_comparison_matches_the_sweeps_merge_and_is_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))  # 3 episodes: nothing shipped, all computed
    common = dict(n_episodes=3, episode_seed=1, agent_max_episodes=5000)
    rep = arm_pruning.mean_replaced_comparison(3, [32], [0], [0.3], **common)
    assert sorted(rep["method"]) == sorted(arm_pruning.PRUNING_METHODS) and (rep["tau"] == 0.3).all()
    plain = arm_pruning.pruning_comparison(3, [32], [0], [0.3], retrain_budget=0, **common)
    merge = lambda t: float(t[t["method"] == "cluster merge"]["accuracy_pruned"].iloc[0])  # noqa: E731
    assert merge(rep) == merge(plain)  # the same agent, episodes and sizes as the sweep's task
    table = arm_pruning.baseline_gap_table(plain, rep)
    assert list(table["dropped neurons"]) == ["as they are", "as they are", "mean-replaced", "mean-replaced"]

    def fail(*a, **k):
        raise AssertionError("recomputed a stored comparison")

    monkeypatch.setattr(arm_pruning, "prune_mlp", fail)
    again = arm_pruning.mean_replaced_comparison(3, [32], [0], [0.3], **common)
    assert again.equals(rep)


def test_compare_techniques_maps_each_shipped_network_once(monkeypatch):
    from types import SimpleNamespace

    import numpy as np

    shipped = find_arm_agents(3)
    distinct = {(a.config["width"], a.config["seed"]) for a in shipped}
    fake = SimpleNamespace(normalized_error=lambda *a: 0.1, saturation=lambda: 0.5, coverage=lambda: 0.5,
                           layer_projection=lambda: np.eye(6))
    monkeypatch.setattr(arm_pruning, "_samples", lambda *a, **k: np.zeros((2, 8), np.float32))
    monkeypatch.setattr(arm_pruning, "record_activations", lambda m, xs: [None])
    monkeypatch.setattr(arm_pruning, "project_networks", lambda *a, **k: fake)
    same = arm_pruning.compare_techniques(3, n_episodes=1, episode_seed=0, lam=50.0)
    assert same.n_agents == len(distinct)
    assert len(same.pairs) == 2 * len(distinct) * (len(distinct) - 1)  # ordered pairs, two methods
    assert not (same.pairs["source"] == same.pairs["target"]).any()
