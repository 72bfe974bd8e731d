"""The agent zoo: ship a (tiny) trained agent, find it, load it, play it; shipped agents verify."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rlinside import store
from rlinside.agents.a2c import A2CConfig, export_a2c_weights, train_a2c
from rlinside.agents.zoo import (
    AGENTS,
    Policy,
    find_agents,
    load_agent,
    most_trained,
    play_frames,
    play_states,
    random_scores,
    read_metrics,
    select_snapshot,
    selection_rows,
    ship_agent,
    summary_rows,
)


@pytest.fixture()
def roots(tmp_path, monkeypatch):
    monkeypatch.setenv("RLINSIDE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RLINSIDE_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_ship_find_load_play(roots, monkeypatch):
    run = roots / "run"
    config = A2CConfig(game="Breakout", total_steps=480, n_envs=4, checkpoint_every=10**6,
                       snapshot_steps=(160,))
    train_a2c(config, run, progress=False)
    export_a2c_weights(run, run / "weights_final_fp16.pt")
    with pytest.raises(store.ArtifactError, match="train_atari.py --game Breakout --agent a2c"):
        load_agent("a2c", "Breakout")
    early = ship_agent(run, "a2c", "early", episodes=2)
    final = ship_agent(run, "a2c", "final", episodes=2)
    assert early.config["step"] == 160 and final.config["step"] == 480
    ev = json.loads(final.file("eval.json").read_text())
    assert len(ev["scores"]) == 2 and ev["mean"] == pytest.approx(np.mean(ev["scores"]))
    assert final.manifest["metrics"]["random_mean"] == pytest.approx(np.mean(ev["random_scores"]))
    # the early artifact's training log stops at its step
    cols = read_metrics(early.file("metrics.csv"))
    assert not cols or cols["step"].max() <= 160
    assert [a.config["stage"] for a in find_agents("a2c", "Breakout")] == ["early", "final"]
    assert [a.key for a in most_trained()] == [final.key]
    net, art = load_agent("a2c", "Breakout", "final")
    assert art.key == final.key and net.policy.weight.dtype == torch.float32
    frames, scores, actions = play_frames("a2c", net, "Breakout", steps=30)
    assert len(frames) == 30 and frames[0].shape == (210, 160, 3) and len(actions) == 30
    assert np.all(np.diff(scores) >= 0)
    rows = summary_rows(find_agents())
    assert [r["stage"] for r in rows] == ["early", "final"] and rows[1]["games"] == 2
    with pytest.raises(ValueError, match="stage must be one of"):
        ship_agent(run, "a2c", "middle")
    # choosing the final weights on validation games: every candidate scored, best mean wins
    path, record = select_snapshot("a2c", run, from_step=100, episodes=1, seed=1)
    assert [c["step"] for c in record["candidates"]] == [160, 480]
    best = max(record["candidates"], key=lambda c: (c["validation_mean"], c["step"]))
    assert record["chosen_step"] == best["step"] and record["seed"] == 1
    assert path.name == record["candidates"][[160, 480].index(record["chosen_step"])]["file"]
    # a cache of validation scores: reused as long as weights, seed, games and code match
    cache = roots / "selection_cache.json"
    first = select_snapshot("a2c", run, from_step=100, episodes=1, seed=1, cache=cache)[1]
    assert first == record and len(json.loads(cache.read_text())) == 2

    def no_evaluation(*args, **kwargs):
        raise AssertionError("played a game although its score was cached")

    import rlinside.agents.zoo as zoo

    with monkeypatch.context() as patch:
        patch.setattr(zoo, "evaluate_agent", no_evaluation)
        assert select_snapshot("a2c", run, from_step=100, episodes=1, seed=1, cache=cache)[1] == record
        with pytest.raises(AssertionError, match="cached"):  # other games: measured again
            select_snapshot("a2c", run, from_step=100, episodes=1, seed=2, cache=cache)
    single, only = select_snapshot("a2c", run, from_step=200, episodes=1, seed=1)
    assert single.name == "weights_final_fp16.pt" and only["chosen_step"] == 480
    assert record["rule"].endswith("from step 100 on and the last weights")
    with pytest.raises(FileNotFoundError, match="no weights_step"):
        select_snapshot("a2c", roots, from_step=0)
    with pytest.raises(ValueError, match="must differ from the evaluation seed"):
        ship_agent(run, "a2c", "final", weights=path, episodes=2, seed=1, selection=record)
    chosen = ship_agent(run, "a2c", "final", weights=path, episodes=2, seed=0, selection=record)
    assert json.loads(chosen.file("eval.json").read_text())["selection"]["chosen_step"] == record["chosen_step"]
    sel = selection_rows(find_agents("a2c", "Breakout"))
    assert [r["candidate step"] for r in sel] == [160, 480]
    assert [r["chosen"] for r in sel] == [c["file"] == path.name for c in record["candidates"]]
    weights = {r["key"]: r["weights"] for r in summary_rows(find_agents("a2c", "Breakout"))}
    assert weights[chosen.key].startswith("best of 2 on validation games (seed 1)")
    assert weights[early.key] == "early snapshot"
    with pytest.raises(ValueError, match="agent must be one of"):
        Policy("ppo", net)


def test_random_scores_are_reproducible():
    a = random_scores("Breakout", 2, seed=0)
    assert np.array_equal(a, random_scores("Breakout", 2, seed=0))
    assert (a >= 0).all()


def test_every_shipped_agent_loads_and_verifies():
    """Checksums of every shipped atari-agent artifact, and each loads into its network."""
    for _, path in store.iter_artifacts("atari-agent"):
        art = store.verify(path)
        agent = art.config["agent"]
        assert agent in AGENTS
        net, art2 = load_agent(agent, art.config["game"], art.config["stage"], device=torch.device("cpu"))
        x = torch.zeros(1, net.torso.in_channels, 84, 84, dtype=torch.uint8)
        Policy(agent, net).act(x[0].numpy())
        assert art.manifest["metrics"]["eval_episodes"] >= 10


def test_policy_acts_for_every_agent_kind():
    from rlinside.nets.atari import DuelingQNetwork
    from rlinside.nets.attention import RecurrentAttentionQNetwork
    from rlinside.nets.recurrent import ActorCritic

    nets = {"dddqn": DuelingQNetwork(5, in_channels=4), "drqn": RecurrentAttentionQNetwork(5),
            "a2c": ActorCritic(5, in_channels=3), "a2c-lstm": ActorCritic(5, in_channels=1, lstm_size=16)}
    for agent, net in nets.items():
        policy = Policy(agent, net, epsilon=0.0)
        obs = np.random.default_rng(0).integers(0, 256, (net.torso.in_channels, 84, 84), dtype=np.uint8)
        actions = [policy.act(obs) for _ in range(3)]
        assert all(0 <= a < 5 for a in actions)
        if agent in ("drqn", "a2c-lstm"):
            assert policy.state is not None
            policy.reset()
            assert policy.state is None


def test_play_states_returns_the_carried_recurrent_state():
    from rlinside.nets.recurrent import ActorCritic

    torch.manual_seed(0)
    net = ActorCritic(4, in_channels=1, lstm_size=8).eval()
    obs, frames, actions, states = play_states("a2c-lstm", net, "Breakout", steps=5, return_states=True)
    assert obs.shape == (5, 1, 84, 84) and frames.shape == (5, 210, 160, 3) and len(states) == 5
    assert states[0] is None and all(s is not None and s[0].shape == (1, 8) for s in states[1:])
    # replaying the inputs from the first state reproduces the state handed out at step 3
    state = None
    for t in range(3):
        _, _, state = net(torch.from_numpy(obs[t:t + 1]), state)
    assert torch.allclose(state[0], states[3][0]) and torch.allclose(state[1], states[3][1])
    assert len(play_states("a2c-lstm", net, "Breakout", steps=2)) == 3


def test_ship_script_refuses_selection_on_the_reported_games(tmp_path, capsys):
    """ship_atari_agent.py: validation and reported games must differ; selection is final-only."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "ship_atari_agent.py"
    spec = importlib.util.spec_from_file_location("ship_atari_agent", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for args, message in ((["--stage", "final", "--selection-seed", "0"], "--selection-seed must differ from --seed"),
                          (["--stage", "early"], "use it with --stage final")):
        with pytest.raises(SystemExit):
            module.main(["--run-dir", str(tmp_path), "--agent", "drqn", "--select-from-step", "0",
                         *args])
        assert message in capsys.readouterr().err


def test_study_variants_stay_out_of_the_zoo(roots):
    """A deterministic-start agent (noop_max 0, the memorised-policy study) is found only by
    asking for it; its training games all start from the same screen."""
    from rlinside.agents.a2c import _PythonGames

    config = A2CConfig(game="Breakout", total_steps=160, n_envs=2, checkpoint_every=10**6, noop_max=0)
    games = _PythonGames(config)
    first = games.reset([1, 2])
    assert np.array_equal(first[0], first[1])  # no reset no-ops: the seed does not change the start
    games.close()
    run = roots / "run"
    train_a2c(config, run, progress=False)
    export_a2c_weights(run, run / "weights_final_fp16.pt")
    art = ship_agent(run, "a2c", "final", episodes=1)
    assert art.config["train_config"]["noop_max"] == 0
    assert find_agents("a2c", "Breakout") == []
    assert [a.key for a in find_agents("a2c", "Breakout", noop_max=0)] == [art.key]
    with pytest.raises(ValueError, match="unknown variant fields"):
        find_agents(noop=0)
    with pytest.raises(ValueError, match="noop_max must be a non-negative integer"):
        A2CConfig(noop_max=-1)


def test_memorised_policy_study_on_tiny_agents(roots):
    """The memorised-policy study: its pair is found (a missing twin is an error naming the
    command), both start variants are played, and the maps of both networks share the states."""
    from rlinside.studies import saliency as study

    for noop_max, name in ((30, "usual"), (0, "twin")):
        run = roots / name
        config = A2CConfig(game="Breakout", total_steps=160, n_envs=2, checkpoint_every=10**6, noop_max=noop_max)
        train_a2c(config, run, progress=False)
        export_a2c_weights(run, run / "weights_final_fp16.pt")
        ship_agent(run, "a2c", "final", episodes=1)
        if name == "usual":
            with pytest.raises(store.ArtifactError, match="--noop-max 0"):
                study.memorised_pair()
    pair = study.memorised_pair()
    assert study.SEED_NULL not in pair
    run = roots / "second"  # the control: the usual setup, another seed
    config = A2CConfig(game="Breakout", total_steps=160, n_envs=2, checkpoint_every=10**6,
                       seed=study.MEMORISED_NULL_SEED)
    train_a2c(config, run, progress=False)
    export_a2c_weights(run, run / "weights_final_fp16.pt")
    ship_agent(run, "a2c", "final", episodes=1)
    pair = study.memorised_pair()
    assert list(pair) == ["usual", "fixed-start trained", study.SEED_NULL]
    scores = study.start_variant_scores(pair, episodes=2)  # the control plays no scored games
    assert len(scores) == 8 and set(scores.start) == set(study.START_VARIANTS)
    gaps = study.start_gaps(scores)
    assert set(gaps.index) == {"usual", "fixed-start trained"}
    d = gaps.attrs["difference"]
    assert d["low"] <= d["estimate"] <= d["high"]
    maps = study.memorised_maps(pair, n_states=2, every=2)
    assert set(maps.start) == set(study.START_VARIANTS) and maps.state.nunique() == 2
    assert np.allclose(maps["difference"], maps["usual"] - maps["fixed-start trained"], equal_nan=True)
    assert np.allclose(maps["seed difference"], maps["usual"] - maps[study.SEED_NULL], equal_nan=True)


def test_bug_study_on_tiny_dueling_networks(roots):
    """The bug-localisation study: the correct network, each planted bug and the seed control at
    the same step are found (only by their bug or seed), explained on the same states, and
    compared state by state."""
    from rlinside.agents.dqn import DQNConfig, export_weights, train_dqn
    from rlinside.studies import saliency as study

    with pytest.raises(store.ArtifactError, match="without a bug"):
        study.bug_agents(step=120)
    for bug, seed in (("", 0), ("value_link", 0), ("merge", 0), ("", study.BUG_NULL_SEED)):
        run = roots / f"bug{bug}{seed}"
        config = DQNConfig(game="Breakout", seed=seed, total_steps=120, buffer_size=200, learning_starts=40,
                           batch_size=8, target_update_every=40, checkpoint_every=10**6, bug=bug)
        train_dqn(config, run, progress=False)
        export_weights(run, run / "weights_final_fp16.pt")
        ship_agent(run, "dddqn", "final", episodes=2)
    agents = study.bug_agents(step=120)
    assert list(agents) == ["correct", "value_link", "merge", study.SEED_NULL]
    assert find_agents("dddqn", "Breakout") == [agents["correct"]]  # the zoo sees neither bugs nor the control
    assert agents[study.SEED_NULL].config["train_config"]["seed"] == study.BUG_NULL_SEED
    stats = study.bug_stream_statistics(agents, n_states=3, every=2)
    assert set(stats.network) == set(agents) and set(stats.stream) == {"value", "advantage"}
    assert (stats.magnitude >= 0).all() and stats.state.nunique() == 3
    flags = study.bug_flags(stats, "magnitude")
    assert "correlation" in stats.columns
    assert set(flags.index) == {"value_link", "merge", study.SEED_NULL} and (flags.states == 3).all()
    rows = study.bug_stream_rows(agents, 1)
    assert len(rows) == 4 and set(rows[0].maps) == {"value stream", "advantage stream"}
    assert all(np.abs(m).max() <= 1 + 1e-9 for r in rows for m in r.maps.values())
    scores = study.bug_scores(agents)
    assert scores.loc["correct", "games"] == 2 and "minus correct" in scores.columns
