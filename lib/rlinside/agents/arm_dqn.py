"""The reaching agent of the neuron-activation chapter: DQN with one Q-head per joint.

*Neuron activation analysis in multi-joint robot RL*, Sec. 3: deep Q-learning (Mnih et al.
2015) with a softmax (Boltzmann) exploration policy and the Adam solver (Kingma & Ba 2014);
the network has 6 fully connected hidden ReLU layers and ``3n`` outputs, one triple of
Q-values (forward, backward, no motion) per joint of the arm of
:mod:`rlinside.envs.planar_arm`. Every joint picks its own action from its own triple.

The loss (our reading; the paper names only the ingredients). With ``Q_j(s, a_j)`` the
output of head ``j`` for action ``a_j`` and ``Qbar`` the target network, every head is a
Q-function of its own joint's action, trained against the same reward::

    y_j = r + gamma * (1 - terminal) * max_a' Qbar_j(s', a')          (per joint j)
    L   = mean over the batch and the n joints of  Huber(Q_j(s, a_j) - y_j)

(independent per-branch DQN targets, as in the "independent" variant of action branching,
Tavakoli et al. 2018, Sec. 4). ``terminal`` is always 0 here: episodes end by the 60-step
time limit only, which is not a terminal state, so targets bootstrap at the last step.

Exploration: per joint, ``a_j ~ softmax(Q_j(s, .) / temperature)`` with a temperature that
decays exponentially per episode (:func:`temperature`). Greedy (``temperature = 0``)
actions are used for validation and for :func:`run_episodes` by default.

Validation (paper Sec. 3: "All network results that are presented passed a validation test
consisting of 300 test episodes ... The probability of a type two error for reaching the
final reward threshold r = 0.9 with an accuracy rho = 0.9 lies below significance
alpha = 0.05 on the test data."). Our exact reading (:func:`validation_threshold`): an
episode *succeeds* when its final reward (the reward of the last, 60th step) is >= 0.9;
with ``k`` successes in ``n = 300`` greedy episodes, the test *passes* when an agent whose
true success probability were only ``rho = 0.9`` would reach ``k`` or more successes with
probability below ``alpha = 0.05``, i.e. ``P[Binomial(300, 0.9) >= k] < 0.05``. The
probability of passing an agent that does not reach 90 % success is then below 5 %. This
needs ``k >= 279`` (93 %), stricter than the naive "90 % of 300" (``alpha=None`` gives that).
The 300 validation goals are the same for every agent (``validation_seed``), so a network
and its pruned versions are tested on the same data.

"Training duration" (paper Sec. 5, Fig. 3) is the number of training episodes executed
until the validation test is passed; :func:`train_arm_dqn` checks every
``validate_every`` episodes (and before the first), so durations are multiples of it.

Checkpoint and resume (``run_dir`` layout)::

    checkpoint.pt     networks, optimizer, counters, RNG states, replay buffer, config
    metrics.csv       one row per training episode
    validation.csv    one row per validation test
    final.pt          float32 weights and the outcome, when training ended

Every training episode ``k`` starts with ``env.reset(seed=episode_seed(seed, k))`` and a
checkpoint is taken only between episodes, so a killed run resumed from its checkpoint ends
bit-identical to an uninterrupted one (same machine and torch build, CPU, same
``torch_threads``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import binom
from torch import nn
from tqdm import tqdm  # text bars: tqdm.auto warns in a kernel without ipywidgets

from rlinside.agents import shipped
from rlinside.agents._config import check_resumable
from rlinside.agents.rundir import MetricsLog, load_checkpoint, rng_states, save_payload, set_rng_states
from rlinside.envs.planar_arm import (
    PlanarArmConfig,
    PlanarArmEnv,
    apply_actions,
    forward_kinematics,
    observation,
    reaching_reward,
    sample_goals,
)
from rlinside.nets.mlp import MLP
from rlinside.utils import is_int, is_real, seed_everything, torch_threads

__all__ = [
    "ARTIFACT_KIND",
    "ARTIFACT_VERSION",
    "ArmDQNConfig",
    "ArmReplayBuffer",
    "Rollouts",
    "TrainResult",
    "ValidationResult",
    "boltzmann_actions",
    "build_q_network",
    "INITS",
    "episode_seed",
    "find_arm_agents",
    "greedy_actions",
    "load_arm_agent",
    "load_arm_weights",
    "per_joint_td_loss",
    "q_values",
    "retrain_until_valid",
    "run_episodes",
    "save_arm_weights",
    "temperature",
    "train_arm_dqn",
    "validate",
    "validation_goals",
    "validation_threshold",
]

ARTIFACT_KIND = "arm-dqn"
#: Version of the producing code in the artifact key; bump when trained agents would change.
ARTIFACT_VERSION = "2"
CHECKPOINT_FORMAT = "rlinside.arm_dqn.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.arm_dqn.weights/1"
METRICS_FIELDS = ("episode", "step", "return", "final_reward", "final_distance", "loss",
                  "temperature", "wall_time")
VALIDATION_FIELDS = ("episode", "successes", "episodes", "success_rate", "threshold", "passed",
                     "wall_time")
# Fields that may differ between a checkpoint and the run resuming it (bookkeeping only).
TARGET_MODES = ("independent", "mean")
RESUMABLE_CHANGES = frozenset({"max_episodes", "checkpoint_every", "torch_threads"})


@dataclass(frozen=True)
class ArmDQNConfig:
    """Every setting of an arm-reaching DQN run.

    From the paper (Sec. 3, 5): 6 hidden ReLU layers, widths 32/48/128/256/512, 3n outputs,
    softmax exploration, Adam, 60 steps of 0.05 rad, the 300-episode validation test with
    r = 0.9, rho = 0.9, alpha = 0.05. Everything else is ours, chosen for short CPU runs:
    DQN machinery after Mnih et al. (2015) (replay, target network, Huber loss), Adam's
    default step size 1e-3 (Kingma & Ba 2014), batch 256, a target-network sync every 500
    steps, a temperature decaying from 1 to 0.01 over 1000 episodes (Q-value differences
    between actions are of order 0.01-0.1), and gamma 0.5: the reward is dense and grows as
    the tip approaches the goal, so a short horizon suffices. Tuning (2 joints, width 32,
    seed 0, arm starting straight up, batch 64 unless noted; validation successes of 300):
    gamma 0.9 ~100 at 1600 episodes and 154 at 3000; gamma 0.7 214 at 1600; gamma 0.5
    ~200 at 1600, plateau ~240 at 2500; gamma 0.5 + batch 256 ~210 at 1600, ~240 at 2500;
    lr 3e-4 (gamma 0.7) 55 at 1600; "mean" target (gamma 0.5, batch 256) 206 at 1500; width
    128 219 at 1500. The plateau came from the straight start (see
    :func:`rlinside.envs.planar_arm.default_initial_angles`); from the "L" the defaults pass.
    """

    # -- task (rlinside.envs.planar_arm)
    n_joints: int = 2  # joints of the arm (paper: 2, 3, 4)
    link_lengths: tuple[float, ...] | None = None  # default n equal links, total 1 (ours)
    workspace: str = "upper"  # goal region (ours)
    max_steps: int = 60  # control steps per episode (paper)
    # -- network
    width: int = 32  # neurons per hidden layer (paper: 32, 48, 128, 256, 512)
    n_hidden_layers: int = 6  # (paper)
    # -- run
    seed: int = 0  # network init, exploration, replay sampling and every training goal
    max_episodes: int = 5_000  # training budget in episodes (ours)
    # -- learning
    learning_rate: float = 1e-3  # Adam step size (Kingma & Ba 2014 default)
    gamma: float = 0.5  # discount (ours; 0.5 learned fastest of 0.5/0.7/0.9 in our tuning)
    batch_size: int = 256  # transitions per update (ours; costs little more than 64 on CPU)
    buffer_size: int = 50_000  # replay capacity in transitions (ours)
    learning_starts: int = 1_000  # transitions before the first update (ours)
    train_freq: int = 1  # environment steps per gradient update (ours)
    target_update_every: int = 500  # environment steps between target syncs (ours)
    huber_delta: float = 1.0  # Huber threshold (Mnih et al. 2015 "error clipping")
    max_grad_norm: float = 10.0  # global gradient-norm clip (ours)
    target_mode: str = "independent"  # per-head max ("independent") or their mean ("mean")
    # -- exploration: softmax(Q_j / temperature) per joint (paper), schedule ours
    temperature_start: float = 1.0  # at episode 0 of a fresh run
    temperature_end: float = 0.01  # after temperature_decay_episodes
    temperature_decay_episodes: int = 1_000  # exponential decay length
    retrain_temperature_start: float = 0.05  # start when continuing a given network (ours)
    # -- validation (paper Sec. 3)
    validate_every: int = 50  # training episodes between validation tests (ours)
    validation_episodes: int = 300  # (paper)
    reward_threshold: float = 0.9  # final reward that counts as success (paper)
    success_rate: float = 0.9  # rho (paper)
    alpha: float | None = 0.05  # significance (paper); None: plain "rho * n successes"
    validation_seed: int = 2021  # seeds the 300 validation goals, shared by all agents (ours)
    # -- bookkeeping (do not change the computed numbers; may change on resume)
    checkpoint_every: int = 500  # training episodes between checkpoints
    torch_threads: int = 1  # torch.set_num_threads for the run

    def __post_init__(self) -> None:
        # the task settings are validated by PlanarArmConfig (named errors)
        arm = self.arm_config()
        object.__setattr__(self, "link_lengths", None if self.link_lengths is None else arm.link_lengths)
        positive_ints = (
            "width", "n_hidden_layers", "max_episodes", "batch_size", "buffer_size", "train_freq",
            "target_update_every", "temperature_decay_episodes", "validate_every",
            "validation_episodes", "checkpoint_every", "torch_threads",
        )
        for name in positive_ints:
            v = getattr(self, name)
            if not is_int(v) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("seed", "validation_seed"):
            v = getattr(self, name)
            if not is_int(v) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if self.target_mode not in TARGET_MODES:
            raise ValueError(f"target_mode must be one of {TARGET_MODES}, got {self.target_mode!r}")
        if not is_int(self.learning_starts) or self.learning_starts < self.batch_size:
            raise ValueError(
                f"learning_starts must be an integer >= batch_size ({self.batch_size}), "
                f"got {self.learning_starts!r}"
            )
        if self.learning_starts > self.buffer_size:
            raise ValueError(
                f"learning_starts ({self.learning_starts}) must not exceed buffer_size ({self.buffer_size})"
            )
        for name in ("gamma", "reward_threshold", "success_rate"):
            v = getattr(self, name)
            if not is_real(v) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v!r}")
        if self.alpha is not None and (not is_real(self.alpha) or not 0.0 < self.alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1) or None, got {self.alpha!r}")
        need = validation_threshold(self.validation_episodes, self.success_rate, self.alpha)
        if need > self.validation_episodes:
            raise ValueError(
                f"validation_episodes={self.validation_episodes} is too few: even "
                f"{self.validation_episodes} successes out of {self.validation_episodes} do not "
                f"show a success rate above {self.success_rate} at alpha={self.alpha}; use more "
                f"episodes (the paper: 300) or alpha=None"
            )
        for name in ("learning_rate", "huber_delta", "max_grad_norm", "temperature_start",
                     "temperature_end", "retrain_temperature_start"):
            v = getattr(self, name)
            if not is_real(v) or not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")

    def arm_config(self) -> PlanarArmConfig:
        """The task as a :class:`PlanarArmConfig` (paper defaults: 0.05 rad, 50 ms)."""
        return PlanarArmConfig(
            n_joints=self.n_joints, link_lengths=self.link_lengths,
            max_steps=self.max_steps, workspace=self.workspace,
        )

    @property
    def hidden_sizes(self) -> list[int]:
        return [self.width] * self.n_hidden_layers

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able values."""
        d = dataclasses.asdict(self)
        if d["link_lengths"] is not None:
            d["link_lengths"] = list(d["link_lengths"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ArmDQNConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ArmDQNConfig fields {sorted(unknown)}")
        return cls(**d)


# ------------------------------------------------------------------------ network pieces


#: Initialisations of :func:`build_q_network`: ``default`` PyTorch's (``nn.Linear``'s uniform
#: weights and biases in +-1/sqrt(fan_in); what our agents train from), ``xavier`` Glorot and
#: Bengio's uniform weights with zero biases (the paper's random reference networks, Sec. 4).
INITS = ("default", "xavier")


def build_q_network(config: ArmDQNConfig, init: str = "default") -> MLP:
    """``MLP(2n + 2, [width] * 6, 3n)``, initialised by ``init`` (:data:`INITS`), seeded by the
    caller (:func:`rlinside.utils.seed_everything`). ``xavier`` draws the default network first
    and then overwrites every layer (``nn.init.xavier_uniform_``, zero biases), so the same seed
    gives a different network under each rule."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    n = config.n_joints
    net = MLP(2 * n + 2, config.hidden_sizes, 3 * n)
    if init == "xavier":
        with torch.no_grad():
            for layer in net.linears:
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
    return net


def q_values(model: MLP, obs: torch.Tensor) -> torch.Tensor:
    """Per-joint Q-values ``(B, n, 3)`` of observations ``obs: (B, 2n + 2)``: output unit
    ``3 j + a`` is ``Q_j(s, a)``, ``a`` in (forward, backward, none)."""
    out = model(obs)
    return out.view(out.shape[0], -1, 3)


def greedy_actions(model: MLP, obs: np.ndarray) -> np.ndarray:
    """Greedy per-joint actions ``(B, n)`` int64: ``argmax_a Q_j(s, a)`` for every joint."""
    with torch.no_grad():
        q = q_values(model, torch.as_tensor(np.asarray(obs, dtype=np.float32)))
    return q.argmax(dim=2).numpy()


def boltzmann_actions(q: np.ndarray, temp: float, rng: np.random.Generator) -> np.ndarray:
    """Sample per-joint actions from ``softmax(q / temp)`` over the last axis.

    Args:
        q: ``(..., n, 3)`` Q-values.
        temp: temperature > 0 (0: greedy, no random number drawn).
        rng: draws one uniform number per joint.

    Returns:
        ``(..., n)`` int64 actions.
    """
    q = np.asarray(q, dtype=np.float64)
    if temp <= 0:
        return q.argmax(axis=-1)
    z = (q - q.max(axis=-1, keepdims=True)) / temp
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    u = rng.random(q.shape[:-1])
    return (u[..., None] > np.cumsum(p, axis=-1)[..., :-1]).sum(axis=-1).astype(np.int64)


def temperature(config: ArmDQNConfig, episode: int, *, start: float | None = None) -> float:
    """Softmax temperature of training episode ``episode``: exponential interpolation from
    ``start`` (default ``temperature_start``) to ``temperature_end`` over
    ``temperature_decay_episodes``, constant afterwards."""
    t0 = config.temperature_start if start is None else start
    frac = min(episode / config.temperature_decay_episodes, 1.0)
    return float(t0 * (config.temperature_end / t0) ** frac)


def per_joint_td_loss(
    q_net: MLP,
    target_net: MLP,
    obs: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    next_obs: torch.Tensor,
    terminals: torch.Tensor,
    gamma: float,
    huber_delta: float = 1.0,
    target_mode: str = "independent",
) -> torch.Tensor:
    """The loss of the module docstring: mean over batch and joints of
    ``Huber(Q_j(s, a_j) - (r + gamma (1 - terminal) max_a' Qbar_j(s', a')))``.

    Args:
        obs, next_obs: ``(B, 2n + 2)``; actions: ``(B, n)`` int64; rewards, terminals: ``(B,)``.
    """
    q_taken = q_values(q_net, obs).gather(2, actions[:, :, None]).squeeze(2)  # (B, n)
    with torch.no_grad():
        next_max = q_values(target_net, next_obs).max(dim=2).values  # (B, n)
        if target_mode == "mean":  # one shared target for all heads (Tavakoli et al. 2018, eq. 6)
            next_max = next_max.mean(dim=1, keepdim=True).expand_as(next_max)
        target = rewards[:, None] + gamma * (1.0 - terminals.float())[:, None] * next_max
    return F.huber_loss(q_taken, target, delta=huber_delta)


class ArmReplayBuffer:
    """Circular replay buffer of ``(s, a, r, s', terminal)`` with ``a: (n,)`` joint actions."""

    def __init__(self, capacity: int, obs_dim: int, n_joints: int) -> None:
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((self.capacity, n_joints), dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminals = np.zeros(self.capacity, dtype=bool)
        self.ptr = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminal) -> None:
        i = self.ptr
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminals[i] = next_obs, terminal
        self.ptr = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size, size=batch_size)
        return tuple(
            torch.from_numpy(a[idx])
            for a in (self.obs, self.actions, self.rewards, self.next_obs, self.terminals)
        )

    def state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("obs", "next_obs", "actions", "rewards", "terminals",
                                               "ptr", "size")}

    def load_state(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


# -------------------------------------------------------------------- roll-outs, validation


def episode_seed(seed: int, episode: int, purpose: int = 0) -> int:
    """Seed of training episode ``episode`` of a run with seed ``seed``
    (``SeedSequence(seed, spawn_key=(purpose, episode))``; purpose 0 = training)."""
    return int(np.random.SeedSequence(seed, spawn_key=(purpose, episode)).generate_state(1)[0])


def validation_goals(config: ArmDQNConfig | PlanarArmConfig, n: int = 300, seed: int = 2021) -> np.ndarray:
    """The ``(n, 2)`` goals of the validation test: drawn by :func:`sample_goals` from
    ``default_rng(seed)``. With an :class:`ArmDQNConfig`, ``n`` and ``seed`` are its
    ``validation_episodes`` and ``validation_seed``."""
    if isinstance(config, ArmDQNConfig):
        n, seed = config.validation_episodes, config.validation_seed
    arm = PlanarArmConfig.from_any(config)
    return sample_goals(np.random.default_rng(seed), n, arm.link_lengths, arm.workspace)


def validation_threshold(n: int = 300, success_rate: float = 0.9, alpha: float | None = 0.05) -> int:
    """Smallest number of successes ``k`` out of ``n`` that passes the validation test:
    ``P[Binomial(n, success_rate) >= k] < alpha`` (see the module docstring); with
    ``alpha=None`` simply ``ceil(success_rate * n)``. ``n=300, 0.9, 0.05`` gives 279."""
    if alpha is None:
        return int(math.ceil(success_rate * n - 1e-9))
    k = np.arange(n + 2)
    tail = binom.sf(k - 1, n, success_rate)  # P[X >= k]
    return int(k[np.argmax(tail < alpha)]) if np.any(tail < alpha) else n + 1


@dataclass
class Rollouts:
    """Batched episodes of a policy; ``N`` episodes of ``T`` steps, ``n`` joints.

    ``observations[:, t]`` is the input the action ``actions[:, t]`` was chosen from;
    ``rewards[:, t]`` and ``distances[:, t]`` follow that action (the final reward is
    ``rewards[:, -1]``). ``layer_activations[l]: (N, T, width_l)`` are the hidden ReLU
    activations for ``observations`` (empty when not recorded);
    ``activations[i][l]: (T, width_l)`` is the same per episode.
    """

    goals: np.ndarray  # (N, 2)
    observations: np.ndarray  # (N, T, 2n + 2) float32
    actions: np.ndarray  # (N, T, n) int64
    rewards: np.ndarray  # (N, T)
    distances: np.ndarray  # (N, T)
    tips: np.ndarray  # (N, T, 2) tip after each action
    layer_activations: list[np.ndarray] = field(default_factory=list)

    @property
    def final_rewards(self) -> np.ndarray:
        return self.rewards[:, -1]

    @property
    def activations(self) -> list[list[np.ndarray]]:
        return [[a[i] for a in self.layer_activations] for i in range(self.goals.shape[0])]


def _rollout(
    policy: MLP | Callable[[np.ndarray], np.ndarray],
    arm: PlanarArmConfig,
    goals: np.ndarray,
    *,
    record_activations: bool = False,
    temp: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Rollouts:
    with torch_threads(1):  # batches of at most a few hundred: a second thread only waits (utils.torch_threads)
        return _rollout_batch(policy, arm, goals, record_activations=record_activations, temp=temp, rng=rng)


def _rollout_batch(
    policy: MLP | Callable[[np.ndarray], np.ndarray],
    arm: PlanarArmConfig,
    goals: np.ndarray,
    *,
    record_activations: bool,
    temp: float,
    rng: np.random.Generator | None,
) -> Rollouts:
    goals = np.asarray(goals, dtype=np.float64)
    N, n, T = goals.shape[0], arm.n_joints, arm.max_steps
    lengths = np.asarray(arm.link_lengths)
    angles = np.tile(np.asarray(arm.initial_angles), (N, 1))
    obs_all = np.zeros((N, T, arm.obs_dim), np.float32)
    act_all = np.zeros((N, T, n), np.int64)
    tips = np.zeros((N, T, 2))
    layers: list[list[np.ndarray]] = []
    is_net = isinstance(policy, torch.nn.Module)
    if is_net:
        if policy.n_in != arm.obs_dim or policy.n_out != 3 * n:
            raise ValueError(
                f"the network maps {policy.n_in} inputs to {policy.n_out} outputs, but the "
                f"{n}-joint arm needs {arm.obs_dim} -> {3 * n}"
            )
        was_training = policy.training
        policy.eval()
    try:
        for t in range(T):
            obs = observation(angles, goals)
            obs_all[:, t] = obs
            if is_net:
                with torch.no_grad():
                    out, acts = policy(torch.from_numpy(obs), return_activations=True)
                q = out.view(N, n, 3).numpy()
                a = boltzmann_actions(q, temp, rng) if temp > 0 else q.argmax(axis=2)
                if record_activations:
                    layers.append([h.numpy().copy() for h in acts])
            else:
                a = np.asarray(policy(obs), dtype=np.int64).reshape(N, n)
            act_all[:, t] = a
            angles = apply_actions(angles, a, arm.step_size)
            tips[:, t] = forward_kinematics(angles, lengths)
    finally:
        if is_net:
            policy.train(was_training)
    distances = np.linalg.norm(tips - goals[:, None, :], axis=-1)
    layer_acts = [np.stack([step[l] for step in layers], axis=1) for l in range(len(layers[0]))] if layers else []
    return Rollouts(
        goals=goals, observations=obs_all, actions=act_all,
        rewards=reaching_reward(distances, arm.reach), distances=distances, tips=tips,
        layer_activations=layer_acts,
    )


def run_episodes(
    model: MLP,
    env_config: ArmDQNConfig | PlanarArmConfig | Mapping[str, Any],
    n: int,
    seed: int,
    record_activations: bool = True,
    *,
    goals: np.ndarray | None = None,
    temp: float = 0.0,
) -> Rollouts:
    """Play ``n`` episodes with ``model`` (greedy per joint, or softmax with ``temp > 0``),
    all in one batch, and record its hidden activations.

    Goals are drawn by :func:`sample_goals` from ``default_rng(seed)`` unless ``goals: (n, 2)``
    is given. Returns :class:`Rollouts`: ``rollouts.activations[i]`` is the list
    ``[(T, width_l) for each hidden layer]`` of episode ``i`` (``T = 60``: the activations for
    the observation of every step, before its action), ``rollouts.rewards: (n, T)``.
    Deterministic for a seed.
    """
    arm = PlanarArmConfig.from_any(env_config)
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    if goals is None:
        goals = sample_goals(rng, n, arm.link_lengths, arm.workspace)
    elif np.shape(goals) != (n, 2):
        raise ValueError(f"goals must have shape ({n}, 2), got {np.shape(goals)}")
    return _rollout(model, arm, goals, record_activations=record_activations, temp=temp, rng=rng)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of the validation test (module docstring)."""

    successes: int
    episodes: int
    threshold: int  # successes needed to pass
    passed: bool
    final_rewards: np.ndarray  # (episodes,)

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes


def validate(
    policy: MLP | Callable[[np.ndarray], np.ndarray],
    config: ArmDQNConfig,
    *,
    goals: np.ndarray | None = None,
) -> ValidationResult:
    """Run the validation test of ``config`` on a network (greedy per joint) or on any
    ``policy(obs: (B, 2n + 2)) -> actions (B, n)``. ``goals`` defaults to
    :func:`validation_goals` (the shared 300 goals)."""
    goals = validation_goals(config) if goals is None else np.asarray(goals, dtype=np.float64)
    roll = _rollout(policy, config.arm_config(), goals)
    final = roll.final_rewards
    k = int((final >= config.reward_threshold).sum())
    need = validation_threshold(len(final), config.success_rate, config.alpha)
    return ValidationResult(successes=k, episodes=len(final), threshold=need, passed=k >= need,
                            final_rewards=final)


# ------------------------------------------------------------------------------ training


@dataclass
class _Counters:
    episode: int = 0  # training episodes finished
    step: int = 0  # environment steps
    updates: int = 0  # gradient updates
    wall_time: float = 0.0  # seconds of training, summed over resumes
    validated_at: int = -1  # episode of the last validation test
    success_rate: float = 0.0  # of the last validation test
    passed: bool = False


@dataclass
class TrainResult:
    """Outcome of :func:`train_arm_dqn`. ``episodes`` is the training duration: episodes
    run until the validation test passed (or the whole budget when it never did)."""

    model: MLP
    passed: bool
    episodes: int
    success_rate: float  # of the last validation test
    wall_time: float
    run_dir: Path


def _weights_payload(model: MLP, config: ArmDQNConfig, dtype: torch.dtype, **meta: Any) -> dict:
    return {
        "format": WEIGHTS_FORMAT,
        "n_in": model.n_in,
        "hidden_sizes": list(model.hidden_sizes),
        "n_out": model.n_out,
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "meta": json.dumps(meta, sort_keys=True),
        "state_dict": {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()},
    }


def save_arm_weights(model: MLP, path: str | Path, config: ArmDQNConfig, *,
                     dtype: torch.dtype = torch.float32, **meta: Any) -> Path:
    """Write ``model``'s weights (in ``dtype``), its layer sizes, the config and ``meta``
    (JSON-able) atomically; read back with :func:`load_arm_weights`."""
    path = Path(path)
    save_payload(path, _weights_payload(model, config, dtype, **meta))
    return path


def load_arm_weights(path: str | Path) -> tuple[MLP, dict[str, Any]]:
    """A float32 :class:`MLP` (eval mode, CPU) from a file of :func:`save_arm_weights`, and
    its metadata: ``config`` (dict), ``hidden_sizes``, ``dtype`` and the saved ``meta``."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not an arm-DQN weights file (format {payload.get('format')!r})")
    model = MLP(payload["n_in"], payload["hidden_sizes"], payload["n_out"])
    model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    model.eval()
    meta = json.loads(payload["meta"])
    meta.update(config=json.loads(payload["config"]), hidden_sizes=payload["hidden_sizes"],
                dtype=str(next(iter(payload["state_dict"].values())).dtype))
    return model, meta


def train_arm_dqn(
    config: ArmDQNConfig,
    run_dir: str | Path,
    *,
    init_model: MLP | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult | None:
    """Train until the validation test passes (checked before the first and after every
    ``validate_every`` training episodes) or ``max_episodes`` episodes are spent.

    Args:
        config: the run's settings; on resume they must match the checkpoint's except for
            :data:`RESUMABLE_CHANGES` (e.g. ``max_episodes`` may grow).
        run_dir: folder of the run (module docstring); resumes from its checkpoint.
        init_model: continue training this network (e.g. a pruned one, any hidden sizes)
            instead of a fresh one; exploration then starts at ``retrain_temperature_start``.
            The network is copied, not modified. Ignored when resuming from a checkpoint.
        progress: tqdm progress bar.
        stop_after: return None (as if killed, without a final checkpoint) after this many
            training episodes in this call; for tests of resume.

    Returns:
        :class:`TrainResult` (the trained network in eval mode), or None with ``stop_after``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    final_path = run_dir / "final.pt"
    if final_path.exists():
        model, meta = load_arm_weights(final_path)
        check_resumable(meta["config"], config, run_dir, RESUMABLE_CHANGES)
        if meta["passed"] or meta["episodes"] >= config.max_episodes:
            return TrainResult(model, meta["passed"], meta["episodes"], meta["success_rate"],
                               meta["wall_time"], run_dir)

    rng = seed_everything(config.seed)  # network init, exploration, replay sampling
    arm = config.arm_config()
    env = PlanarArmEnv(config=arm)
    val_goals = validation_goals(config)
    q_net = copy.deepcopy(init_model) if init_model is not None else build_q_network(config)
    if q_net.n_in != arm.obs_dim or q_net.n_out != 3 * arm.n_joints:
        raise ValueError(
            f"init_model maps {q_net.n_in} -> {q_net.n_out}; the {arm.n_joints}-joint arm needs "
            f"{arm.obs_dim} -> {3 * arm.n_joints}"
        )
    q_net.float().train()
    temp_start = config.retrain_temperature_start if init_model is not None else config.temperature_start
    buffer = ArmReplayBuffer(config.buffer_size, arm.obs_dim, arm.n_joints)
    counters = _Counters()

    ckpt_path = run_dir / "checkpoint.pt"
    ckpt = None
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, CHECKPOINT_FORMAT, "an arm-DQN")
        check_resumable(ckpt["config"], config, run_dir, RESUMABLE_CHANGES)
        q_net = MLP(ckpt["n_in"], ckpt["hidden_sizes"], ckpt["n_out"])
        q_net.load_state_dict(ckpt["q_net"])
        temp_start = ckpt["temperature_start"]
    target_net = copy.deepcopy(q_net).requires_grad_(False)
    # foreach: one kernel per operation over all 14 tensors instead of a loop over them; the same
    # elementwise arithmetic, so the weights are bit-identical to the single-tensor Adam that
    # trained the shipped agents (tested), and retraining is about 10 % faster
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.learning_rate, foreach=True)
    if ckpt is not None:
        target_net.load_state_dict(ckpt["target_net"])
        optimizer.load_state_dict(ckpt["optimizer"])
        counters = _Counters(**ckpt["counters"])
        buffer.load_state(ckpt["replay"])
        set_rng_states(ckpt["rng"], rng)
        del ckpt

    metrics = MetricsLog(run_dir / "metrics.csv", counters.episode, METRICS_FIELDS, key_field=METRICS_FIELDS[0])
    val_log = MetricsLog(run_dir / "validation.csv", counters.episode, VALIDATION_FIELDS,
                         key_field=VALIDATION_FIELDS[0])
    wall_start, episode_start = time.perf_counter() - counters.wall_time, counters.episode
    bar = tqdm(total=config.max_episodes, initial=counters.episode, disable=not progress,
               desc=f"arm-DQN n={arm.n_joints} w={config.width} s{config.seed}", unit="ep",
               mininterval=5.0, dynamic_ncols=True)
    try:
        while True:
            # -- validation test every validate_every episodes (and before the first)
            if counters.episode % config.validate_every == 0 and counters.validated_at != counters.episode:
                res = validate(q_net, config, goals=val_goals)
                counters.validated_at, counters.success_rate = counters.episode, res.success_rate
                counters.passed = res.passed
                val_log.write(episode=counters.episode, successes=res.successes,
                              episodes=res.episodes, success_rate=round(res.success_rate, 4),
                              threshold=res.threshold, passed=int(res.passed),
                              wall_time=round(time.perf_counter() - wall_start, 2))
                bar.set_postfix(val=f"{res.successes}/{res.episodes}", refresh=False)
                if res.passed:
                    break
            if counters.episode >= config.max_episodes:
                break
            if stop_after is not None and counters.episode - episode_start >= stop_after:
                return None

            # -- one training episode with softmax exploration
            temp = temperature(config, counters.episode, start=temp_start)
            obs, _ = env.reset(seed=episode_seed(config.seed, counters.episode))
            ep_return, losses = 0.0, []
            while True:
                with torch.no_grad():
                    q = q_values(q_net, torch.from_numpy(obs)[None])[0].numpy()  # (n, 3)
                action = boltzmann_actions(q, temp, rng)
                next_obs, reward, terminated, truncated, info = env.step(action)
                buffer.add(obs, action, reward, next_obs, terminated)
                obs = next_obs
                ep_return += reward
                counters.step += 1
                if len(buffer) >= config.learning_starts and counters.step % config.train_freq == 0:
                    o, a, r, o2, d = buffer.sample(config.batch_size, rng)
                    loss = per_joint_td_loss(q_net, target_net, o, a, r, o2, d, config.gamma,
                                             config.huber_delta, config.target_mode)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
                    optimizer.step()
                    losses.append(loss.item())
                    counters.updates += 1
                if counters.step % config.target_update_every == 0:
                    target_net.load_state_dict(q_net.state_dict())
                if terminated or truncated:
                    break
            counters.wall_time = time.perf_counter() - wall_start
            metrics.write(episode=counters.episode, step=counters.step, **{"return": round(ep_return, 4)},
                          final_reward=round(reward, 4), final_distance=round(info["distance"], 4),
                          loss=round(float(np.mean(losses)), 6) if losses else float("nan"),
                          temperature=round(temp, 6), wall_time=round(counters.wall_time, 2))
            counters.episode += 1
            bar.update(1)

            if counters.episode % config.checkpoint_every == 0:
                payload = {
                    "format": CHECKPOINT_FORMAT, "config": config.to_dict(),
                    "counters": dataclasses.asdict(counters), "n_in": q_net.n_in,
                    "hidden_sizes": q_net.hidden_sizes, "n_out": q_net.n_out,
                    "q_net": q_net.state_dict(), "target_net": target_net.state_dict(),
                    "optimizer": optimizer.state_dict(), "replay": buffer.state(),
                    "rng": rng_states(rng), "temperature_start": temp_start,
                }
                save_payload(ckpt_path, payload)

        counters.wall_time = time.perf_counter() - wall_start
        q_net.eval()
        save_arm_weights(q_net, final_path, config, passed=counters.passed,
                         episodes=counters.episode, success_rate=counters.success_rate,
                         wall_time=round(counters.wall_time, 3), steps=counters.step)
        return TrainResult(q_net, counters.passed, counters.episode, counters.success_rate,
                           counters.wall_time, run_dir)
    finally:
        bar.close()
        metrics.close()
        val_log.close()
        env.close()


def retrain_until_valid(
    model: MLP,
    config: ArmDQNConfig,
    *,
    run_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[MLP, int | None]:
    """Continue training ``model`` (e.g. a pruned network) until the validation test of
    ``config`` passes again; the pruning study's "training duration" (paper Sec. 5).

    Returns ``(trained copy of model, episodes)``: ``episodes`` is 0 when the network
    already passes, and None when ``config.max_episodes`` were spent without passing.
    ``run_dir`` (default: a temporary folder, deleted afterwards) holds the logs.
    """
    if run_dir is None:
        with tempfile.TemporaryDirectory(prefix="arm-retrain-") as tmp:
            return retrain_until_valid(model, config, run_dir=tmp, progress=progress)
    res = train_arm_dqn(config, run_dir, init_model=model, progress=progress)
    assert res is not None
    return res.model, (res.episodes if res.passed else None)


# --------------------------------------------------------------------------- shipped agents


def find_arm_agents(
    n_joints: int | None = None, width: int | None = None, seed: int | None = None,
    **config_fields: Any,
) -> list:
    """Shipped (``data/``) and cached artifacts of kind ``arm-dqn`` whose config matches the
    given fields, verified, sorted by (n_joints, width, seed)."""
    from rlinside import store

    found = store.find(ARTIFACT_KIND, ARTIFACT_VERSION, n_joints=n_joints, width=width, seed=seed,
                       **config_fields)
    return sorted(found, key=lambda a: (a.config["n_joints"], a.config["width"], a.config["seed"]))


def load_arm_agent(n_joints: int = 2, width: int = 32, seed: int = 0, **config_fields: Any) -> tuple[MLP, Any]:
    """The shipped agent for (n_joints, width, seed): ``(model, artifact)``; the model is a
    float32 :class:`MLP` in eval mode. Raises :class:`rlinside.store.ArtifactError` naming
    the command that trains it when none is stored."""
    from rlinside import store

    found = find_arm_agents(n_joints, width, seed, **config_fields)
    if not found:
        raise store.ArtifactError(
            f"no {ARTIFACT_KIND} artifact with n_joints={n_joints}, width={width}, seed={seed} "
            f"in {store.data_root()} or {store.cache_root()}; train and ship it with: python "
            f"scripts/train_arm.py --joints {n_joints} --width {width} --seed {seed}"
        )
    art = shipped.most_trained(found)
    model, _ = shipped.load_net("arm-dqn", art)
    return model, art
