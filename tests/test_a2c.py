"""A2C / A2C-LSTM: gated LSTM cell, actor-critic shapes, n-step returns, env snapshots, exact resume."""

from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest
import torch

from rlinside.agents.a2c import (
    RESUMABLE_CHANGES,
    A2CConfig,
    _sample_actions,
    evaluate_a2c,
    export_a2c_weights,
    load_a2c_weights,
    n_step_returns,
    train_a2c,
)
from rlinside.envs.atari import make_atari_env, restore_env, snapshot_env
from rlinside.nets.recurrent import ActorCritic, GatedLSTMCell


def test_gated_lstm_cell_matches_torch_lstm_cell():
    torch.manual_seed(0)
    ours = GatedLSTMCell(7, 5)
    ref = torch.nn.LSTMCell(7, 5)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 7)
    state = (torch.randn(3, 5), torch.randn(3, 5))
    h, c, gates = ours(x, state, return_gates=True)
    h_ref, c_ref = ref(x, state)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(c, c_ref)
    # the exposed gates recompose the new state
    torch.testing.assert_close(gates.forget * state[1] + gates.input * gates.cell, c)
    torch.testing.assert_close(gates.output * torch.tanh(c), h)
    for g in (gates.input, gates.forget, gates.output):
        assert g.shape == (3, 5) and bool(((g > 0) & (g < 1)).all())


@pytest.mark.parametrize("lstm_size,frames", [(0, 3), (64, 1)])
def test_actor_critic_shapes_and_relus(lstm_size, frames):
    net = ActorCritic(n_actions=6, in_channels=frames, lstm_size=lstm_size)
    x = torch.randint(0, 256, (4, frames, 84, 84), dtype=torch.uint8)
    calls: dict[str, int] = {}
    relus = {n: m for n, m in net.named_modules() if isinstance(m, torch.nn.ReLU)}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
               for n, m in relus.items()]
    try:
        logits, value, state = net(x)
    finally:
        for h in handles:
            h.remove()
    assert logits.shape == (4, 6) and value.shape == (4,)
    assert len(relus) == 4 and calls == {n: 1 for n in relus}
    if lstm_size:
        assert state[0].shape == (4, lstm_size) and state[1].shape == (4, lstm_size)
        # the state is carried: a second step from it differs from a step from zeros
        logits2, _, _ = net(x, state)
        assert not torch.allclose(logits2, logits)
        _, _, _, gates = net(x, state, return_gates=True)
        assert gates.forget.shape == (4, lstm_size)
    else:
        assert state is None


def test_n_step_returns_against_brute_force():
    rng = np.random.default_rng(3)
    T, N, gamma = 6, 4, 0.9
    rewards = rng.normal(size=(T, N))
    dones = rng.random((T, N)) < 0.3
    bootstrap = rng.normal(size=N)
    got = n_step_returns(torch.tensor(rewards), torch.tensor(dones), torch.tensor(bootstrap), gamma).numpy()
    for t in range(T):
        for n in range(N):
            total, discount = 0.0, 1.0
            for k in range(t, T):  # sum rewards until (and including) the first done
                total += discount * rewards[k, n]
                if dones[k, n]:
                    break
                discount *= gamma
            else:
                total += discount * bootstrap[n]
            assert got[t, n] == pytest.approx(total, abs=1e-12)
    with pytest.raises(ValueError, match="shapes"):
        n_step_returns(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3), gamma)


def test_sample_actions_follows_the_policy():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1, 0.0]]).repeat(20000, 1))
    actions = _sample_actions(logits, np.random.default_rng(0))
    freq = np.bincount(actions, minlength=4) / len(actions)
    assert freq == pytest.approx([0.7, 0.2, 0.1, 0.0], abs=0.015)


@pytest.mark.parametrize("game", ["Breakout", "Seaquest"])
def test_env_snapshot_restores_a_game_in_progress(game):
    env = make_atari_env(game, seed=1, frame_stack=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        env.step(int(rng.integers(env.action_space.n)))
    snap = pickle.loads(pickle.dumps(snapshot_env(env)))
    actions = rng.integers(env.action_space.n, size=300)

    def play(e):
        out = []
        for a in actions:
            obs, r, terminated, truncated, info = e.step(int(a))
            out.append((obs.copy(), r, terminated, info["life_lost"]))
            if terminated or truncated:
                out.append((e.reset()[0].copy(), 0.0, False, False))
        return out

    reference = play(env)
    other = make_atari_env(game, seed=99, frame_stack=3)
    for _ in range(17):
        other.step(0)
    restore_env(other, snap)
    replayed = play(other)
    assert len(reference) == len(replayed)
    for (o1, *rest1), (o2, *rest2) in zip(reference, replayed):
        np.testing.assert_array_equal(o1, o2)
        assert rest1 == rest2
    with pytest.raises(ValueError, match="does not match"):
        restore_env(make_atari_env(game, seed=1, frame_stack=3, training=False), snap)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="game must be one of"):
        A2CConfig(game="Tetris")
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        A2CConfig(n_steps=0)
    with pytest.raises(ValueError, match="lstm_size"):
        A2CConfig(lstm_size=-1)


def _metrics_rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(f)]


@pytest.mark.parametrize("lstm_size,frames,game", [(0, 3, "Breakout"), (32, 1, "Seaquest")])
def test_smoke_training_and_exact_resume(tmp_path, lstm_size, frames, game):
    config = A2CConfig(game=game, total_steps=640, n_envs=4, lstm_size=lstm_size, frame_stack=frames,
                       checkpoint_every=160, snapshot_steps=(320,))
    final_a = train_a2c(config, tmp_path / "a", progress=False)
    assert train_a2c(config, tmp_path / "b", stop_after=400, progress=False) is None
    final_b = train_a2c(config, tmp_path / "b", progress=False)
    a = torch.load(final_a, weights_only=True)
    b = torch.load(final_b, weights_only=True)
    assert a["step"] == b["step"] == 640
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    assert _metrics_rows(tmp_path / "a" / "metrics.csv") == _metrics_rows(tmp_path / "b" / "metrics.csv")
    assert (tmp_path / "a" / "weights_step000000320.pt").exists()
    # a different seed trains differently (the test above can fail)
    other = train_a2c(A2CConfig(**{**config.to_dict(), "seed": 1, "snapshot_steps": ()}),
                      tmp_path / "c", progress=False)
    c = torch.load(other, weights_only=True)
    assert not torch.equal(a["state_dict"]["policy.weight"], c["state_dict"]["policy.weight"])
    # resuming with a changed learning setting is refused, naming the field
    with pytest.raises(ValueError, match="learning_rate"):
        train_a2c(A2CConfig(**{**config.to_dict(), "learning_rate": 1e-3, "total_steps": 800,
                               "snapshot_steps": (320,)}), tmp_path / "b", progress=False)
    # float16 export loads back and plays
    weights = export_a2c_weights(tmp_path / "a", tmp_path / "w.pt")
    net, meta = load_a2c_weights(weights, device=torch.device("cpu"))
    assert meta["step"] == 640 and meta["lstm_size"] == lstm_size and meta["game"] == game
    assert net.policy.weight.dtype == torch.float32


def test_evaluate_plays_full_games():
    net = ActorCritic(n_actions=4, in_channels=3)
    scores = evaluate_a2c(net, "Breakout", episodes=2, seed=0)
    assert scores.shape == (2,) and np.array_equal(scores, np.round(scores))  # game scores: whole points
    again = evaluate_a2c(net, "Breakout", episodes=2, seed=0)
    np.testing.assert_array_equal(scores, again)
    with pytest.raises(ValueError, match="actions"):
        evaluate_a2c(net, "Seaquest", episodes=1, seed=0)


def test_native_backend_config_checks():
    with pytest.raises(ValueError, match="env_backend must be one of"):
        A2CConfig(game="Pong", env_backend="cpp")
    with pytest.raises(ValueError, match="cannot train Breakout: it serves on FIRE"):
        A2CConfig(game="Breakout", env_backend="native")
    with pytest.raises(ValueError, match="env_threads must be a positive integer"):
        A2CConfig(game="Pong", env_backend="native", env_threads=0)
    assert "checkpoint_every" not in A2CConfig(game="Pong", env_backend="native").resumable_changes
    assert "checkpoint_every" in A2CConfig(game="Pong").resumable_changes


def test_checkpoint_without_a_new_field_resumes_with_its_default(tmp_path):
    from rlinside.agents._config import check_resumable

    saved = A2CConfig(game="Pong").to_dict()
    del saved["env_backend"], saved["env_threads"]  # a checkpoint made before the fields existed
    check_resumable(saved, A2CConfig(game="Pong"), tmp_path, RESUMABLE_CHANGES)
    with pytest.raises(ValueError, match="env_backend: checkpoint 'python' vs now 'native'"):
        check_resumable(saved, A2CConfig(game="Pong", env_backend="native"), tmp_path, RESUMABLE_CHANGES)


def test_native_backend_trains_and_resumes_exactly(tmp_path):
    # Pong on the C++ batch: a killed run resumed (with another env thread count) ends
    # bit-identical to an uninterrupted one, games restarting at every checkpoint in both
    config = A2CConfig(game="Pong", total_steps=640, n_envs=4, frame_stack=2, checkpoint_every=160,
                       env_backend="native")
    final_a = train_a2c(config, tmp_path / "a", progress=False)
    assert train_a2c(config, tmp_path / "b", stop_after=400, progress=False) is None
    resumed = A2CConfig(**{**config.to_dict(), "env_threads": 2, "snapshot_steps": ()})
    final_b = train_a2c(resumed, tmp_path / "b", progress=False)
    a = torch.load(final_a, weights_only=True)["state_dict"]
    b = torch.load(final_b, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the python backend plays other games from the same seed: the test above can fail
    python = train_a2c(A2CConfig(**{**config.to_dict(), "env_backend": "python", "snapshot_steps": ()}),
                       tmp_path / "c", progress=False)
    c = torch.load(python, weights_only=True)["state_dict"]
    assert not torch.equal(a["policy.weight"], c["policy.weight"])
    # with the native backend checkpoint_every changes the numbers: a resume may not change it
    with pytest.raises(ValueError, match="checkpoint_every"):
        train_a2c(A2CConfig(**{**config.to_dict(), "checkpoint_every": 320, "total_steps": 800,
                               "snapshot_steps": ()}), tmp_path / "b", progress=False)
