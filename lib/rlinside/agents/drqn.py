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
:mod:`rlinside.agents.dqn`: both agents run the loop of
:func:`rlinside.agents.offpolicy.train_off_policy`. The acting policy carries ``(h, c)``
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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from rlinside.agents._config import RunConfig
from rlinside.agents.dqn import RESUMABLE_CHANGES, double_dqn_target
from rlinside.agents.offpolicy import (
    FrameReplayBuffer,
    OffPolicyAgent,
    evaluate_off_policy,
    export_off_policy_weights,
    gradient_step,
    train_off_policy,
    validate_off_policy_config,
)
from rlinside.agents.rundir import load_weights_file
from rlinside.nets.attention import INITS, RecurrentAttentionQNetwork

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
class DRQNConfig(RunConfig):
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
    init: str = "pytorch"  # "pytorch" (our first run) or "orthogonal" (Baselines' layer_init; the shipped agents)
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
        validate_off_policy_config(
            self,
            positive_ints=("lstm_size", "attention_size", "hidden", "sequence_length"),
            non_negative_ints=("burn_in",),
            learning_starts_min="window",  # one window
        )
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")

    @property
    def window(self) -> int:
        """Entries per sampled window: ``burn_in + sequence_length + 1`` (the last entry is
        only the next observation of the last learned transition)."""
        return self.burn_in + self.sequence_length + 1


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
    return gradient_step(loss, q_net, optimizer, config.max_grad_norm)


def _new_network(n_actions: int, config: DRQNConfig) -> RecurrentAttentionQNetwork:
    return RecurrentAttentionQNetwork(
        n_actions, in_channels=config.frame_stack, lstm_size=config.lstm_size,
        attention_size=config.attention_size, hidden=config.hidden, init=config.init,
    )


def _act(
    q_net: RecurrentAttentionQNetwork,
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor] | None,
    epsilon: float,
    rng: np.random.Generator,
) -> tuple[int, tuple[torch.Tensor, torch.Tensor]]:
    """Epsilon-greedy action for ``x: (1, k, 84, 84)``; the network always runs, so the
    returned state has seen this frame even when the action is random."""
    with torch.no_grad():
        q, state = q_net(x, state)  # (1, A)
    if rng.random() < epsilon:
        return int(rng.integers(q.shape[1])), state
    return int(q.argmax(dim=1).item()), state


def _sample(
    buffer: FrameReplayBuffer, config: DRQNConfig, rng: np.random.Generator
) -> SequenceBatch:
    return sample_sequences(buffer, config.batch_size, config.window, rng)


def _weights_meta(q_net: RecurrentAttentionQNetwork, config: DRQNConfig) -> dict[str, Any]:
    return {
        "n_actions": q_net.n_actions, "frame_stack": config.frame_stack,
        "lstm_size": q_net.lstm_size, "attention_size": q_net.attention_size,
        "hidden": q_net.hidden,
    }


AGENT = OffPolicyAgent(
    label="DDDRQN", what="a DRQN", checkpoint_format=CHECKPOINT_FORMAT,
    weights_format=WEIGHTS_FORMAT, resumable=RESUMABLE_CHANGES, new_network=_new_network,
    act=_act, sample=_sample, update=_sequence_update, weights_meta=_weights_meta,
)


def train_drqn(
    config: DRQNConfig, run_dir: str | Path, *, stop_after: int | None = None, progress: bool = True
) -> Path | None:
    """Train a split-attention Double Dueling DRQN agent, resuming from
    ``run_dir/checkpoint.pt`` if present: the loop, arguments and return value of
    :func:`rlinside.agents.dqn.train_dqn` (on resume only
    :data:`rlinside.agents.dqn.RESUMABLE_CHANGES` may differ, e.g. ``total_steps`` can grow).
    """
    return train_off_policy(AGENT, config, run_dir, stop_after=stop_after, progress=progress)


# ------------------------------------------------------------------ evaluation and export


def evaluate_drqn(
    net: RecurrentAttentionQNetwork, game: str, episodes: int, seed: int, *, epsilon: float = 0.001,
    repeat_action_probability: float = 0.0, progress: bool = False,
) -> np.ndarray:
    """Full-game scores of ``net`` playing ``episodes`` games, with the protocol of
    :func:`rlinside.agents.dqn.evaluate` (evaluation environment: unclipped score over all
    lives, up to 108,000 frames, up to 30 no-ops; epsilon-greedy with ``epsilon=0.001``; game
    ``i`` seeded with ``game_seed(seed, i, purpose=1)``). The state ``(h, c)`` is carried
    through each game and zeroed at its start. Returns ``(episodes,)`` float64 scores.
    """
    return evaluate_off_policy(
        AGENT, net, game, episodes, seed, epsilon=epsilon,
        repeat_action_probability=repeat_action_probability, progress=progress,
    )


def export_drqn_weights(run_dir: str | Path, out_path: str | Path) -> Path:
    """:func:`rlinside.agents.dqn.export_weights` for a DRQN run (float16 weights of
    ``final.pt``, else of ``checkpoint.pt``); load them with :func:`load_drqn_weights`."""
    return export_off_policy_weights(AGENT, DRQNConfig, run_dir, out_path)


def load_drqn_weights(
    path: str | Path, device: torch.device | None = None
) -> tuple[RecurrentAttentionQNetwork, dict[str, Any]]:
    """Load weights written by :func:`export_drqn_weights` (or a snapshot / ``final.pt``) into
    a float32 :class:`RecurrentAttentionQNetwork` in eval mode. Returns the network and the
    file's metadata (``game``, ``step``, ``config`` as a dict, network sizes)."""
    return load_weights_file(path, WEIGHTS_FORMAT, "a DRQN", _network_from_payload, device)


def _network_from_payload(payload: dict[str, Any]) -> RecurrentAttentionQNetwork:
    return RecurrentAttentionQNetwork(
        payload["n_actions"], in_channels=payload["frame_stack"], lstm_size=payload["lstm_size"],
        attention_size=payload["attention_size"], hidden=payload["hidden"],
    )
