"""The saliency study's loops (the notebooks' measurements) on small untrained networks and
random observations: shapes, labels and the invariants each table must keep. No Atari
emulator and no shipped agent is needed."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from rlinside.explain.saliency import COARSE, METHOD_NAMES
from rlinside.nets.atari import DuelingQNetwork
from rlinside.nets.attention import RecurrentAttentionQNetwork
from rlinside.studies import saliency as study


def _obs(t: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(t, c, 84, 84), dtype=np.uint8)


_GAME = itertools.count(1)


def _played(agent: str, net, t: int = 6, channels: int = 4, states=None, screen=None) -> study.Played:
    """A played game; its screens differ from every other call's (a running number in their first
    two bytes) unless ``screen`` (a fill value) repeats."""
    art = SimpleNamespace(config={"agent": agent, "game": "Breakout", "stage": "final", "step": 100})
    frames = np.full((t, 210, 160, 3), 0 if screen is None else screen, dtype=np.uint8)
    if screen is None:
        frames[:, 0, 0, :2] = divmod(next(_GAME), 256)
    return study.Played(art, net, _obs(t, channels), frames, np.arange(t) % 4, states or [None] * t)


@pytest.fixture(scope="module")
def dueling():
    torch.manual_seed(0)
    return DuelingQNetwork(n_actions=4, in_channels=4).eval()


@pytest.fixture(scope="module")
def drqn():
    torch.manual_seed(1)
    return RecurrentAttentionQNetwork(n_actions=4, in_channels=1, lstm_size=16, attention_size=8, hidden=16).eval()


def test_every_and_labels():
    assert list(study.every(3, 5)) == [4, 9, 14]
    assert list(study.every(3, 5, first=9)) == [9, 14]
    assert study.label("dddqn") == "DDDQN"
    art = SimpleNamespace(config={"agent": "a2c", "stage": "early"})
    assert study.checkpoint_label(art) == "A2C (early only)"
    assert study.has_streams("dddqn") and not study.has_streams("drqn") and not study.has_streams("a2c")


def test_departure_steps_and_the_learning_first_ratio():
    """On a synthetic run whose Grad-CAM curve leaves its start at step 10 and whose return only
    at step 30, the departure steps, their bootstrap intervals and the ratio say so."""
    rng = np.random.default_rng(0)
    steps = [0, 10, 20, 30, 40]
    rows = []
    for state in range(30):
        for step in steps:
            for method, at in (("Grad-CAM", 10), ("Gradient", 30)):
                rows.append({"step": step, "state": state, "method": method, "object": "all",
                             "enrichment": 1.0 + 2.0 * (step >= at) + 0.1 * rng.standard_normal(),
                             "train_return": float(step >= 30)})
    table = pd.DataFrame(rows)
    games = pd.DataFrame({"step": np.repeat(np.arange(1, 41), 5),
                          "return": np.repeat((np.arange(1, 41) >= 25) * 10.0, 5) + rng.standard_normal(200)})
    dep = study.departure_steps(table, games, fraction=0.25, window=10, n_boot=200)
    assert list(dep.index) == ["Gradient", "Grad-CAM", "training return"]
    assert dep.loc["Grad-CAM", "step"] == 10 and dep.loc["Gradient", "step"] == 30
    assert dep.loc["training return", "step"] == 30
    assert dep.loc["Grad-CAM", "low"] == dep.loc["Grad-CAM", "high"] == 10  # a clean jump: no doubt
    r = study.learning_first_ratio(dep, "Grad-CAM")
    assert r["ratio"] == 3 and r["low"] <= 3 <= r["high"] and r["rule"] == "departure steps"
    assert dep["moved"].map(bool).all()
    # a map that never moves shows no learning (ratio 0); a return that never moves leaves no ratio
    flat = table.assign(enrichment=np.where(table.method == "Grad-CAM", 1.0 + 0.1 * rng.standard_normal(len(table)),
                                            table.enrichment))
    assert study.learning_first_ratio(study.departure_steps(flat, games, window=10, n_boot=200),
                                      "Grad-CAM")["ratio"] == 0
    still = games.assign(**{"return": rng.standard_normal(len(games))})
    assert np.isnan(study.learning_first_ratio(study.departure_steps(table, still, window=10, n_boot=200),
                                               "Grad-CAM")["ratio"])
    no_games = study.departure_steps(table, None, n_boot=50)
    assert no_games.loc["training return", "step"] == 30 and np.isnan(no_games.loc["training return", "low"])
    untested = study.learning_first_ratio(no_games, "Grad-CAM")  # whether the return moved is unknown: no ratio
    assert np.isnan(untested["ratio"]) and np.isnan(untested["low"]) and "not tested" in untested["rule"]
    # a map that moves clearly, but down (off the objects), shows no learning first: ratio 0
    down = table.assign(enrichment=np.where(table.method == "Grad-CAM", 4.0 - table.enrichment, table.enrichment))
    fell = study.learning_first_ratio(study.departure_steps(down, games, window=10, n_boot=200), "Grad-CAM")
    assert fell["ratio"] == 0 and fell["rule"] == "the map moved down"
    with pytest.raises(ValueError, match="fraction"):
        study.rise_step(pd.Series([0.0, 1.0]), 1.0)
    # a curve that crosses the mark and falls back departs only from where it stays
    assert study.rise_step(pd.Series([0.0, 1, 0, 1, 1], index=[0, 10, 20, 30, 40]), 0.5) == 30


def test_half_rise_step():
    assert study.half_rise_step(pd.Series([0.0, 1, 2, 3, 4], index=[0, 10, 20, 30, 40])) == 20
    assert study.half_rise_step(pd.Series([4.0, 4, 1, 0], index=[0, 10, 20, 30])) == 20
    assert np.isnan(study.half_rise_step(pd.Series([1.0, np.nan], index=[0, 10])))


def test_heads_layers_and_past_frames(dueling):
    p = _played("dddqn", dueling)
    assert p.name == "DDDQN Breakout"
    rows = study.head_maps([p], 2)
    assert [r.label.split("\n")[1] for r in rows] == list(study.heads("dddqn", 2))
    for r in rows:
        assert list(r.maps) == list(METHOD_NAMES)
        assert all(m.shape == (84, 84) and np.abs(m).max() <= 1 + 1e-6 for m in r.maps.values())

    corr = study.head_correlations([p], 2, 2)
    assert len(corr) == 3 and (corr["count"] == 2).all() and (corr["mean"].abs() <= 1).all()

    layer_rows, stats = study.layer_maps([p], 2)
    assert list(layer_rows[0].maps) == [f"{m}\n{c}" for c in study.CONVS for m in COARSE]
    assert stats.shape == (1, len(study.CONVS) * len(COARSE))
    finite = stats.to_numpy()[np.isfinite(stats.to_numpy())]
    assert ((finite >= 0) & (finite <= 1)).all()

    frame_rows, shares = study.past_frame_saliency([p], 3, 2, history=10)
    assert set(frame_rows[0].maps) == {"t", "t-1", "t-2", "t-3"}  # 4 stacked frames: no t-9
    assert list(shares.columns) == [0, 1, 2, 3]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)  # the shares of each state sum to one


def test_attention_only_for_networks_that_have_it(dueling, drqn):
    assert study.has_attention(drqn) and not study.has_attention(dueling)
    state = drqn(torch.from_numpy(_obs(1, 1, seed=2)))[1]
    p = _played("drqn", drqn, channels=1, states=[state] * 6)
    rows, table = study.attention_maps([_played("dddqn", dueling), p], 1, 2, 2)
    assert [r.label for r in rows] == ["Recurrent attention DQN Breakout (final)"]
    assert len(rows[0].maps) == 5 and all(np.abs(m).max() <= 1 + 1e-6 for m in rows[0].maps.values())
    assert list(table.columns) == ["Recurrent attention DQN Breakout (final)"]
    assert "rho value att vs value saliency" in table.index
    grads = study.attention_gradients([p], 2, 2)
    assert len(grads) == 7 and (grads["gradient norm"] > 0).any()
    assert all(q.grad is None for q in drqn.parameters())  # the study leaves no gradient behind
    assert study.attention_gradients([_played("dddqn", dueling)], 2, 2).empty


def test_sanity_checks(dueling):
    x = torch.from_numpy(_obs(2, 4, seed=3))
    a = study.SanityAgent("dddqn", "DDDQN Breakout", dueling, x, np.zeros((2, 210, 160, 3), dtype=np.uint8),
                          dueling(x.float()).argmax(1))
    maps = study.newest_maps(dueling, a.x, a.actions)
    assert list(maps) == list(METHOD_NAMES) and all(m.shape == (2, 84, 84) for m in maps.values())

    cascade, examples = study.cascading_study([a])
    n_layers = cascade.step.max()
    assert len(cascade) == n_layers * len(METHOD_NAMES) * 2
    assert [r.label for r in examples["DDDQN Breakout"]][0] == "trained"
    assert [r.label for r in examples["DDDQN Breakout"]][1:] == ["up to torso.conv2", "up to torso.conv1"]
    fully = study.fully_randomized(cascade)
    assert list(fully.index) == list(METHOD_NAMES) and fully.shape[1] == 2
    assert study.fully_randomized(pd.DataFrame()).empty

    edges = study.edge_correlation([a])
    assert list(edges.index) == list(METHOD_NAMES)
    assert list(edges.columns) == [("DDDQN Breakout", "all layers random"), ("DDDQN Breakout", "trained")]

    pert, pert_rows = study.perturbation_agreement([a], stride=28)
    assert list(pert.index) == list(METHOD_NAMES) and len(pert_rows) == 1
    assert pert_rows[0].maps["perturbation"].max() <= 1 + 1e-6

    disc = study.action_discrimination([a])
    finite = disc.to_numpy()[np.isfinite(disc.to_numpy())]
    assert list(disc.index) == list(METHOD_NAMES) and (np.abs(finite) <= 1 + 1e-9).all()


def test_empty_zoo_gives_empty_tables():
    assert study.early_final_enrichment({}, {}, 2, 2).empty
    assert study.layer_maps([], 0)[1].empty and study.past_frame_saliency([], 2, 2, 4)[1].empty
    assert study.attention_maps([], 0, 2, 2)[1].empty and study.head_correlations([], 2, 2).empty


def test_gate_flags_a_blind_agent_and_greys_its_maps(dueling):
    """An agent whose output ignores its input fails the gate; its rows are flagged, drawn
    greyed, and :func:`sensitive` drops it, while a working network passes."""
    import matplotlib.pyplot as plt

    from rlinside.plots.saliency import gallery_of_rows

    blind = DuelingQNetwork(n_actions=4, in_channels=4).eval()
    with torch.no_grad():
        blind.torso.conv1.weight.zero_()  # the torso now outputs its bias whatever the input
    good, bad = _played("dddqn", dueling, t=8), _played("dddqn", blind, t=8)
    for p in (good, bad):
        p.gate = study.agent_gate(p, n_states=8)
    assert good.gate.passed and not good.insensitive
    assert not bad.gate.passed and bad.insensitive and bad.gate.grad_max == 0
    assert study.sensitive([good, bad]) == [good]
    table = study.gate_rows([good, bad])
    assert list(table["gate"].str.startswith("FAILED")) == [False, True]
    rows = study.head_maps([good, bad], 2)
    assert [r.insensitive for r in rows] == [False] * (len(rows) // 2) + [True] * (len(rows) // 2)
    fig = gallery_of_rows(rows)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("agent insensitive\nto input") == len(rows[0].maps) * (len(rows) // 2)
    plt.close(fig)
    assert study.gate_distribution("a2c") == "softmax" and study.gate_distribution("dddqn") == "greedy"


def test_tables_pool_the_gated_agents_of_every_game(dueling, drqn):
    """:func:`over_games` and the pooled tables count every game's states, and never an agent
    that failed the gate (its gallery row is still drawn, greyed)."""
    from rlinside.explain.gate import GateResult

    state = drqn(torch.from_numpy(_obs(1, 1, seed=2)))[1]
    games = []
    for _g in range(3):
        ok = _played("dddqn", dueling, t=8)
        blind = _played("a2c", dueling, t=8)
        blind.gate = GateResult(n_states=2, grad_max=0.0, grad_median=0.0, fd_rel_error=float("nan"),
                                shuffle_change=0.0, blank_change=0.0, passed=False, reason="blind")
        att = _played("drqn", drqn, t=8, channels=1, states=[state] * 8)
        games.append([ok, blind, att])
    heads = study.over_games(study.head_correlations, games, 3, 2, per_state=True)
    assert set(heads["episode"]) == {0, 1, 2} and "A2C Breakout" not in set(heads["agent"])
    assert len(heads[heads["agent"] == "DDDQN Breakout"]) == 3 * 3 * 3  # 3 games x 3 states x 3 pairs

    rows, long, table = study.past_frames_over_games(games, 3, 2, history=4)
    assert [r.insensitive for r in rows] == [False, True, False]  # the blind agent's row is drawn, greyed
    assert "A2C Breakout" not in set(long["agent"])
    assert (table.loc[("DDDQN Breakout", 0), "n"]) == 3 * 2  # 4 stacked frames: states 3 and 5 of each game
    assert (table["low"] <= table["mean"] + 1e-12).all() and (table["mean"] <= table["high"] + 1e-12).all()

    att_rows, att_table = study.attention_over_games(games, 1, 3, 2)
    assert len(att_rows) == 1 and set(att_table.columns) == {"mean", "low", "high", "n"}
    counts = att_table.xs("Recurrent attention DQN Breakout (final)", level="agent")["n"]
    assert counts["rho value att vs value saliency"] == 9 and counts["conv3 features, mean"] == 9
    # as play_games plays them: the first game runs on to the example state, the others are shorter
    longer = [[_played("drqn", drqn, t=12, channels=1, states=[state] * 12)]] + [g[2:] for g in games[1:]]
    att_rows, att_table = study.attention_over_games(longer, 10, 3, 2)
    assert len(att_rows) == 1 and att_table.xs("Recurrent attention DQN Breakout (final)", level="agent")[
        "n"]["conv3 features, mean"] == 9

    measured = study.streams_layers_claims(games, 3, 2, "smoke")
    assert [m.claim for m in measured][:2] == ["saliency.streams_differ", "saliency.deep_gradcam_blurred"]
    assert measured[2].n == 0  # no past-frame table given: the frame-sign claim has no values
    assert measured[3].claim == "saliency.actor_maps_fainter" and measured[3].n == 0  # the only A2C is blind
    assert "log10 size ratio" in heads.columns and heads["log10 size ratio"].notna().all()
    assert measured[0].n == 2 * 3 * 3 and measured[0].scale["games"] == 3


def test_a_repeated_game_is_one_sample(dueling):
    """Two evaluation games an agent played alike (the same screens over their common length)
    are one game's states: :func:`over_games` counts them once, per agent."""
    first = _played("dddqn", dueling, t=10, screen=7)
    assert study.repeats(first.frames[:6], [first.frames]) and study.repeats(first.frames, [first.frames[:6]])
    assert not study.repeats(first.frames, []) and not study.repeats(_played("dddqn", dueling).frames, [first.frames])
    games = [[first], [_played("dddqn", dueling, t=6, screen=7)], [_played("dddqn", dueling, t=6)]]
    assert [len(g) for g in study.distinct_games(games)] == [1, 0, 1]
    heads = study.over_games(study.head_correlations, games, 3, 2, per_state=True)
    assert set(heads["episode"]) == {0, 2} and len(heads) == 2 * 3 * 3  # 2 games x 3 states x 3 pairs


def test_play_distinct_replaces_a_repeated_game_or_leaves_it_out(monkeypatch):
    """The next seed replaces a game that repeats an earlier one; after MAX_REPEATS + 1 repeats
    in a row the game is left out (None), and ``played`` keeps only the games used."""
    from rlinside.agents import zoo

    screens = {3: 9, 8: 5}  # seeds 3 and 8 play games of their own; every other seed plays seed 0's
    monkeypatch.setattr(zoo, "play_states", lambda agent, net, game, steps, seed: (
        None, np.full((steps, 2, 2, 3), screens.get(seed, 1), dtype=np.uint8), None))
    played = [np.full((4, 2, 2, 3), 1, dtype=np.uint8)]
    g, out = study.play_distinct("dddqn", None, "Breakout", 4, 1, played)
    assert g == 3 and out is not None and len(played) == 2  # seeds 1 and 2 repeat seed 0's game
    g, out = study.play_distinct("dddqn", None, "Breakout", 4, 9, played)
    assert out is None and g == 9 + study.MAX_REPEATS and len(played) == 2  # 9..14 all repeat: left out


def test_frame_sign_values_take_newest_minus_oldest_for_the_dddqns():
    rows = []
    for agent in ("DDDQN Breakout", "A2C Breakout"):
        for state in (4, 9):
            for lag in range(4 if agent.startswith("DDDQN") else 3):
                rows.append({"agent": agent, "episode": 0, "state": state, "lag": lag, "share": 0.25,
                             "signed": 0.3 - 0.1 * lag + (0.01 if state == 9 else 0.0)})
    v = study.frame_sign_values(pd.DataFrame(rows))
    assert len(v) == 2 and np.allclose(v.to_numpy(), 0.3)  # lag 0 (newest) minus lag 3 (oldest)
    assert np.allclose(study.frame_sign_values(pd.DataFrame(rows), "A2C ").to_numpy(), 0.2)
    assert study.frame_sign_values(pd.DataFrame()).empty


def test_moments_are_picked_by_rule():
    """Figures 29-32's moments: the step with the most divers in the sea, and the step whose
    oxygen bar has the fewest pixels but some (an empty bar has nothing to find)."""
    from rlinside.envs.atari_objects import SEA_ROWS, SEAQUEST_DIVER, SEAQUEST_OXYGEN

    frames = np.zeros((4, 210, 160, 3), dtype=np.uint8)
    row = SEA_ROWS[0] + 10
    frames[1, row, 20:25] = SEAQUEST_DIVER
    frames[2, row, 20:30] = SEAQUEST_DIVER
    frames[0, 170, 40:60] = SEAQUEST_OXYGEN
    frames[1, 170, 40:43] = SEAQUEST_OXYGEN
    frames[3, 170, 40:43] = SEAQUEST_OXYGEN
    assert study.pick_moments(frames) == {"most divers in the sea": 2, "least oxygen left": 1}
    assert study.pick_moments(np.zeros((2, 210, 160, 3), dtype=np.uint8)) == {}
    with pytest.raises(ValueError, match="Seaquest"):
        study.pick_moments(frames, "Breakout")


def test_early_final_pairs_take_the_paper_rule_early_network(monkeypatch):
    """The recurrent attention DQN's early network is the slow-exploration variant's when it is
    shipped (Figures 43-48's rule), the zoo's otherwise; every family with both stages pairs up."""
    def art(agent, game, stage, step, decay=150_000):
        return SimpleNamespace(config={"agent": agent, "game": game, "stage": stage, "step": step, "train_config": {
            "epsilon_start": 1.0, "epsilon_end": 0.01, "epsilon_decay_steps": decay}})

    zoo = [art("drqn", "Seaquest", "early", 250_000), art("drqn", "Seaquest", "final", 550_000),
           art("dddqn", "Breakout", "early", 250_000)]
    slow = art("drqn", "Seaquest", "early", 250_000, decay=1_000_000)
    monkeypatch.setattr(study, "chapter_agents", lambda: zoo)
    monkeypatch.setattr(study, "find_agents", lambda *a, **k: [])
    pairs = study.early_final_pairs()
    assert list(pairs) == [("drqn", "Seaquest")] and pairs["drqn", "Seaquest"]["early"] is zoo[0]
    assert study.stage_label(zoo[0]) == "early: 250,000 steps, ε 0.01"
    monkeypatch.setattr(study, "find_agents", lambda *a, **k: [slow] if k == {"epsilon_decay_steps": 1_000_000} else [])
    pairs = study.early_final_pairs()
    assert pairs["drqn", "Seaquest"]["early"] is slow
    assert study.stage_label(slow) == "early: 250,000 steps, ε 0.75"
    assert study.exploration_at(SimpleNamespace(config={"step": 5, "train_config": {"seed": 0}})) is None
