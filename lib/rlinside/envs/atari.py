"""Atari 2600 games through ale-py and gymnasium's standard preprocessing.

The pipeline is the one of the DQN literature (Mnih et al. 2015, "Human-level control
through deep reinforcement learning", Methods: "Preprocessing"; Machado et al. 2018,
"Revisiting the Arcade Learning Environment", for the evaluation protocol), assembled from
gymnasium's own wrappers rather than rewritten here:

1. ``ale_py`` environment ``ALE/<Game>-v5`` with ``frameskip=1`` and the minimal action set,
   so that frame skipping is done by (2);
2. :class:`gymnasium.wrappers.AtariPreprocessing`: up to ``noop_max=30`` no-op actions at
   reset, the chosen action repeated for 4 frames with a max over the last two frames
   (flicker removal), grayscale, 84x84 (``cv2.INTER_AREA``), uint8;
3. :class:`FireOnLifeStart` (Breakout only): presses FIRE at reset and after every lost life,
   because the ball is only served on FIRE. Without it a greedy agent that never presses
   FIRE stalls until the 108,000-frame limit. This is the behaviour of the common
   ``FireResetEnv`` + ``EpisodicLifeEnv`` pair (Stable-Baselines3 ``AtariWrapper``), in
   which every life begins with FIRE;
4. :class:`gymnasium.wrappers.RecordEpisodeStatistics`: the *full-game*, unclipped score and
   length (in agent decisions; the automatic FIRE steps are not counted) in
   ``info["episode"]`` when a game ends;
5. training only: :class:`LifeLossSignal` (``info["life_lost"]``) and
   :class:`gymnasium.wrappers.ClipReward` to [-1, 1] (equal to ``sign(r)`` for Atari's integer
   rewards);
6. :class:`gymnasium.wrappers.FrameStackObservation`: the last ``frame_stack`` frames,
   observation ``(frame_stack, 84, 84)`` uint8, padded at reset with copies of the first frame.

Life loss as a terminal. ``AtariPreprocessing(terminal_on_life_loss=True)`` reports
``terminated`` on a lost life, and the following ``reset()`` then restarts the whole game: the
agent would only ever play first lives, and episode returns would not be game scores. We keep
the game running instead and report the lost life in ``info["life_lost"]``; the learner treats
it as a terminal for the TD target only (Dopamine's ``terminal_on_life_loss`` does the same).
An episode of these environments is therefore always a full game, in training and evaluation.

Sticky actions. We use ``repeat_action_probability=0.0`` (no sticky actions), the setting of
the ``NoFrameskip-v4`` environments on which the DQN hyperparameters we use (Dopamine,
rl-baselines3-zoo, CleanRL) were tuned; with it the only randomness of an episode is the
number of reset no-ops, drawn from the seed passed to ``reset``. The ``-v5`` default (0.25,
Machado et al. 2018) is available through the ``repeat_action_probability`` argument. The
paper we reproduce (Rosynski et al.) used ``Breakout-v0``, which had sticky actions 0.25 and a
random frame skip of 2-4; we do not reproduce that setting.

Determinism: ``env.reset(seed=s)`` reseeds the emulator and the no-op draw, and no other
randomness exists with ``repeat_action_probability=0``; so the same seed and actions give the
same observations, bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, SupportsFloat

import ale_py
import gymnasium as gym

__all__ = [
    "ATARI_GAMES", "make_atari_env", "FireOnLifeStart", "LifeLossSignal", "snapshot_env",
    "restore_env",
]

gym.register_envs(ale_py)


@dataclass(frozen=True)
class _GameSpec:
    ale_id: str
    fire_to_start: bool  # the game waits for FIRE at the start of a game and of each life


#: Games accepted by :func:`make_atari_env` (the two games of Rosynski et al., Table 1).
ATARI_GAMES: dict[str, _GameSpec] = {
    "Breakout": _GameSpec(ale_id="ALE/Breakout-v5", fire_to_start=True),
    "Seaquest": _GameSpec(ale_id="ALE/Seaquest-v5", fire_to_start=False),
    # The games below serve the RTRL chapter's Atari prediction benchmark (Javed et al., Fig. 7
    # names Pong and CrazyClimber); none of them waits for FIRE to start a life.
    "Pong": _GameSpec(ale_id="ALE/Pong-v5", fire_to_start=False),
    "CrazyClimber": _GameSpec(ale_id="ALE/CrazyClimber-v5", fire_to_start=False),
    "Boxing": _GameSpec(ale_id="ALE/Boxing-v5", fire_to_start=False),
    "SpaceInvaders": _GameSpec(ale_id="ALE/SpaceInvaders-v5", fire_to_start=False),
    "Qbert": _GameSpec(ale_id="ALE/Qbert-v5", fire_to_start=False),
    "MsPacman": _GameSpec(ale_id="ALE/MsPacman-v5", fire_to_start=False),
    "Asterix": _GameSpec(ale_id="ALE/Asterix-v5", fire_to_start=False),
}

#: Frames per episode before truncation (ALE v5 default: 108,000 frames = 30 min of play =
#: 27,000 agent steps at frame skip 4; Machado et al. 2018).
MAX_FRAMES_PER_EPISODE = 108_000

_FIRE = 1  # index of FIRE in the minimal action set of the games above (checked at build time)


class FireOnLifeStart(gym.Wrapper):
    """Press FIRE once at reset and once after each lost life (games that serve on FIRE).

    The FIRE step's reward is added to the reward of the step that lost the life; if the FIRE
    step ends the game, that is reported. Observations are those after the FIRE step.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        meanings = env.unwrapped.get_action_meanings()
        if meanings[_FIRE] != "FIRE":
            raise ValueError(f"action {_FIRE} of this game is {meanings[_FIRE]!r}, not 'FIRE'")
        self._lives = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        obs, _, terminated, truncated, info = self.env.step(_FIRE)
        if terminated or truncated:  # cannot happen at the start of Breakout; stay safe
            obs, info = self.env.reset(options=options)
        self._lives = self.env.unwrapped.ale.lives()
        return obs, info

    def step(self, action: int):
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.env.unwrapped.ale.lives()
        if lives < self._lives and not (terminated or truncated):
            obs, fire_reward, terminated, truncated, info = self.env.step(_FIRE)
            reward = float(reward) + float(fire_reward)
        self._lives = lives
        return obs, reward, terminated, truncated, info


class LifeLossSignal(gym.Wrapper):
    """Add ``info["life_lost"]`` (bool): the step cost the agent a life (or ended the game).

    The game is *not* ended: the learner uses the flag as a terminal for its TD target only.
    """

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._lives = self.env.unwrapped.ale.lives()
        info["life_lost"] = False
        return obs, info

    def step(self, action: int) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.env.unwrapped.ale.lives()
        info["life_lost"] = bool(terminated or lives < self._lives)
        self._lives = lives
        return obs, reward, terminated, truncated, info


def make_atari_env(
    game: str,
    *,
    seed: int,
    frame_stack: int = 4,
    training: bool = True,
    noop_max: int = 30,
    frame_skip: int = 4,
    screen_size: int = 84,
    repeat_action_probability: float = 0.0,
    render_mode: str | None = None,
) -> gym.Env:
    """Build the preprocessed Atari environment for ``game`` (see the module docstring).

    Args:
        game: ``"Breakout"`` or ``"Seaquest"``.
        seed: seeds the action space and the first ``reset()``; call ``reset(seed=...)`` to
            reseed a later game (the DQN loop does so at every game, see ``agents.dqn``).
        frame_stack: number of most recent frames in an observation.
        training: True adds ``info["life_lost"]`` and clips rewards to [-1, 1]; False gives
            the evaluation environment (raw game score, no life-loss flag).
        noop_max: maximum number of no-op actions at reset (Mnih et al. 2015: 30).
        frame_skip: each action is repeated for this many emulator frames (4).
        screen_size: side of the square observation (84).
        repeat_action_probability: sticky-action probability (0.0, see module docstring).
        render_mode: passed to the ALE environment (e.g. ``"rgb_array"`` for videos).

    Returns:
        A gymnasium environment with observations ``(frame_stack, screen_size, screen_size)``
        uint8 and the game's minimal discrete action set. ``info["episode"]`` holds
        ``{"r": full-game score, "l": length in agent steps}`` at the end of each game.
    """
    if game not in ATARI_GAMES:
        raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {game!r}")
    if not isinstance(frame_stack, int) or frame_stack < 1:
        raise ValueError(f"frame_stack must be a positive integer, got {frame_stack!r}")
    if not 0.0 <= repeat_action_probability <= 1.0:
        raise ValueError(
            f"repeat_action_probability must be in [0, 1], got {repeat_action_probability!r}"
        )
    spec = ATARI_GAMES[game]
    env = gym.make(
        spec.ale_id,
        frameskip=1,
        repeat_action_probability=repeat_action_probability,
        full_action_space=False,
        max_num_frames_per_episode=MAX_FRAMES_PER_EPISODE,
        render_mode=render_mode,
    )
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=screen_size,
        terminal_on_life_loss=False,
        grayscale_obs=True,
        scale_obs=False,
    )
    if spec.fire_to_start:
        env = FireOnLifeStart(env)
    env = gym.wrappers.RecordEpisodeStatistics(env)
    if training:
        env = LifeLossSignal(env)
        env = gym.wrappers.ClipReward(env, -1.0, 1.0)
    env = gym.wrappers.FrameStackObservation(env, frame_stack)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    return env


# Wrapper attributes that hold configuration or spaces, not the state of a game in progress.
_STATIC_ATTRIBUTES = frozenset({
    "env", "_saved_kwargs", "_action_space", "_observation_space", "_metadata", "_cached_spec",
    "func", "_ezpickle_args", "_ezpickle_kwargs", "ale", "action_space", "observation_space",
    "spec", "_action_set",
})


def snapshot_env(env: gym.Env) -> list[dict[str, Any]]:
    """The full state of a game in progress in an environment of :func:`make_atari_env`.

    One entry per layer of the wrapper stack, outermost first: a deep copy of the layer's
    state attributes (frame-stack queue, max-pool buffer, life counters, episode statistics,
    the no-op random generator) and, for the ALE layer, the emulator state with its random
    number generator (``ALEInterface.cloneState(include_rng=True)``, picklable). Restoring it
    with :func:`restore_env` into an environment built with the same arguments continues the
    game bit-identically; agents that checkpoint in the middle of games (A2C's parallel games
    never end together) use it for exact resume.
    """
    layers = []
    layer = env
    while True:
        state = {k: copy.deepcopy(v) for k, v in vars(layer).items() if k not in _STATIC_ATTRIBUTES}
        if not hasattr(layer, "env"):  # the ale_py AtariEnv
            state["__ale__"] = layer.ale.cloneState(include_rng=True)
        layers.append({"type": type(layer).__name__, "state": state})
        if not hasattr(layer, "env"):
            return layers
        layer = layer.env


def restore_env(env: gym.Env, snapshot: list[dict[str, Any]]) -> None:
    """Put ``env`` in the state recorded by :func:`snapshot_env` (same wrapper stack)."""
    layer = env
    for entry in snapshot:
        if type(layer).__name__ != entry["type"]:
            raise ValueError(
                f"snapshot layer {entry['type']!r} does not match environment layer "
                f"{type(layer).__name__!r}: build the environment with the same arguments"
            )
        state = dict(entry["state"])
        ale_state = state.pop("__ale__", None)
        for key, value in state.items():
            setattr(layer, key, copy.deepcopy(value))
        if ale_state is not None:
            layer.ale.restoreState(ale_state)
        if not hasattr(layer, "env"):
            return
        layer = layer.env
    raise ValueError("the snapshot has fewer layers than the environment")
