"""Split-attention Double Dueling DRQN ("DDDRQN") for Atari, with exact checkpoint and resume.

The best agent of Rosynski et al. ("Are gradient-based saliency maps useful in deep RL?",
Sec. 3 and Table 1: "Splitted Attention DDDRQN", Seaquest) is a recurrent Q-network with
attention after Sorokin et al. 2015 (DARQN). The network is
:class:`rlinside.nets.attention.RecurrentAttentionQNetwork` (its docstring says what "split
attention" means here); this module trains it with

* Double DQN targets (van Hasselt et al. 2016, Eq. 4; :func:`rlinside.agents.dqn.double_dqn_target`)
  and the dueling aggregation of the network (Wang et al. 2016, Eq. 9);
* sequence replay: the buffer stores one frame per agent step (:class:`FrameReplayBuffer` with
  ``frame_stack=1``); an update samples windows of ``burn_in + sequence_length + 1``
  consecutive entries (:func:`sample_sequences`), starts each from a zero LSTM state (the
  "bootstrapped random updates" of Hausknecht and Stone 2015, "Deep recurrent Q-learning for
  partially observable MDPs", Sec. 4), runs the first ``burn_in`` steps without gradient
  only to warm the state up (Kapturowski et al. 2019, "Recurrent experience replay in
  distributed RL" (R2D2), Sec. 3: burn-in mitigates the zero-state mismatch), and learns on
  the next ``sequence_length`` transitions. The target network runs over the same window from
  a zero state. The state is zeroed where a window crosses into a new game; a transition
  whose target is undefined (the last one of a game cut by the time limit) is masked out.

Everything else — epsilon-greedy, life loss as a terminal, clipped rewards, Huber loss, Adam,
gradient clipping, the seeding of games and the ``run_dir`` layout — is that of
:mod:`rlinside.agents.dqn`, whose helpers are reused. The acting policy carries ``(h, c)``
from step to step and zeroes it at the start of each game; the network runs at every step,
also when the action is random, so the state always summarizes the whole game so far.

Checkpoint and resume (``run_dir`` layout, as for :func:`rlinside.agents.dqn.train_dqn`)::

    checkpoint.pt            networks, optimizer, counters, RNG states, config (torch.save)
    replay_<step>.npz        the replay buffer at that checkpoint
    metrics.csv              one row per finished training game (same fields as the DQN)
    weights_step<N>.pt       float16 snapshots at config.snapshot_steps (see export_drqn_weights)
    final.pt                 float32 weights when total_steps is reached

Checkpoints are taken at the end of a game, where the recurrent state is zero and the next
game starts from ``env.reset(seed=game_seed(config.seed, k))``: neither the LSTM state nor the
environment needs saving, and a run that is killed and resumed (with its replay file) ends
bit-identical to an uninterrupted one on the same machine (CPU, same torch build and
``torch_threads``).
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from rlinside.agents.dqn import (
    FrameReplayBuffer,
    _check_resumable,
    _Counters,
    _MetricsLog,
    _rng_states,
    _save_weights,
    _set_rng_states,
    double_dqn_target,
    game_seed,
    linear_epsilon,
)
from rlinside.envs.atari import ATARI_GAMES, make_atari_env
from rlinside.nets.attention import RecurrentAttentionQNetwork
from rlinside.utils import is_int, is_real, seed_everything, torch_device

__all__ = [
    "DRQNConfig",
    "SequenceBatch",
    "evaluate_drqn",
    "export_drqn_weights",
    "load_drqn_weights",
    "sample_sequences",
    "train_drqn",
    "valid_window_starts",
]

CHECKPOINT_FORMAT = "rlinside.drqn.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.drqn.weights/1"


@dataclass(frozen=True)
class DRQNConfig:
    """Every setting of a split-attention Double Dueling DRQN run on Atari.

    Shared settings are those of :class:`rlinside.agents.dqn.DQNConfig` (Dopamine /
    rl-baselines3-zoo / CleanRL DQN values: Adam lr 1e-4 with eps 1.5e-4, gamma 0.99, 20k
    transitions before learning, target sync every 8000 steps, epsilon 1 -> 0.01 over 150k
    steps, gradient-norm clip 10 of Wang et al. 2016). Recurrent settings:

    * one frame per step (``frame_stack=1``), as DARQN (Sorokin et al. 2015) and DRQN
      (Hausknecht and Stone 2015, who unrolled 10 steps from a zero state);
    * windows of ``burn_in=4`` + ``sequence_length=8`` steps: a scaled-down R2D2 (Kapturowski
      et al. 2019: 40 + 80 steps, stored state) with a zero initial state, chosen so that an
      update costs a few hundred ms on one CPU core;
    * ``batch_size=16`` sequences, an update every ``train_freq=16`` steps: 128 learned
      transitions per update, 8 per agent step, the replay ratio of the DQN (32 per 4 steps);
    * network sizes of :class:`RecurrentAttentionQNetwork` (LSTM 256 as DARQN, attention 256,
      stream hidden layers 256).
    """

    # -- run
    game: str = "Seaquest"  # one of rlinside.envs.atari.ATARI_GAMES (Table 1: Seaquest)
    seed: int = 0  # seeds network init, exploration, replay sampling and every game
    total_steps: int = 1_500_000  # agent steps (1 step = 4 emulator frames)
    # -- environment (rlinside.envs.atari)
    frame_stack: int = 1  # frames per observation; memory is the LSTM's (DARQN, DRQN)
    repeat_action_probability: float = 0.0  # no sticky actions (NoFrameskip-v4 setting)
    # -- network (rlinside.nets.attention)
    lstm_size: int = 256  # LSTM units (Sorokin et al. 2015)
    attention_size: int = 256  # width of the additive attention's tanh layer
    hidden: int = 256  # units of the value and advantage hidden layers
    # -- learning
    learning_rate: float = 1e-4  # Adam step size (rl-baselines3-zoo, CleanRL)
    adam_eps: float = 1.5e-4  # Adam epsilon (Dopamine, Hessel et al. 2018)
    gamma: float = 0.99  # discount
    buffer_size: int = 100_000  # replay capacity in frames/transitions (as the DDDQN)
    learning_starts: int = 20_000  # transitions in the buffer before the first update (Dopamine)
    train_freq: int = 16  # agent steps per gradient update (replay ratio 8, as the DQN)
    batch_size: int = 16  # sequences per update
    sequence_length: int = 8  # learned transitions per sequence
    burn_in: int = 4  # steps per sequence that only warm up the state (R2D2; 0: none)
    target_update_every: int = 8_000  # agent steps between target syncs (= 500 updates)
    max_grad_norm: float = 10.0  # global gradient-norm clip (Wang et al. 2016)
    huber_delta: float = 1.0  # Huber loss threshold (Mnih et al. 2015 "error clipping")
    epsilon_start: float = 1.0  # exploration at step 0
    epsilon_end: float = 0.01  # exploration after the decay (Dopamine, CleanRL)
    epsilon_decay_steps: int = 150_000  # linear decay length in agent steps
    # -- bookkeeping (do not change the computed numbers; may change on resume)
    checkpoint_every: int = 100_000  # agent steps between checkpoints (taken at game ends)
    save_replay: bool = True  # store the replay buffer with checkpoints (exact resume)
    snapshot_steps: tuple[int, ...] = ()  # agent steps at which float16 weights are saved
    torch_threads: int = 1  # torch.set_num_threads for the run

    def __post_init__(self) -> None:
        if self.game not in ATARI_GAMES:
            raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {self.game!r}")
        positive_ints = (
            "total_steps", "frame_stack", "lstm_size", "attention_size", "hidden",
            "buffer_size", "train_freq", "batch_size", "sequence_length", "target_update_every",
            "epsilon_decay_steps", "checkpoint_every", "torch_threads",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("seed", "burn_in"):
            value = getattr(self, name)
            if not is_int(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        window = self.window
        if not is_int(self.learning_starts) or self.learning_starts < window:
            raise ValueError(
                f"learning_starts must be an integer >= burn_in + sequence_length + 1 "
                f"({window}, one window), got {self.learning_starts!r}"
            )
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts ({self.learning_starts}) must not exceed buffer_size "
                f"({self.buffer_size})"
            )
        for name in ("gamma", "epsilon_start", "epsilon_end", "repeat_action_probability"):
            value = getattr(self, name)
            if not is_real(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in ("learning_rate", "adam_eps", "max_grad_norm", "huber_delta"):
            value = getattr(self, name)
            if not is_real(value) or not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        object.__setattr__(self, "snapshot_steps", tuple(int(s) for s in self.snapshot_steps))

    @property
    def window(self) -> int:
        """Entries per sampled window: ``burn_in + sequence_length + 1`` (the last entry is
        only the next observation of the last learned transition)."""
        return self.burn_in + self.sequence_length + 1

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        d = dataclasses.asdict(self)
        d["snapshot_steps"] = list(self.snapshot_steps)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DRQNConfig:
        d = dict(d)
        d["snapshot_steps"] = tuple(d.get("snapshot_steps", ()))
        return cls(**d)


# ------------------------------------------------------------------------ sequence replay


class SequenceBatch(NamedTuple):
    """A batch of ``B`` windows of ``W`` consecutive replay entries, time-major.

    Transition ``t`` (``t < W - 1``) is ``(obs[t], actions[t], rewards[t], obs[t + 1],
    terminals[t])``; ``valid[t]`` says whether its target is defined (it is terminal, or
    ``obs[t + 1]`` continues the same game). ``resets[t]``: entry ``t`` starts a game, so the
    recurrent state is zeroed before step ``t``.
    """

    obs: np.ndarray  # (W, B, k, 84, 84) uint8
    actions: np.ndarray  # (W - 1, B) int64
    rewards: np.ndarray  # (W - 1, B) float32, clipped
    terminals: np.ndarray  # (W - 1, B) bool: no bootstrap (game over or life lost)
    valid: np.ndarray  # (W - 1, B) bool: the transition enters the loss
    resets: np.ndarray  # (W, B) bool
    starts: np.ndarray  # (B,) int64 entry index of each window's first entry


def valid_window_starts(buffer: FrameReplayBuffer, starts: np.ndarray, length: int) -> np.ndarray:
    """Which windows ``starts[b] .. starts[b] + length - 1`` (entry indices modulo capacity)
    can be sampled: every entry is written and the window does not straddle the write
    pointer, i.e. its entries are ``length`` consecutive writes in write order; when the
    buffer is full, the frame history (``frame_stack - 1`` entries) of the first entry must
    not have been overwritten either.

    Args:
        buffer: the replay buffer.
        starts: ``(B,)`` entry indices.
        length: entries per window.

    Returns:
        ``(B,)`` bool.
    """
    full = buffer.size == buffer.capacity
    oldest = buffer.ptr if full else 0  # entry written first among those stored
    age = (np.asarray(starts) - oldest) % buffer.capacity  # position in write order
    ok = (np.asarray(starts) < buffer.size) & (age + length <= buffer.size)
    if full:
        ok &= age >= buffer.frame_stack - 1
    return ok


def sample_sequences(
    buffer: FrameReplayBuffer, batch_size: int, length: int, rng: np.random.Generator
) -> SequenceBatch:
    """Uniform sample of ``batch_size`` valid windows of ``length`` entries
    (:func:`valid_window_starts`), with stacked observations rebuilt as in
    :meth:`FrameReplayBuffer.sample`."""
    if length < 2:
        raise ValueError(f"a window needs at least 2 entries (one transition), got {length!r}")
    starts = rng.integers(0, buffer.size, size=batch_size)
    bad = ~valid_window_starts(buffer, starts, length)
    for _ in range(1000):
        if not bad.any():
            break
        starts[bad] = rng.integers(0, buffer.size, size=int(bad.sum()))
        bad = ~valid_window_starts(buffer, starts, length)
    else:
        raise RuntimeError(
            f"could not sample windows of {length} entries; is the buffer nearly empty?"
        )
    idx = (starts[None, :] + np.arange(length)[:, None]) % buffer.capacity  # (W, B)
    stacks = buffer.stack_indices(idx.reshape(-1)).reshape(length, batch_size, buffer.frame_stack)
    firsts = buffer.firsts[idx]
    terminals = buffer.terminals[idx[:-1]]
    return SequenceBatch(
        obs=buffer.frames[stacks],
        actions=buffer.actions[idx[:-1]],
        rewards=buffer.rewards[idx[:-1]],
        terminals=terminals,
        valid=terminals | ~firsts[1:],
        resets=firsts,
        starts=starts,
    )


# ------------------------------------------------------------------------------ training


def _sequence_update(
    q_net: RecurrentAttentionQNetwork,
    target_net: RecurrentAttentionQNetwork,
    optimizer: torch.optim.Optimizer,
    batch: SequenceBatch,
    config: DRQNConfig,
    device: torch.device,
) -> float:
    """One gradient step on a batch of windows; returns the masked mean Huber loss.

    Online network: ``burn_in`` steps without gradient from a zero state, then
    ``sequence_length + 1`` steps with gradient (the Q-values of the last step only choose the
    Double DQN action). Target network: the whole window from a zero state, no gradient.
    """
    n, length = config.burn_in, config.sequence_length
    obs = torch.from_numpy(batch.obs).to(device)  # (W, B, k, 84, 84)
    resets = torch.from_numpy(batch.resets).to(device)  # (W, B)
    actions, rewards, terminals, valid = (
        torch.from_numpy(a[n:]).to(device)
        for a in (batch.actions, batch.rewards, batch.terminals, batch.valid)
    )  # each (L, B)
    with torch.no_grad():
        state = q_net.forward_sequence(obs[:n], None, resets[:n])[1] if n else None
        q_target = target_net.forward_sequence(obs, None, resets)[0][n + 1:]  # (L, B, A)
    q_online = q_net.forward_sequence(obs[n:], state, resets[n:])[0]  # (L + 1, B, A)
    q_taken = q_online[:-1].gather(2, actions[..., None]).squeeze(2)  # (L, B)
    with torch.no_grad():  # y = r + gamma (1 - d) Q_target(s', argmax_a Q_online(s', a))
        target = double_dqn_target(
            rewards.flatten(), terminals.flatten(), q_online[1:].flatten(0, 1),
            q_target.flatten(0, 1), config.gamma,
        ).view(length, -1)
    mask = valid.float()
    losses = F.huber_loss(q_taken, target, reduction="none", delta=config.huber_delta)
    loss = (losses * mask).sum() / mask.sum().clamp(min=1.0)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
    optimizer.step()
    return float(loss.item())


def _new_network(n_actions: int, config: DRQNConfig) -> RecurrentAttentionQNetwork:
    return RecurrentAttentionQNetwork(
        n_actions, in_channels=config.frame_stack, lstm_size=config.lstm_size,
        attention_size=config.attention_size, hidden=config.hidden,
    )


def _make_networks(
    n_actions: int, config: DRQNConfig, device: torch.device
) -> tuple[RecurrentAttentionQNetwork, RecurrentAttentionQNetwork, torch.optim.Optimizer]:
    q_net = _new_network(n_actions, config).to(device)
    target_net = _new_network(n_actions, config).to(device)
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    optimizer = torch.optim.Adam(
        q_net.parameters(), lr=config.learning_rate, eps=config.adam_eps, fused=True
    )
    return q_net, target_net, optimizer


def _save_checkpoint(
    run_dir: Path,
    config: DRQNConfig,
    counters: _Counters,
    q_net: RecurrentAttentionQNetwork,
    target_net: RecurrentAttentionQNetwork,
    optimizer: torch.optim.Optimizer,
    buffer: FrameReplayBuffer,
    rng: np.random.Generator,
) -> None:
    """Replay file first, then the checkpoint naming it, then delete older replay files."""
    replay_name = None
    if config.save_replay:
        replay_name = f"replay_{counters.step:09d}.npz"
        buffer.save(run_dir / replay_name, step=counters.step)
    _save_weights(run_dir / "checkpoint.pt", {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "counters": dataclasses.asdict(counters),
        "q_net": q_net.state_dict(),
        "target_net": target_net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": _rng_states(rng),
        "replay_file": replay_name,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    for old in run_dir.glob("replay_*.npz"):
        if old.name != replay_name:
            old.unlink()


def _load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only=False: the checkpoint holds Python/NumPy RNG states; it is our own local
    # file. Shipped weights (export_drqn_weights) load with weights_only=True.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a DRQN checkpoint (format {payload.get('format')!r})")
    return payload


def _weights_payload(
    q_net: RecurrentAttentionQNetwork, config: DRQNConfig, step: int, dtype: torch.dtype
) -> dict:
    return {
        "format": WEIGHTS_FORMAT,
        "game": config.game,
        "n_actions": q_net.n_actions,
        "frame_stack": config.frame_stack,
        "lstm_size": q_net.lstm_size,
        "attention_size": q_net.attention_size,
        "hidden": q_net.hidden,
        "step": int(step),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "state_dict": {
            k: v.detach().to("cpu", dtype).contiguous() for k, v in q_net.state_dict().items()
        },
    }


def _act(
    q_net: RecurrentAttentionQNetwork,
    obs: np.ndarray,
    state: tuple[torch.Tensor, torch.Tensor] | None,
    epsilon: float,
    rng: np.random.Generator,
    device: torch.device,
) -> tuple[int, tuple[torch.Tensor, torch.Tensor]]:
    """Epsilon-greedy action for ``obs: (k, 84, 84)``; the network always runs, so the
    returned state has seen this frame even when the action is random."""
    with torch.no_grad():
        q, state = q_net(torch.from_numpy(obs[None]).to(device), state)  # (1, A)
    if rng.random() < epsilon:
        return int(rng.integers(q.shape[1])), state
    return int(q.argmax(dim=1).item()), state


def train_drqn(
    config: DRQNConfig,
    run_dir: str | Path,
    *,
    stop_after: int | None = None,
    progress: bool = True,
) -> Path | None:
    """Train a split-attention Double Dueling DRQN agent, resuming from
    ``run_dir/checkpoint.pt`` if present (semantics of :func:`rlinside.agents.dqn.train_dqn`).

    Args:
        config: the run's settings; on resume they must match the checkpoint's except for
            :data:`rlinside.agents.dqn.RESUMABLE_CHANGES` (e.g. ``total_steps`` can grow).
        run_dir: folder of the run (see the module docstring for its files).
        stop_after: return (as if killed, without a final checkpoint) after this many agent
            steps in this call; for tests and time-limited sessions.
        progress: show a tqdm progress bar (steps/s, mean return of the last 100 games).

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
    frame_shape = env.observation_space.shape[1:]
    buffer = FrameReplayBuffer(config.buffer_size, frame_shape, config.frame_stack)
    counters = _Counters()

    if final_path.exists():  # finished before: nothing to do if it reached this total_steps
        done = torch.load(final_path, map_location="cpu", weights_only=True)
        if done["step"] == config.total_steps:
            _check_resumable(DRQNConfig.from_dict(json.loads(done["config"])), config, run_dir)
            env.close()
            return final_path

    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        ckpt = _load_checkpoint(checkpoint_path)
        _check_resumable(DRQNConfig.from_dict(ckpt["config"]), config, run_dir)
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
        desc=f"DDDRQN {config.game} s{config.seed}", unit="step", mininterval=5.0,
        dynamic_ncols=True,
    )

    # Every game k starts from env.reset(seed=game_seed(config.seed, k)) and a zero LSTM
    # state: resume needs neither env nor recurrent state.
    obs, _ = env.reset(seed=game_seed(config.seed, counters.episode))  # (k, 84, 84) uint8
    first, state = True, None
    try:
        while counters.step < config.total_steps:
            if stop_after is not None and counters.step - step_start >= stop_after:
                return None
            # -- act: epsilon-greedy on the online network, carrying (h, c)
            epsilon = linear_epsilon(config, counters.step)
            action, state = _act(q_net, obs, state, epsilon, rng, device)
            next_obs, reward, terminated, truncated, info = env.step(action)

            # -- store (s, a, r, terminal); a lost life ends bootstrapping, not the game
            buffer.add(obs[-1], action, float(reward), terminated or info["life_lost"], first)
            obs, first = next_obs, False
            counters.step += 1
            bar.update(1)

            # -- learn: one update every train_freq steps once learning_starts transitions are in
            if len(buffer) >= config.learning_starts and counters.step % config.train_freq == 0:
                batch = sample_sequences(buffer, config.batch_size, config.window, rng)
                episode_losses.append(
                    _sequence_update(q_net, target_net, optimizer, batch, config, device)
                )
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
                first, state = True, None

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


def evaluate_drqn(
    net: RecurrentAttentionQNetwork,
    game: str,
    episodes: int,
    seed: int,
    *,
    epsilon: float = 0.001,
    repeat_action_probability: float = 0.0,
    progress: bool = False,
) -> np.ndarray:
    """Full-game scores of ``net`` playing ``episodes`` games, with the protocol of
    :func:`rlinside.agents.dqn.evaluate` (evaluation environment: unclipped score over all
    lives, up to 108,000 frames, up to 30 no-ops; epsilon-greedy with ``epsilon=0.001``; game
    ``i`` seeded with ``game_seed(seed, i, purpose=1)``). The state ``(h, c)`` is carried
    through each game and zeroed at its start.

    Returns:
        ``(episodes,)`` float64 scores.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    device = next(net.parameters()).device
    env = make_atari_env(
        game, seed=seed, frame_stack=net.in_channels, training=False,
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
                action, state = _act(net, obs, state, epsilon, rng, device)
                obs, _, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    scores[i] = float(info["episode"]["r"])
                    break
    finally:
        net.train(was_training)
        env.close()
    return scores


def export_drqn_weights(run_dir: str | Path, out_path: str | Path) -> Path:
    """Write the run's online-network weights in float16 (no replay buffer, no optimizer):
    from ``final.pt`` if training finished, else from ``checkpoint.pt``. Load them with
    :func:`load_drqn_weights`. Returns ``out_path``."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    final_path = run_dir / "final.pt"
    if final_path.exists():
        src = torch.load(final_path, map_location="cpu", weights_only=True)
        if src.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"{final_path} is not a DRQN weights file")
        state_dict, step = src["state_dict"], src["step"]
        config = DRQNConfig.from_dict(json.loads(src["config"]))
    elif (run_dir / "checkpoint.pt").exists():
        ckpt = _load_checkpoint(run_dir / "checkpoint.pt")
        state_dict, step = ckpt["q_net"], ckpt["counters"]["step"]
        config = DRQNConfig.from_dict(ckpt["config"])
    else:
        raise FileNotFoundError(f"{run_dir} holds neither final.pt nor checkpoint.pt")
    net = _new_network(state_dict["advantage_out.bias"].shape[0], config)
    net.load_state_dict({k: v.float() for k, v in state_dict.items()})
    _save_weights(out_path, _weights_payload(net, config, step, torch.float16))
    return out_path


def load_drqn_weights(
    path: str | Path, device: torch.device | None = None
) -> tuple[RecurrentAttentionQNetwork, dict[str, Any]]:
    """Load weights written by :func:`export_drqn_weights` (or a snapshot / ``final.pt``) into
    a float32 :class:`RecurrentAttentionQNetwork` in eval mode. Returns the network and the
    file's metadata (``game``, ``step``, ``config`` as a dict, network sizes)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a DRQN weights file (format {payload.get('format')!r})")
    net = RecurrentAttentionQNetwork(
        payload["n_actions"], in_channels=payload["frame_stack"], lstm_size=payload["lstm_size"],
        attention_size=payload["attention_size"], hidden=payload["hidden"],
    )
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    net.to(device or torch_device()).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    meta["config"] = json.loads(meta["config"])
    return net, meta
