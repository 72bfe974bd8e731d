"""The arm-reaching DQN (rlinside.agents.arm_dqn): Q-heads, per-joint actions, the loss
against a hand computation, the validation test (an oracle passes, a random policy fails),
roll-outs against the gymnasium environment, a tiny training run, resume, retraining."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import binom

from rlinside.agents.arm_dqn import (
    ArmDQNConfig,
    boltzmann_actions,
    build_q_network,
    greedy_actions,
    load_arm_weights,
    per_joint_td_loss,
    q_values,
    retrain_until_valid,
    run_episodes,
    save_arm_weights,
    temperature,
    train_arm_dqn,
    validate,
    validation_goals,
    validation_threshold,
)
from rlinside.envs.planar_arm import PlanarArmEnv, apply_actions, forward_kinematics
from rlinside.nets.mlp import MLP

TINY = dict(max_episodes=12, learning_starts=128, batch_size=32, buffer_size=2000,
            validate_every=6, validation_episodes=30, checkpoint_every=4, target_update_every=50)


def greedy_oracle(config: ArmDQNConfig):
    """One-step look-ahead controller: of all 3^n joint-action combinations, take the one
    that brings the tip closest to the goal (decoded from the observation)."""
    arm = config.arm_config()
    n, lengths = arm.n_joints, np.asarray(arm.link_lengths)
    combos = np.array(list(itertools.product(range(3), repeat=n)))  # (3^n, n)

    def policy(obs: np.ndarray) -> np.ndarray:
        angles = np.arctan2(obs[:, 0:2 * n:2], obs[:, 1:2 * n:2]).astype(np.float64)
        goal = obs[:, -2:].astype(np.float64)
        cand = apply_actions(angles[:, None, :], combos[None], arm.step_size)  # (B, 3^n, n)
        d = np.linalg.norm(forward_kinematics(cand, lengths) - goal[:, None], axis=-1)
        return combos[d.argmin(axis=1)]

    return policy


def test_q_heads_shapes():
    for n in (2, 3, 4):
        cfg = ArmDQNConfig(n_joints=n, width=48)
        net = build_q_network(cfg)
        assert net.n_in == 2 * n + 2 and net.n_out == 3 * n and net.hidden_sizes == [48] * 6
        obs = torch.zeros(5, 2 * n + 2)
        assert q_values(net, obs).shape == (5, n, 3)
        out, acts = net(obs, return_activations=True)
        assert len(acts) == 6 and all(a.shape == (5, 48) for a in acts)


def _biased_net(n: int, preferred: list[int]) -> MLP:
    """A network whose output ignores the input: head j prefers action preferred[j]."""
    net = MLP(2 * n + 2, [4] * 6, 3 * n)
    with torch.no_grad():
        net.linears[-1].weight.zero_()
        bias = torch.zeros(3 * n)
        for j, a in enumerate(preferred):
            bias[3 * j + a] = 1.0
        net.linears[-1].bias.copy_(bias)
    return net


def test_per_joint_action_selection():
    net = _biased_net(3, [1, 0, 2])
    obs = np.zeros((4, 8), np.float32)
    np.testing.assert_array_equal(greedy_actions(net, obs), [[1, 0, 2]] * 4)
    q = q_values(net, torch.from_numpy(obs)).detach().numpy()
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(boltzmann_actions(q, 1e-4, rng), [[1, 0, 2]] * 4)
    np.testing.assert_array_equal(boltzmann_actions(q, 0.0, rng), [[1, 0, 2]] * 4)
    # softmax frequencies: p(preferred) = e / (e + 2) at temperature 1, per joint independently
    q1 = np.tile(q[:1], (20_000, 1, 1))
    a = boltzmann_actions(q1, 1.0, np.random.default_rng(1))
    p = math.e / (math.e + 2)
    for j, pref in enumerate([1, 0, 2]):
        assert (a[:, j] == pref).mean() == pytest.approx(p, abs=0.015)
    # joints are sampled independently
    joint = ((a[:, 0] == 1) & (a[:, 1] == 0)).mean()
    assert joint == pytest.approx(p * p, abs=0.015)


def test_temperature_schedule():
    cfg = ArmDQNConfig(temperature_start=1.0, temperature_end=0.01, temperature_decay_episodes=100)
    assert temperature(cfg, 0) == pytest.approx(1.0)
    assert temperature(cfg, 50) == pytest.approx(0.1)
    assert temperature(cfg, 100) == temperature(cfg, 10_000) == pytest.approx(0.01)
    assert temperature(cfg, 0, start=0.05) == pytest.approx(0.05)


@pytest.mark.parametrize("mode", ["independent", "mean"])
def test_per_joint_td_loss_against_hand_computation(mode):
    torch.manual_seed(0)
    n, B, gamma = 3, 7, 0.5
    q_net, target_net = MLP(8, [16, 16], 9), MLP(8, [16, 16], 9)
    obs, next_obs = torch.randn(B, 8), torch.randn(B, 8)
    actions = torch.randint(0, 3, (B, n))
    rewards, terminals = torch.rand(B), torch.tensor([0, 1, 0, 0, 1, 0, 0], dtype=torch.bool)
    loss = per_joint_td_loss(q_net, target_net, obs, actions, rewards, next_obs, terminals, gamma,
                             target_mode=mode)
    q, qn = q_net(obs).detach().numpy(), target_net(next_obs).detach().numpy()
    total = 0.0
    for b in range(B):
        maxes = [qn[b, 3 * j:3 * j + 3].max() for j in range(n)]
        for j in range(n):
            boot = maxes[j] if mode == "independent" else np.mean(maxes)
            y = rewards[b].item() + gamma * (0.0 if terminals[b] else 1.0) * boot
            e = abs(q[b, 3 * j + actions[b, j].item()] - y)
            total += 0.5 * e * e if e <= 1.0 else e - 0.5
    assert loss.item() == pytest.approx(total / (B * n), rel=1e-5)


def test_validation_threshold_is_the_binomial_test():
    k = validation_threshold(300, 0.9, 0.05)
    assert k == 279
    assert binom.sf(k - 1, 300, 0.9) < 0.05 <= binom.sf(k - 2, 300, 0.9)
    assert validation_threshold(300, 0.9, None) == 270


@pytest.mark.parametrize("n", [2, 3])
def test_validation_oracle_passes_random_fails(n):
    cfg = ArmDQNConfig(n_joints=n)
    oracle = validate(greedy_oracle(cfg), cfg)
    assert oracle.passed and oracle.successes >= 279, oracle.successes
    rng = np.random.default_rng(0)
    random = validate(lambda obs: rng.integers(0, 3, size=(obs.shape[0], n)), cfg)
    assert not random.passed and random.success_rate < 0.1
    still = validate(lambda obs: np.full((obs.shape[0], n), 2), cfg)
    assert not still.passed and still.success_rate < 0.05  # only goals next to the start


def test_batched_rollout_matches_the_environment():
    cfg = ArmDQNConfig(n_joints=3, width=16)
    torch.manual_seed(0)
    net = build_q_network(cfg)
    goals = validation_goals(cfg)[:4]
    roll = run_episodes(net, cfg, 4, seed=0, goals=goals)
    env = PlanarArmEnv(n_joints=3)
    for i in range(4):
        obs, _ = env.reset(options={"goal": goals[i]})
        for t in range(60):
            np.testing.assert_allclose(obs, roll.observations[i, t], atol=1e-6)
            a = greedy_actions(net, obs[None])[0]
            np.testing.assert_array_equal(a, roll.actions[i, t])
            obs, r, _, _, info = env.step(a)
            assert r == pytest.approx(roll.rewards[i, t], abs=1e-9)
            np.testing.assert_allclose(info["tip"], roll.tips[i, t], atol=1e-12)


def test_run_episodes_records_activations():
    cfg = ArmDQNConfig(n_joints=2, width=32)
    torch.manual_seed(1)
    net = build_q_network(cfg)
    roll = run_episodes(net, cfg, 5, seed=3)
    assert len(roll.activations) == 5
    assert [a.shape for a in roll.activations[0]] == [(60, 32)] * 6
    assert [a.shape for a in roll.layer_activations] == [(5, 60, 32)] * 6
    assert roll.rewards.shape == (5, 60) and roll.final_rewards.shape == (5,)
    assert all((a >= 0).all() for a in roll.layer_activations)
    # activations are the network's own for the recorded observations
    _, acts = net(torch.from_numpy(roll.observations[2]), return_activations=True)
    for h, rec in zip(acts, roll.activations[2]):
        np.testing.assert_allclose(h.detach().numpy(), rec, atol=1e-6)
    again = run_episodes(net, cfg, 5, seed=3)
    np.testing.assert_array_equal(again.layer_activations[3], roll.layer_activations[3])
    assert not np.array_equal(run_episodes(net, cfg, 5, seed=4).goals, roll.goals)
    with pytest.raises(ValueError, match="needs"):
        run_episodes(net, ArmDQNConfig(n_joints=3), 2, seed=0)


def test_rollouts_run_on_one_torch_thread_and_restore_the_count():
    from rlinside.utils import torch_threads

    cfg = ArmDQNConfig(n_joints=2, width=16)
    torch.manual_seed(2)
    net = build_q_network(cfg)
    seen = []

    def policy(obs):
        seen.append(torch.get_num_threads())
        return greedy_actions(net, obs)

    before = torch.get_num_threads()
    with torch_threads(2):
        validate(policy, cfg, goals=validation_goals(cfg)[:3])
        assert torch.get_num_threads() == 2  # restored after the rollout
    assert set(seen) == {1} and torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError  # restored on an error too
    assert torch.get_num_threads() == before


def test_tiny_training_run_is_deterministic_and_resumes(tmp_path):
    cfg = ArmDQNConfig(n_joints=2, width=8, **TINY)
    a = train_arm_dqn(cfg, tmp_path / "a", progress=False)
    b = train_arm_dqn(cfg, tmp_path / "b", progress=False)
    assert a.episodes == 12 and not a.passed
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    rows = (tmp_path / "a" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 12
    assert len((tmp_path / "a" / "validation.csv").read_text().strip().splitlines()) == 1 + 3
    # killed after 6 episodes (checkpoint at 4), resumed: same result as uninterrupted
    assert train_arm_dqn(cfg, tmp_path / "c", progress=False, stop_after=6) is None
    c = train_arm_dqn(cfg, tmp_path / "c", progress=False)
    for pa, pc in zip(a.model.parameters(), c.model.parameters()):
        assert torch.equal(pa, pc)
    assert (tmp_path / "c" / "metrics.csv").read_text() .count("\n") == 13
    with pytest.raises(ValueError, match="gamma"):
        train_arm_dqn(ArmDQNConfig(n_joints=2, width=8, **{**TINY, "max_episodes": 20}, gamma=0.9),
                      tmp_path / "c", progress=False)


def test_foreach_adam_trains_the_same_bits_as_the_single_tensor_adam(tmp_path, monkeypatch):
    """The shipped agents were trained with the single-tensor Adam; the faster foreach one must
    reproduce them bit for bit."""
    import rlinside.agents.arm_dqn as arm_dqn

    cfg = ArmDQNConfig(n_joints=2, width=8, **TINY)
    fast = train_arm_dqn(cfg, tmp_path / "foreach", progress=False)

    class SingleTensorAdam(torch.optim.Adam):
        def __init__(self, params, **kw):
            super().__init__(params, **{**kw, "foreach": False})

    monkeypatch.setattr(arm_dqn.torch.optim, "Adam", SingleTensorAdam)
    slow = train_arm_dqn(cfg, tmp_path / "single", progress=False)
    assert fast.episodes == slow.episodes
    for pa, pb in zip(fast.model.parameters(), slow.model.parameters()):
        assert torch.equal(pa, pb)


def test_retrain_until_valid(tmp_path):
    pruned = MLP(6, [10, 7, 5, 4, 4, 6], 6)  # a "pruned" 2-joint network: any hidden sizes
    before = [p.detach().clone() for p in pruned.parameters()]
    # every episode succeeds with threshold 0: passes before any training
    easy = ArmDQNConfig(n_joints=2, reward_threshold=0.0, **TINY)
    model, episodes = retrain_until_valid(pruned, easy)
    assert episodes == 0 and model.hidden_sizes == [10, 7, 5, 4, 4, 6]
    # a final reward of exactly 1 is out of reach: budget spent, None
    hard = ArmDQNConfig(n_joints=2, reward_threshold=1.0, **TINY)
    model, episodes = retrain_until_valid(pruned, hard, run_dir=tmp_path / "r")
    assert episodes is None and model.hidden_sizes == [10, 7, 5, 4, 4, 6]
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert all(torch.equal(p, q) for p, q in zip(pruned.parameters(), before))  # input untouched


def test_weights_roundtrip_float16(tmp_path):
    cfg = ArmDQNConfig(n_joints=3, width=16)
    net = build_q_network(cfg)
    path = save_arm_weights(net, tmp_path / "w.pt", cfg, dtype=torch.float16, passed=False, episodes=3)
    loaded, meta = load_arm_weights(path)
    assert meta["dtype"] == "torch.float16" and meta["episodes"] == 3 and meta["config"]["width"] == 16
    for p, q in zip(net.parameters(), loaded.parameters()):
        torch.testing.assert_close(p.detach().half().float(), q)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"width": 0}, "width"), ({"n_joints": 0}, "n_joints"), ({"gamma": 1.5}, "gamma"),
     ({"alpha": 0.0}, "alpha"), ({"learning_starts": 8}, "learning_starts"),
     ({"target_mode": "max"}, "target_mode"), ({"temperature_end": 0}, "temperature_end"),
     ({"workspace": "disc"}, "workspace"), ({"seed": -1}, "seed"),
     ({"validation_episodes": 20}, "validation_episodes")],
)
def test_config_rejects_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ArmDQNConfig(**kwargs)
