"""Atari environment, dueling network and Double DQN: shapes, hand-worked numbers, exact resume."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from rlinside.agents.dqn import (
    DQNConfig,
    FrameReplayBuffer,
    double_dqn_target,
    evaluate,
    export_weights,
    load_weights,
    train_dqn,
)
from rlinside.envs.atari import make_atari_env
from rlinside.nets.atari import DuelingQNetwork


def test_network_shapes_and_relus():
    net = DuelingQNetwork(n_actions=4)
    x = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    q, value, advantage = net(x, return_streams=True)
    assert q.shape == (3, 4) and value.shape == (3, 1) and advantage.shape == (3, 4)
    assert net.torso(x).shape == (3, 64 * 7 * 7)
    # uint8 and float pixels give the same Q-values (scaling is inside the net)
    torch.testing.assert_close(net(x.float()), q)
    # every ReLU is its own module and runs exactly once per forward pass
    calls: dict[str, int] = {}
    relus = {n: m for n, m in net.named_modules() if isinstance(m, torch.nn.ReLU)}
    handles = [m.register_forward_hook(lambda m, i, o, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
               for n, m in relus.items()]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
    assert len(relus) == 5 and calls == {n: 1 for n in relus}


def test_dueling_aggregation():
    net = DuelingQNetwork(n_actions=3)
    x = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    q, value, advantage = net(x, return_streams=True)
    # Wang et al. 2016, Eq. 9, computed here by hand per row
    for b in range(5):
        a = advantage[b].tolist()
        for j in range(3):
            assert q[b, j].item() == pytest.approx(value[b, 0].item() + a[j] - sum(a) / 3, abs=1e-5)


def test_double_dqn_target_hand_worked():
    rewards = torch.tensor([1.0, 0.0, -1.0])
    terminals = torch.tensor([False, False, True])
    next_q_online = torch.tensor([[0.1, 0.9, 0.3], [2.0, 1.0, 0.0], [0.0, 5.0, 1.0]])
    next_q_target = torch.tensor([[4.0, 2.0, 7.0], [3.0, 8.0, 1.0], [9.0, 9.0, 9.0]])
    # row 0: online argmax = action 1, target value 2.0 -> 1 + 0.5 * 2.0 = 2.0
    #        (plain DQN would use max target 7.0: Double DQN does not)
    # row 1: online argmax = action 0, target value 3.0 -> 0 + 0.5 * 3.0 = 1.5
    # row 2: terminal -> -1.0
    y = double_dqn_target(rewards, terminals, next_q_online, next_q_target, gamma=0.5)
    torch.testing.assert_close(y, torch.tensor([2.0, 1.5, -1.0]))


def test_env_determinism_and_validation():
    def rollout(seed: int) -> np.ndarray:
        env = make_atari_env("Breakout", seed=seed)
        obs, _ = env.reset(seed=seed)
        frames = [obs]
        actions = np.random.default_rng(0).integers(4, size=60)
        for a in actions:
            obs, *_ = env.step(int(a))
            frames.append(obs)
        env.close()
        return np.stack(frames)

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert a.shape == (61, 4, 84, 84) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)  # a different seed draws a different number of no-ops
    with pytest.raises(ValueError, match="Breakout"):
        make_atari_env("Tetris", seed=0)


def test_replay_buffer_rebuilds_the_env_stacks():
    """The stacks rebuilt from single frames equal the observations FrameStackObservation
    gave, across game starts (reset padding) and buffer wrap-around."""
    env = make_atari_env("Breakout", seed=1)
    rng = np.random.default_rng(1)
    buffer = FrameReplayBuffer(capacity=150, frame_stack=4)
    seen: list[np.ndarray] = []  # observation stored at each entry, by write order
    obs, _ = env.reset(seed=1)
    first = True
    for _ in range(400):  # several games, buffer wraps ~2.7 times
        next_obs, r, term, trunc, info = env.step(int(rng.integers(4)))
        buffer.add(obs[-1], 0, r, term or info["life_lost"], first)
        seen.append(obs)
        obs, first = next_obs, False
        if term or trunc:
            obs, _ = env.reset(seed=int(rng.integers(1000)))
            first = True
    live = [(len(seen) - 150 + j) % 150 for j in range(150)]  # entry index of the last 150 writes
    valid = buffer._valid(np.arange(150))
    for order, idx in enumerate(live):
        if valid[idx]:
            stack = buffer.frames[buffer.stack_indices(np.array([idx]))[0]]
            np.testing.assert_array_equal(stack, seen[len(seen) - 150 + order])
    assert valid.sum() > 130


def test_evaluate_is_seeded_and_plays_full_games():
    torch.manual_seed(0)
    net = DuelingQNetwork(n_actions=4)
    with torch.no_grad():  # greedy action LEFT: the paddle waits in the corner, games are short
        net.advantage_out.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 100.0]))
    scores = evaluate(net, "Breakout", episodes=2, seed=5, epsilon=0.05)
    assert scores.shape == (2,) and np.array_equal(scores, np.round(scores))  # unclipped game points
    # same seed: the same first game, whatever the number of games
    assert evaluate(net, "Breakout", episodes=1, seed=5, epsilon=0.05)[0] == scores[0]
    with pytest.raises(ValueError, match="actions"):
        evaluate(DuelingQNetwork(n_actions=18), "Breakout", episodes=1, seed=0)


def _final_state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def _metrics(run_dir: Path) -> list[list[str]]:
    with open(run_dir / "metrics.csv") as f:
        return [row[:-1] for row in csv.reader(f)]  # drop wall_time


def test_killed_and_resumed_run_ends_bit_identical(tmp_path):
    config = DQNConfig(
        game="Breakout", seed=3, total_steps=700, buffer_size=400, learning_starts=100,
        batch_size=8, target_update_every=40, epsilon_decay_steps=500, checkpoint_every=150,
    )
    # the uninterrupted run
    final = train_dqn(config, tmp_path / "straight", progress=False)
    # the same run "killed" after 550 steps: progress after its last checkpoint is lost
    killed = tmp_path / "killed"
    assert train_dqn(config, killed, stop_after=550, progress=False) is None
    ckpt = torch.load(killed / "checkpoint.pt", weights_only=False)
    assert 150 <= ckpt["counters"]["step"] < 550 and ckpt["replay_file"]
    assert (killed / ckpt["replay_file"]).exists()
    resumed = train_dqn(config, killed, progress=False)

    a, b = _final_state(final), _final_state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _metrics(tmp_path / "straight") == _metrics(killed)

    # shipping: float16 weights, loadable; and a replay-free resume still runs
    out = export_weights(killed, tmp_path / "weights.pt")
    net, meta = load_weights(out, device=torch.device("cpu"))
    assert meta["step"] == 700 and meta["game"] == "Breakout"
    torch.testing.assert_close(net.state_dict()["value_out.weight"], a["value_out.weight"],
                               atol=1e-3, rtol=1e-3)
    (killed / "final.pt").unlink()
    for replay in killed.glob("replay_*.npz"):
        replay.unlink()
    with pytest.warns(UserWarning, match="without its replay buffer"):
        assert train_dqn(config, killed, progress=False) is not None


def test_plain_dqn_switches(tmp_path):
    # DQNConfig(double=False, dueling=False) is the plain DQN of Mnih et al. 2015 (SB3's algorithm):
    # the Nature head, and the target r + gamma * max_a Q_target(s', a)
    from rlinside.agents.dqn import _update
    from rlinside.nets.atari import QNetwork

    with pytest.raises(ValueError, match="double must be True or False"):
        DQNConfig(double=1)
    config = DQNConfig(game="Breakout", seed=1, total_steps=300, buffer_size=300, learning_starts=100,
                       batch_size=8, target_update_every=40, epsilon_decay_steps=200, checkpoint_every=10**6,
                       double=False, dueling=False, channels_last=False)
    final = train_dqn(config, tmp_path / "plain", progress=False)
    net, meta = load_weights(export_weights(tmp_path / "plain", tmp_path / "w.pt"), device=torch.device("cpu"))
    assert isinstance(net, QNetwork) and meta["dueling"] is False
    assert set(_final_state(final)) == set(QNetwork(4, 4).state_dict())

    # one update's target is the max over the target network, not the online network's choice
    torch.manual_seed(0)
    online, target = QNetwork(4, 4), QNetwork(4, 4)
    obs = np.random.default_rng(0).integers(0, 255, (2, 4, 84, 84), dtype=np.uint8)
    batch = (obs, np.array([0, 1]), np.array([1.0, 0.0], np.float32), obs[::-1].copy(),
             np.array([False, True]))
    losses = {}
    for double in (False, True):
        cfg = DQNConfig(**{**config.to_dict(), "double": double})
        with torch.no_grad():
            nq_t, nq_o = target(torch.from_numpy(batch[3])), online(torch.from_numpy(batch[3]))
            q = online(torch.from_numpy(obs)).gather(1, torch.tensor([[0], [1]])).squeeze(1)
        best = nq_o.argmax(1) if double else nq_t.argmax(1)
        y = torch.tensor([1.0, 0.0]) + cfg.gamma * torch.tensor([1.0, 0.0]) * nq_t[torch.arange(2), best]
        expected = torch.nn.functional.huber_loss(q, y).item()
        net = QNetwork(4, 4)
        net.load_state_dict(online.state_dict())
        opt = torch.optim.SGD(net.parameters(), lr=0.0)
        losses[double] = _update(net, target, opt, batch, cfg, torch.device("cpu"))
        assert losses[double] == pytest.approx(expected, rel=1e-5)
    assert losses[False] != pytest.approx(losses[True], rel=1e-3)  # the switch changes the target
