"""The off-policy Q-learning machinery shared by the DQN (:mod:`rlinside.agents.dqn`) and the
DRQN (:mod:`rlinside.agents.drqn`): the frame replay buffer, the epsilon schedule, and one
training loop with exact checkpoint and resume, one evaluation loop and the weights export.

An agent is an :class:`OffPolicyAgent`: its file formats and a few functions (build a
network, act with an optional recurrent state, sample a batch and update, the weights
metadata). :func:`train_off_policy` runs the loop of :func:`rlinside.agents.dqn.train_dqn`
(whose module docstring describes the ``run_dir`` files, the checkpoints at game ends and
the resume) for any such agent.
"""

from __future__ import annotations

import dataclasses
import io
import time
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

from rlinside.agents._config import RunConfig
from rlinside.agents.rundir import (
    Counters,
    MetricsLog,
    finish_run,
    finished_run,
    game_seed,
    open_checkpoint,
    read_run_weights,
    rng_states,
    save_payload,
    snapshot_path,
    weights_payload,
)
from rlinside.envs.atari import make_atari_env
from rlinside.utils import atomic_write_bytes, seed_everything, torch_device

__all__ = [
    "FrameReplayBuffer",
    "OffPolicyAgent",
    "evaluate_off_policy",
    "export_off_policy_weights",
    "gradient_step",
    "linear_epsilon",
    "to_batch",
    "train_off_policy",
    "validate_off_policy_config",
]

METRICS_FIELDS = ("step", "episode", "return", "length", "loss", "epsilon", "wall_time")


def validate_off_policy_config(
    config: RunConfig,
    *,
    learning_starts_min: str,
    positive_ints: tuple[str, ...] = (),
    non_negative_ints: tuple[str, ...] = (),
) -> None:
    """Validate (:meth:`RunConfig._validate`) the fields of an off-policy agent's config that
    :func:`train_off_policy` reads, and the agent's own integer fields ``positive_ints`` and
    ``non_negative_ints``; ``learning_starts`` must reach the field or property
    ``learning_starts_min``."""
    config._validate(
        positive_ints=(
            "total_steps", "frame_stack", *positive_ints, "buffer_size", "train_freq", "batch_size",
            "target_update_every", "epsilon_decay_steps", "checkpoint_every", "torch_threads",
        ),
        non_negative_ints=("seed", *non_negative_ints),
        learning_starts_min=learning_starts_min,
        unit_interval=("gamma", "epsilon_start", "epsilon_end", "repeat_action_probability"),
        positive=("learning_rate", "adam_eps", "max_grad_norm", "huber_delta"),
    )


def linear_epsilon(config: Any, step: int) -> float:
    """Exploration rate at agent step ``step``: linear from ``epsilon_start`` to
    ``epsilon_end`` over ``epsilon_decay_steps``, constant afterwards (Mnih et al. 2015)."""
    fraction = min(step / config.epsilon_decay_steps, 1.0)
    return config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)


def gradient_step(
    loss: torch.Tensor,
    q_net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float,
) -> float:
    """Minimize ``loss`` by one step of ``optimizer``, the gradient of ``q_net``'s parameters
    clipped to global norm ``max_grad_norm``; returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return float(loss.item())


def to_batch(array: np.ndarray, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """uint8 ``(B, k, 84, 84)`` numpy -> torch on ``device`` (channels-last layout if asked)."""
    x = torch.from_numpy(array).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


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


# ------------------------------------------------------------------------------ agents


@dataclass(frozen=True)
class OffPolicyAgent:
    """What distinguishes one off-policy Q-learning agent from another in the shared loop.

    ``config`` below is the agent's config dataclass: a :class:`rlinside.agents._config.RunConfig`
    with the fields of :class:`rlinside.agents.dqn.DQNConfig` that the loop reads (``game``,
    ``seed``, ``total_steps``, ``frame_stack``, ``buffer_size``, ``learning_starts``,
    ``train_freq``, ``target_update_every``, the epsilon schedule, the bookkeeping fields);
    ``channels_last`` is optional.
    """

    label: str  # progress bar: "DDDQN"
    what: str  # in error messages: "a DQN"
    checkpoint_format: str
    weights_format: str
    resumable: Set[str]  # config fields that may change on resume
    new_network: Callable[[int, Any], torch.nn.Module]  # (n_actions, config) -> float32 net
    # (net, obs: (1, k, 84, 84) tensor, state, epsilon, rng) -> (action, state); state is
    # None at the start of a game. The DQN draws rng.random() first and runs the network
    # only for a greedy action; the DRQN always runs it (to carry its state), then draws.
    act: Callable[[torch.nn.Module, torch.Tensor, Any, float, np.random.Generator], tuple[int, Any]]
    # (buffer, config, rng) -> a batch, drawn with rng
    sample: Callable[[FrameReplayBuffer, Any, np.random.Generator], Any]
    # (q_net, target_net, optimizer, batch, config, device) -> loss of one gradient step
    update: Callable[..., float]
    weights_meta: Callable[[torch.nn.Module, Any], dict[str, Any]]  # (net, config) -> entries

    def weights_payload(
        self, net: torch.nn.Module, config: Any, step: int, dtype: torch.dtype
    ) -> dict:
        """The weights file's dict of ``net`` (:func:`rlinside.agents.rundir.weights_payload`)."""
        meta = self.weights_meta(net, config)
        return weights_payload(self.weights_format, net, config, step, dtype, **meta)


def _make_networks(
    agent: OffPolicyAgent, n_actions: int, config: Any, device: torch.device
) -> tuple[torch.nn.Module, torch.nn.Module, torch.optim.Optimizer]:
    """Online and target networks (initialized in that order from torch's global generator;
    the target a copy of the online one, frozen) and the online network's Adam."""
    q_net = agent.new_network(n_actions, config).to(device)
    target_net = agent.new_network(n_actions, config).to(device)
    if getattr(config, "channels_last", False):
        q_net = q_net.to(memory_format=torch.channels_last)
        target_net = target_net.to(memory_format=torch.channels_last)
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    # fused Adam: one kernel for all parameters (~6x faster than the default on CPU).
    optimizer = torch.optim.Adam(
        q_net.parameters(), lr=config.learning_rate, eps=config.adam_eps, fused=True
    )
    return q_net, target_net, optimizer


def _save_checkpoint(
    agent: OffPolicyAgent,
    run_dir: Path,
    config: Any,
    counters: Counters,
    q_net: torch.nn.Module,
    target_net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    buffer: FrameReplayBuffer,
    rng: np.random.Generator,
) -> None:
    """Replay file first, then the checkpoint naming it, then delete older replay files."""
    replay_name = None
    if config.save_replay:
        replay_name = f"replay_{counters.step:09d}.npz"
        buffer.save(run_dir / replay_name, step=counters.step)
    save_payload(run_dir / "checkpoint.pt", {
        "format": agent.checkpoint_format,
        "config": config.to_dict(),
        "counters": dataclasses.asdict(counters),
        "q_net": q_net.state_dict(),
        "target_net": target_net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": rng_states(rng),
        "replay_file": replay_name,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    for old in run_dir.glob("replay_*.npz"):
        if old.name != replay_name:
            old.unlink()


# ------------------------------------------------------------------------------ training


def train_off_policy(
    agent: OffPolicyAgent, config: Any, run_dir: str | Path, *, stop_after: int | None = None,
    progress: bool = True,
) -> Path | None:
    """Train ``agent`` with the settings ``config``, resuming from ``run_dir/checkpoint.pt`` if
    present: the loop of :func:`rlinside.agents.dqn.train_dqn` and
    :func:`rlinside.agents.drqn.train_drqn` (the other arguments and the return value as
    there; on resume only ``agent.resumable`` fields of ``config`` may differ)."""
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
    q_net, target_net, optimizer = _make_networks(agent, n_actions, config, device)
    buffer = FrameReplayBuffer(config.buffer_size, env.observation_space.shape[1:], config.frame_stack)
    counters = Counters()

    # finished before: nothing to do if it reached this total_steps
    if finished_run(final_path, config, run_dir, agent.resumable):
        env.close()
        return final_path

    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        ckpt, counters = open_checkpoint(
            checkpoint_path, agent.checkpoint_format, agent.what, config, run_dir,
            agent.resumable, rng,
        )
        q_net.load_state_dict(ckpt["q_net"])
        target_net.load_state_dict(ckpt["target_net"])
        optimizer.load_state_dict(ckpt["optimizer"])
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
                stacklevel=3,
            )
        del ckpt
        if counters.step > config.total_steps:
            raise ValueError(
                f"the checkpoint in {run_dir} is at step {counters.step}, past total_steps "
                f"{config.total_steps}"
            )

    metrics = MetricsLog(run_dir / "metrics.csv", keep_episodes=counters.episode, fields=METRICS_FIELDS)
    recent_returns: deque[float] = deque(counters.recent_returns, maxlen=100)
    episode_losses: list[float] = []
    wall_start, step_start = time.perf_counter() - counters.wall_time, counters.step
    bar = tqdm(
        total=config.total_steps, initial=counters.step, disable=not progress,
        desc=f"{agent.label} {config.game} s{config.seed}", unit="step", mininterval=5.0,
        dynamic_ncols=True,
    )
    channels_last = getattr(config, "channels_last", False)

    # Every game k starts from env.reset(seed=game_seed(config.seed, k)) and a zero recurrent
    # state (None): resume needs neither env nor recurrent state.
    obs, _ = env.reset(seed=game_seed(config.seed, counters.episode))  # (k, 84, 84) uint8
    first, state = True, None
    try:
        while counters.step < config.total_steps:
            if stop_after is not None and counters.step - step_start >= stop_after:
                return None
            # -- act: epsilon-greedy on the online network (carrying its state, if any)
            epsilon = linear_epsilon(config, counters.step)
            x = to_batch(obs[None], device, channels_last)
            action, state = agent.act(q_net, x, state, epsilon, rng)
            next_obs, reward, terminated, truncated, info = env.step(action)

            # -- store (s, a, r, terminal); a lost life ends bootstrapping, not the game
            buffer.add(obs[-1], action, float(reward), terminated or info["life_lost"], first)
            obs, first = next_obs, False
            counters.step += 1
            bar.update(1)

            # -- learn: one update every train_freq steps once learning_starts transitions are in
            if len(buffer) >= config.learning_starts and counters.step % config.train_freq == 0:
                batch = agent.sample(buffer, config, rng)
                loss = agent.update(q_net, target_net, optimizer, batch, config, device)
                episode_losses.append(loss)
                counters.updates += 1
            if counters.updates > 0 and counters.step % config.target_update_every == 0:
                target_net.load_state_dict(q_net.state_dict())
            if counters.step in config.snapshot_steps:
                save_payload(
                    snapshot_path(run_dir, counters.step),
                    agent.weights_payload(q_net, config, counters.step, torch.float16),
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
                        agent, run_dir, config, counters, q_net, target_net, optimizer, buffer, rng
                    )
                    bar.write(
                        f"[{time.strftime('%H:%M:%S')}] checkpoint at step {counters.step} "
                        f"(game {counters.episode}, mean return of last 100 games "
                        f"{np.mean(recent_returns):.1f})"
                    )
                obs, _ = env.reset(seed=game_seed(config.seed, counters.episode))
                first, state = True, None

        payload = agent.weights_payload(q_net, config, counters.step, torch.float32)
        return finish_run(final_path, payload, counters, wall_start)
    finally:
        bar.close()
        metrics.close()
        env.close()


# ------------------------------------------------------------------ evaluation and export


def evaluate_off_policy(
    agent: OffPolicyAgent, net: torch.nn.Module, game: str, episodes: int, seed: int, *,
    epsilon: float = 0.001, repeat_action_probability: float = 0.0, progress: bool = False,
) -> np.ndarray:
    """Full-game scores of ``net`` acting as ``agent`` does in ``episodes`` games, with the
    protocol of :func:`rlinside.agents.dqn.evaluate`; a recurrent state is zeroed at the
    start of each game. Returns ``(episodes,)`` float64 scores."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    device = next(net.parameters()).device
    env = make_atari_env(
        game, seed=seed, frame_stack=net.torso.in_channels, training=False,
        repeat_action_probability=repeat_action_probability,
    )
    n_actions = int(env.action_space.n)
    if n_actions != net.n_actions:
        raise ValueError(f"{game} has {n_actions} actions, the network {net.n_actions}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    was_training = net.training
    net.eval()
    scores = np.zeros(episodes)
    try:
        for i in tqdm(range(episodes), disable=not progress, desc=f"evaluate {game}"):
            obs, _ = env.reset(seed=game_seed(seed, i, purpose=1))
            state = None
            while True:
                action, state = agent.act(net, to_batch(obs[None], device), state, epsilon, rng)
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    scores[i] = float(info["episode"]["r"])
                    break
    finally:
        net.train(was_training)
        env.close()
    return scores


def export_off_policy_weights(
    agent: OffPolicyAgent, config_cls: type, run_dir: str | Path, out_path: str | Path
) -> Path:
    """Write the run's online-network weights in float16 (no replay buffer, no optimizer):
    from ``final.pt`` if training finished, else from ``checkpoint.pt``. Returns ``out_path``."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    state_dict, step, config = read_run_weights(
        run_dir, config_cls, weights_format=agent.weights_format,
        checkpoint_format=agent.checkpoint_format, checkpoint_key="q_net", what=agent.what,
    )
    out_bias = state_dict["advantage_out.bias" if "advantage_out.bias" in state_dict else "q_out.bias"]
    net = agent.new_network(out_bias.shape[0], config)
    net.load_state_dict({k: v.float() for k, v in state_dict.items()})
    save_payload(out_path, agent.weights_payload(net, config, step, torch.float16))
    return out_path
