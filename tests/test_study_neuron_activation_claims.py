"""The per-unit values of the neuron-activation chapter's claims (notebooks/neuron_activation/
claims.yml), on synthetic tables whose answer is known."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from rlinside.studies import neuron_activation as na


def _row(joints, seed, network, mean, std, layers):
    return {"joints": joints, "seed": seed, "network": network, "mean distance": mean, "std distance": std,
            "last/first layer ratio": layers[-1] / layers[0], **{f"layer {k + 1}": v for k, v in enumerate(layers)}}


def test_distance_claim_values_per_agent():
    rows = pd.DataFrame([
        _row(2, 0, "trained", 2.0, 1.5, [3.0, 1.0, 1.0, 2.0, 2.0, 4.0]),
        _row(2, 0, "random", 3.0, 2.5, [2.0, 2.0, 2.0, 3.0, 3.0, 3.0]),
        _row(3, 1, "trained", 2.5, 1.0, [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]),
        _row(3, 1, "random", 2.0, 2.0, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ])
    v = na.distance_claim_values(na.TrainedVsRandom(rows, pd.DataFrame(), 0.0, 0.0, 0.0))
    assert v["mean_gap"] == {(2, 0): pytest.approx(1.0), (3, 1): pytest.approx(-0.5)}
    assert v["std_gap"] == {(2, 0): pytest.approx(1.0), (3, 1): pytest.approx(1.0)}
    # second half minus first half: trained (8/3 - 5/3) = 1, random (3 - 2) = 1 -> 0
    assert v["output_rise"][(2, 0)] == pytest.approx(0.0)
    assert v["output_rise"][(3, 1)] == pytest.approx((2.0 - 5 / 3) - 0.0)
    assert v["first_layer"] == {(2, 0): pytest.approx(3.0 - 1.5), (3, 1): pytest.approx(1.0 - 2.0)}


def test_activations_on_reproduces_a_rollout_and_feeds_another_network_the_same_inputs():
    import torch

    from rlinside.agents.arm_dqn import ArmDQNConfig, build_q_network, run_episodes

    cfg = ArmDQNConfig(n_joints=2, width=8)
    torch.manual_seed(0)
    a, b = build_q_network(cfg), build_q_network(cfg, init="xavier")
    roll = run_episodes(a, cfg, 3, 0)
    again = na.activations_on(a, roll.observations)
    assert len(again) == 3 and all(np.allclose(x, y, atol=1e-6) for e, f in zip(roll.activations, again)
                                   for x, y in zip(e, f))
    other = na.activations_on(b, roll.observations)
    with torch.no_grad():
        _, acts = b(torch.from_numpy(roll.observations[1]), return_activations=True)
    assert np.allclose(other[1][2], acts[2].numpy(), atol=1e-6) and not np.allclose(other[1][2], again[1][2])


def test_distance_variants_read_each_reference_and_neuron_set():
    rows = []
    for seed, (tr, rd, agent_in) in enumerate([(2.0, 3.0, 2.5), (2.0, 3.5, 2.0), (1.0, 2.0, 0.5)]):
        for network, m in (("trained", tr), ("random", rd), (na.AGENT_INPUTS, agent_in)):
            r = _row(3, seed, network, m, 1.0, [1.0] * 6)
            rows.append({**r, "mean distance (live)": m + 1.0, "std distance (live)": 0.5})
    across = na.TrainedVsRandom(pd.DataFrame(rows), pd.DataFrame(), 0.0, 0.0, 0.0)
    assert na.distance_claim_values(across, reference=na.AGENT_INPUTS)["mean_gap"] == {
        (3, 0): pytest.approx(0.5), (3, 1): pytest.approx(0.0), (3, 2): pytest.approx(-0.5)}
    t = na.distance_variants(across).set_index(["statistic", "neurons", "random network on"])
    assert t.loc[("mean", "all", "its own episodes"), "random minus trained"] == pytest.approx(7 / 6)
    assert t.loc[("mean", "live", "the agent's observations"), "random minus trained"] == pytest.approx(0.0)
    assert t.loc[("spread", "live", "its own episodes"), "random minus trained"] == pytest.approx(0.0)
    assert (t["agents"] == 3).all() and len(t) == 8


def test_episode_distance_stats_average_to_eq2_and_pair_by_episode():
    from rlinside.explain.activations import neuron_distances, upper_triangle

    rng = np.random.default_rng(0)
    a = [[rng.random((20, 4)), rng.random((20, 3))] for _ in range(5)]
    b = [[2 * ep[0], ep[1][:, :2]] for ep in a]  # a scaled copy (same normalised series) minus one neuron
    stats = na.episode_distance_stats({"trained": a, "pruned": b})
    assert len(stats) == 10 and set(stats["network"]) == {"trained", "pruned"}
    eq2 = upper_triangle(neuron_distances(a)).mean()
    assert stats[stats["network"] == "trained"]["mean"].mean() == pytest.approx(eq2)
    gaps = na.pruned_vs_trained_episodes(stats)
    assert sorted(gaps["mean_gap"]) == list(range(5))
    t, p = stats.set_index(["network", "episode"]).loc["trained"], stats.set_index(["network", "episode"]).loc["pruned"]
    assert gaps["std_gap"][3] == pytest.approx(p.loc[3, "std"] - t.loc[3, "std"])
    assert na.pruned_vs_trained_episodes(stats, pruned="absent") == {"mean_gap": {}, "std_gap": {}}


def test_zero_tau_values_and_tau_linearity():
    zero = pd.DataFrame([{"width": 32, "seed": 0, "neurons left": 0.7, "success before": 0.95, "success after": 0.95},
                         {"width": 48, "seed": 0, "neurons left": 0.6, "success before": 0.9, "success after": 0.8}])
    v = na.zero_tau_values(zero)
    assert v["removed"] == {(32, 0): pytest.approx(0.3), (48, 0): pytest.approx(0.4)}
    assert v["success_change"] == {(32, 0): 0.0, (48, 0): pytest.approx(-0.1)}
    taus = [0.1, 0.2, 0.3]
    line = pd.DataFrame([{"seed": 0, "tau": t, "neurons_before": 100, "neurons_after": 100 * (0.7 - t)} for t in taus]
                        + [{"seed": 1, "tau": 0.1, "neurons_before": 100, "neurons_after": 50}])
    r2 = na.tau_linearity(line, zero, 32)
    assert r2[0] == pytest.approx(1.0)  # tau = 0 from the zero table lies on the same line
    assert math.isnan(r2[1])  # seed 1: one threshold and no tau = 0 row


def _sweep(rows):
    return pd.DataFrame([{"seed": s, "tau": t, "retrain_episodes": e} for s, t, e in rows])


def test_retraining_costs_count_the_budget_of_runs_that_did_not_pass():
    sweep = _sweep([(0, 0.2, 200.0), (0, 0.4, None), (1, 0.2, None), (1, 0.4, 300.0), (2, 0.2, 0.0), (2, 0.4, 500.0)])
    agents = [SimpleNamespace(config={"seed": s}, manifest={"metrics": {"training_episodes": 2000}}) for s in (0, 1)]
    cheap = na.retrain_cost_values(sweep, agents, tau=0.2, budget=1000)
    assert cheap == {0: pytest.approx(0.1), 1: pytest.approx(0.5)}  # seed 1 did not pass: the budget
    rise = na.retrain_cost_rise(sweep, low=0.2, high=0.4, budget=1000)
    assert rise[0] == pytest.approx(1000 / 200)  # not passed at 0.4: a lower bound
    assert math.isnan(rise[1])  # nothing to compare with
    assert rise[2] == pytest.approx(500 / 50)  # passed at once: at least one validation interval
    assert math.isnan(na.retrain_cost_values(sweep, agents, tau=0.3, budget=1000)[0])


def test_iterative_values_per_width():
    rows = []
    for w, neurons, last in [(32, [192, 120, 115, 113], [25, 22, 21, 23, 13, 9]),
                             (128, [768, 300], [90, 50, 60, 40, 20, 30]),
                             (256, [1536, 340, 330, 325], [60, 30, 20, 15, 10, 15])]:
        for s, n in enumerate(neurons):
            rows.append({"width": w, "step": s, "neurons": n, "sizes": last if s == len(neurons) - 1 else [w] * 6})
    v = na.iterative_values(pd.DataFrame(rows))
    assert v["first_step_share"][32] == pytest.approx(72 / 79)
    assert math.isnan(v["first_step_share"][128])  # stopped after its first step
    assert v["wide_spread"] == {128: pytest.approx(20 / 320), 256: pytest.approx(20 / 320)}
    assert v["taper"][32] < -0.8 and set(v["taper"]) == {32}
    assert v["hourglass"] == {128: pytest.approx(30 / 20 - 1), 256: pytest.approx(15 / 10 - 1)}
    assert na.iterative_values(pd.DataFrame())["taper"] == {}


class _P:
    def __init__(self, P):
        self.P = np.asarray(P, dtype=float)

    def layer_projection(self):
        return self.P


def _arm_projections():
    """Arms 2 and 4, seeds 0 and 1, 2-layer networks; error = 0.1 * (1 + |a - b|) for naive maps,
    0.1 for balanced ones except that the map from the simpler arm costs 0.05 more."""
    rows, projections, keys = [], {}, {}
    agents = [(a, s) for a in (2, 4) for s in (0, 1)]
    for (a, s), (b, t) in [(x, y) for x in agents for y in agents]:
        kinds = ({} if (a, s) == (b, t) else {"same arm": 0.1} if a == b
                 else {"naive": 0.1 * (1 + abs(a - b)), "balanced": 0.1 + 0.05 * (a < b)})
        for kind, err in kinds.items():
            rows.append({"source→target": f"{a}→{b}", "inputs": kind, "source seed": s, "target seed": t,
                         "normalised error": err, "saturation": 0.3, "coverage": 0.8})
            P = [[0.8, 0.3], [0.2, 0.7]] if a == b else [[0.9, 0.6], [0.1, 0.4]]
            projections.setdefault((a, b, kind), []).append(_P(P))
            keys.setdefault((a, b, kind), []).append((s, t))
        if s == t:
            rows.append({"source→target": f"{a}→{b}", "inputs": "untrained source", "source seed": s,
                         "target seed": t, "normalised error": 0.5, "saturation": 0.3, "coverage": 0.6})
    m = pd.DataFrame(rows)
    return na.ArmProjections([2, 4], [0, 1], "balanced", m, pd.DataFrame(), projections, {}, keys)


def test_projection_claim_values_per_agent():
    v = na.projection_claim_values(_arm_projections())
    targets = [(2, 0), (2, 1), (4, 0), (4, 1)]
    assert sorted(v["untrained_gap"]) == targets
    # target (2, 0): same arm 0.5 - 0.1, from arm 4 (balanced) 0.5 - 0.1
    assert v["untrained_gap"][(2, 0)] == pytest.approx(0.4)
    assert v["naive_minus_balanced"][(2, 0)] == pytest.approx(0.3 - 0.1)  # from the 4-joint arm
    assert v["naive_minus_balanced"][(4, 0)] == pytest.approx(0.3 - 0.15)  # from the 2-joint arm
    assert v["joint_difference_slope"][(4, 1)] == pytest.approx(0.1)  # 0.1 at difference 0, 0.3 at 2
    assert v["complex_to_simple"][(2, 0)] == pytest.approx(0.05)
    assert v["complex_to_simple"][(4, 1)] == pytest.approx(0.05)
    assert v["diagonal"][(2, 0)] == pytest.approx(0.75 - 0.25)
    assert math.isnan(v["first_last"][(2, 0)])  # two layers have no inner layer
    assert v["distant_first_layer"][(4, 0)] == pytest.approx(0.75 - 0.55)


def test_technique_values_and_transfer_differences():
    pairs = pd.DataFrame([{"source": s, "target": t, "method": m, "normalised error (held out)": e}
                          for s, t, m, e in [("a", "b", "greedy", 0.4), ("a", "b", "linear", 0.3),
                                             ("c", "b", "greedy", 0.5), ("c", "b", "linear", 0.2),
                                             ("b", "a", "greedy", 0.3), ("b", "a", "linear", 0.35)]])
    v = na.technique_values(na.TechniqueComparison(3, pairs, pd.DataFrame()))
    assert v == {"a": pytest.approx(-0.05), "b": pytest.approx(0.2)}
    d = na.transfer_success_differences({2: ({"success": np.array([True, False, True])},
                                             {"success": np.array([True, True, False])})})
    assert d == {(2, 0): 0.0, (2, 1): 1.0, (2, 2): -1.0}


def test_xavier_random_network_and_dead_neurons():
    """The paper's reference network: Xavier uniform weights within sqrt(6 / (fan_in + fan_out)),
    zero biases; the default-init network differs. Live-neuron statistics drop dead neurons, and
    the all-neuron mean of a network with dead neurons is pulled down by their zero distances."""
    import torch

    from rlinside.agents.arm_dqn import ArmDQNConfig, build_q_network
    from rlinside.explain.activations import live_neurons

    cfg = ArmDQNConfig(n_joints=3, width=32)
    torch.manual_seed(0)
    x = build_q_network(cfg, init="xavier")
    torch.manual_seed(0)
    d = build_q_network(cfg)
    for lx, ld in zip(x.linears, d.linears):
        bound = math.sqrt(6 / (lx.in_features + lx.out_features))
        assert float(lx.weight.detach().abs().max()) <= bound and float(lx.bias.detach().abs().max()) == 0
        assert not torch.equal(lx.weight, ld.weight) and float(ld.bias.detach().abs().max()) > 0
    with pytest.raises(ValueError, match="init must be one of"):
        build_q_network(cfg, init="kaiming")

    rng = np.random.default_rng(1)
    live = [[rng.random((15, 3)), rng.random((15, 4))] for _ in range(4)]
    with_dead = [[np.c_[ep[0], np.zeros((15, 2))], ep[1]] for ep in live]  # two dead neurons in layer 1
    assert [m.tolist() for m in live_neurons(with_dead)] == [[True] * 3 + [False] * 2, [True] * 4]
    all_n = na.episode_distance_stats({"net": with_dead})
    live_n = na.episode_distance_stats({"net": with_dead}, live=True)
    same = na.episode_distance_stats({"net": live})
    np.testing.assert_allclose(live_n["mean"], same["mean"])
    row = na._distance_row(with_dead)
    assert row["dead neurons"] == 2 and row["dead in layer 1"] == 2 and row["dead in layer 2"] == 0
    assert row["mean distance (live)"] == pytest.approx(na._distance_row(live)["mean distance"])
    assert all_n["mean"].mean() != pytest.approx(live_n["mean"].mean())


def test_pruning_comparison_task_checks_its_config():
    with pytest.raises(ValueError, match="needs exactly"):
        na.pruning_comparison_task({"n_joints": 3, "width": 32, "tau": 0.2}, 0)
    base = {"n_joints": 3, "width": 32, "tau": 0.2, "retrain_budget": 0, "n_episodes": 5, "episode_seed": 11,
            "agent_max_episodes": 123, "baseline_seed": 0}
    with pytest.raises(ValueError, match="run sweeps/arm_pruning_agents.yml first"):
        na.pruning_comparison_task(base, 0)
    with pytest.raises(ValueError, match="tau must be in"):
        na.pruning_comparison_task({**base, "tau": 1.5}, 0)


@pytest.mark.slow
def test_pruning_comparison_task_on_a_shipped_agent():
    """Every method prunes to the cluster merge's sizes; the baselines keep that many neurons."""
    r = na.pruning_comparison_task({"n_joints": 3, "width": 32, "tau": 0.2, "retrain_budget": 0, "n_episodes": 20,
                                    "episode_seed": 11, "agent_max_episodes": 4000, "baseline_seed": 0}, 0)
    m = r["metrics"]
    assert m["neurons_after"] == int(r["arrays"]["sizes_after"].sum()) < m["neurons_before"]
    for k in ("cluster_merge", "low_activation", "random_live"):
        assert 0 <= m[f"{k}_accuracy_pruned"] <= 1 and m[f"{k}_retrain_episodes"] in (-1, 0)


def test_pruning_comparison_names_missing_agents_before_any_work(monkeypatch):
    from rlinside import store, sweep

    def no_work(*a, **k):  # the check must come first
        raise AssertionError("the sweep ran although an agent is missing")

    monkeypatch.setattr(sweep, "run_sweep", no_work)
    with pytest.raises(store.ArtifactError, match=r"sweeps/arm_pruning_agents.yml.*") as e:
        na.pruning_comparison(3, [32], [0, 998], [0.2], retrain_budget=0, n_episodes=5, episode_seed=11,
                              agent_max_episodes=4000)
    assert "(32, 998)" in str(e.value) and "(32, 0)" not in str(e.value)
    with pytest.raises(ValueError, match="tau must be in"):
        na.pruning_comparison(3, [32], [0], [1.5], retrain_budget=0, n_episodes=5, episode_seed=11,
                              agent_max_episodes=4000)


def test_pruning_comparison_reads_the_tasks_it_runs(tmp_path, monkeypatch):
    """The table holds one row per rule of each stored task, and a second call reads the store."""
    from rlinside import sweep

    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path))
    args = dict(retrain_budget=0, n_episodes=3, episode_seed=11, agent_max_episodes=4000)
    table = na.pruning_comparison(3, [32], [0], [0.0, 0.3], **args)
    assert len(table) == 2 * len(na.PRUNING_METHODS) and set(table["method"]) == set(na.PRUNING_METHODS)
    assert table.groupby("tau")["neurons_after"].nunique().eq(1).all()  # every rule at the merge's sizes
    assert set(table["retrain_episodes"].dropna()) <= {0}

    def no_work(fn, configs, seeds, **k):
        raise AssertionError("ran again")

    real = sweep._call
    monkeypatch.setattr(sweep, "_call", no_work)
    again = na.pruning_comparison(3, [32], [0], [0.0, 0.3], **args)
    monkeypatch.setattr(sweep, "_call", real)
    assert again.drop(columns=["sizes_after"]).equals(table.drop(columns=["sizes_after"]))
