"""The LSTM-contribution study (Lee et al. 2019) on small synthetic inputs, against independent
computations; the loops over episodes and policies with the rollouts replaced by stand-ins."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from rlinside.agents.maze_zoo import find_policies
from rlinside.envs.marble_maze import MarbleMazeConfig
from rlinside.explain.contribution import action_order, channel_actions, contributions, salient_channels
from rlinside.studies import lstm_contribution as study


def _tests(seed: int = 0, lengths: tuple[int, ...] = (150, 120), n_l: int = 6, n_a: int = 5):
    """Greedy read-out of random hidden states, with rings and ball positions."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n_a, n_l)).astype(np.float32)
    b = rng.normal(size=n_a).astype(np.float32)
    episodes = []
    for T in lengths:
        h = rng.normal(size=(T, n_l)).astype(np.float32)
        actions = (h @ W.T + b).argmax(1)
        c, r = contributions(W, h, actions)
        ring = np.sort(rng.integers(0, 5, T))[::-1]
        episodes.append({"h": h, "actions": actions, "c": c, "r": r, "mask": salient_channels(r), "ring": ring,
                         "ball_xy": rng.normal(size=(T, 2)), "success": bool(ring[-1] == 0)})
    mask = np.concatenate([e["mask"] for e in episodes])
    acts = np.concatenate([e["actions"] for e in episodes])
    table = channel_actions(mask, acts, n_a)
    return study.ContributionTests(MarbleMazeConfig(), episodes, W, b, mask, acts, table, action_order(table))


def test_snapshot_steps_are_the_first_step_in_each_ring():
    ring = np.array([4, 4, 3, 3, 3, 2, 1, 1, 0])
    assert study.snapshot_steps(ring).tolist() == [0, 2, 5, 6]
    assert study.snapshot_steps(ring, n=9).tolist() == [0, 2, 5, 6, 8]


def test_readout_ablation_matches_a_step_by_step_computation():
    t = _tests()
    flips = study.readout_ablation(t)
    assert list(flips.columns) == [1, 2, 4, 8]
    assert list(flips.index) == list(study.RANKINGS)
    h, a, W, b = t.concat("h"), t.actions, t.weight, t.bias

    def margin(ht, at):
        second = np.argsort(-(W @ ht + b))[1]
        return np.maximum(0, (W[at] - W[second]) * ht)

    for name, score in {"|activation|": lambda ht, at: np.abs(ht), "|weight|": lambda ht, at: np.abs(W[at]),
                        study.RANKINGS[1]: margin}.items():
        for k in (1, 2, 4, 8):
            changed = []
            for ht, at in zip(h, a):
                cut = ht.copy()
                cut[np.argsort(-score(ht, at))[:k]] = 0.0
                changed.append(int(np.argmax(W @ cut + b)) != at)
            assert flips.loc[name, k] == pytest.approx(np.mean(changed)), (name, k)
    # the top contributor matters more than a random channel
    assert flips.loc["contribution (activation x weight)", 1] > flips.loc["random", 1]
    removed = study.readout_score_removed(t)
    pos = np.maximum(0, W[a] * h)
    top2 = np.sort(pos, axis=1)[:, ::-1][:, :2].sum(1) / pos.sum(1)
    assert removed.loc["contribution (activation x weight)", 2] == pytest.approx(top2.mean())
    assert (removed.loc["contribution (activation x weight)"] >= removed.loc["random"] - 1e-12).all()
    assert removed.loc["contribution (activation x weight)", 8] == pytest.approx(1.0)  # 6 channels: all of it


def test_specialisation_counts_rings_per_channel():
    t = _tests()
    summary, ring_table = study.specialisation(t)
    assert summary["channels"] == 6
    assert summary["channels ever salient"] == int(t.mask.any(0).sum())
    assert summary["channels needed per step (mean)"] == pytest.approx(t.mask.sum(1).mean())
    rings = t.concat("ring")
    frequent = [j for j in range(6) if t.mask[:, j].sum() >= study.MIN_STEPS]
    assert ring_table["channel"].tolist() == frequent and frequent
    for row in ring_table.itertuples(index=False):
        on_rings = rings[t.mask[:, row.channel]]
        values, counts = np.unique(on_rings, return_counts=True)
        assert row[2] == values[counts.argmax()]  # main ring
        assert row[3] == pytest.approx(counts.max() / len(on_rings))  # share in main ring
        assert row[4] == pytest.approx(np.mean(rings == row[2]))  # baseline
    assert summary["median share in main ring (channels salient >= 20 steps)"] == pytest.approx(
        ring_table["share in main ring"].median())


def test_located_channels_rank_by_lift_and_spread():
    t = _tests()
    _, ring_table = study.specialisation(t)
    before = ring_table.copy()
    loc = study.located_channels(t, ring_table)
    pd.testing.assert_frame_equal(ring_table, before)  # the caller's table is left as it was
    lift = (ring_table["share in main ring"] / ring_table["baseline"]).to_numpy()
    assert loc.by_ring == ring_table["channel"].to_numpy()[np.argsort(-lift, kind="stable")][:2].tolist()
    xy = t.concat("ball_xy")
    spread = {j: np.hypot(*xy[t.mask[:, j]].std(0)) for j in ring_table["channel"]}
    assert loc.by_region == [j for j in sorted(spread, key=spread.get) if j not in loc.by_ring][:2]
    assert loc.chosen == loc.by_ring + loc.by_region and loc.xy.shape == (270, 2)


def test_offsets_by_ring_groups_by_the_ring_of_the_salient_step():
    episodes = [{"ring": np.array([3, 3, 2, 1])}, {"ring": np.array([2, 2, 1, 0])}]
    offsets = pd.DataFrame({"episode": [0, 0, 1, 1, 1], "t": [1, 3, 0, 1, 2], "offset": [0, 12, 4, 20, 30],
                            "distance_px": [30.0, 10.0, 25.0, 24.0, 12.0]})
    rho, by_ring = study.offsets_by_ring(episodes, offsets)
    assert "ring" not in offsets
    assert list(by_ring.columns) == ["offsets", "mean", "median", "share > 10 steps"]
    assert by_ring.index.tolist() == [1, 2, 3]
    assert by_ring.loc[1].tolist() == [2, 21.0, 21.0, 1.0]  # offsets 12 and 30
    assert by_ring.loc[2].tolist() == [2, 12.0, 12.0, 0.5]  # offsets 4 and 20
    assert by_ring.loc[3].tolist() == [1, 0.0, 0.0, 0.0]
    assert rho.statistic < 0  # longer offsets nearer the centre


def test_memory_test_table(monkeypatch):
    def ep(success, steps, final_ring):
        return {"success": success, "steps": steps, "final_ring": final_ring}

    fake = {True: [ep(True, 100, 0), ep(False, 900, 2), ep(True, 300, 0)],
            False: [ep(False, 900, 3), ep(False, 900, 1), ep(False, 900, 2)]}
    monkeypatch.setattr(study, "evaluate_maze", lambda net, cfg, n, memory=True: fake[memory][:n])
    table = study.memory_test(None, MarbleMazeConfig(), 3)
    assert table.index.tolist() == ["with memory", "without memory"]
    assert table["success"].tolist() == pytest.approx([2 / 3, 0.0])
    assert table.loc["with memory", "steps (successful episodes, median)"] == 200
    assert np.isnan(table.loc["without memory", "steps (successful episodes, median)"])
    assert table["innermost ring reached (median)"].tolist() == [0.0, 2.0]


def test_delay_table_reuses_the_base_and_delays_the_maze(monkeypatch):
    art = [a for a in find_policies() if not a.config.get("env", {}).get("obs_delay")][0]
    base = ([{"success": True}, {"success": False}], pd.DataFrame({"offset": [0, 2, 5]}))
    seen = []

    def fake_tests(model, env_config, n_tests, *, gate, theta_g):
        seen.append((env_config.obs_delay, n_tests, gate, theta_g))
        return [{"success": True}] * n_tests, pd.DataFrame({"offset": [env_config.obs_delay] * 4})

    monkeypatch.setattr(study, "offset_tests", fake_tests)
    table = study.delay_table(None, art, [0, 3], base, n_tests=2, gate="input", theta_g=0.4)
    assert seen == [(3, 2, "input", 0.4)]  # delay 0 is the base, not run again
    assert table.index.tolist() == [0, 3]
    assert table.loc[0].tolist() == pytest.approx([0.5, 3, 7 / 3, 2.0, 2 / 3])
    assert table.loc[3].tolist() == pytest.approx([1.0, 4, 3.0, 3.0, 1.0])
    assert list(table.columns) == ["success", "offsets", "mean offset", "median offset", "share of offsets > 0"]


def test_window_ablation_tables_and_the_seed_policies():
    import torch

    from rlinside.nets.maze import MazePolicy

    torch.manual_seed(0)
    net = MazePolicy(lstm_size=8).eval()
    cfg = MarbleMazeConfig(max_steps=20)
    episodes, crossings, by_window = study.window_ablation(net, cfg, [1, 3], 2)
    assert sorted(by_window) == [0, 1, 3] and len(episodes) == 3 * 2
    assert set(episodes.columns) == {"window", "episode", "success", "steps"}
    assert set(crossings["window"]) <= {0, 1, 3} and (crossings["wall"] == 4).any()
    summary = study.window_summary(episodes.assign(seed=7))
    assert list(summary.index.names) == ["seed", "window"] and (summary["n"] == 2).all()
    walls = study.window_crossings(crossings.assign(seed=7))
    assert (walls["reached"] >= 1).all() and walls["share crossed"].between(0, 1).all()
    with pytest.raises(ValueError, match="windows must be ints >= 1"):
        study.window_ablation(net, cfg, [0, 2], 1)
    seeds = [s for s, _, _ in study.seed_policies()]  # the shipped no-delay A2C policies, one per seed
    assert seeds == sorted(set(seeds)) and len(seeds) >= 3


def _brute_offsets(g, m, theta_g, reading):
    rows = []
    for j in range(g.shape[1]):
        t = 0
        while t < len(g):
            if g[t, j] <= theta_g:
                t += 1
                continue
            t0, found = t, False
            while t < len(g) and g[t, j] > theta_g:
                if m[t, j] and (reading == "each" or not found):
                    rows.append((j, t0, t, t - t0))
                    found = True
                t += 1
    return np.array(rows).reshape(-1, 4)


@pytest.mark.parametrize("reading", study.READINGS)
@pytest.mark.parametrize("censored", study.CENSORING)
def test_offset_readings_and_censoring_match_a_loop(reading, censored):
    rng = np.random.default_rng(4)
    g, m = rng.random((80, 6)), rng.random((80, 6)) > 0.7
    g[:5] = 0.9  # every gate open at the start: left-censored intervals exist
    o = study.first_salient_offsets(g, m, 0.5, reading=reading, censored=censored)
    want = _brute_offsets(g, m, 0.5, reading)
    if censored == "exclude":
        assert (want[:, 1] == 0).any()
        want = want[want[:, 1] > 0]
    np.testing.assert_array_equal(np.c_[o["channel"], o["t0"], o["t"], o["offset"]], want)
    with pytest.raises(ValueError, match="reading must be one of"):
        study.first_salient_offsets(g, m, reading="caption")


def test_offset_sensitivity_rows_follow_their_settings():
    rng = np.random.default_rng(5)
    eps = []
    for _ in range(6):
        T = 50
        r = rng.dirichlet(np.ones(8), size=T)
        eps.append({"output": rng.random((T, 8)), "input": rng.random((T, 8)), "forget": rng.random((T, 8)),
                    "r": r, "mask": r > 0.2, "ring": rng.integers(0, 5, T), "distance_px": rng.random(T) * 30})
    settings = [{}, {"gate": "forget"}, {"theta_c": 0.1}, {"reading": "each"}, {"censored": "exclude"}]
    table = study.offset_sensitivity(eps, settings, null_draws=20)
    assert len(table) == 5 and list(table["gate"]) == ["output", "forget", "output", "output", "output"]
    assert table.loc[2, "offsets"] > table.loc[0, "offsets"]  # a lower threshold: more salient steps
    assert table.loc[3, "offsets"] >= table.loc[0, "offsets"]  # every salient step, not only the first
    assert table.loc[4, "offsets"] <= table.loc[0, "offsets"]
    ok = table.dropna(subset=["positive share low"])
    assert (ok["positive share low"] <= ok["positive share"]).all()
    assert (ok["positive share"] <= ok["positive share high"]).all()
    with pytest.raises(ValueError, match="unknown offset setting"):
        study.offset_sensitivity(eps, [{"theta": 1}])
    with pytest.raises(ValueError, match="theta_c must be in"):
        study.salient_mask(eps[0], 1.5)


def test_known_lag_study_and_its_summary():
    nets, offs = study.known_lag_study([2, 3], [0], updates=30, episodes=3, gates=("output",))
    assert list(nets["lag"]) == [2, 3] and nets["accuracy"].between(0, 1).all()
    assert set(offs["gate"]) <= {"output"} and set(offs["seed"]) <= {0}
    summary = study.known_lag_summary(offs)
    for r in summary.itertuples():
        mine = offs[(offs["lag"] == r.lag) & (offs["gate"] == r.gate)]
        assert r.offsets == len(mine) and r.error == mine["offset"].median() - r.lag
    with pytest.raises(ValueError, match="report seeds"):
        study.known_lag_study([2], [20_000])
    with pytest.raises(ValueError, match="lags must be ints >= 1"):
        study.known_lag_study([0], [0])


def test_memory_claims_pair_full_memory_with_the_planted_window():
    eps = []
    for seed in (0, 1, 2):
        for e in range(4):
            eps += [{"condition": "no delay", "seed": seed, "episode": e, "window": 0, "success": 1.0},
                    {"condition": "delay 8", "seed": seed, "episode": e, "window": 0, "success": 1.0},
                    {"condition": "delay 8", "seed": seed, "episode": e, "window": 8, "success": float(e == 0)},
                    {"condition": "delay 8", "seed": seed, "episode": e, "window": 9, "success": 1.0}]
    memless = pd.DataFrame([{"condition": "no delay", "seed": s, "reached inner ring": 1.0, "last minus outer": 5.0,
                             "last crossed": True} for s in (0, 1, 2)])
    measured = {m.claim: m for m in study.memory_claims(pd.DataFrame(eps), memless, planted_delay=8, profile="t")}
    needs = measured["lstm_contribution.delayed_policy_needs_memory"]
    assert needs.n == 12 and needs.estimate == pytest.approx(0.75) and needs.scale["seeds"] == 3
    assert needs.details["window 9"] == 1.0
    assert measured["lstm_contribution.memoryless_reaches_inner_ring"].n == 3
    # a seed whose episodes never reach ring 1 gives no time: the scale counts what gives values
    memless.loc[2, ["reached inner ring", "last minus outer", "last crossed"]] = [0.0, np.nan, False]
    measured = {m.claim: m for m in study.memory_claims(pd.DataFrame(eps), memless, planted_delay=8, profile="t")}
    slower = measured["lstm_contribution.memoryless_last_gate_slower"]
    assert slower.n == 2 and slower.scale["episodes"] == 2 and slower.scale["seeds"] == 2
    assert slower.details["episodes tested"] == 3 and slower.details["of them, wall 1 crossed"] == 2
    assert measured["lstm_contribution.memoryless_reaches_inner_ring"].scale["seeds"] == 3


def test_ring_permutation_keeps_each_channels_salience_per_ring():
    rng = np.random.default_rng(7)
    ring = np.repeat([4, 3, 2, 1], 25)
    mask = rng.random((100, 5)) > 0.7
    out = study.ring_permute_mask(mask, ring, np.random.default_rng(0))
    for r in (1, 2, 3, 4):
        np.testing.assert_array_equal(out[ring == r].sum(0), mask[ring == r].sum(0))
    assert not np.array_equal(out, mask)
    eps = [{"mask": mask, "ring": ring, "output": rng.random((100, 5)), "distance_px": rng.random(100)}]
    null = study.ring_permutation_null(eps, lambda ep, m: {"n": float(m.sum())}, n_draws=3)
    assert null["n"].shape == (3, 1) and (null["n"] == mask.sum()).all()


def test_readout_over_seeds_pools_episode_means_of_every_seed():
    by_seed = {0: _tests(0, (40, 60)), 1: _tests(1, (50,))}
    table = study.readout_over_seeds(by_seed, ks=(1, 2))
    assert table.loc[("action changed", "|weight|", 2), "n"] == 3  # three episodes over two seeds
    values = [study.readout_flips(t, k=2)["|weight|"].tolist() for t in by_seed.values()]
    assert table.loc[("action changed", "|weight|", 2), "mean"] == pytest.approx(np.mean(sum(values, [])))
    low, high = table.loc[("action changed", "|weight|", 2), ["low", "high"]]
    assert low <= table.loc[("action changed", "|weight|", 2), "mean"] <= high
    # one seed's one episode: the score removed equals the pooled measure of that seed
    single = study.readout_over_seeds({1: by_seed[1]}, ks=(2,))
    assert single.loc[("score removed", study.RANKINGS[0], 2), "mean"] == pytest.approx(
        study.readout_score_removed(by_seed[1], ks=(2,)).loc[study.RANKINGS[0], 2])


def test_contribution_claims_pool_the_seeds_episodes():
    by_seed = {0: _tests(0, (40, 60)), 1: _tests(1, (50,))}
    summary, _ = study.specialisation(by_seed[0])
    measured = study.contribution_claims(by_seed[0], summary, None, null_draws=5, profile="smoke", by_seed=by_seed)
    m = {x.claim: x for x in measured}
    sparse = m["lstm_contribution.sparse_on_average"]
    assert sparse.scale["seeds"] == 2 and sparse.scale["episodes"] == 3
    expected = [e["mask"].sum(1).mean() / 6 for t in by_seed.values() for e in t.episodes]
    assert sparse.estimate == pytest.approx(np.mean(expected))
    assert set(sparse.details["by seed"]) == {"seed 0", "seed 1"}
    alone = {x.claim: x for x in study.contribution_claims(by_seed[0], summary, None, null_draws=5, profile="smoke")}
    assert alone["lstm_contribution.sparse_on_average"].scale["seeds"] == 1


def test_seed_memory_tests_pool_the_seeds(monkeypatch):
    from types import SimpleNamespace

    arts = [SimpleNamespace(key=f"k{s}", config={}) for s in range(3)]
    monkeypatch.setattr(study, "seed_policies", lambda delay: [(s, f"net{s}", arts[s]) for s in range(3)])
    monkeypatch.setattr(study, "policy_config", lambda art: SimpleNamespace(env_config=lambda: None))
    # seed s succeeds on the first s + 1 of 4 episodes with memory, never without
    monkeypatch.setattr(study, "evaluate_maze", lambda net, env, n, memory=True: [
        {"success": memory and i <= int(net[-1])} for i in range(n)])
    table = study.seed_memory_tests(4, 2)
    assert table.loc[(0, "with memory"), "success"] == 0.25 and table.loc[(1, "with memory"), "success"] == 0.5
    assert table.loc[("all", "with memory"), "success"] == 0.375
    assert table.loc[("all", "with memory"), "episodes"] == 8
    assert table.loc[("all", "without memory"), "success"] == 0.0
    lo, hi = table.loc[("all", "with memory"), ["low", "high"]]
    assert lo < 0.375 < hi
    with pytest.raises(ValueError, match="4 training seeds"):
        study.seed_memory_tests(4, 4)


def test_action_shift_null_keeps_what_the_readout_weights_impose():
    # each channel has a positive weight to exactly one action and positive activations: it can
    # only ever be salient for that action, whenever the actions are taken, so the null stays pure
    n_l, n_a, T = 6, 3, 80
    rng = np.random.default_rng(0)
    W = -np.ones((n_a, n_l), np.float32)
    W[np.arange(n_l) % n_a, np.arange(n_l)] = 1.0
    h = rng.uniform(0.1, 1.0, (T, n_l)).astype(np.float32)
    actions = rng.integers(0, n_a, T)
    _, r = contributions(W, h, actions)
    ep = {"h": h, "actions": actions, "r": r, "mask": salient_channels(r), "ring": np.full(T, 2)}
    t = study.ContributionTests(MarbleMazeConfig(), [ep], W, np.zeros(n_a, np.float32), ep["mask"], actions,
                                None, None)
    stat = partial(study.mask_statistics, n_rings=4, n_actions=n_a, min_steps=5)
    assert stat(ep, ep["mask"])["pure share"] == 1.0
    null = study.action_shift_null({0: t}, stat, n_draws=4)
    assert null["pure share"].shape == (4, 1) and (null["pure share"] == 1.0).all()
    shifted = study.time_shift_null([ep], stat, n_draws=4)["pure share"]  # the time-shift null breaks it
    assert (shifted < 1.0).all()
