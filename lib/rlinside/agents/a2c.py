"""A2C, the synchronous form of A3C, with and without an LSTM, for Atari; exact resume.

Rosynski et al. (Table 1) trained A3C agents. A3C (Mnih et al. 2016, "Asynchronous methods
for deep reinforcement learning", Algorithm S3) runs actor-learners in parallel threads that
update shared weights without locks. A2C is its synchronous, batched form (Wu et al. 2017,
ACKTR paper; OpenAI Baselines ``a2c``): ``n_envs`` games are stepped together for ``n_steps``
steps, then one gradient step is taken on the ``n_envs * n_steps`` samples. Same losses, same
n-step returns; deterministic given a seed, which asynchronous A3C is not. We train A2C and
say so wherever the paper says A3C.

Per update, for each game ``e`` and step ``t`` of the rollout (:func:`n_step_returns`)::

    R_t = r_t + gamma * (1 - done_t) * R_{t+1},     R_{n_steps} = V(s_{n_steps})
    loss = mean[ -log pi(a_t | s_t) * (R_t - V(s_t))           (policy gradient, advantage
                 + value_coef * (R_t - V(s_t))^2               detached from the graph)
                 - entropy_coef * H(pi(. | s_t)) ]

``done_t`` is a game over *or a lost life* (the standard ``EpisodicLifeEnv`` treatment of
Baselines), a time-limit truncation counts as done too (a small bias, at most once per
27,000 steps). The LSTM state of a game is zeroed after a done, as in Baselines' ``cnn_lstm``.
Rewards are clipped to [-1, 1] for training; the logged returns are full-game scores.

Hyperparameters (:class:`A2CConfig`) are those of OpenAI Baselines' ``a2c`` / Kostrikov's
``pytorch-a2c-ppo-acktr-gail`` for Atari: 16 games, 5-step rollouts, RMSprop (lr 7e-4,
alpha 0.99, eps 1e-5), value coefficient 0.5, entropy 0.01, gradient-norm clip 0.5,
orthogonal initialization. The paper's frame stack for A3C is 3 frames (``frame_stack=3``);
the LSTM agent sees 1 frame per step.

Checkpoint and resume. The games of A2C never end together, so a checkpoint (taken after an
update, every ``checkpoint_every`` agent steps) stores the state of every game in progress
(:func:`rlinside.envs.atari.snapshot_env`: emulator, RNG, frame stack, life counters), the
current observations, the LSTM states, the network, the optimizer and all random generator
states. A run killed and resumed ends bit-identical to an uninterrupted one (same machine,
same ``torch_threads``). ``run_dir`` holds ``checkpoint.pt``, ``metrics.csv`` (one row per
finished game), ``weights_step<N>.pt`` (float16 snapshots) and ``final.pt``.

Environment backends (``env_backend``). ``"python"`` (the default, and every shipped agent)
steps the games of :func:`rlinside.envs.atari.make_atari_env` one after the other.
``"native"`` steps them as one batch in ale-py's C++ ``AtariVectorEnv``
(:class:`rlinside.envs.atari_native.NativeAtariVector`: the same preprocessing and semantics,
checked frame by frame against the Python stack, ``env_threads`` threads), for games that do
not serve on FIRE (Breakout is refused). Its reset no-ops come from the C++ env's generator,
so the same seed plays different, equally distributed games than ``"python"``. The C++ env
cannot snapshot one game mid-play, so with ``"native"`` every checkpoint *restarts every game*
(seeded from the step, the games in progress are dropped from ``metrics.csv``), in the
uninterrupted run as in a resumed one: the resume stays bit-identical, and
``checkpoint_every`` becomes part of the computation (it may not change on resume).
``benchmarks/atari_training.py`` times both backends against Stable-Baselines3.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
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
    load_weights_file,
    open_checkpoint,
    read_run_weights,
    rng_states,
    save_payload,
    snapshot_path,
    weights_payload,
)
from rlinside.envs.atari import ATARI_GAMES, make_atari_env, restore_env, snapshot_env
from rlinside.envs.atari_native import MAX_SEED, NativeAtariVector
from rlinside.nets.recurrent import ActorCritic
from rlinside.utils import seed_everything, torch_device

__all__ = [
    "A2CConfig",
    "n_step_returns",
    "actor_critic_loss",
    "train_a2c",
    "evaluate_a2c",
    "export_a2c_weights",
    "load_a2c_weights",
]

CHECKPOINT_FORMAT = "rlinside.a2c.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.a2c.weights/1"
METRICS_FIELDS = ("step", "episode", "return", "length", "loss", "entropy", "wall_time")
RESUMABLE_CHANGES = frozenset({"total_steps", "checkpoint_every", "snapshot_steps", "torch_threads",
                               "env_threads"})
ENV_BACKENDS = ("python", "native")
_GAME_PURPOSE = 10  # game_seed(seed, 0, purpose=10 + e) seeds training environment e


@dataclass(frozen=True)
class A2CConfig(RunConfig):
    """Every setting of an A2C run (sources in the module docstring)."""

    # -- run
    game: str = "Breakout"  # one of rlinside.envs.atari.ATARI_GAMES
    seed: int = 0  # seeds the network, action sampling and every game
    total_steps: int = 5_000_000  # agent steps summed over the n_envs games (1 step = 4 frames)
    # -- environment
    n_envs: int = 16  # games stepped together (Baselines: 16)
    frame_stack: int = 3  # frames per observation (Rosynski et al.: 3 for A3C; 1 with LSTM)
    repeat_action_probability: float = 0.0  # no sticky actions (see rlinside.envs.atari)
    noop_max: int = 30  # reset no-ops drawn up to this; 0: every game starts the same (deterministic)
    env_backend: str = "python"  # "python" or "native" (C++ batch; module docstring)
    # -- network
    lstm_size: int = 0  # 0: feed-forward A2C; > 0: A2C-LSTM with this many cells
    lstm_input_norm: bool = False  # LayerNorm on the LSTM's input (nets.recurrent.ActorCritic)
    # -- learning
    n_steps: int = 5  # rollout length per game and update (Baselines: 5)
    gamma: float = 0.99
    learning_rate: float = 7e-4  # RMSprop step size (Baselines)
    rmsprop_alpha: float = 0.99  # RMSprop smoothing (Baselines)
    rmsprop_eps: float = 1e-5  # RMSprop epsilon (Baselines, pytorch-a2c-ppo-acktr)
    value_coef: float = 0.5  # weight of the value loss
    entropy_coef: float = 0.01  # weight of the entropy bonus (Mnih et al. 2016)
    max_grad_norm: float = 0.5  # global gradient-norm clip (Baselines)
    # -- bookkeeping (do not change the computed numbers; may change on resume)
    checkpoint_every: int = 250_000  # agent steps between checkpoints (after an update)
    snapshot_steps: tuple[int, ...] = ()  # agent steps at which float16 weights are saved
    torch_threads: int = 1  # torch.set_num_threads for the run
    env_threads: int = 1  # threads of the native backend's C++ env (same numbers for any count)

    def __post_init__(self) -> None:
        if self.env_backend not in ENV_BACKENDS:
            raise ValueError(f"env_backend must be one of {ENV_BACKENDS}, got {self.env_backend!r}")
        if self.env_backend == "native" and self.noop_max != 30:
            raise ValueError(f"env_backend 'native' draws 30 reset no-ops; noop_max={self.noop_max!r} needs 'python'")
        if self.env_backend == "native" and self.game in ATARI_GAMES and ATARI_GAMES[self.game].fire_to_start:
            raise ValueError(f"env_backend 'native' cannot train {self.game}: it serves on FIRE after each "
                             "lost life, which the C++ batch cannot press for one game; use 'python'")
        self._validate(
            positive_ints=("total_steps", "n_envs", "frame_stack", "n_steps", "checkpoint_every",
                           "torch_threads", "env_threads"),
            non_negative_ints=("seed", "lstm_size", "noop_max"),  # lstm_size 0: feed-forward
            unit_interval=("gamma", "rmsprop_alpha", "repeat_action_probability"),
            positive=("learning_rate", "rmsprop_eps", "max_grad_norm"),
            non_negative=("value_coef", "entropy_coef"),
        )

    @property
    def steps_per_update(self) -> int:
        return self.n_envs * self.n_steps

    @property
    def agent_name(self) -> str:
        if not self.lstm_size:
            return "A2C"
        return "A2C-LNLSTM" if self.lstm_input_norm else "A2C-LSTM"

    @property
    def resumable_changes(self) -> frozenset[str]:
        """Fields that may change on resume: with the native backend every checkpoint restarts
        the games, so ``checkpoint_every`` changes the numbers and is not among them."""
        if self.env_backend == "native":
            return RESUMABLE_CHANGES - {"checkpoint_every"}
        return RESUMABLE_CHANGES


def actor_critic_loss(
    log_probs: list[torch.Tensor], values: list[torch.Tensor], entropies: list[torch.Tensor],
    returns: torch.Tensor, value_coef: float, entropy_coef: float,
) -> torch.Tensor:
    """A2C's loss over one rollout (per-step lists of ``(N,)`` tensors, ``returns (T, N)``):
    ``-mean(log pi(a|s) * A) + value_coef * mean(A^2) - entropy_coef * mean(H)`` with the
    advantage ``A = R - V(s)`` (no gradient through ``A`` in the policy term)."""
    advantages = returns - torch.stack(values)
    policy_loss = -(torch.stack(log_probs) * advantages.detach()).mean()
    value_loss = advantages.pow(2).mean()
    entropy = torch.stack(entropies).mean()
    return policy_loss + value_coef * value_loss - entropy_coef * entropy


def n_step_returns(
    rewards: torch.Tensor, dones: torch.Tensor, bootstrap: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Discounted n-step returns of a rollout, computed backwards.

    ``R_t = r_t + gamma * (1 - done_t) * R_{t+1}`` with ``R_T = bootstrap``.

    Args:
        rewards: ``(T, N)`` rewards of the ``T`` rollout steps of ``N`` games.
        dones: ``(T, N)`` bool or {0, 1}: step ``t`` ended the game (or a life): no bootstrap
            past it.
        bootstrap: ``(N,)`` value estimates of the states after the last step.
        gamma: discount.

    Returns:
        ``(T, N)`` returns.
    """
    if rewards.shape != dones.shape or rewards.shape[1:] != bootstrap.shape:
        raise ValueError(
            f"shapes must be rewards (T, N), dones (T, N), bootstrap (N,); got "
            f"{tuple(rewards.shape)}, {tuple(dones.shape)}, {tuple(bootstrap.shape)}"
        )
    returns = torch.empty_like(rewards)
    running = bootstrap
    not_done = 1.0 - dones.to(rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * not_done[t] * running
        returns[t] = running
    return returns


def _sample_actions(logits: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``logits: (N, A)`` by inverse CDF on ``rng`` (so the
    draws are part of the checkpointed NumPy state)."""
    probs = torch.softmax(logits.detach().double(), dim=1).cpu().numpy()
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(cdf))[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), cdf.shape[1] - 1)


class _PythonGames:
    """The ``n_envs`` games of :func:`make_atari_env` behind the batch interface of
    :class:`~rlinside.envs.atari_native.NativeAtariVector`, stepped one after the other; a game
    that ends is reset unseeded (reseeding reloads the ROM, ~0.1 s; the env's own checkpointed
    generators draw the next game's no-ops)."""

    def __init__(self, config: A2CConfig) -> None:
        self.envs = [
            make_atari_env(config.game, seed=game_seed(config.seed, 0, purpose=_GAME_PURPOSE + e),
                           frame_stack=config.frame_stack, training=True, noop_max=config.noop_max,
                           repeat_action_probability=config.repeat_action_probability)
            for e in range(config.n_envs)
        ]
        self.action_space = self.envs[0].action_space

    def reset(self, seeds) -> np.ndarray:
        return np.stack([env.reset(seed=int(s))[0] for env, s in zip(self.envs, seeds)])

    def step(self, actions: np.ndarray):
        n = len(self.envs)
        obs, rewards = [], np.zeros(n, np.float32)
        terminated, truncated, life_lost = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        episodes = {}
        for e, env in enumerate(self.envs):
            o, r, terminated[e], truncated[e], info = env.step(int(actions[e]))
            rewards[e], life_lost[e] = r, info["life_lost"]
            if terminated[e] or truncated[e]:
                episodes[e] = info["episode"]
                o, _ = env.reset()
            obs.append(o)
        return np.stack(obs), rewards, terminated, truncated, {"life_lost": life_lost, "episodes": episodes}

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _make_games(config: A2CConfig):
    if config.env_backend == "native":
        return NativeAtariVector(config.game, config.n_envs, frame_stack=config.frame_stack, training=True,
                                 repeat_action_probability=config.repeat_action_probability,
                                 num_threads=config.env_threads)
    return _PythonGames(config)


def _start_seeds(config: A2CConfig, step: int) -> list[int]:
    """Seeds of the games started at agent step ``step``: at 0 for both backends, and at each
    checkpoint for the native one (its games restart there; 31 bits for the C++ env)."""
    seeds = [game_seed(config.seed, 0, purpose=_GAME_PURPOSE + e) for e in range(config.n_envs)]
    if config.env_backend == "native":
        seeds = [game_seed(config.seed, step, purpose=_GAME_PURPOSE + e) % (MAX_SEED + 1)
                 for e in range(config.n_envs)]
    return seeds


def _make_net(n_actions: int, config: A2CConfig, device: torch.device) -> ActorCritic:
    return ActorCritic(n_actions, in_channels=config.frame_stack, lstm_size=config.lstm_size,
                       lstm_input_norm=config.lstm_input_norm).to(device)


def _weights_payload(net: ActorCritic, config: A2CConfig, step: int, dtype: torch.dtype) -> dict:
    return weights_payload(
        WEIGHTS_FORMAT, net, config, step, dtype, agent=config.agent_name, n_actions=net.n_actions,
        frame_stack=config.frame_stack, lstm_size=config.lstm_size,
        lstm_input_norm=config.lstm_input_norm,
    )


def train_a2c(
    config: A2CConfig,
    run_dir: str | Path,
    *,
    stop_after: int | None = None,
    progress: bool = True,
) -> Path | None:
    """Train A2C (or A2C-LSTM), resuming from ``run_dir/checkpoint.pt`` if present.

    Args:
        config: the run's settings; on resume only :data:`RESUMABLE_CHANGES` may differ.
        run_dir: folder of the run (files in the module docstring).
        stop_after: return None (as if killed, no checkpoint) after this many agent steps in
            this call; for tests and time-limited sessions.
        progress: show a tqdm progress bar.

    Returns:
        ``run_dir/final.pt`` (float32 weights) when ``total_steps`` is reached, else None.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final_path = run_dir / "final.pt"
    torch.set_num_threads(config.torch_threads)
    device = torch_device()
    rng = seed_everything(config.seed)

    resumable = config.resumable_changes
    if finished_run(final_path, config, run_dir, resumable, past_ok=True):
        return final_path

    games = _make_games(config)
    n_actions = int(games.action_space.n)
    net = _make_net(n_actions, config, device)
    optimizer = torch.optim.RMSprop(
        net.parameters(), lr=config.learning_rate, alpha=config.rmsprop_alpha, eps=config.rmsprop_eps
    )
    counters = Counters()
    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        ckpt, counters = open_checkpoint(
            checkpoint_path, CHECKPOINT_FORMAT, "an A2C", config, run_dir, resumable, rng
        )
        net.load_state_dict(ckpt["net"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if config.env_backend == "native":  # the games restarted at the checkpoint
            obs = games.reset(_start_seeds(config, counters.step))
            state = net.initial_state(config.n_envs, device)
        else:
            for env, snap in zip(games.envs, ckpt["envs"]):
                restore_env(env, snap)
            obs = ckpt["obs"]
            state = ckpt["lstm_state"]
        del ckpt
    else:
        obs = games.reset(_start_seeds(config, 0))
        state = net.initial_state(config.n_envs, device)

    metrics = MetricsLog(run_dir / "metrics.csv", keep_episodes=counters.episode, fields=METRICS_FIELDS)
    recent_returns: deque[float] = deque(counters.recent_returns, maxlen=100)
    wall_start, step_start = time.perf_counter() - counters.wall_time, counters.step
    last_loss, last_entropy = float("nan"), float("nan")
    bar = tqdm(total=config.total_steps, initial=counters.step, disable=not progress,
               desc=f"{config.agent_name} {config.game} s{config.seed}", unit="step",
               mininterval=5.0, dynamic_ncols=True)
    T, N = config.n_steps, config.n_envs
    try:
        while counters.step < config.total_steps:
            if stop_after is not None and counters.step - step_start >= stop_after:
                return None
            log_probs, values, entropies = [], [], []
            rewards = torch.zeros(T, N)
            dones = torch.zeros(T, N)
            for t in range(T):
                logits, value, new_state = net(torch.from_numpy(obs).to(device), state)
                actions = _sample_actions(logits, rng)
                log_p = torch.log_softmax(logits, dim=1)
                log_probs.append(log_p.gather(1, torch.from_numpy(actions)[:, None].to(device)).squeeze(1))
                entropies.append(-(log_p.exp() * log_p).sum(dim=1))
                values.append(value)
                obs, r, terminated, truncated, info = games.step(actions)
                rewards[t] = torch.from_numpy(np.asarray(r, np.float32))
                dones[t] = torch.from_numpy((terminated | truncated | info["life_lost"]).astype(np.float32))
                for e in sorted(info["episodes"]):  # games that ended (already restarted)
                    episode = info["episodes"][e]
                    counters.wall_time = time.perf_counter() - wall_start
                    metrics.write(step=counters.step + N * t + e + 1, episode=counters.episode,
                                  **{"return": float(episode["r"])}, length=int(episode["l"]),
                                  loss=last_loss, entropy=last_entropy,
                                  wall_time=round(counters.wall_time, 2))
                    recent_returns.append(float(episode["r"]))
                    counters.episode += 1
                if new_state is not None:  # zero the LSTM state of games that ended (or lost a life)
                    keep = (1.0 - dones[t]).to(device)[:, None]
                    state = (new_state[0] * keep, new_state[1] * keep)
            with torch.no_grad():
                _, bootstrap, _ = net(torch.from_numpy(obs).to(device), state)
            returns = n_step_returns(rewards.to(device), dones.to(device), bootstrap, config.gamma)
            loss = actor_critic_loss(log_probs, values, entropies, returns, config.value_coef, config.entropy_coef)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            if state is not None:  # truncated backpropagation through time at rollout edges
                state = (state[0].detach(), state[1].detach())
            last_loss = round(float(loss.item()), 6)
            last_entropy = round(float(torch.stack(entropies).mean().item()), 6)
            counters.updates += 1
            previous = counters.step
            counters.step += T * N
            bar.update(T * N)
            for s in config.snapshot_steps:  # first update at or past the snapshot step
                if previous < s <= counters.step:
                    save_payload(snapshot_path(run_dir, s),
                                 _weights_payload(net, config, counters.step, torch.float16))
            if recent_returns:
                bar.set_postfix(ret100=f"{np.mean(recent_returns):.1f}", games=counters.episode,
                                refresh=False)
            if counters.step - counters.last_checkpoint_step >= config.checkpoint_every:
                counters.last_checkpoint_step = counters.step
                counters.wall_time = time.perf_counter() - wall_start
                counters.recent_returns = list(recent_returns)
                payload = {
                    "format": CHECKPOINT_FORMAT, "config": config.to_dict(),
                    "counters": dataclasses.asdict(counters), "net": net.state_dict(),
                    "optimizer": optimizer.state_dict(), "rng": rng_states(rng),
                    "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
                if config.env_backend == "python":
                    payload.update(envs=[snapshot_env(env) for env in games.envs], obs=obs, lstm_state=state)
                save_payload(checkpoint_path, payload)
                if config.env_backend == "native":  # restart every game, as a resumed run does
                    obs = games.reset(_start_seeds(config, counters.step))
                    state = net.initial_state(config.n_envs, device)
                bar.write(f"[{time.strftime('%H:%M:%S')}] checkpoint at step {counters.step} "
                          f"(mean return of last 100 games "
                          f"{np.mean(recent_returns) if recent_returns else float('nan'):.1f})")

        payload = _weights_payload(net, config, counters.step, torch.float32)
        return finish_run(final_path, payload, counters, wall_start)
    finally:
        bar.close()
        metrics.close()
        games.close()


def evaluate_a2c(
    net: ActorCritic,
    game: str,
    episodes: int,
    seed: int,
    *,
    repeat_action_probability: float = 0.0,
    noop_max: int = 30,
    progress: bool = False,
) -> np.ndarray:
    """Full-game scores of an actor-critic agent over ``episodes`` games.

    Protocol: the evaluation environment of :func:`rlinside.envs.atari.make_atari_env`
    (``training=False``: raw score, all lives, up to 108,000 frames, up to ``noop_max`` reset
    no-ops; 0: the deterministic start of the memorised-policy study),
    game ``i`` seeded with ``game_seed(seed, i, purpose=1)`` like the DQN evaluation; actions
    *sampled* from the policy (the A3C evaluation of Mnih et al. 2016), with draws seeded by
    ``seed``; the LSTM state zeroed at the start of the game and after each lost life, as in
    training. The games run side by side as one batch.

    Returns:
        ``(episodes,)`` float64 scores.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    device = next(net.parameters()).device
    envs = [make_atari_env(game, seed=game_seed(seed, i, purpose=1), frame_stack=net.torso.in_channels,
                           training=False, noop_max=noop_max,
                           repeat_action_probability=repeat_action_probability)
            for i in range(episodes)]
    if int(envs[0].action_space.n) != net.n_actions:
        raise ValueError(f"{game} has {envs[0].action_space.n} actions, the network {net.n_actions}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))
    obs = np.stack([env.reset(seed=game_seed(seed, i, purpose=1))[0] for i, env in enumerate(envs)])
    lives = np.array([env.unwrapped.ale.lives() for env in envs])
    scores = np.full(episodes, np.nan)
    active = np.ones(episodes, dtype=bool)
    state = net.initial_state(episodes, device)
    was_training = net.training
    net.eval()
    bar = tqdm(total=episodes, disable=not progress, desc=f"evaluate {game}")
    try:
        while active.any():
            with torch.no_grad():
                logits, _, state = net(torch.from_numpy(obs).to(device), state)
            actions = _sample_actions(logits, rng)
            reset = np.zeros(episodes, dtype=bool)
            for i in np.flatnonzero(active):
                o, _, terminated, truncated, info = envs[i].step(int(actions[i]))
                obs[i] = o
                now = envs[i].unwrapped.ale.lives()
                reset[i] = now < lives[i]
                lives[i] = now
                if terminated or truncated:
                    scores[i] = float(info["episode"]["r"])
                    active[i] = False
                    bar.update(1)
            if state is not None:
                keep = torch.from_numpy(~reset).float().to(device)[:, None]
                state = (state[0] * keep, state[1] * keep)
    finally:
        bar.close()
        net.train(was_training)
        for env in envs:
            env.close()
    return scores


def export_a2c_weights(run_dir: str | Path, out_path: str | Path) -> Path:
    """Float16 weights of a run (``final.pt`` if finished, else ``checkpoint.pt``)."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    state_dict, step, config = read_run_weights(
        run_dir, A2CConfig, weights_format=WEIGHTS_FORMAT, checkpoint_format=CHECKPOINT_FORMAT,
        checkpoint_key="net", what="an A2C",
    )
    net = ActorCritic(state_dict["policy.bias"].shape[0], in_channels=config.frame_stack,
                      lstm_size=config.lstm_size, lstm_input_norm=config.lstm_input_norm)
    net.load_state_dict({k: v.float() for k, v in state_dict.items()})
    save_payload(out_path, _weights_payload(net, config, step, torch.float16))
    return out_path


def load_a2c_weights(path: str | Path, device: torch.device | None = None) -> tuple[ActorCritic, dict[str, Any]]:
    """Load weights of :func:`export_a2c_weights` (or a snapshot / ``final.pt``) into a
    float32 :class:`ActorCritic` in eval mode; returns it and the file's metadata."""
    return load_weights_file(
        path, WEIGHTS_FORMAT, "an A2C",
        lambda p: ActorCritic(p["n_actions"], in_channels=p["frame_stack"], lstm_size=p["lstm_size"],
                              lstm_input_norm=p.get("lstm_input_norm", False)),
        device,
    )
