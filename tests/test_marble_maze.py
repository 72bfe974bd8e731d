"""The marble maze: gymnasium's checker, determinism, geometry, the time parameters, and that
a privileged controller solves it (so the task is feasible)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pybullet
import pytest
from gymnasium.utils.env_checker import check_env

import rlinside.envs  # noqa: F401  (registers the env)
from rlinside.agents.maze_imitation import oracle_action
from rlinside.envs.marble_maze import MarbleMazeConfig, MarbleMazeEnv


@pytest.fixture()
def env():
    e = MarbleMazeEnv()
    yield e
    e.close()


def test_env_checker_and_registration(env):
    check_env(env, skip_render_check=True)
    made = gym.make("rlinside/MarbleMaze-v0", obs_delay=1)
    assert made.unwrapped.config.obs_delay == 1
    made.close()


def test_same_seed_same_episode():
    runs = []
    for _ in range(2):
        e = MarbleMazeEnv()
        obs, _ = e.reset(seed=5)
        rng = np.random.default_rng(1)
        trace = [obs]
        for _ in range(60):
            obs, r, *_ = e.step(int(rng.integers(5)))
            trace.append(obs)
        runs.append((np.stack(trace), e._ball_xy()))
        e.close()
    assert np.array_equal(runs[0][0], runs[1][0]) and np.allclose(runs[0][1], runs[1][1])
    e = MarbleMazeEnv()
    a, _ = e.reset(seed=5)
    b, _ = e.reset(seed=6)
    e.close()
    assert not np.array_equal(a, b)  # the start angle depends on the seed


def test_start_in_outer_ring_and_info(env):
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        assert info["ring"] == env.config.n_rings and not info["success"]
        assert obs.shape == (1, 64, 64) and obs.dtype == np.uint8
        assert info["distance"] == pytest.approx(env.config.wall_radii[-1] + env.config.ring_width / 2)


def test_walls_hold_the_ball_and_gates_let_it_through(env):
    c = env.config
    env.reset(seed=0, options={"angle": math.pi})  # far from the outer gate at 45 degrees
    pybullet.resetBaseVelocity(env._ball, [0.3, 0, 0], [0, 0, 0], physicsClientId=env._client)  # inwards
    for _ in range(120):
        pybullet.stepSimulation(physicsClientId=env._client)
    assert env.ring_of(env._ball_xy()) == c.n_rings  # the wall stopped it
    gate = c.gates[-1]
    env.reset(seed=0, options={"angle": gate})
    v = -0.3 * np.array([math.cos(gate), math.sin(gate), 0])
    pybullet.resetBaseVelocity(env._ball, list(v), [0, 0, 0], physicsClientId=env._client)
    for _ in range(30):
        pybullet.stepSimulation(physicsClientId=env._client)
    assert env.ring_of(env._ball_xy()) == c.n_rings - 1  # through the gate


def test_tilt_rolls_the_ball_downhill(env):
    env.reset(seed=0, options={"angle": 0.0})  # outer ring on the +x side
    start = env._ball_xy()
    for _ in range(6):
        env.step(3)  # tilt about y: gravity gets a +x component... ball pushed outwards, held by the rim
    for _ in range(6):
        env.step(1)  # tilt about x positive: ball rolls towards -y
    for _ in range(20):
        env.step(0)
    assert env._ball_xy()[1] < start[1] - 0.005
    assert np.degrees(np.abs(env._tilt)).max() <= np.degrees(env.config.max_tilt) + 1e-9


def test_reward_is_the_change_of_the_potential(env):
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        before = env.potential(env._ball_xy())
        _, r, term, _, _ = env.step(int(rng.integers(5)))
        assert r == pytest.approx(env.potential(env._ball_xy()) - before + (env.config.goal_reward if term else 0))


def test_observation_delay_and_frame_rate():
    cfgs = {"base": MarbleMazeConfig(), "delay": MarbleMazeConfig(obs_delay=3), "hold": MarbleMazeConfig(frame_every=2)}
    traces = {}
    for name, cfg in cfgs.items():
        e = MarbleMazeEnv(cfg)
        obs, _ = e.reset(seed=0, options={"angle": 1.0})
        out = [obs]
        for a in [1, 1, 1, 1, 3, 3, 3, 0, 0, 0, 0, 0]:
            obs, *_ = e.step(a)
            out.append(obs)
        traces[name] = np.stack(out)
        e.close()
    base, delay, hold = traces["base"], traces["delay"], traces["hold"]
    assert np.array_equal(delay[3:], base[:-3]) and np.array_equal(delay[:3], np.repeat(base[:1], 3, 0))
    assert np.array_equal(hold[1], hold[0]) and np.array_equal(hold[2], base[2])


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="obs_delay"):
        MarbleMazeConfig(obs_delay=-1)
    with pytest.raises(ValueError, match="substeps"):
        MarbleMazeConfig(substeps=0)
    with pytest.raises(ValueError, match="do not fit"):
        MarbleMazeConfig(n_rings=6)
    with pytest.raises(ValueError, match="gate_angles"):
        MarbleMazeConfig(gate_angles=(0.0,))
    e = MarbleMazeEnv()
    e.reset(seed=0)
    with pytest.raises(ValueError, match="action must be"):
        e.step(7)
    e.close()


def test_a_privileged_controller_solves_the_maze():
    e = MarbleMazeEnv(max_steps=1500)
    wins = 0
    for seed in range(3):
        e.reset(seed=seed)
        while True:
            _, _, term, trunc, info = e.step(oracle_action(e))
            if term or trunc:
                break
        wins += info["success"]
    e.close()
    assert wins == 3
