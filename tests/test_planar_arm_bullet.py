"""The pybullet twin of the planar arm (rlinside.envs.planar_arm_bullet).

Numbers are checked against independent computations: the URDF against its own XML and
pybullet's joint/dynamics info, the settled finger tip against the planar model's analytic
forward kinematics and against the planar environment driven by the same actions, the
oracle's Jacobian against finite differences.
"""

from __future__ import annotations

import gc
import xml.etree.ElementTree as ET

import numpy as np
import pybullet
import pytest

from rlinside.envs.planar_arm import (
    ACTION_DIRECTIONS,
    PlanarArmEnv,
    forward_kinematics,
    reaching_reward,
)
from rlinside.envs.planar_arm_bullet import (
    LINK_DENSITY,
    SUCCESS_REWARD,
    BulletArm,
    _jacobian,
    arm_urdf,
    live_clients,
    reaching_oracle,
    run_policy,
    run_policy_planar,
    success_distance,
)

ARMS = [(2, (0.6, 0.4)), (3, (0.5, 0.3, 0.2)), (4, (0.25, 0.25, 0.25, 0.25))]


@pytest.fixture(autouse=True)
def _no_leaks():
    """Every test leaves no pybullet client of ours open."""
    yield
    gc.collect()
    assert live_clients() == frozenset()


# ------------------------------------------------------------------------------------ URDF


@pytest.mark.parametrize("n, lengths", ARMS)
def test_urdf_has_n_revolute_joints_with_the_link_lengths(n, lengths):
    root = ET.fromstring(arm_urdf(n, lengths))
    joints = root.findall("joint")
    revolute = [j for j in joints if j.get("type") == "continuous"]
    assert len(revolute) == n and len(joints) == n + 1  # + the fixed fingertip joint
    offsets = [float(j.find("origin").get("xyz").split()[0]) for j in joints]
    np.testing.assert_allclose(offsets, (0.0, *lengths))  # joint k+1 sits l_k along link k
    masses = [float(link.find("inertial/mass").get("value")) for link in root.findall("link")[1:-1]]
    np.testing.assert_allclose(masses, LINK_DENSITY * np.asarray(lengths))

    with BulletArm(n, lengths) as arm:
        c, body = arm.client, arm.body
        assert pybullet.getConnectionInfo(c)["connectionMethod"] == pybullet.DIRECT
        assert pybullet.getNumJoints(body, physicsClientId=c) == n + 1
        for j in range(n):
            info = pybullet.getJointInfo(body, j, physicsClientId=c)
            assert info[2] == pybullet.JOINT_REVOLUTE
            np.testing.assert_allclose(info[13], (0, -1, 0))  # axis: counter-clockwise in (x, y)
            assert pybullet.getDynamicsInfo(body, j, physicsClientId=c)[0] == pytest.approx(LINK_DENSITY * lengths[j])
        assert pybullet.getJointInfo(body, n, physicsClientId=c)[2] == pybullet.JOINT_FIXED
        # stretched along +x: link frames (joints, then the tip) lie at the cumulative lengths
        arm.reset(goal=(0.0, 0.5), angles=np.zeros(n))
        xs = [pybullet.getLinkState(body, j, physicsClientId=c)[4] for j in range(n + 1)]
        xs_along = np.diff([0.0] + [p[0] for p in xs])
        np.testing.assert_allclose(xs_along, (0.0, *lengths), atol=1e-6)  # link states are float32
        np.testing.assert_allclose([p[1:] for p in xs], 0.0, atol=1e-6)


def random_policy(n_joints: int, seed: int = 0):
    """Uniformly random actions ``(n,)`` in {0, 1, 2}, from its own seeded generator."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, 3, size=n_joints)


def test_bad_arguments_are_rejected_with_their_name():
    with pytest.raises(ValueError, match="link_lengths"):
        arm_urdf(3, (0.5, 0.5))
    with pytest.raises(ValueError, match="substeps"):
        BulletArm(2, substeps=0)
    with BulletArm(2) as arm:
        with pytest.raises(ValueError, match="action"):
            arm.step([0, 3])
        with pytest.raises(ValueError, match="action"):
            arm.step([0.0, 1.0])
        with pytest.raises(ValueError, match="angles"):
            arm.reset(angles=[0.0])
    with pytest.raises(RuntimeError, match="closed"):
        arm.step([0, 0])
    with pytest.raises(ValueError, match="policy must return 2 integers"):
        run_policy(lambda obs: np.array([0.0, 1.0]), 2, episodes=1, seed=0)


# ---------------------------------------------------------------------------- kinematics


@pytest.mark.parametrize("n, lengths", ARMS)
def test_settled_tip_equals_the_analytic_forward_kinematics(n, lengths):
    rng = np.random.default_rng(n)
    with BulletArm(n, lengths) as arm:  # gravity on: the servos hold the pose
        for _ in range(5):
            angles = rng.uniform(-np.pi, np.pi, n)
            arm.reset(goal=(0.1, 0.2), angles=angles)
            for _ in range(3):
                obs = arm.step([2] * n)
            np.testing.assert_allclose(arm.tip_position(), forward_kinematics(angles, lengths), atol=1e-3)
            sincos = np.stack([np.sin(angles), np.cos(angles)], axis=-1).ravel()
            np.testing.assert_allclose(obs[: 2 * n], sincos, atol=1e-3)
            np.testing.assert_allclose(obs[2 * n :], (0.1, 0.2))
            assert obs.dtype == np.float32 and obs.shape == (2 * n + 2,)
            assert np.max(np.abs(arm.joint_velocities())) < 1e-3


@pytest.mark.parametrize("n, lengths", ARMS)
def test_actions_move_each_joint_by_step_size_like_the_planar_env(n, lengths):
    rng = np.random.default_rng(10 + n)
    env = PlanarArmEnv(n_joints=n, link_lengths=lengths)
    env.reset(options={"goal": (0.0, 0.5)})
    with BulletArm(n, lengths) as arm:
        arm.reset(goal=(0.0, 0.5))
        start = prev = arm.joint_angles()
        actions = rng.integers(0, 3, size=(30, n))
        for a in actions:
            arm.step(a)
            _, _, _, _, info = env.step(a)
            now = arm.joint_angles()
            # each control step moves each joint by +0.05 / -0.05 / 0 rad; the servo trails
            # the ramp by one physics step (0.05 / 12 rad), which shifts a step's share
            np.testing.assert_allclose(now - prev, 0.05 * ACTION_DIRECTIONS[a], atol=0.012)
            prev = now
        for _ in range(2):  # let the last ramp settle
            arm.step([2] * n)
        total = 0.05 * ACTION_DIRECTIONS[actions].sum(axis=0)
        np.testing.assert_allclose(arm.targets - start, total, atol=1e-12)
        np.testing.assert_allclose(arm.joint_angles() - start, total, atol=1e-3)
        np.testing.assert_allclose(arm.tip_position(), info["tip"], atol=1e-3)  # the planar env's tip
        d = np.linalg.norm(info["tip"] - info["goal"])
        assert arm.reward() == pytest.approx(float(reaching_reward(d, sum(lengths))), abs=2e-3)


def test_success_criterion_is_the_validation_tests():
    arm_dqn = pytest.importorskip("rlinside.agents.arm_dqn")
    cfg = arm_dqn.ArmDQNConfig(n_joints=3)
    assert SUCCESS_REWARD == cfg.reward_threshold == 0.9
    assert reaching_reward(success_distance(2.0), 2.0) == pytest.approx(SUCCESS_REWARD)
    # run_policy draws the goals the validation test and run_episodes draw for a seed
    out = run_policy_planar(lambda obs: np.full(3, 2), 3, None, episodes=5, seed=7)
    np.testing.assert_array_equal(out["goals"], arm_dqn.validation_goals(cfg.arm_config(), n=5, seed=7))


def test_oracle_jacobian_matches_finite_differences():
    rng = np.random.default_rng(0)
    lengths = np.array([0.4, 0.35, 0.25])
    theta = rng.uniform(-np.pi, np.pi, 3)
    eps = 1e-6
    fd = np.stack(
        [(forward_kinematics(theta + eps * e, lengths) - forward_kinematics(theta - eps * e, lengths)) / (2 * eps)
         for e in np.eye(3)], axis=1,
    )
    np.testing.assert_allclose(_jacobian(theta, lengths), fd, atol=1e-8)


# -------------------------------------------------------------------------------- images


def test_render_shows_the_arm_and_the_goal():
    with BulletArm(3, seed=0) as arm:
        arm.reset(goal=(0.5, 0.5), angles=(0.3, 0.8, -0.5))
        img = arm.render()
        assert img.shape == (240, 320, 3) and img.dtype == np.uint8
        background = np.all(img == img[0, 0], axis=-1)
        assert 0.005 < 1 - background.mean() < 0.5  # something drawn, mostly background
        r, g, b = (img[..., k].astype(int) for k in range(3))
        green = (g > r + 60) & (g > b + 60)
        orange = (r > g + 60) & (g > b + 20)
        assert green.sum() > 20 and orange.sum() > 20
        # the goal appears where the camera projects (0.5, 0.5): right of and above the centre
        ys, xs = np.nonzero(green)
        assert xs.mean() > 160 and ys.mean() < 120
        arm.reset(goal=(-0.5, 0.5), angles=(2.5, 0.3, 0.3))
        other = arm.render(64, 48)
        assert other.shape == (48, 64, 3)
        assert not np.array_equal(arm.render(), img)


# ----------------------------------------------------------------------------- roll-outs


def test_oracle_succeeds_in_the_twin_and_random_does_not():
    oracle = run_policy(reaching_oracle((0.5, 0.5)), 2, (0.5, 0.5), episodes=20, seed=0)
    planar = run_policy_planar(reaching_oracle((0.5, 0.5)), 2, (0.5, 0.5), episodes=20, seed=0)
    rand = run_policy(random_policy(2, seed=0), 2, (0.5, 0.5), episodes=20, seed=0)
    assert oracle["success_rate"] >= 0.9
    assert planar["success_rate"] >= 0.9
    assert rand["success_rate"] <= 0.2
    np.testing.assert_array_equal(oracle["goals"], rand["goals"])  # same episodes
    np.testing.assert_allclose(oracle["final_reward"], reaching_reward(oracle["final_distance"], 1.0))
    np.testing.assert_array_equal(oracle["success"], oracle["final_reward"] >= SUCCESS_REWARD)
    np.testing.assert_array_less(oracle["final_distance"][oracle["success"]], success_distance(1.0))
    assert oracle["frames"] is None


def test_run_policy_is_deterministic_and_records_frames():
    kw = dict(n_joints=3, link_lengths=None, episodes=2, seed=3)
    a = run_policy(reaching_oracle((1 / 3,) * 3), render_every=30, **kw)
    b = run_policy(reaching_oracle((1 / 3,) * 3), **kw)
    np.testing.assert_array_equal(a["final_tip"], b["final_tip"])
    assert len(a["frames"]) == 2
    assert a["frames"][0].shape == (3, 240, 320, 3) and a["frames"][0].dtype == np.uint8


def test_no_pybullet_client_leaks():
    ids = []
    with BulletArm(2) as arm:
        ids.append(arm.client)
    arm2 = BulletArm(3)
    ids.append(arm2.client)
    arm2.close()
    arm2.close()  # idempotent
    arm3 = BulletArm(4)
    ids.append(arm3.client)
    assert arm3.client in live_clients()
    del arm3  # garbage-collected arms disconnect too
    gc.collect()
    with BulletArm(2) as reused:  # pybullet reuses client ids: a closed arm must stay closed
        ids.append(reused.client)
        assert arm.closed and not reused.closed
        with pytest.raises(RuntimeError, match="closed"):
            arm.step([2, 2])
    run_policy(random_policy(2), 2, episodes=1, seed=0)
    assert live_clients() == frozenset()
    assert not any(pybullet.isConnected(physicsClientId=c) for c in ids)


def test_control_delay_applies_each_command_k_cycles_late_and_damping_slows_the_joints():
    with BulletArm(2, control_delay=2) as late, BulletArm(2) as now:
        late.reset(goal=(0.0, 0.5))
        now.reset(goal=(0.0, 0.5))
        start = late.targets.copy()
        late.step([0, 1])
        late.step([2, 2])
        np.testing.assert_allclose(late.targets, start)  # nothing has arrived yet
        late.step([2, 2])  # the first command arrives now
        now.step([0, 1])
        np.testing.assert_allclose(late.targets, now.targets)
    with BulletArm(2, joint_damping=200.0) as damped, BulletArm(2) as free:
        for arm in (damped, free):
            arm.reset(goal=(0.0, 0.5))
            arm.step([0, 0])
        lag = np.abs(damped.joint_angles() - damped.targets).max()
        assert lag > np.abs(free.joint_angles() - free.targets).max() + 1e-3  # friction the servo must overcome
    bads = ({"control_delay": -1}, {"control_delay": 1.5}, {"joint_damping": -0.1}, {"joint_damping": float("nan")})
    for bad in bads:
        with pytest.raises(ValueError, match=next(iter(bad))):
            BulletArm(2, **bad)


def test_actuator_sweep_changes_one_setting_at_a_time():
    from rlinside.studies.neuron_activation import actuator_sweep

    with pytest.raises(ValueError, match="unknown actuator setting"):
        actuator_sweep([2], 32, 0, episodes=1, seed=0, settings={"gravity": [False]})
    sweep = actuator_sweep([2], 32, 0, episodes=3, seed=5, settings={"control_delay": [0, 3]})
    assert len(sweep) == 2 * 3 and set(sweep["setting"]) == {"control_delay"}
    assert (sweep["gap"] == sweep["success"] - sweep["planar"]).all()
