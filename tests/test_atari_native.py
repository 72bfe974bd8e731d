"""The native (C++) Atari stepper with our stack's semantics equals make_atari_env bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from rlinside.envs.atari import ATARI_GAMES, make_atari_env
from rlinside.envs.atari_native import NativeAtariEnv, rom_name


@pytest.mark.parametrize("game, steps", [("Breakout", 700), ("Seaquest", 800), ("Pong", 300)])
def test_native_equals_our_stack_step_by_step(game, steps):
    """Frames, rewards, flags and episode statistics agree at every step, across game ends
    (Breakout: FIRE after each lost life; Seaquest: games end and restart unseeded)."""
    ours = make_atari_env(game, seed=3, frame_stack=3, noop_max=0)
    native = NativeAtariEnv(game, seed=3, frame_stack=3, noop_max=0)
    assert native.action_space.n == ours.action_space.n
    assert native.observation_space.shape == ours.observation_space.shape
    o1, _ = ours.reset(seed=3)
    o2, _ = native.reset(seed=3)
    np.testing.assert_array_equal(np.asarray(o1), o2)
    rng = np.random.default_rng(0)
    ends = lives_lost = 0
    for t in range(steps):
        action = int(rng.integers(ours.action_space.n))
        a, b = ours.step(action), native.step(action)
        np.testing.assert_array_equal(np.asarray(a[0]), b[0], err_msg=f"{game} frame at step {t}")
        assert a[1:4] == b[1:4], f"{game} reward/terminated/truncated at step {t}"
        assert a[4]["life_lost"] == b[4]["life_lost"], f"{game} life_lost at step {t}"
        lives_lost += b[4]["life_lost"]
        if a[2] or a[3]:
            assert b[4]["episode"] == {"r": a[4]["episode"]["r"], "l": a[4]["episode"]["l"]}
            ends += 1
            np.testing.assert_array_equal(np.asarray(ours.reset()[0]), native.reset()[0])
    if game != "Pong":  # Pong has no lives, and a game lasts longer than the test
        assert lives_lost > 0 and ends >= 1, "the comparison must cross lost lives and a game end"


def test_evaluation_env_reports_raw_rewards():
    env = NativeAtariEnv("Pong", seed=0, training=False, noop_max=0)
    _, info = env.reset(seed=0)
    assert "life_lost" not in info
    rewards = [env.step(0)[1] for _ in range(200)]
    assert min(rewards) == -1.0  # Pong's rewards are -1/+1 already; the flag is absent
    assert "life_lost" not in env.step(0)[4]


def test_rom_names_of_every_game():
    assert rom_name("MsPacman") == "ms_pacman" and rom_name("CrazyClimber") == "crazy_climber"
    assert rom_name("Qbert") == "qbert" and rom_name("SpaceInvaders") == "space_invaders"
    from ale_py import roms

    for game in ATARI_GAMES:
        assert roms.get_rom_path(rom_name(game)) is not None, game


@pytest.mark.parametrize("kwargs, message", [
    ({"game": "Tetris"}, "game must be one of"),
    ({"frame_stack": 0}, "frame_stack must be an integer >= 1"),
    ({"noop_max": -1}, "noop_max must be an integer >= 0"),
    ({"repeat_action_probability": 1.5}, "repeat_action_probability must be in"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = {"game": "Pong", "seed": 0, **kwargs}
    game = args.pop("game")
    with pytest.raises(ValueError, match=message):
        NativeAtariEnv(game, **args)


@pytest.mark.parametrize("game, steps", [("Seaquest", 700), ("Pong", 150)])
def test_native_vector_equals_our_stack_game_by_game(game, steps):
    """A batch of 4 games equals 4 of our envs stepped in turn, each reset at its game's end."""
    from rlinside.envs.atari_native import NativeAtariVector

    seeds = [3, 4, 5, 6]
    ours = [make_atari_env(game, seed=s, frame_stack=3, noop_max=0) for s in seeds]
    batch = NativeAtariVector(game, len(seeds), frame_stack=3, noop_max=0)
    obs = batch.reset(seeds)
    np.testing.assert_array_equal(np.stack([np.asarray(e.reset(seed=s)[0]) for e, s in zip(ours, seeds)]), obs)
    rng = np.random.default_rng(1)
    ends = 0
    for t in range(steps):
        actions = rng.integers(batch.action_space.n, size=len(seeds))
        obs, rewards, terminated, truncated, infos = batch.step(actions)
        for e, env in enumerate(ours):
            o, r, te, tr, info = env.step(int(actions[e]))
            assert (r, te, tr, info["life_lost"]) == (rewards[e], terminated[e], truncated[e], infos["life_lost"][e])
            if te or tr:
                assert infos["episodes"][e] == {"r": info["episode"]["r"], "l": info["episode"]["l"]}
                o, _ = env.reset()
                ends += 1
            np.testing.assert_array_equal(np.asarray(o), obs[e], err_msg=f"{game} game {e} step {t}")
    if game == "Seaquest":
        assert ends >= 4


def test_native_vector_refuses_fire_games_and_bad_seeds():
    from rlinside.envs.atari_native import NativeAtariVector

    with pytest.raises(ValueError, match="serves on FIRE"):
        NativeAtariVector("Breakout", 2)
    batch = NativeAtariVector("Pong", 2, noop_max=0)
    with pytest.raises(ValueError, match="one integer seed per game"):
        batch.reset([1, 2, 3])
    with pytest.raises(ValueError, match="one integer seed per game"):
        batch.reset([1.0, 2.0])
    with pytest.raises(ValueError, match=r"seeds must be in \[0, 2147483647\]"):
        batch.reset([1, 2**31])
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2147483647\]"):
        NativeAtariEnv("Pong", seed=-1)
