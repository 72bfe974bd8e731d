"""Training throughput of our Atari DQN against a plain reference loop, and env throughput.

Side by side on the same machine, one torch thread each, Breakout:

- **ours**: :func:`rlinside.agents.dqn.train_dqn` (frame-deduplicating replay buffer,
  channels-last convolutions, fused Adam), run twice: up to ``learning_starts`` steps (acting
  only) and ``steps`` more with learning; the learning-phase rate is the difference.
- **reference**: a minimal Double + Dueling DQN loop written below the way a textbook or
  CleanRL-style script does it: the same environment, network, hyperparameters and update
  rule, but a replay buffer that stores whole stacked observations (obs and next obs), the
  default memory layout and the default (for-each) Adam. Timed the same way.
- **environments**: agent steps/s of 16 preprocessed games stepped in turn, as the A2C loop
  does (:mod:`rlinside.agents.a2c`), and of ale-py's C++ ``AtariVectorEnv`` (16 games, the
  same preprocessing in native threads) for comparison.

Last line: ``RESULT dqn_sps=N reference_sps=N ratio=R env_sps=N`` (ratio = ours / reference;
env_sps = our 16-game loop). Run: ``python benchmarks/atari_training.py [--steps 2000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rlinside.agents.dqn import DQNConfig, train_dqn
from rlinside.envs.atari import make_atari_env
from rlinside.nets.atari import DuelingQNetwork

torch.set_num_threads(1)


def reference_dqn(config: DQNConfig, total_steps: int) -> None:
    """A plain Double + Dueling DQN loop (same algorithm and settings as train_dqn)."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    env = make_atari_env(config.game, seed=config.seed, frame_stack=config.frame_stack)
    n_actions = int(env.action_space.n)
    q_net = DuelingQNetwork(n_actions, config.frame_stack)
    target = DuelingQNetwork(n_actions, config.frame_stack)
    target.load_state_dict(q_net.state_dict())
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.learning_rate, eps=config.adam_eps)
    cap = config.buffer_size
    obs_buf = np.zeros((cap, config.frame_stack, 84, 84), np.uint8)
    next_buf = np.zeros_like(obs_buf)
    act_buf = np.zeros(cap, np.int64)
    rew_buf = np.zeros(cap, np.float32)
    done_buf = np.zeros(cap, np.float32)
    size = ptr = 0
    obs, _ = env.reset(seed=config.seed)
    for step in range(1, total_steps + 1):
        eps = max(config.epsilon_end, 1.0 - step / config.epsilon_decay_steps)
        if rng.random() < eps:
            action = int(rng.integers(n_actions))
        else:
            with torch.no_grad():
                action = int(q_net(torch.from_numpy(obs[None])).argmax(1).item())
        next_obs, reward, terminated, truncated, info = env.step(action)
        obs_buf[ptr], next_buf[ptr], act_buf[ptr] = obs, next_obs, action
        rew_buf[ptr], done_buf[ptr] = reward, float(terminated or info["life_lost"])
        ptr, size = (ptr + 1) % cap, min(size + 1, cap)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if size >= config.learning_starts and step % config.train_freq == 0:
            idx = rng.integers(0, size, config.batch_size)
            o, no = torch.from_numpy(obs_buf[idx]), torch.from_numpy(next_buf[idx])
            with torch.no_grad():
                best = q_net(no).argmax(1, keepdim=True)
                y = torch.from_numpy(rew_buf[idx]) + config.gamma * (
                    1 - torch.from_numpy(done_buf[idx])) * target(no).gather(1, best).squeeze(1)
            q = q_net(o).gather(1, torch.from_numpy(act_buf[idx])[:, None]).squeeze(1)
            loss = F.huber_loss(q, y)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm)
            optimizer.step()
        if step % config.target_update_every == 0:
            target.load_state_dict(q_net.state_dict())
    env.close()


def learning_rate_of(run, warmup: int, steps: int) -> float:
    """Agent steps/s of the learning phase: time(warmup + steps) - time(warmup)."""
    t0 = time.perf_counter()
    run(warmup)
    t1 = time.perf_counter()
    run(warmup + steps)
    t2 = time.perf_counter()
    return steps / ((t2 - t1) - (t1 - t0))


def env_throughput(n_envs: int, steps: int) -> tuple[float, float]:
    envs = [make_atari_env("Breakout", seed=i, frame_stack=3) for i in range(n_envs)]
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps // n_envs):
        for env in envs:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
            if terminated or truncated:
                env.reset()
    ours = (steps // n_envs) * n_envs / (time.perf_counter() - t0)
    native = float("nan")
    try:
        from ale_py.vector_env import AtariVectorEnv

        venv = AtariVectorEnv("breakout", n_envs, num_threads=1, stack_num=3)
        venv.reset(seed=0)
        t0 = time.perf_counter()
        for _ in range(steps // n_envs):
            venv.step(rng.integers(4, size=n_envs))
        native = (steps // n_envs) * n_envs / (time.perf_counter() - t0)
        venv.close()
    except Exception as error:  # pragma: no cover - optional comparison
        print(f"AtariVectorEnv unavailable: {error}")
    return ours, native


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="learning-phase agent steps timed")
    parser.add_argument("--warmup", type=int, default=1000, help="acting-only steps first")
    args = parser.parse_args()
    config = DQNConfig(game="Breakout", learning_starts=args.warmup, buffer_size=20_000,
                       total_steps=args.warmup + args.steps, checkpoint_every=10**9, save_replay=False)

    def ours(total: int) -> None:
        with tempfile.TemporaryDirectory() as d:
            train_dqn(DQNConfig(**{**config.to_dict(), "total_steps": total, "snapshot_steps": ()}),
                      Path(d), progress=False)

    ref_sps = learning_rate_of(lambda total: reference_dqn(config, total), args.warmup, args.steps)
    dqn_sps = learning_rate_of(ours, args.warmup, args.steps)
    print(f"DQN learning phase, agent steps/s: ours {dqn_sps:.1f}, reference {ref_sps:.1f}")
    env_sps, native_sps = env_throughput(16, 4000)
    print(f"16 Breakout games, agent steps/s: our loop {env_sps:.0f}, ale-py AtariVectorEnv "
          f"(1 thread) {native_sps:.0f}")
    print(f"RESULT dqn_sps={dqn_sps:.1f} reference_sps={ref_sps:.1f} ratio={dqn_sps / ref_sps:.2f} "
          f"env_sps={env_sps:.0f}")


if __name__ == "__main__":
    main()
