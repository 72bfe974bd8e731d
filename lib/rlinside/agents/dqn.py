"""Double + Dueling DQN ("DDDQN") for Atari, with exact checkpoint and resume.

The agent of Rosynski et al. ("Are gradient-based saliency maps useful in deep RL?",
Table 1: DDDQN on Breakout and Seaquest) combines

* DQN (Mnih et al. 2015): experience replay, a target network, Huber loss, epsilon-greedy;
* Double DQN (van Hasselt et al. 2016, Eq. 4): the online network chooses the next action,
  the target network evaluates it (:func:`double_dqn_target`);
* the dueling head (Wang et al. 2016, Eq. 9), in :class:`rlinside.nets.atari.DuelingQNetwork`.

Both additions can be switched off (``DQNConfig(double=False, dueling=False)``: the plain
DQN of Mnih et al. 2015, target ``r + gamma * max_a Q_target(s', a)`` and the
:class:`~rlinside.nets.atari.QNetwork` head), the algorithm of Stable-Baselines3's ``DQN``, for
the same-algorithm speed comparison of ``benchmarks/atari_training.py``. Every shipped DQN
agent is Double + Dueling.

The loop of :func:`train_dqn` (:func:`rlinside.agents.offpolicy.train_off_policy`, shared with the
DRQN) reads top to bottom like CleanRL's ``dqn_atari.py``; every hyperparameter is a field of
:class:`DQNConfig`.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rlinside.agents._config import RunConfig
from rlinside.agents.offpolicy import (  # FrameReplayBuffer, linear_epsilon: re-exported
    METRICS_FIELDS,
    FrameReplayBuffer,
    OffPolicyAgent,
    evaluate_off_policy,
    export_off_policy_weights,
    gradient_step,
    linear_epsilon,
    to_batch,
    train_off_policy,
    validate_off_policy_config,
)
from rlinside.agents.rundir import game_seed, load_weights_file
from rlinside.nets.atari import DuelingQNetwork, QNetwork

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
    "METRICS_FIELDS",
]

CHECKPOINT_FORMAT = "rlinside.dqn.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.dqn.weights/1"

# Fields of DQNConfig that may differ between a checkpoint and the run resuming it: they
# change when or how results are saved, never the numbers computed.
RESUMABLE_CHANGES = frozenset(
    {"total_steps", "checkpoint_every", "save_replay", "snapshot_steps", "torch_threads"}
)


@dataclass(frozen=True)
class DQNConfig(RunConfig):
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
    double: bool = True  # Double DQN target (False: max over the target network, Mnih et al. 2015)
    dueling: bool = True  # dueling head (False: the plain Nature DQN head, nets.atari.QNetwork)
    # -- bookkeeping (do not change the computed numbers; may change on resume)
    checkpoint_every: int = 100_000  # agent steps between checkpoints (taken at game ends)
    save_replay: bool = True  # store the replay buffer with checkpoints (exact resume)
    snapshot_steps: tuple[int, ...] = ()  # agent steps at which float16 weights are saved
    torch_threads: int = 1  # torch.set_num_threads for the run
    bug: str = ""  # a planted error of the dueling head (nets.atari.DUELING_BUGS; "" = none), for the bug study

    def __post_init__(self) -> None:
        for name in ("double", "dueling", "channels_last", "save_replay"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        from rlinside.nets.atari import DUELING_BUGS

        if self.bug not in DUELING_BUGS:
            raise ValueError(f"bug must be one of {sorted(DUELING_BUGS)}, got {self.bug!r}")
        if self.bug and not self.dueling:
            raise ValueError(f"bug={self.bug!r} plants an error in the dueling head: it needs dueling=True")
        validate_off_policy_config(self, learning_starts_min="batch_size")


# --------------------------------------------------------------------------------- pieces


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


# ------------------------------------------------------------------------------ training


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
    obs_t = to_batch(obs, device, config.channels_last)
    next_obs_t = to_batch(next_obs, device, config.channels_last)
    actions_t = torch.from_numpy(actions).to(device)
    rewards_t = torch.from_numpy(rewards).to(device)
    terminals_t = torch.from_numpy(terminals).to(device)
    with torch.no_grad():  # y = r + gamma (1 - d) Q_target(s', argmax_a Q_online(s', a))
        next_q_target = target_net(next_obs_t)
        if config.double:
            target = double_dqn_target(rewards_t, terminals_t, q_net(next_obs_t), next_q_target, config.gamma)
        else:  # plain DQN: y = r + gamma (1 - d) max_a Q_target(s', a)
            target = double_dqn_target(rewards_t, terminals_t, next_q_target, next_q_target, config.gamma)
    q_taken = q_net(obs_t).gather(1, actions_t[:, None]).squeeze(1)  # Q(s, a): (B,)
    loss = F.huber_loss(q_taken, target, delta=config.huber_delta)
    return gradient_step(loss, q_net, optimizer, config.max_grad_norm)


def _new_network(n_actions: int, config: DQNConfig) -> DuelingQNetwork | QNetwork:
    if getattr(config, "dueling", True):
        return DuelingQNetwork(n_actions, in_channels=config.frame_stack, bug=getattr(config, "bug", ""))
    return QNetwork(n_actions, in_channels=config.frame_stack)


def _act(
    q_net: DuelingQNetwork, x: torch.Tensor, state: None, epsilon: float, rng: np.random.Generator
) -> tuple[int, None]:
    """Epsilon-greedy action for ``x: (1, k, 84, 84)``; the network runs only for a greedy
    action. A feed-forward network has no state: always None."""
    if rng.random() < epsilon:
        return int(rng.integers(q_net.n_actions)), None
    with torch.no_grad():
        q = q_net(x)
    return int(q.argmax(dim=1).item()), None


def _sample(
    buffer: FrameReplayBuffer, config: DQNConfig, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    return buffer.sample(config.batch_size, rng)


def _weights_meta(q_net: DuelingQNetwork, config: DQNConfig) -> dict[str, Any]:
    meta = {"n_actions": q_net.n_actions, "frame_stack": config.frame_stack, "dueling": config.dueling}
    return meta | ({"bug": config.bug} if config.bug else {})


AGENT = OffPolicyAgent(
    label="DDDQN", what="a DQN", checkpoint_format=CHECKPOINT_FORMAT, weights_format=WEIGHTS_FORMAT,
    resumable=RESUMABLE_CHANGES, new_network=_new_network, act=_act, sample=_sample,
    update=_update, weights_meta=_weights_meta,
)


def train_dqn(
    config: DQNConfig, run_dir: str | Path, *, stop_after: int | None = None, progress: bool = True
) -> Path | None:
    """Train a Double + Dueling DQN agent, resuming from ``run_dir/checkpoint.pt`` if present
    (the loop of :func:`rlinside.agents.offpolicy.train_off_policy`).

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
    return train_off_policy(AGENT, config, run_dir, stop_after=stop_after, progress=progress)


# ------------------------------------------------------------------ evaluation and export


def evaluate(
    policy_net: DuelingQNetwork, game: str, episodes: int, seed: int, *, epsilon: float = 0.001,
    repeat_action_probability: float = 0.0, progress: bool = False,
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
    return evaluate_off_policy(
        AGENT, policy_net, game, episodes, seed, epsilon=epsilon,
        repeat_action_probability=repeat_action_probability, progress=progress,
    )


def export_weights(run_dir: str | Path, out_path: str | Path) -> Path:
    """Write the run's online-network weights in float16 (no replay buffer, no optimizer):
    from ``final.pt`` if training finished, else from ``checkpoint.pt``. Load them with
    :func:`load_weights`. Returns ``out_path``."""
    return export_off_policy_weights(AGENT, DQNConfig, run_dir, out_path)


def load_weights(
    path: str | Path, device: torch.device | None = None
) -> tuple[DuelingQNetwork | QNetwork, dict[str, Any]]:
    """Load weights written by :func:`export_weights` (or a snapshot / ``final.pt``) into a
    float32 :class:`DuelingQNetwork` (:class:`QNetwork` for ``dueling=False``) in eval mode.
    Returns the network and the file's metadata (``game``, ``step``, ``config`` as a dict)."""
    return load_weights_file(
        path, WEIGHTS_FORMAT, "a DQN",
        lambda p: DuelingQNetwork(p["n_actions"], in_channels=p["frame_stack"], bug=p.get("bug", ""))
        if p.get("dueling", True) else QNetwork(p["n_actions"], in_channels=p["frame_stack"]), device,
    )
