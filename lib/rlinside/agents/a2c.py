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
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from rlinside.agents.dqn import _MetricsLog, _rng_states, _save_weights, _set_rng_states, game_seed
from rlinside.envs.atari import ATARI_GAMES, make_atari_env, restore_env, snapshot_env
from rlinside.nets.recurrent import ActorCritic
from rlinside.utils import atomic_write_bytes, seed_everything, torch_device

__all__ = [
    "A2CConfig",
    "n_step_returns",
    "train_a2c",
    "evaluate_a2c",
    "export_a2c_weights",
    "load_a2c_weights",
]

CHECKPOINT_FORMAT = "rlinside.a2c.checkpoint/1"
WEIGHTS_FORMAT = "rlinside.a2c.weights/1"
METRICS_FIELDS = ("step", "episode", "return", "length", "loss", "entropy", "wall_time")
RESUMABLE_CHANGES = frozenset({"total_steps", "checkpoint_every", "snapshot_steps", "torch_threads"})
_GAME_PURPOSE = 10  # game_seed(seed, 0, purpose=10 + e) seeds training environment e


@dataclass(frozen=True)
class A2CConfig:
    """Every setting of an A2C run (sources in the module docstring)."""

    # -- run
    game: str = "Breakout"  # one of rlinside.envs.atari.ATARI_GAMES
    seed: int = 0  # seeds the network, action sampling and every game
    total_steps: int = 5_000_000  # agent steps summed over the n_envs games (1 step = 4 frames)
    # -- environment
    n_envs: int = 16  # games stepped together (Baselines: 16)
    frame_stack: int = 3  # frames per observation (Rosynski et al.: 3 for A3C; 1 with LSTM)
    repeat_action_probability: float = 0.0  # no sticky actions (see rlinside.envs.atari)
    # -- network
    lstm_size: int = 0  # 0: feed-forward A2C; > 0: A2C-LSTM with this many cells
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

    def __post_init__(self) -> None:
        if self.game not in ATARI_GAMES:
            raise ValueError(f"game must be one of {sorted(ATARI_GAMES)}, got {self.game!r}")
        for name in ("total_steps", "n_envs", "frame_stack", "n_steps", "checkpoint_every",
                     "torch_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.lstm_size, int) or self.lstm_size < 0:
            raise ValueError(f"lstm_size must be an integer >= 0, got {self.lstm_size!r}")
        for name in ("gamma", "rmsprop_alpha", "repeat_action_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("learning_rate", "rmsprop_eps", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("value_coef", "entropy_coef"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        object.__setattr__(self, "snapshot_steps", tuple(int(s) for s in self.snapshot_steps))

    @property
    def steps_per_update(self) -> int:
        return self.n_envs * self.n_steps

    @property
    def agent_name(self) -> str:
        return "A2C-LSTM" if self.lstm_size else "A2C"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["snapshot_steps"] = list(self.snapshot_steps)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "A2CConfig":
        d = dict(d)
        d["snapshot_steps"] = tuple(d.get("snapshot_steps", ()))
        return cls(**d)


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


@dataclass
class _Counters:
    step: int = 0  # agent steps, summed over games
    updates: int = 0
    episode: int = 0  # games finished, over all environments
    last_checkpoint_step: int = 0
    wall_time: float = 0.0
    recent_returns: list[float] = field(default_factory=list)


def _make_envs(config: A2CConfig) -> list:
    return [
        make_atari_env(config.game, seed=game_seed(config.seed, 0, purpose=_GAME_PURPOSE + e),
                       frame_stack=config.frame_stack, training=True,
                       repeat_action_probability=config.repeat_action_probability)
        for e in range(config.n_envs)
    ]


def _make_net(n_actions: int, config: A2CConfig, device: torch.device) -> ActorCritic:
    return ActorCritic(n_actions, in_channels=config.frame_stack, lstm_size=config.lstm_size).to(device)


def _weights_payload(net: ActorCritic, config: A2CConfig, step: int, dtype: torch.dtype) -> dict:
    return {
        "format": WEIGHTS_FORMAT,
        "game": config.game,
        "agent": config.agent_name,
        "n_actions": net.n_actions,
        "frame_stack": config.frame_stack,
        "lstm_size": config.lstm_size,
        "step": int(step),
        "config": json.dumps(config.to_dict(), sort_keys=True),
        "state_dict": {k: v.detach().to("cpu", dtype).contiguous() for k, v in net.state_dict().items()},
    }


def _check_resumable(saved: A2CConfig, config: A2CConfig, run_dir: Path) -> None:
    saved_d, new_d = saved.to_dict(), config.to_dict()
    differing = sorted(k for k in new_d if saved_d.get(k) != new_d[k] and k not in RESUMABLE_CHANGES)
    if differing:
        details = ", ".join(f"{k}: checkpoint {saved_d.get(k)!r} vs now {new_d[k]!r}" for k in differing)
        raise ValueError(
            f"the checkpoint in {run_dir} was made with a different configuration ({details}); "
            f"only {sorted(RESUMABLE_CHANGES)} may change on resume. Use another run_dir."
        )


def _load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only=False: RNG and emulator states; our own local file.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an A2C checkpoint (format {payload.get('format')!r})")
    return payload


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

    if final_path.exists():
        done = torch.load(final_path, map_location="cpu", weights_only=True)
        if done["step"] >= config.total_steps:
            _check_resumable(A2CConfig.from_dict(json.loads(done["config"])), config, run_dir)
            return final_path

    envs = _make_envs(config)
    n_actions = int(envs[0].action_space.n)
    net = _make_net(n_actions, config, device)
    optimizer = torch.optim.RMSprop(
        net.parameters(), lr=config.learning_rate, alpha=config.rmsprop_alpha, eps=config.rmsprop_eps
    )
    counters = _Counters()
    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists():
        ckpt = _load_checkpoint(checkpoint_path)
        _check_resumable(A2CConfig.from_dict(ckpt["config"]), config, run_dir)
        counters = _Counters(**ckpt["counters"])
        net.load_state_dict(ckpt["net"])
        optimizer.load_state_dict(ckpt["optimizer"])
        _set_rng_states(ckpt["rng"], rng)
        for env, snap in zip(envs, ckpt["envs"]):
            restore_env(env, snap)
        obs = ckpt["obs"]
        state = ckpt["lstm_state"]
        del ckpt
    else:
        obs = np.stack([
            env.reset(seed=game_seed(config.seed, 0, purpose=_GAME_PURPOSE + e))[0]
            for e, env in enumerate(envs)
        ])
        state = net.initial_state(config.n_envs, device)

    metrics = _MetricsLog(run_dir / "metrics.csv", keep_episodes=counters.episode, fields=METRICS_FIELDS)
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
                next_obs = []
                for e, env in enumerate(envs):
                    o, r, terminated, truncated, info = env.step(int(actions[e]))
                    rewards[t, e] = float(r)
                    dones[t, e] = float(terminated or truncated or info["life_lost"])
                    if terminated or truncated:
                        episode = info["episode"]
                        counters.wall_time = time.perf_counter() - wall_start
                        metrics.write(step=counters.step + N * t + e + 1, episode=counters.episode,
                                      **{"return": float(episode["r"])}, length=int(episode["l"]),
                                      loss=last_loss, entropy=last_entropy,
                                      wall_time=round(counters.wall_time, 2))
                        recent_returns.append(float(episode["r"]))
                        counters.episode += 1
                        # No reseed: reseeding reloads the ROM (~0.1 s); the environment's own
                        # generators (checkpointed with it) draw the next game's no-ops.
                        o, _ = env.reset()
                    next_obs.append(o)
                obs = np.stack(next_obs)
                if new_state is not None:  # zero the LSTM state of games that ended (or lost a life)
                    keep = (1.0 - dones[t]).to(device)[:, None]
                    state = (new_state[0] * keep, new_state[1] * keep)
            with torch.no_grad():
                _, bootstrap, _ = net(torch.from_numpy(obs).to(device), state)
            returns = n_step_returns(rewards.to(device), dones.to(device), bootstrap, config.gamma)
            values_t = torch.stack(values)
            advantages = returns - values_t
            policy_loss = -(torch.stack(log_probs) * advantages.detach()).mean()
            value_loss = advantages.pow(2).mean()
            entropy = torch.stack(entropies).mean()
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optimizer.step()
            if state is not None:  # truncated backpropagation through time at rollout edges
                state = (state[0].detach(), state[1].detach())
            last_loss, last_entropy = round(float(loss.item()), 6), round(float(entropy.item()), 6)
            counters.updates += 1
            previous = counters.step
            counters.step += T * N
            bar.update(T * N)
            for s in config.snapshot_steps:  # first update at or past the snapshot step
                if previous < s <= counters.step:
                    _save_weights(run_dir / f"weights_step{s:09d}.pt",
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
                    "optimizer": optimizer.state_dict(), "rng": _rng_states(rng),
                    "envs": [snapshot_env(env) for env in envs], "obs": obs, "lstm_state": state,
                    "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                }
                data = io.BytesIO()
                torch.save(payload, data)
                atomic_write_bytes(checkpoint_path, data.getbuffer())
                bar.write(f"[{time.strftime('%H:%M:%S')}] checkpoint at step {counters.step} "
                          f"(mean return of last 100 games "
                          f"{np.mean(recent_returns) if recent_returns else float('nan'):.1f})")

        counters.wall_time = time.perf_counter() - wall_start
        payload = _weights_payload(net, config, counters.step, torch.float32)
        payload["wall_time"] = counters.wall_time
        _save_weights(final_path, payload)
        return final_path
    finally:
        bar.close()
        metrics.close()
        for env in envs:
            env.close()


def evaluate_a2c(
    net: ActorCritic,
    game: str,
    episodes: int,
    seed: int,
    *,
    repeat_action_probability: float = 0.0,
    progress: bool = False,
) -> np.ndarray:
    """Full-game scores of an actor-critic agent over ``episodes`` games.

    Protocol: the evaluation environment of :func:`rlinside.envs.atari.make_atari_env`
    (``training=False``: raw score, all lives, up to 108,000 frames, up to 30 reset no-ops),
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
                           training=False, repeat_action_probability=repeat_action_probability)
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
    if (run_dir / "final.pt").exists():
        src = torch.load(run_dir / "final.pt", map_location="cpu", weights_only=True)
        state_dict, step = src["state_dict"], src["step"]
        config = A2CConfig.from_dict(json.loads(src["config"]))
    elif (run_dir / "checkpoint.pt").exists():
        ckpt = _load_checkpoint(run_dir / "checkpoint.pt")
        state_dict, step = ckpt["net"], ckpt["counters"]["step"]
        config = A2CConfig.from_dict(ckpt["config"])
    else:
        raise FileNotFoundError(f"{run_dir} holds neither final.pt nor checkpoint.pt")
    net = ActorCritic(state_dict["policy.bias"].shape[0], in_channels=config.frame_stack,
                      lstm_size=config.lstm_size)
    net.load_state_dict({k: v.float() for k, v in state_dict.items()})
    _save_weights(out_path, _weights_payload(net, config, step, torch.float16))
    return out_path


def load_a2c_weights(path: str | Path, device: torch.device | None = None) -> tuple[ActorCritic, dict[str, Any]]:
    """Load weights of :func:`export_a2c_weights` (or a snapshot / ``final.pt``) into a
    float32 :class:`ActorCritic` in eval mode; returns it and the file's metadata."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not an A2C weights file (format {payload.get('format')!r})")
    net = ActorCritic(payload["n_actions"], in_channels=payload["frame_stack"], lstm_size=payload["lstm_size"])
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    net.to(device or torch_device()).eval()
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    meta["config"] = json.loads(meta["config"])
    return net, meta
