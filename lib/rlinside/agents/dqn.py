"""Double + Dueling DQN ("DDDQN") for Atari, with exact checkpoint and resume.

The agent of Rosynski et al. ("Are gradient-based saliency maps useful in deep RL?",
Table 1: DDDQN on Breakout and Seaquest) combines

* DQN (Mnih et al. 2015): experience replay, a target network, Huber loss, epsilon-greedy;
* Double DQN (van Hasselt et al. 2016, Eq. 4): the online network chooses the next action,
  the target network evaluates it (:func:`double_dqn_target`);
* the dueling head (Wang et al. 2016, Eq. 9), in :class:`rlinside.nets.atari.DuelingQNetwork`.

The loop in :func:`train_dqn` reads top to bottom like CleanRL's ``dqn_atari.py``; every
hyperparameter is a field of :class:`DQNConfig`.

Episodes, life loss and rewards. An environment episode is a full game
(:mod:`rlinside.envs.atari`). A lost life is stored in the replay buffer as a terminal for the
TD target, and rewards are clipped to [-1, 1]; the returns in ``metrics.csv`` are the
unclipped full-game scores of the (epsilon-greedy) training episodes.

Checkpoint and resume (``run_dir`` layout)::

    checkpoint.pt            networks, optimizer, counters, RNG states, config (torch.save)
    replay_<step>.npz        the replay buffer at that checkpoint (zip of .npy, deflate level 1)
    metrics.csv              one row per finished training game
    weights_step<N>.pt       float16 snapshots at config.snapshot_steps (see export_weights)
    final.pt                 float32 weights when total_steps is reached

A checkpoint is taken at the first end of a game once ``checkpoint_every`` agent steps have
passed since the last one, so no environment state needs saving: every game ``k`` starts with
``env.reset(seed=game_seed(config.seed, k))``, in the uninterrupted run as in a resumed one.
With the replay file present, a run that is killed and resumed therefore ends bit-identical to
an uninterrupted run on the same machine (same torch build, same ``torch_threads``; on CPU —
CUDA kernels are not guaranteed deterministic). Progress after the last checkpoint is lost and
recomputed. Files are written atomically (temporary file, then ``os.replace``); the replay
file is written before the checkpoint that names it, and older replay files are deleted after.

Without the replay file (deleted, or a checkpoint moved without it), training resumes with an
empty buffer and makes no update until ``learning_starts`` new transitions have been collected
with the current epsilon. Such a resume is *not* bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import time
import warnings
import zipfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rlinside.envs.atari import ATARI_GAMES, make_atari_env
from rlinside.nets.atari import DuelingQNetwork
from rlinside.utils import atomic_write_bytes, seed_everything, torch_device

__all__ = [
    "DQNConfig",
    "FrameReplayBuffer",
    "double_dqn_target",
    "linear_epsilon",
    "game_seed",
    "train_dqn",
    "evaluate",
    "export_weights",
    "load_weights",
]

CHECKPOINT_FORMAT = "rlinside.dqn.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.dqn.weights/1"
METRICS_FIELDS = ("step", "episode", "return", "length", "loss", "epsilon", "wall_time")

# Fields of DQNConfig that may differ between a checkpoint and the run resuming it: they
# change when or how results are saved, never the numbers computed.
RESUMABLE_CHANGES = frozenset(
    {"total_steps", "checkpoint_every", "save_replay", "snapshot_steps", "torch_threads"}
)


@dataclass(frozen=True)
class DQNConfig:
    """Every setting of a Double + Dueling DQN run on Atari.

    Hyperparameters follow the Atari DQN settings of Dopamine (Castro et al. 2018,
    ``dqn.gin`` / JAX DQN: Adam with eps 1.5e-4, Huber loss, 20k transitions before learning,
    an update every 4 steps, target sync every 8000 steps, final epsilon 0.01) and of
    rl-baselines3-zoo / CleanRL (``dqn_atari``: lr 1e-4, batch 32, gamma 0.99, epsilon
    decayed over the first 10% of training), scaled for runs of 1-2M agent steps (the buffer
    holds 100k transitions instead of 1M; exploration decays over 150k steps, 10% of 1.5M).
    The gradient-norm clip of 10 is that of the dueling paper (Wang et al. 2016, Sec. 4.2).
    """

    # -- run
    game: str = "Breakout"  # one of rlinside.envs.atari.ATARI_GAMES
    seed: int = 0  # seeds network init, exploration, replay sampling and every game
    total_steps: int = 1_500_000  # agent steps (1 step = 4 emulator frames)
    # -- environment (rlinside.envs.atari)
    frame_stack: int = 4  # frames per observation (Mnih et al. 2015)
    repeat_action_probability: float = 0.0  # no sticky actions (NoFrameskip-v4 setting)
    # -- learning
    learning_rate: float = 1e-4  # Adam step size (rl-baselines3-zoo, CleanRL)
    adam_eps: float = 1.5e-4  # Adam epsilon (Dopamine, Hessel et al. 2018)
    gamma: float = 0.99  # discount
    buffer_size: int = 100_000  # replay capacity in transitions (scaled down from 1M)
    learning_starts: int = 20_000  # transitions in the buffer before the first update (Dopamine)
    train_freq: int = 4  # agent steps per gradient update (Mnih et al. 2015)
    batch_size: int = 32  # transitions per update
    target_update_every: int = 8_000  # agent steps between target syncs (= 2000 updates)
    max_grad_norm: float = 10.0  # global gradient-norm clip (Wang et al. 2016)
    huber_delta: float = 1.0  # Huber loss threshold (Mnih et al. 2015 "error clipping")
    epsilon_start: float = 1.0  # exploration at step 0
    epsilon_end: float = 0.01  # exploration after the decay (Dopamine, CleanRL)
    epsilon_decay_steps: int = 150_000  # linear decay length in agent steps
    channels_last: bool = True  # conv memory layout; ~20% faster on CPU, same math
    # -- bookkeeping (do not change the computed numbers; may change on resume)
    checkpoint_every: int = 100_000  # agent steps between checkpoints (taken at game ends)
    save_replay: bool = True  # store the replay buffer with checkpoints (exact resume)
    snapshot_steps: tuple[int, ...] = ()  # agent steps at which float16 weights are saved
    torch_threads: int = 1  # torch.set_num_threads for the run

    def __post_init__(self) -> None:
        if self.game not in ATARI_GAMES:
            raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {self.game!r}")
        positive_ints = (
            "total_steps", "frame_stack", "buffer_size", "train_freq", "batch_size",
            "target_update_every", "epsilon_decay_steps", "checkpoint_every", "torch_threads",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.learning_starts, int) or self.learning_starts < self.batch_size:
            raise ValueError(
                f"learning_starts must be an integer >= batch_size ({self.batch_size}), "
                f"got {self.learning_starts!r}"
            )
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts ({self.learning_starts}) must not exceed buffer_size "
                f"({self.buffer_size})"
            )
        for name in ("gamma", "epsilon_start", "epsilon_end", "repeat_action_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in ("learning_rate", "adam_eps", "max_grad_norm", "huber_delta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        object.__setattr__(self, "snapshot_steps", tuple(int(s) for s in self.snapshot_steps))

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        d = dataclasses.asdict(self)
        d["snapshot_steps"] = list(self.snapshot_steps)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DQNConfig":
        d = dict(d)
        d["snapshot_steps"] = tuple(d.get("snapshot_steps", ()))
        return cls(**d)


# --------------------------------------------------------------------------------- pieces


def linear_epsilon(config: DQNConfig, step: int) -> float:
    """Exploration rate at agent step ``step``: linear from ``epsilon_start`` to
    ``epsilon_end`` over ``epsilon_decay_steps``, constant afterwards (Mnih et al. 2015)."""
    fraction = min(step / config.epsilon_decay_steps, 1.0)
    return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)


def game_seed(seed: int, game_index: int, purpose: int = 0) -> int:
    """Seed of the ``game_index``-th game of a run with seed ``seed``: a 32-bit integer drawn
    from ``SeedSequence(seed, spawn_key=(purpose, game_index))``. ``purpose`` 0 is training,
    1 evaluation, so evaluation games never replay training games."""
    seq = np.random.SeedSequence(seed, spawn_key=(purpose, game_index))
    return int(seq.generate_state(1)[0])


def double_dqn_target(
    rewards: torch.Tensor,
    terminals: torch.Tensor,
    next_q_online: torch.Tensor,
    next_q_target: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """The Double DQN target (van Hasselt et al. 2016, Eq. 4):

        y = r + gamma * (1 - terminal) * Q_target(s', argmax_a Q_online(s', a))

    Args:
        rewards: ``(B,)`` clipped rewards.
        terminals: ``(B,)`` bool or {0, 1}: no bootstrap (game over or life lost).
        next_q_online: ``(B, A)`` online-network Q-values of the next observations.
        next_q_target: ``(B, A)`` target-network Q-values of the next observations.
        gamma: discount.

    Returns:
        ``(B,)`` targets (no gradient flows through them when the inputs carry none).
    """
    next_actions = next_q_online.argmax(dim=1, keepdim=True)  # (B, 1)
    next_values = next_q_target.gather(1, next_actions).squeeze(1)  # (B,)
    return rewards + gamma * (1.0 - terminals.float()) * next_values


class FrameReplayBuffer:
    """Circular replay buffer that stores each 84x84 frame once (not ``frame_stack`` copies).

    Entry ``i`` holds the newest frame of observation ``s_i``, the action ``a_i``, the clipped
    reward ``r_i``, ``terminal_i`` (no bootstrap: game over or life lost) and ``first_i`` (``s_i``
    is the first observation of a game). The stacked observation of entry ``i`` is rebuilt
    from entries ``i - frame_stack + 1 .. i``; frames before the start of the game are
    replaced by the game's first frame, exactly as ``FrameStackObservation`` pads at reset.
    The next observation of entry ``i`` is the stack of entry ``i + 1``.

    A transition can be sampled when its next observation is stored (or it is terminal, so the
    next observation is not used) and its history has not been overwritten. A game cut by
    the time limit (truncated, not terminal) leaves its last transition unsampled.

    Memory: ``capacity * (84 * 84 + 14)`` bytes, about 0.7 GB for 100k transitions.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, int] = (84, 84), frame_stack: int = 4):
        self.capacity = int(capacity)
        self.frame_shape = tuple(frame_shape)
        self.frame_stack = int(frame_stack)
        self.frames = np.zeros((self.capacity, *self.frame_shape), dtype=np.uint8)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminals = np.zeros(self.capacity, dtype=bool)
        self.firsts = np.zeros(self.capacity, dtype=bool)
        self.ptr = 0  # next entry to write
        self.size = 0  # entries written, at most capacity

    def __len__(self) -> int:
        return self.size

    def add(self, frame: np.ndarray, action: int, reward: float, terminal: bool, first: bool) -> None:
        """Store one step: ``frame: (84, 84)`` uint8, the newest frame of the observation the
        action was taken in."""
        if self.size == 0 and not first:
            raise ValueError("the first entry of an empty buffer must start a game (first=True)")
        i = self.ptr
        self.frames[i] = frame
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminals[i] = terminal
        self.firsts[i] = first
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def stack_indices(self, idx: np.ndarray) -> np.ndarray:
        """Entry indices of the stacked observations of entries ``idx: (B,)`` -> ``(B, k)``,
        oldest frame first, clamped at the first frame of each game."""
        k = self.frame_stack
        idxs = (idx[:, None] + np.arange(-(k - 1), 1)) % self.capacity  # (B, k)
        for c in range(k - 2, -1, -1):
            at_start = self.firsts[idxs[:, c + 1]]
            idxs[:, c] = np.where(at_start, idxs[:, c + 1], idxs[:, c])
        return idxs

    def _valid(self, idx: np.ndarray) -> np.ndarray:
        newest = (self.ptr - 1) % self.capacity
        nxt = (idx + 1) % self.capacity
        has_next = (idx != newest) & ~self.firsts[nxt]
        ok = (idx < self.size) & (self.terminals[idx] | has_next)
        if self.size == self.capacity:  # history must not reach into the newest entries
            ok &= (idx - self.ptr) % self.capacity >= self.frame_stack - 1
        return ok

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Uniform sample of valid transitions.

        Returns:
            ``obs: (B, k, 84, 84)`` uint8, ``actions: (B,)`` int64, ``rewards: (B,)`` float32,
            ``next_obs: (B, k, 84, 84)`` uint8, ``terminals: (B,)`` bool.
        """
        idx = rng.integers(0, self.size, size=batch_size)
        bad = ~self._valid(idx)
        for _ in range(1000):
            if not bad.any():
                break
            idx[bad] = rng.integers(0, self.size, size=int(bad.sum()))
            bad = ~self._valid(idx)
        else:
            raise RuntimeError("could not sample valid transitions; is the buffer nearly empty?")
        obs = self.frames[self.stack_indices(idx)]
        next_obs = self.frames[self.stack_indices((idx + 1) % self.capacity)]
        return obs, self.actions[idx], self.rewards[idx], next_obs, self.terminals[idx]

    def save(self, path: Path, **meta: int) -> None:
        """Write the buffer atomically as a zip of ``.npy`` arrays (deflate level 1; Atari
        frames compress about 10x). ``meta`` integers are stored alongside."""
        arrays = {
            "frames": self.frames, "actions": self.actions, "rewards": self.rewards,
            "terminals": self.terminals, "firsts": self.firsts,
            "ptr": np.int64(self.ptr), "size": np.int64(self.size),
            "frame_stack": np.int64(self.frame_stack),
            **{k: np.int64(v) for k, v in meta.items()},
        }
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, array in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        atomic_write_bytes(path, buf.getbuffer())

    @classmethod
    def load(cls, path: Path) -> tuple["FrameReplayBuffer", dict[str, int]]:
        """Read a buffer written by :meth:`save`; returns it and its ``meta`` integers."""
        with np.load(path, allow_pickle=False) as data:
            frames = data["frames"]
            buffer = cls(frames.shape[0], frames.shape[1:], int(data["frame_stack"]))
            buffer.frames = frames
            for name in ("actions", "rewards", "terminals", "firsts"):
                setattr(buffer, name, data[name])
            buffer.ptr, buffer.size = int(data["ptr"]), int(data["size"])
            core = {"frames", "actions", "rewards", "terminals", "firsts", "ptr", "size", "frame_stack"}
            meta = {k: int(data[k]) for k in data.files if k not in core}
        return buffer, meta


# ------------------------------------------------------------------------------ training


@dataclass
class _Counters:
    step: int = 0  # agent steps taken
    updates: int = 0  # gradient updates made
    episode: int = 0  # games finished (= index of the game being played)
    last_checkpoint_step: int = 0
    wall_time: float = 0.0  # seconds of training, summed over resumes
    recent_returns: list[float] = field(default_factory=list)  # for the progress bar only


def _to_batch(array: np.ndarray, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 ``(B, k, 84, 84)`` numpy -> torch on ``device`` (channels-last layout if asked)."""
    x = torch.from_numpy(array).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _update(
    q_net: DuelingQNetwork,
    target_net: DuelingQNetwork,
    optimizer: torch.optim.Optimizer,
    batch: tuple[np.ndarray, ...],
    config: DQNConfig,
    device: torch.device,
) -> float:
    """One gradient step on a replay batch; returns the Huber loss."""
    obs, actions, rewards, next_obs, terminals = batch
    obs_t = _to_batch(obs, device, config.channels_last)
    next_obs_t = _to_batch(next_obs, device, config.channels_last)
    actions_t = torch.from_numpy(actions).to(device)
    rewards_t = torch.from_numpy(rewards).to(device)
    terminals_t = torch.from_numpy(terminals).to(device)
    with torch.no_grad():  # y = r + gamma (1 - d) Q_target(s', argmax_a Q_online(s', a))
        target = double_dqn_target(
            rewards_t, terminals_t, q_net(next_obs_t), target_net(next_obs_t), config.gamma
        )
    q_taken = q_net(obs_t).gather(1, actions_t[:, None]).squeeze(1)  # Q(s, a): (B,)
    loss = F.huber_loss(q_taken, target, delta=config.huber_delta)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
    optimizer.step()
    return float(loss.item())


def _make_networks(
    n_actions: int, config: DQNConfig, device: torch.device
) -> tuple[DuelingQNetwork, DuelingQNetwork, torch.optim.Optimizer]:
    q_net = DuelingQNetwork(n_actions, in_channels=config.frame_stack).to(device)
    target_net = DuelingQNetwork(n_actions, in_channels=config.frame_stack).to(device)
    if config.channels_last:
        q_net = q_net.to(memory_format=torch.channels_last)
        target_net = target_net.to(memory_format=torch.channels_last)
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    # fused Adam: one kernel for all parameters (~6x faster than the default on CPU).
    optimizer = torch.optim.Adam(
        q_net.parameters(), lr=config.learning_rate, eps=config.adam_eps, fused=True
    )
    return q_net, target_net, optimizer


def _check_resumable(saved: DQNConfig, config: DQNConfig, run_dir: Path) -> None:
    saved_d, new_d = saved.to_dict(), config.to_dict()
    differing = sorted(k for k in new_d if saved_d.get(k) != new_d[k] and k not in RESUMABLE_CHANGES)
    if differing:
        details = ", ".join(
            f"{k}: checkpoint {saved_d.get(k)!r} vs now {new_d[k]!r}" for k in differing
        )
        raise ValueError(
            f"the checkpoint in {run_dir} was made with a different configuration ({details}); "
            f"only {sorted(RESUMABLE_CHANGES)} may change on resume. Use another run_dir."
        )


def _rng_states(rng: np.random.Generator) -> dict[str, Any]:
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy_global": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "generator": rng.bit_generator.state,
    }
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any], rng: np.random.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy_global"])
    torch.set_rng_state(states["torch"])
    rng.bit_generator.state = states["generator"]
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def _save_checkpoint(
    run_dir: Path,
    config: DQNConfig,
    counters: _Counters,
    q_net: DuelingQNetwork,
    target_net: DuelingQNetwork,
    optimizer: torch.optim.Optimizer,
    buffer: FrameReplayBuffer,
    rng: np.random.Generator,
) -> None:
    """Replay file first, then the checkpoint naming it, then delete older replay files."""
    replay_name = None
    if config.save_replay:
        replay_name = f"replay_{counters.step:09d}.npz"
        buffer.save(run_dir / replay_name, step=counters.step)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "counters": dataclasses.asdict(counters),
        "q_net": q_net.state_dict(),
        "target_net": target_net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": _rng_states(rng),
        "replay_file": replay_name,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    data = io.BytesIO()
    torch.save(payload, data)
    atomic_write_bytes(run_dir / "checkpoint.pt", data.getbuffer())
    for old in run_dir.glob("replay_*.npz"):
        if old.name != replay_name:
            old.unlink()


def _load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only=False: the checkpoint holds Python/NumPy RNG states; it is our own local
    # file. Shipped weights (export_weights) load with weights_only=True.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a DQN checkpoint (format {payload.get('format')!r})")
    return payload


def _weights_payload(q_net: DuelingQNetwork, config: DQNConfig, step: int, dtype: torch.dtype) -> dict:
    return {
        "format": WEIGHTS_FORMAT,
        "game": config.game,
        "n_actions": q_net.n_actions,
        "frame_stack": config.frame_stack,
        "step": int(step),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "state_dict": {
            k: v.detach().to("cpu", dtype).contiguous() for k, v in q_net.state_dict().items()
        },
    }


def _save_weights(path: Path, payload: dict) -> None:
    data = io.BytesIO()
    torch.save(payload, data)
    atomic_write_bytes(path, data.getbuffer())


class _MetricsLog:
    """``metrics.csv``: one row per finished training game; on resume, rows of games after
    the checkpoint (recomputed now) are dropped first."""

    def __init__(self, path: Path, keep_episodes: int, fields: tuple[str, ...] = METRICS_FIELDS) -> None:
        if fields[1] != "episode":
            raise ValueError(f"the second metrics field must be 'episode', got {fields!r}")
        self.path = path
        self.fields = tuple(fields)
        rows: list[list[str]] = []
        if path.exists():
            with open(path, newline="") as f:
                reader = csv.reader(f)
                next(reader, None)
                rows = [r for r in reader if r and int(r[1]) < keep_episodes]
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.fields)
            writer.writerows(rows)
        self._file = open(path, "a", newline="")
        self._writer = csv.writer(self._file)

    def write(self, **row: float) -> None:
        self._writer.writerow([row[k] for k in self.fields])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def train_dqn(
    config: DQNConfig,
    run_dir: str | Path,
    *,
    stop_after: int | None = None,
    progress: bool = True,
) -> Path | None:
    """Train a Double + Dueling DQN agent, resuming from ``run_dir/checkpoint.pt`` if present.

    Args:
        config: the run's settings; on resume they must match the checkpoint's except for
            :data:`RESUMABLE_CHANGES` (e.g. ``total_steps`` can grow).
        run_dir: folder of the run (see the module docstring for its files).
        stop_after: return (as if killed, without a final checkpoint) after this many agent
            steps in this call; for tests and time-limited sessions.
        progress: show a tqdm progress bar.

    Returns:
        ``run_dir/final.pt`` (float32 weights) when ``total_steps`` is reached, else None.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final_path = run_dir / "final.pt"
    torch.set_num_threads(config.torch_threads)
    device = torch_device()
    rng = seed_everything(config.seed)  # exploration and replay sampling draw from rng

    env = make_atari_env(
        config.game, seed=config.seed, frame_stack=config.frame_stack, training=True,
        repeat_action_probability=config.repeat_action_probability,
    )
    n_actions = int(env.action_space.n)
    q_net, target_net, optimizer = _make_networks(n_actions, config, device)
    buffer = FrameReplayBuffer(config.buffer_size, env.observation_space.shape[1:], config.frame_stack)
    counters = _Counters()

    if final_path.exists():  # finished before: nothing to do if it reached this total_steps
        done = torch.load(final_path, map_location="cpu", weights_only=True)
        if done["step"] == config.total_steps:
            _check_resumable(DQNConfig.from_dict(json.loads(done["config"])), config, run_dir)
            env.close()
            return final_path

    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        ckpt = _load_checkpoint(checkpoint_path)
        _check_resumable(DQNConfig.from_dict(ckpt["config"]), config, run_dir)
        counters = _Counters(**ckpt["counters"])
        q_net.load_state_dict(ckpt["q_net"])
        target_net.load_state_dict(ckpt["target_net"])
        optimizer.load_state_dict(ckpt["optimizer"])
        _set_rng_states(ckpt["rng"], rng)
        replay_file = ckpt["replay_file"] and run_dir / ckpt["replay_file"]
        if replay_file and replay_file.exists():
            buffer, meta = FrameReplayBuffer.load(replay_file)
            if meta.get("step") != counters.step or buffer.capacity != config.buffer_size:
                raise ValueError(f"{replay_file} does not belong to {checkpoint_path}")
        else:
            warnings.warn(
                f"resuming {run_dir} at step {counters.step} without its replay buffer "
                f"({ckpt['replay_file'] or 'not saved'}): the buffer is refilled with "
                f"{config.learning_starts} new transitions before learning continues; the run "
                "is no longer bit-identical to an uninterrupted one.",
                stacklevel=2,
            )
        del ckpt
        if counters.step > config.total_steps:
            raise ValueError(
                f"the checkpoint in {run_dir} is at step {counters.step}, past total_steps "
                f"{config.total_steps}"
            )

    metrics = _MetricsLog(run_dir / "metrics.csv", keep_episodes=counters.episode)
    recent_returns: deque[float] = deque(counters.recent_returns, maxlen=100)
    episode_losses: list[float] = []
    wall_start, step_start = time.perf_counter() - counters.wall_time, counters.step
    bar = tqdm(
        total=config.total_steps, initial=counters.step, disable=not progress,
        desc=f"DDDQN {config.game} s{config.seed}", unit="step", mininterval=5.0,
        dynamic_ncols=True,
    )

    # Every game k starts from env.reset(seed=game_seed(config.seed, k)): resume needs no env state.
    obs, _ = env.reset(seed=game_seed(config.seed, counters.episode))  # (k, 84, 84) uint8
    first = True
    try:
        while counters.step < config.total_steps:
            if stop_after is not None and counters.step - step_start >= stop_after:
                return None
            # -- act: epsilon-greedy on the online network
            epsilon = linear_epsilon(config, counters.step)
            if rng.random() < epsilon:
                action = int(rng.integers(n_actions))
            else:
                with torch.no_grad():
                    q = q_net(_to_batch(obs[None], device, config.channels_last))
                action = int(q.argmax(dim=1).item())
            next_obs, reward, terminated, truncated, info = env.step(action)

            # -- store (s, a, r, terminal); a lost life ends bootstrapping, not the game
            buffer.add(obs[-1], action, float(reward), terminated or info["life_lost"], first)
            obs, first = next_obs, False
            counters.step += 1
            bar.update(1)

            # -- learn: one update every train_freq steps once learning_starts transitions are in
            if len(buffer) >= config.learning_starts and counters.step % config.train_freq == 0:
                batch = buffer.sample(config.batch_size, rng)
                episode_losses.append(_update(q_net, target_net, optimizer, batch, config, device))
                counters.updates += 1
            if counters.updates > 0 and counters.step % config.target_update_every == 0:
                target_net.load_state_dict(q_net.state_dict())
            if counters.step in config.snapshot_steps:
                _save_weights(
                    run_dir / f"weights_step{counters.step:09d}.pt",
                    _weights_payload(q_net, config, counters.step, torch.float16),
                )

            # -- end of a game: log, checkpoint (only here), start the next game
            if terminated or truncated:
                counters.wall_time = time.perf_counter() - wall_start
                episode = info["episode"]
                metrics.write(
                    step=counters.step, episode=counters.episode, **{"return": float(episode["r"])},
                    length=int(episode["l"]),
                    loss=float(np.mean(episode_losses)) if episode_losses else float("nan"),
                    epsilon=round(epsilon, 6), wall_time=round(counters.wall_time, 2),
                )
                recent_returns.append(float(episode["r"]))
                episode_losses.clear()
                counters.episode += 1
                bar.set_postfix(
                    ret100=f"{np.mean(recent_returns):.1f}", eps=f"{epsilon:.3f}",
                    games=counters.episode, refresh=False,
                )
                if counters.step - counters.last_checkpoint_step >= config.checkpoint_every:
                    counters.last_checkpoint_step = counters.step
                    counters.recent_returns = list(recent_returns)
                    _save_checkpoint(
                        run_dir, config, counters, q_net, target_net, optimizer, buffer, rng
                    )
                    bar.write(
                        f"[{time.strftime('%H:%M:%S')}] checkpoint at step {counters.step} "
                        f"(game {counters.episode}, mean return of last 100 games "
                        f"{np.mean(recent_returns):.1f})"
                    )
                obs, _ = env.reset(seed=game_seed(config.seed, counters.episode))
                first = True

        counters.wall_time = time.perf_counter() - wall_start
        payload = _weights_payload(q_net, config, counters.step, torch.float32)
        payload["wall_time"] = counters.wall_time
        _save_weights(final_path, payload)
        return final_path
    finally:
        bar.close()
        metrics.close()
        env.close()


# ------------------------------------------------------------------ evaluation and export


def evaluate(
    policy_net: DuelingQNetwork,
    game: str,
    episodes: int,
    seed: int,
    *,
    epsilon: float = 0.001,
    repeat_action_probability: float = 0.0,
    progress: bool = False,
) -> np.ndarray:
    """Full-game scores of ``policy_net`` playing ``episodes`` games.

    Protocol: the evaluation environment of :func:`rlinside.envs.atari.make_atari_env`
    (``training=False``: raw, unclipped score; a game runs over all lives, up to 108,000
    frames; up to 30 no-ops at reset), epsilon-greedy with ``epsilon=0.001`` (Dopamine's
    evaluation epsilon; 0 is greedy), game ``i`` seeded with ``game_seed(seed, i, purpose=1)``
    so the games differ from the training games and from each other.

    Returns:
        ``(episodes,)`` float64 scores.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    device = next(policy_net.parameters()).device
    env = make_atari_env(
        game, seed=seed, frame_stack=policy_net.torso.in_channels, training=False,
        repeat_action_probability=repeat_action_probability,
    )
    n_actions = int(env.action_space.n)
    if n_actions != policy_net.n_actions:
        raise ValueError(f"{game} has {n_actions} actions, the network {policy_net.n_actions}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    was_training = policy_net.training
    policy_net.eval()
    scores = np.zeros(episodes)
    try:
        for i in tqdm(range(episodes), disable=not progress, desc=f"evaluate {game}"):
            obs, _ = env.reset(seed=game_seed(seed, i, purpose=1))
            while True:
                if rng.random() < epsilon:
                    action = int(rng.integers(n_actions))
                else:
                    with torch.no_grad():
                        q = policy_net(torch.from_numpy(obs[None]).to(device))  # (1, A)
                    action = int(q.argmax(dim=1).item())
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    scores[i] = float(info["episode"]["r"])
                    break
    finally:
        policy_net.train(was_training)
        env.close()
    return scores


def export_weights(run_dir: str | Path, out_path: str | Path) -> Path:
    """Write the run's online-network weights in float16 (no replay buffer, no optimizer):
    from ``final.pt`` if training finished, else from ``checkpoint.pt``. Load them with
    :func:`load_weights`. Returns ``out_path``."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    final_path = run_dir / "final.pt"
    if final_path.exists():
        src = torch.load(final_path, map_location="cpu", weights_only=True)
        state_dict, step = src["state_dict"], src["step"]
        config = DQNConfig.from_dict(json.loads(src["config"]))
    elif (run_dir / "checkpoint.pt").exists():
        ckpt = _load_checkpoint(run_dir / "checkpoint.pt")
        state_dict, step = ckpt["q_net"], ckpt["counters"]["step"]
        config = DQNConfig.from_dict(ckpt["config"])
    else:
        raise FileNotFoundError(f"{run_dir} holds neither final.pt nor checkpoint.pt")
    n_actions = state_dict["advantage_out.bias"].shape[0]
    net = DuelingQNetwork(n_actions, in_channels=config.frame_stack)
    net.load_state_dict({k: v.float() for k, v in state_dict.items()})
    _save_weights(out_path, _weights_payload(net, config, step, torch.float16))
    return out_path


def load_weights(
    path: str | Path, device: torch.device | None = None
) -> tuple[DuelingQNetwork, dict[str, Any]]:
    """Load weights written by :func:`export_weights` (or a snapshot / ``final.pt``) into a
    float32 :class:`DuelingQNetwork` in eval mode. Returns the network and the file's metadata
    (``game``, ``step``, ``config`` as a dict)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a DQN weights file (format {payload.get('format')!r})")
    net = DuelingQNetwork(payload["n_actions"], in_channels=payload["frame_stack"])
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    net.to(device or torch_device()).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    meta["config"] = json.loads(meta["config"])
    return net, meta
