"""Recurrent A2C for the marble maze (the LSTM-contribution chapter's policy).

The synchronous form of A3C (Mnih et al. 2016) with an LSTM, as in the Atari zoo, on
``n_envs`` mazes stepped in lockstep: ``n_steps``-step returns bootstrapped from the critic,
an entropy bonus, RMSprop, gradient clipping (settings of OpenAI Baselines' A2C, with longer
rollouts for the recurrent state). The LSTM state is carried across rollouts (truncated
backpropagation through time at rollout edges) and zeroed when an episode ends.

Run folder: ``checkpoint.pt`` (every ``checkpoint_every`` steps: network, optimizer, counters,
random states), ``metrics.csv`` (one row per finished episode: step, episode, return, length,
success), ``final.pt`` at the end. A killed run resumes from its last checkpoint; the episodes
that were in progress are started afresh (with seeds that depend on the episode count), so a
resumed run is reproducible but not identical to an uninterrupted one.

:func:`rollout` plays one episode and records everything the contribution analysis needs
(hidden states and gates per step, ball positions, rings); ``memory=False`` resets the LSTM
state at every step (the paper's ablation without memory).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rlinside.agents._config import check_resumable
from rlinside.agents.a2c import actor_critic_loss, n_step_returns
from rlinside.agents.rundir import MetricsLog, load_checkpoint, rng_states, save_payload, set_rng_states
from rlinside.envs.marble_maze import MarbleMazeConfig, MarbleMazeEnv
from rlinside.nets.maze import MazePolicy
from rlinside.utils import torch_threads

__all__ = ["MazeA2CConfig", "train_maze", "load_maze_policy", "rollout", "evaluate_maze", "export_maze_weights"]

FORMAT = "rlinside-maze-a2c-1"
METRICS_FIELDS = ("step", "episode", "return", "length", "success", "wall_time")


#: Fields that may change when a run resumes (bookkeeping, never the numbers computed).
RESUMABLE_CHANGES = frozenset({"total_steps", "checkpoint_every", "torch_threads"})


@dataclass(frozen=True)
class MazeA2CConfig:
    total_steps: int = 2_000_000  # environment steps, summed over the n_envs mazes
    n_envs: int = 16
    n_steps: int = 20  # rollout length (and the span of backpropagation through time)
    gamma: float = 0.99
    learning_rate: float = 7e-4
    rms_alpha: float = 0.99
    rms_eps: float = 1e-5
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    lstm_size: int = 64
    reward_scale: float = 10.0  # rewards are multiplied by this for learning (the potential moves by ~0.005 per step)
    seed: int = 0
    checkpoint_every: int = 100_000
    torch_threads: int = 1
    # MarbleMazeConfig fields that differ from the defaults; training starts episodes in every
    # ring (a curriculum: the inner gates are met early), tests start in the outer ring
    env: dict = field(default_factory=lambda: {"start_rings": [1, 2, 3, 4]})
    # start from these weights (a maze weights file, e.g. a DAgger policy) instead of a fresh
    # net; None: fresh, with the input normalization measured on reset images of the maze
    init_weights: str | None = None
    critic_warmup_updates: int = 0  # first updates train only the critic's linear head (for init_weights)

    def __post_init__(self) -> None:
        for name in ("total_steps", "n_envs", "n_steps", "lstm_size", "checkpoint_every", "torch_threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if isinstance(self.critic_warmup_updates, bool) or not isinstance(self.critic_warmup_updates, int) \
                or self.critic_warmup_updates < 0:
            raise ValueError(f"critic_warmup_updates must be an int >= 0, got {self.critic_warmup_updates!r}")
        for name in ("learning_rate", "rms_eps", "max_grad_norm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma!r}")
        self.env_config()  # validates the maze fields

    def env_config(self) -> MarbleMazeConfig:
        try:
            return MarbleMazeConfig(**self.env)
        except TypeError as e:
            raise ValueError(f"env holds a field MarbleMazeConfig does not have: {e}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _episode_seed(seed: int, episode: int) -> int:
    return int(np.random.SeedSequence([seed, episode, 7]).generate_state(1)[0])


def train_maze(config: MazeA2CConfig, run_dir: str | Path, *, progress: bool = True,
               stop_after: int | None = None) -> Path | None:
    """Train (or resume) in ``run_dir``; returns ``final.pt``, or None when stopped early by
    ``stop_after`` (steps, for tests of resuming)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    env_cfg = config.env_config()
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    net = MazePolicy(lstm_size=config.lstm_size, image_size=env_cfg.image_size)
    opt = torch.optim.RMSprop(net.parameters(), lr=config.learning_rate, alpha=config.rms_alpha, eps=config.rms_eps)
    step = episode = updates = 0
    wall = 0.0
    ckpt = run_dir / "checkpoint.pt"
    games = None  # the games in progress at the checkpoint, to continue exactly
    if ckpt.exists():
        payload = load_checkpoint(ckpt, FORMAT, "a maze A2C")
        check_resumable(payload["config"], config, run_dir, RESUMABLE_CHANGES)
        net.load_state_dict(payload["net"])
        opt.load_state_dict(payload["optimizer"])
        set_rng_states(payload["rng"], rng)
        step, episode, updates, wall = payload["step"], payload["episode"], payload["updates"], payload["wall_time"]
        games = payload.get("games")  # absent in checkpoints made before games were saved
    elif config.init_weights is not None:
        init, _ = load_maze_policy(config.init_weights)
        if init.lstm_size != config.lstm_size or init.image_size != env_cfg.image_size:
            raise ValueError(f"init_weights {config.init_weights} has lstm_size {init.lstm_size} and image_size "
                             f"{init.image_size}; the config asks for {config.lstm_size} and {env_cfg.image_size}")
        net.load_state_dict(init.state_dict())
    else:
        net.set_input_statistics(torch.from_numpy(_reset_images(env_cfg, config.seed)))
    metrics = MetricsLog(run_dir / "metrics.csv", keep_episodes=episode, fields=METRICS_FIELDS)
    envs = [MarbleMazeEnv(env_cfg) for _ in range(config.n_envs)]
    try:
        if games is not None:  # resume every game where it was, with the LSTM state it had
            for env, snap in zip(envs, games["envs"]):
                env.reset(seed=0)
                env.restore(snap)
            obs, next_episode = games["obs"].copy(), games["next_episode"]
            ep_return, ep_len = games["ep_return"].copy(), games["ep_len"].copy()
            state = (games["state"][0].clone(), games["state"][1].clone())
        else:
            obs = np.stack([env.reset(seed=_episode_seed(config.seed, episode + i))[0] for i, env in enumerate(envs)])
            next_episode = episode + config.n_envs  # seeds of episodes started but not finished
            ep_return = np.zeros(config.n_envs)
            ep_len = np.zeros(config.n_envs, dtype=np.int64)
            state = net.initial_state(config.n_envs)
        t_start = time.perf_counter()
        last_ckpt = step
        recent: list[float] = []
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=config.total_steps, initial=step, desc="maze A2C", unit="step", smoothing=0.05)
        while step < config.total_steps:
            logps, values, entropies, rewards, dones = [], [], [], [], []
            for _ in range(config.n_steps):
                logits, value, state = net(torch.from_numpy(obs), state)
                dist = torch.distributions.Categorical(logits=logits)
                probs = torch.softmax(logits.detach().double(), 1).numpy()
                u = rng.random(config.n_envs)[:, None] * probs.sum(1, keepdims=True)
                actions = np.minimum((np.cumsum(probs, 1) <= u).sum(1), probs.shape[1] - 1)
                logps.append(dist.log_prob(torch.from_numpy(actions)))
                entropies.append(dist.entropy())
                values.append(value)
                r = np.zeros(config.n_envs, dtype=np.float32)
                d = np.zeros(config.n_envs, dtype=np.float32)
                for i, env in enumerate(envs):
                    o, rew, term, trunc, info = env.step(int(actions[i]))
                    r[i] = rew * config.reward_scale
                    ep_return[i] += rew
                    ep_len[i] += 1
                    if term or trunc:
                        d[i] = 1.0  # a truncated episode is cut like a finished one (no bootstrap)
                        metrics.write(step=step + i + 1, episode=episode, **{"return": round(float(ep_return[i]), 4)},
                                      length=int(ep_len[i]), success=int(info["success"]),
                                      wall_time=round(wall + time.perf_counter() - t_start, 1))
                        recent = (recent + [float(info["success"])])[-100:]
                        episode += 1
                        o, _ = env.reset(seed=_episode_seed(config.seed, next_episode))
                        next_episode += 1
                        ep_return[i], ep_len[i] = 0.0, 0
                    obs[i] = o
                reset = torch.from_numpy((d > 0).astype(np.float32))[:, None]
                state = (state[0] * (1 - reset), state[1] * (1 - reset))
                rewards.append(torch.from_numpy(r))
                dones.append(torch.from_numpy(d))
                step += config.n_envs
            with torch.no_grad():
                _, bootstrap, _ = net(torch.from_numpy(obs), state)
            returns = n_step_returns(torch.stack(rewards), torch.stack(dones), bootstrap, config.gamma)
            loss = actor_critic_loss(logps, values, entropies, returns, config.value_coef, config.entropy_coef)
            opt.zero_grad()
            loss.backward()
            if updates < config.critic_warmup_updates:  # the critic's head catches up with a given policy first
                for name, p in net.named_parameters():
                    if not name.startswith("value."):
                        p.grad = None
            nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            opt.step()
            updates += 1
            state = (state[0].detach(), state[1].detach())
            if bar is not None:
                bar.update(config.n_envs * config.n_steps)
                if recent:
                    bar.set_postfix(success100=f"{np.mean(recent):.2f}", episodes=episode, refresh=False)
            if step - last_ckpt >= config.checkpoint_every or step >= config.total_steps:
                last_ckpt = step
                # the games in progress go into the checkpoint, so that a resumed run continues them
                games_now = {"envs": [env.snapshot() for env in envs], "obs": obs.copy(),
                             "next_episode": next_episode, "ep_return": ep_return.copy(),
                             "ep_len": ep_len.copy(), "state": (state[0].clone(), state[1].clone())}
                save_payload(ckpt, {"format": FORMAT, "config": config.to_dict(), "net": net.state_dict(),
                                    "optimizer": opt.state_dict(), "rng": rng_states(rng), "step": step,
                                    "episode": episode, "updates": updates, "games": games_now,
                                    "wall_time": wall + time.perf_counter() - t_start})
            if stop_after is not None and step >= stop_after:
                return None
        final = run_dir / "final.pt"
        save_payload(final, {"format": FORMAT + "-weights", "config": config.to_dict(), "net": net.state_dict(),
                             "step": step, "episode": episode,
                             "wall_time": wall + time.perf_counter() - t_start})
        return final
    finally:
        metrics.close()
        for env in envs:
            env.close()
        if progress and bar is not None:
            bar.close()


def _reset_images(env_cfg: MarbleMazeConfig, seed: int, n: int = 256) -> np.ndarray:
    """Images of the ball at rest in the middle of every ring at ``n`` angles, for the net's
    input normalization (:meth:`MazePolicy.set_input_statistics`)."""
    env = MarbleMazeEnv(env_cfg)
    try:
        rng = np.random.default_rng(seed)
        return np.stack([env.reset(seed=seed, options={"angle": float(rng.uniform(0, 2 * np.pi)),
                                                       "ring": 1 + i % env_cfg.n_rings})[0] for i in range(n)])
    finally:
        env.close()


def export_maze_weights(final: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """The weights of ``final.pt`` in ``dtype`` (float16 to ship) with their config."""
    payload = torch.load(final, map_location="cpu", weights_only=False)
    sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in payload["net"].items()}
    out = Path(out)
    extra = {k: v for k, v in payload.items() if k not in ("format", "net")}  # config, step, trainer, ...
    save_payload(out, {"format": FORMAT + "-weights", "net": sd, **extra})
    return out


def load_maze_policy(path: str | Path) -> tuple[MazePolicy, dict]:
    """``(float32 policy in eval mode, payload without the weights)`` from a weights file."""
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if not str(payload.get("format", "")).startswith(FORMAT):
        raise ValueError(f"{path} is not a maze policy file (format {payload.get('format')!r})")
    cfg = payload["config"]
    env_cfg = MarbleMazeConfig(**cfg.get("env", {}))
    net = MazePolicy(lstm_size=cfg["lstm_size"], image_size=env_cfg.image_size)
    net.load_state_dict({k: v.float() for k, v in payload["net"].items()})
    net.eval()
    return net, {k: v for k, v in payload.items() if k != "net"}


@torch.no_grad()
def rollout(net: MazePolicy, env: MarbleMazeEnv, seed: int, *, memory: bool = True, greedy: bool = True,
            rng: np.random.Generator | None = None, start_angle: float | None = None,
            window: int | None = None) -> dict[str, Any]:
    """One episode. ``memory=False``: the LSTM state is reset to zero before every step;
    ``window=K``: before every step the state is recomputed from zero over the last ``K``
    observations (the current one included), so the policy remembers at most ``K - 1`` steps
    back (``K = 1`` is ``memory=False``; fewer than ``K`` steps so far: from the episode's start,
    which is the full memory). Returns arrays per step ``t`` (the decision made on observation ``t``):
    ``obs (T, 1, S, S)``, ``actions (T,)``, ``logits (T, 5)``, ``h, c (T, n_l)``, gates
    ``input, forget, output (T, n_l)``, ``ball_xy (T, 2)``, ``ring (T,)``, ``distance_px (T,)``
    (where the ball was when the observation was taken), plus ``success`` and ``steps``."""
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"window must be an int >= 1 (steps of memory recomputed), got {window!r}")
    with torch_threads(1):  # one image per step: threads only add overhead (and thrash a busy machine)
        return _rollout(net, env, seed, memory=memory, greedy=greedy, rng=rng, start_angle=start_angle,
                        window=window)


def _rollout(net, env, seed, *, memory, greedy, rng, start_angle, window=None):
    # test episodes start in the outer ring, whatever curriculum the training used
    options = {"angle": start_angle, "ring": env.config.n_rings} if start_angle is not None else None
    obs, info = env.reset(seed=seed, options=options)
    state = net.initial_state(1)
    keys = ("obs", "actions", "logits", "h", "c", "input", "forget", "output", "ball_xy", "ring", "distance_px")
    rec: dict[str, list] = {k: [] for k in keys}
    # window K: K staggered LSTM states advanced together; slot k restarts from zero every K steps
    # (at steps k, k + K, ...), so at step t slot (t + 1) % K has seen exactly the last K inputs
    slots = net.initial_state(window) if window is not None else None
    t = 0
    done = False
    while not done:
        if not memory:
            state = net.initial_state(1)
        if window is not None:
            if t >= window:  # restart the slot whose window just ended
                k = t % window
                slots = tuple(x.clone() for x in slots)
                slots[0][k].zero_()
                slots[1][k].zero_()
            z = net.encode(torch.from_numpy(obs[None])).expand(window, -1)
            all_logits, _, slots, all_gates = net(z, slots, return_gates=True, encoded=True)
            use = (t + 1) % window if t >= window - 1 else 0  # before K steps: slot 0, the full memory
            logits = all_logits[use:use + 1]
            gates = type(all_gates)(*(g[use:use + 1] for g in all_gates))
        else:
            logits, _, state, gates = net(torch.from_numpy(obs[None]), state, return_gates=True)
        t += 1
        if greedy:
            action = int(logits.argmax(1))
        else:
            p = torch.softmax(logits.double(), 1).numpy()[0]
            action = int((rng or np.random.default_rng(seed)).choice(len(p), p=p / p.sum()))
        for k, v in (("obs", obs), ("actions", action), ("logits", logits[0].numpy()), ("h", gates.h[0].numpy()),
                     ("c", gates.c[0].numpy()), ("input", gates.input[0].numpy()), ("forget", gates.forget[0].numpy()),
                     ("output", gates.output[0].numpy()), ("ball_xy", info["ball_xy"]), ("ring", info["ring"]),
                     ("distance_px", info["distance_px"])):
            rec[k].append(v)
        obs, _, term, trunc, info = env.step(action)
        done = term or trunc
    out = {k: np.asarray(v) for k, v in rec.items()}
    out["success"], out["steps"] = bool(info["success"]), len(out["actions"])
    out["final_ring"] = info["ring"]
    return out


def evaluate_maze(net: MazePolicy, env_config: MarbleMazeConfig, episodes: int = 40, *, seed: int = 1000,
                  memory: bool = True, window: int | None = None) -> list[dict[str, Any]]:
    """Greedy test episodes from start angles spread evenly over the outer ring (episode ``i``
    starts at ``2 pi i / episodes``): per episode its success, steps, and the step at which the
    ball first entered each ring (``entered``: ring -> step). ``memory`` and ``window``: as in
    :func:`rollout`."""
    env = MarbleMazeEnv(env_config)
    try:
        results = []
        for i in range(episodes):
            r = rollout(net, env, seed + i, memory=memory, start_angle=2 * np.pi * i / episodes, window=window)
            entered = {}
            for t, ring in enumerate(r["ring"]):
                entered.setdefault(int(ring), t)
            if r["success"]:
                entered.setdefault(0, r["steps"])
            results.append({"episode": i, "success": r["success"], "steps": r["steps"], "entered": entered,
                            "final_ring": int(r["final_ring"])})
        return results
    finally:
        env.close()


