"""The planar-arm reaching task (rlinside.envs.planar_arm): kinematics against hand-worked
examples, reward, goal sampling, determinism, argument checks, the gymnasium contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlinside.envs.planar_arm import (
    PlanarArmConfig,
    PlanarArmEnv,
    default_initial_angles,
    forward_kinematics,
    joint_positions,
    observation,
    reaching_reward,
    sample_goals,
    workspace_radii,
)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_env_checker_passes(n):
    check_env(PlanarArmEnv(n_joints=n), skip_render_check=True)


def test_forward_kinematics_hand_worked():
    half = [0.5, 0.5]
    # straight along +x
    np.testing.assert_allclose(forward_kinematics([0.0, 0.0], half), [1.0, 0.0], atol=1e-12)
    # link 1 up, link 2 turned -90 deg relative to it (pointing right): tip (0.5, 0.5)
    np.testing.assert_allclose(forward_kinematics([math.pi / 2, -math.pi / 2], half), [0.5, 0.5], atol=1e-12)
    # link 1 along +x, elbow at 90 deg: tip (0.5, 0.5) as well
    np.testing.assert_allclose(forward_kinematics([0.0, math.pi / 2], half), [0.5, 0.5], atol=1e-12)
    # three unequal links: +x, then up, then back along -x
    lengths = [0.2, 0.3, 0.5]
    pts = joint_positions([0.0, math.pi / 2, math.pi / 2], lengths)
    np.testing.assert_allclose(pts, [[0, 0], [0.2, 0], [0.2, 0.3], [-0.3, 0.3]], atol=1e-12)
    np.testing.assert_allclose(forward_kinematics([0.0, math.pi / 2, math.pi / 2], lengths), [-0.3, 0.3], atol=1e-12)


def test_forward_kinematics_vectorised_matches_loop():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-3, 3, size=(5, 7, 4))
    lengths = np.array([0.4, 0.3, 0.2, 0.1])
    tips = forward_kinematics(angles, lengths)
    assert tips.shape == (5, 7, 2)
    for idx in np.ndindex(5, 7):
        phi, p = 0.0, np.zeros(2)
        for th, l in zip(angles[idx], lengths):
            phi += th
            p += l * np.array([math.cos(phi), math.sin(phi)])
        np.testing.assert_allclose(tips[idx], p, atol=1e-12)
    np.testing.assert_allclose(joint_positions(angles, lengths)[..., -1, :], tips, atol=1e-12)
    with pytest.raises(ValueError, match="link_lengths"):
        forward_kinematics(np.zeros(3), [0.5, 0.5])


def test_observation_is_paper_eq1():
    obs = observation(np.array([0.3, -1.2]), np.array([0.1, 0.7]))
    np.testing.assert_allclose(
        obs, [math.sin(0.3), math.cos(0.3), math.sin(-1.2), math.cos(-1.2), 0.1, 0.7], rtol=1e-6
    )
    assert obs.dtype == np.float32


def test_reward_is_one_at_goal_and_decreases():
    d = np.linspace(0, 2, 201)
    r = reaching_reward(d)
    assert r[0] == 1.0 and np.all(np.diff(r) < 0) and np.all(r > 0)
    assert reaching_reward(1.0) == pytest.approx(0.25)
    # the validation threshold r = 0.9 is a tip within 1/sqrt(0.9) - 1 = 5.4 % of the reach
    assert reaching_reward(1 / math.sqrt(0.9) - 1 - 1e-9) >= 0.9 > reaching_reward(0.055)
    # in the environment: start with the tip on the goal, do nothing -> reward 1
    env = PlanarArmEnv(n_joints=3)
    start_tip = env.reset(seed=0)[1]["tip"]
    _, info = env.reset(seed=0, options={"goal": start_tip})
    assert info["distance"] == pytest.approx(0.0, abs=1e-12)
    _, reward, terminated, truncated, info = env.step(np.array([2, 2, 2]))
    assert reward == 1.0 and not terminated and not truncated
    # move away step by step: the reward falls
    rewards = [env.step(np.array([0, 0, 0]))[1] for _ in range(5)]
    assert np.all(np.diff([1.0, *rewards]) < 0)


def test_actions_and_truncation():
    env = PlanarArmEnv(n_joints=2)
    obs, info = env.reset(seed=3)
    np.testing.assert_allclose(info["angles"], [math.pi / 2, -math.pi / 2])  # the "L"
    np.testing.assert_allclose(info["tip"], [0.5, 0.5], atol=1e-12)
    _, _, _, _, info = env.step(np.array([0, 1]))  # joint 1 forward, joint 2 backward
    np.testing.assert_allclose(info["angles"], [math.pi / 2 + 0.05, -math.pi / 2 - 0.05])
    steps = 1
    truncated = False
    while not truncated:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated
        steps += 1
    assert steps == 60 and info["step"] == 60
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([0, 3]))
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([0, 0, 0]))


@pytest.mark.parametrize("workspace", ["upper", "full"])
def test_goals_reachable_and_cover_workspace(workspace):
    lengths = [1 / 3] * 3
    goals = sample_goals(np.random.default_rng(1), 20_000, lengths, workspace)
    r = np.linalg.norm(goals, axis=1)
    assert r.max() <= 1.0 + 1e-12
    if workspace == "upper":
        assert goals[:, 1].min() >= 0.0
    else:
        assert (goals[:, 1] < 0).mean() == pytest.approx(0.5, abs=0.02)
    # uniform by area: four rings of equal area get a quarter each
    ring = np.minimum((r**2 * 4).astype(int), 3)
    np.testing.assert_allclose(np.bincount(ring, minlength=4) / len(r), 0.25, atol=0.015)
    # ... and equal polar-angle sectors too
    span = math.pi if workspace == "upper" else 2 * math.pi
    sector = np.minimum((np.mod(np.arctan2(goals[:, 1], goals[:, 0]), 2 * math.pi) / span * 4).astype(int), 3)
    np.testing.assert_allclose(np.bincount(sector, minlength=4) / len(r), 0.25, atol=0.015)


def test_unequal_links_give_an_annulus():
    assert workspace_radii([0.7, 0.2, 0.1]) == pytest.approx((0.4, 1.0))
    goals = sample_goals(np.random.default_rng(0), 5000, [0.7, 0.2, 0.1])
    r = np.linalg.norm(goals, axis=1)
    assert r.min() >= 0.4 - 1e-12 and r.max() <= 1.0 + 1e-12


def test_default_links_equal_with_total_length_one():
    cfg = PlanarArmConfig(n_joints=4)
    assert cfg.link_lengths == (0.25,) * 4 and cfg.reach == pytest.approx(1.0)
    assert cfg.initial_angles == (math.pi / 2, 0.0, -math.pi / 2, 0.0)
    assert default_initial_angles(2) == (math.pi / 2, -math.pi / 2)
    assert default_initial_angles(3) == (math.pi / 2, -math.pi / 4, -math.pi / 4)
    # the 4-joint "L" with joints 2 and 4 at zero is the 2-joint "L" (same joints, same tip)
    np.testing.assert_allclose(joint_positions(cfg.initial_angles, cfg.link_lengths)[[0, 2, 4]],
                               joint_positions(default_initial_angles(2), [0.5, 0.5]), atol=1e-12)


def test_determinism_for_a_seed():
    def episode(seed):
        env = PlanarArmEnv(n_joints=3)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for _ in range(10):
            out.append(env.step(env.action_space.sample())[0])
        return np.array(out)

    np.testing.assert_array_equal(episode(5), episode(5))
    assert not np.array_equal(episode(5), episode(6))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_joints": 0}, "n_joints"),
        ({"n_joints": 2.5}, "n_joints"),
        ({"n_joints": True}, "n_joints"),
        ({"n_joints": 3, "link_lengths": [0.5, 0.5]}, "link_lengths"),
        ({"n_joints": 2, "link_lengths": [0.5, -0.5]}, "link_lengths"),
        ({"n_joints": 2, "link_lengths": "ab"}, "link_lengths"),
        ({"max_steps": 0}, "max_steps"),
        ({"dt": -0.05}, "dt"),
        ({"step_size": float("nan")}, "step_size"),
        ({"workspace": "left"}, "workspace"),
        ({"n_joints": 2, "initial_angles": [0.0]}, "initial_angles"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name) as exc:
        PlanarArmEnv(**kwargs)
    assert repr(list(kwargs.values())[-1])[:4] in str(exc.value) or "got" in str(exc.value)


def test_reset_options():
    env = PlanarArmEnv(n_joints=2)
    _, info = env.reset(seed=0, options={"goal": (0.3, 0.4), "angles": (0.0, 0.0)})
    np.testing.assert_allclose(info["goal"], [0.3, 0.4])
    np.testing.assert_allclose(info["tip"], [1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="goal"):
        env.reset(options={"goal": (1.0, 2.0, 3.0)})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"target": (0, 0)})
