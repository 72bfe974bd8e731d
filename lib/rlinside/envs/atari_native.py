"""One Atari game on ale-py's native (C++) preprocessing, with our stack's semantics.

:func:`rlinside.envs.atari.make_atari_env` assembles the DQN preprocessing from gymnasium's
Python wrappers. ale-py also ships it in C++ (:class:`ale_py.vector_env.AtariVectorEnv`:
frame skip, max over the last two frames, grayscale, resize), which steps faster. Its
defaults differ from our stack in three ways, so :class:`NativeAtariEnv` uses only the C++
part that matches and does the rest itself, on one game:

1. **Frame stack.** The C++ stack pads a new game with zero frames; ours pads with copies of
   the first frame (gymnasium's ``FrameStackObservation``). We run the C++ env with a stack of
   1 and keep the stack here.
2. **FIRE.** The C++ ``use_fire_reset`` presses FIRE at reset only; our
   :class:`~rlinside.envs.atari.FireOnLifeStart` presses it after every lost life too (Breakout
   serves the ball on FIRE only). We press it here, at reset and after each lost life, inside
   the same agent step, adding its reward to the step's.
3. **Rewards and life loss.** Rewards are summed unclipped, then clipped to [-1, 1] in
   training; ``info["life_lost"]`` and ``info["episode"]`` (full-game score and length in agent
   steps, the automatic FIRE steps not counted) are those of our stack.

With ``noop_max=0`` the observations, rewards and flags equal :func:`make_atari_env`'s bit for
bit, step by step (``tests/test_atari_native.py``). With reset no-ops they are drawn by the
C++ env's own generator (a uniform count of single no-op frames, as in gymnasium's
``AtariPreprocessing``), so the same seed starts a different, equally distributed game.

Seeding: ``reset(seed=s)`` reloads the ROM (about 0.1 s); ``reset()`` without a seed does not
(under 0.01 s) and continues the env's own generators. Seed once, at construction.

There is no per-game ``cloneState`` in the native interface, so :func:`rlinside.envs.atari.
snapshot_env` (A2C's exact mid-game resume) does not apply to this env. The shipped agents
trained on :func:`make_atari_env`; A2C can train on :class:`NativeAtariVector` with
``A2CConfig(env_backend="native")`` (games restart at each checkpoint, see
:mod:`rlinside.agents.a2c`). ``benchmarks/atari_training.py`` times both stacks.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np

from rlinside.envs.atari import _FIRE, ATARI_GAMES, MAX_FRAMES_PER_EPISODE

__all__ = ["MAX_SEED", "NativeAtariEnv", "NativeAtariVector", "rom_name"]

MAX_SEED = 2**31 - 1  # the C++ env binds seeds to a 32-bit signed int


def rom_name(game: str) -> str:
    """ale-py's ROM name of a game: ``"MsPacman"`` -> ``"ms_pacman"``."""
    if game == "Qbert":
        return "qbert"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", game).lower()


def _check_seed(seed: Any) -> None:
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}] (the C++ env takes 32-bit signed "
                         f"seeds), got {seed!r}")


def _c_stepper(game: str, n: int, *, frame_stack: int, noop_max: int, frame_skip: int, screen_size: int,
               repeat_action_probability: float, num_threads: int = 1):
    """Check the arguments (clear errors before any work), then build ale-py's C++ stepper for
    ``n`` games: a stack of 1 (we stack), no FIRE, no clipping, no life-loss episodes, and the
    next game started in the step that ends one (SameStep)."""
    if game not in ATARI_GAMES:
        raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {game!r}")
    for name, value, low in (("n", n, 1), ("frame_stack", frame_stack, 1), ("noop_max", noop_max, 0),
                             ("frame_skip", frame_skip, 1), ("screen_size", screen_size, 1),
                             ("num_threads", num_threads, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not 0.0 <= repeat_action_probability <= 1.0:
        raise ValueError(f"repeat_action_probability must be in [0, 1], got {repeat_action_probability!r}")
    from ale_py.vector_env import AtariVectorEnv

    return AtariVectorEnv(
        rom_name(game), n, num_threads=num_threads, stack_num=1, frameskip=frame_skip,
        img_height=screen_size, img_width=screen_size, noop_max=noop_max, use_fire_reset=False,
        episodic_life=False, reward_clipping=False, max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        repeat_action_probability=repeat_action_probability, autoreset_mode="SameStep",
    )


class NativeAtariEnv:
    """A drop-in for :func:`rlinside.envs.atari.make_atari_env`'s env on the C++ stepper.

    Same arguments (``render_mode`` excepted) and the same ``reset``/``step`` interface:
    observations ``(frame_stack, screen_size, screen_size)`` uint8, the minimal action set.
    """

    def __init__(
        self,
        game: str,
        *,
        seed: int,
        frame_stack: int = 4,
        training: bool = True,
        noop_max: int = 30,
        frame_skip: int = 4,
        screen_size: int = 84,
        repeat_action_probability: float = 0.0,
    ) -> None:
        _check_seed(seed)
        self._venv = _c_stepper(game, 1, frame_stack=frame_stack, noop_max=noop_max, frame_skip=frame_skip,
                                screen_size=screen_size, repeat_action_probability=repeat_action_probability)
        self.game, self.training = game, training
        self._fire = ATARI_GAMES[game].fire_to_start
        n_actions = self._venv.single_action_space.n
        self.action_space = gym.spaces.Discrete(n_actions)
        self.observation_space = gym.spaces.Box(0, 255, (frame_stack, screen_size, screen_size), np.uint8)
        if self._fire and self._venv.ale.get_action_set()[_FIRE].name != "FIRE":
            raise ValueError(f"action {_FIRE} of {game} is not FIRE")
        self._stack = np.zeros(self.observation_space.shape, np.uint8)
        self._action = np.zeros(1, np.int64)
        self._lives = 0
        self._score, self._length = 0.0, 0
        self._pending: tuple[np.ndarray, int] | None = None
        self.action_space.seed(seed)
        self.reset(seed=seed)

    # -- the C++ env, one game
    def _step1(self, action: int) -> tuple[np.ndarray, float, bool, bool, int, dict]:
        self._action[0] = action
        obs, reward, terminated, truncated, info = self._venv.step(self._action)
        if terminated[0] or truncated[0]:
            # SameStep autoreset: the C++ env has started the next game already, and obs holds
            # its first frame. Keep that for reset(): a second reset would draw the emulator's
            # generator again, and the next game would differ from our stack's.
            self._pending = (obs[0, -1].copy(), int(info["lives"][0]))
            obs = info["final_obs"]
        return obs[0, -1], float(reward[0]), bool(terminated[0]), bool(truncated[0]), int(info["lives"][0]), info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            _check_seed(seed)
        if seed is None and self._pending is not None:
            frame, lives = self._pending
        else:
            obs, info = self._venv.reset(seed=None if seed is None else np.array([seed]))
            frame, lives = obs[0, -1], int(info["lives"][0])
        self._pending = None
        if self._fire:
            frame, _, terminated, truncated, lives, _ = self._step1(_FIRE)
            if terminated or truncated:  # cannot happen at the start of Breakout; stay safe
                frame, lives = self._pending
                self._pending = None
        self._lives = lives
        self._score, self._length = 0.0, 0
        self._stack[:] = frame  # pad with copies of the first frame, as FrameStackObservation
        out = {"lives": lives}
        if self.training:
            out["life_lost"] = False
        return self._stack.copy(), out

    def step(self, action: int):
        frame, reward, terminated, truncated, lives, _ = self._step1(int(action))
        if self._fire and lives < self._lives and not (terminated or truncated):
            frame, fire_reward, terminated, truncated, lives, _ = self._step1(_FIRE)
            reward += fire_reward
        life_lost = bool(terminated or lives < self._lives)
        self._lives = lives
        self._score += reward
        self._length += 1
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame
        info: dict[str, Any] = {"lives": lives}
        if terminated or truncated:
            info["episode"] = {"r": self._score, "l": self._length}
        if self.training:
            info["life_lost"] = life_lost
            reward = float(np.clip(reward, -1.0, 1.0))
        return self._stack.copy(), reward, terminated, truncated, info

    @property
    def unwrapped(self) -> NativeAtariEnv:
        return self

    def close(self) -> None:
        self._venv.close()


class NativeAtariVector:
    """``n`` games of one title stepped together in ale-py's C++ ``AtariVectorEnv``, with our
    stack's semantics (frame stack padded with the first frame, rewards summed then clipped in
    training, ``life_lost``, full-game episode statistics).

    Interface of a batch, as the A2C loop consumes it: :meth:`reset` takes one seed per game
    and returns ``(n, frame_stack, S, S)`` uint8; :meth:`step` takes ``(n,)`` actions and
    returns ``obs, rewards, terminated, truncated, infos``, where a game that ended is already
    restarted (unseeded, its own generators continuing) and ``obs`` holds the new game's first
    stack, as if ``env.reset()`` had been called on :func:`make_atari_env`'s env; ``infos`` is
    ``{"life_lost": (n,) bool, "episodes": {index: {"r", "l"}}}`` (training) with the finished
    games' statistics.

    Games that serve on FIRE (Breakout) are refused: the batch cannot press FIRE for one game
    after its lost life without stepping the others (the C++ ``use_fire_reset`` presses it at
    reset only). Use :class:`NativeAtariEnv` or :func:`make_atari_env` for them.
    """

    def __init__(
        self,
        game: str,
        n: int,
        *,
        frame_stack: int = 4,
        training: bool = True,
        noop_max: int = 30,
        frame_skip: int = 4,
        screen_size: int = 84,
        repeat_action_probability: float = 0.0,
        num_threads: int = 1,
    ) -> None:
        if game in ATARI_GAMES and ATARI_GAMES[game].fire_to_start:
            raise ValueError(f"{game} serves on FIRE after each lost life, which a batch of games cannot "
                             "press for one game alone; use NativeAtariEnv or make_atari_env")
        self._venv = _c_stepper(game, n, frame_stack=frame_stack, noop_max=noop_max, frame_skip=frame_skip,
                                screen_size=screen_size, repeat_action_probability=repeat_action_probability,
                                num_threads=num_threads)
        self.n, self.training = n, training
        self.action_space = gym.spaces.Discrete(self._venv.single_action_space.n)
        self._stack = np.zeros((n, frame_stack, screen_size, screen_size), np.uint8)
        self._lives = np.zeros(n, np.int64)
        self._score = np.zeros(n)
        self._length = np.zeros(n, np.int64)

    def reset(self, seeds) -> np.ndarray:
        seeds = np.asarray(seeds)
        if seeds.shape != (self.n,) or not np.issubdtype(seeds.dtype, np.integer):
            raise ValueError(f"reset needs one integer seed per game, shape ({self.n},); got "
                             f"{seeds.dtype} {seeds.shape}")
        if seeds.min() < 0 or seeds.max() > MAX_SEED:
            raise ValueError(f"seeds must be in [0, {MAX_SEED}] (the C++ env takes 32-bit signed "
                             f"seeds); got {seeds.min()}..{seeds.max()}")
        seeds = seeds.astype(np.int64)
        obs, info = self._venv.reset(seed=seeds)
        self._stack[:] = obs[:, -1:]
        self._lives[:] = info["lives"]
        self._score[:] = 0.0
        self._length[:] = 0
        return self._stack.copy()

    def step(self, actions):
        obs, reward, terminated, truncated, info = self._venv.step(np.asarray(actions, dtype=np.int64))
        ended = terminated | truncated
        lives = info["lives"].astype(np.int64)
        reward = reward.astype(np.float64)
        life_lost = ended | (lives < self._lives)
        self._score += reward
        self._length += 1
        episodes = {int(i): {"r": float(self._score[i]), "l": int(self._length[i])} for i in np.flatnonzero(ended)}
        self._stack[:, :-1] = self._stack[:, 1:]
        self._stack[:, -1] = obs[:, -1]
        if ended.any():  # obs holds the next games' first frames: pad their stacks with them
            self._stack[ended] = obs[ended, -1:]
            self._score[ended] = 0.0
            self._length[ended] = 0
        self._lives[:] = lives
        infos: dict[str, Any] = {"episodes": episodes}
        if self.training:
            infos["life_lost"] = life_lost
            reward = np.clip(reward, -1.0, 1.0)
        return self._stack.copy(), reward, terminated.copy(), truncated.copy(), infos

    def close(self) -> None:
        self._venv.close()
