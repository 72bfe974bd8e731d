"""Atari training throughput: our A2C and DQN against Stable-Baselines3, and the env stacks.

Side by side on the same machine, one torch thread each, at the settings of the shipped
agents (the defaults of :class:`rlinside.agents.a2c.A2CConfig` and
:class:`rlinside.agents.dqn.DQNConfig`: A2C with 16 games, 5-step rollouts, 3 stacked
frames, RMSprop; DQN with 4 stacked frames, a 100k replay buffer, an update every 4 steps):

- **A2C**, on Pong (a game without FIRE, so both of our environment backends apply):
  :func:`rlinside.agents.a2c.train_a2c` with ``env_backend="python"`` (16 gymnasium games in
  turn, as every shipped agent was trained) and ``"native"`` (the same semantics batched in
  ale-py's C++ ``AtariVectorEnv``, one env thread, and two), against Stable-Baselines3's
  ``A2C`` with its ``CnnPolicy`` (the same Nature CNN torso and 512-unit layer as our
  feed-forward ``ActorCritic``), 16 ``PongNoFrameskip-v4`` games in a ``DummyVecEnv`` with
  SB3's ``AtariWrapper`` and a 3-frame ``VecFrameStack``, and the same rollout length, step
  size, RMSprop epsilon, loss weights and gradient clip.
- **DQN**, on Breakout: our :func:`rlinside.agents.dqn.train_dqn` with
  ``double=False, dueling=False`` (plain DQN, the Nature head: SB3's network and algorithm)
  against SB3's ``DQN`` (``CnnPolicy``, same buffer size, batch, update frequency, target
  interval, step size); and our shipped Double + Dueling DQN, which does more work per update
  (a dueling head and one more forward pass of the online network), against
- **reference DQN**: a plain Double + Dueling loop written below the textbook way (a buffer of
  whole stacked observations, default memory layout and Adam): the same algorithm as ours.
- **environments**: agent steps/s of 16 preprocessed games stepped in turn, as our A2C does,
  on our gymnasium stack and on :class:`rlinside.envs.atari_native.NativeAtariEnv` (the same
  semantics, bit for bit, on ale-py's C++ stepper), against ale-py's ``AtariVectorEnv`` (16
  games in native code, one and two threads; its padding and FIRE differ from ours); and, on
  Pong (no FIRE), our loop against :class:`~rlinside.envs.atari_native.NativeAtariVector` (our
  semantics, bit for bit, 16 games batched in C++).

Each training rate is the learning-phase rate: a run of ``warmup + steps`` steps minus a run
of ``warmup`` steps (start-up and, for DQN, the acting-only warm-up cancel out). The machine's
load changes all rates together; the ratios, measured in the same run, are what to compare.
SB3 is a benchmark-only dependency: ``pip install -e ".[bench]"`` (``make bench`` does it).

Last line: ``RESULT a2c_sps=N a2c_native_sps=N a2c_native2_sps=N sb3_a2c_sps=N a2c_ratio=R
a2c_native_ratio=R a2c_native2_ratio=R dqn_sps=N sb3_dqn_sps=N dqn_ratio=R dddqn_sps=N
reference_sps=N reference_ratio=R env_sps=N native_env_sps=N vector_env_sps=N env_ratio=R
pong_env_sps=N pong_batch_sps=N pong_batch2_sps=N batch_ratio=R`` (ratios: ours / theirs;
a2c_*ratio: our A2C on each backend / SB3 A2C; dqn_ratio: our plain DQN / SB3 DQN;
reference_ratio: our DDDQN / the reference DDDQN loop; env_ratio: our 16-game loop /
AtariVectorEnv with one thread; batch_ratio: NativeAtariVector with one thread / our loop,
on Pong). Targets of the RTRL Atari issue: A2C >= 1.3x SB3 A2C, DQN (same algorithm as
SB3's) >= 1.4x SB3 DQN.

Run: ``python benchmarks/atari_training.py [--a2c-steps 8000] [--dqn-steps 2000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rlinside.agents.a2c import A2CConfig, train_a2c
from rlinside.agents.dqn import DQNConfig, train_dqn
from rlinside.envs.atari import make_atari_env
from rlinside.envs.atari_native import NativeAtariEnv, NativeAtariVector
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
    cap = min(config.buffer_size, total_steps)  # never filled beyond total_steps
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


def sb3_available() -> bool:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        print("stable-baselines3 is not installed: pip install -e '.[bench]' (SB3 columns are nan)")
        return False
    return True


def sb3_a2c(config: A2CConfig, total: int) -> None:
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_atari_env as sb3_make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    venv = VecFrameStack(sb3_make_atari_env(f"{config.game}NoFrameskip-v4", n_envs=config.n_envs,
                                            seed=config.seed), n_stack=config.frame_stack)
    model = A2C("CnnPolicy", venv, n_steps=config.n_steps, learning_rate=config.learning_rate,
                gamma=config.gamma, gae_lambda=1.0, ent_coef=config.entropy_coef,
                vf_coef=config.value_coef, max_grad_norm=config.max_grad_norm,
                rms_prop_eps=config.rmsprop_eps, normalize_advantage=False, seed=config.seed,
                device="cpu", verbose=0)
    model.learn(total_timesteps=total)
    venv.close()


def sb3_dqn(config: DQNConfig, total: int) -> None:
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_atari_env as sb3_make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    venv = VecFrameStack(sb3_make_atari_env(f"{config.game}NoFrameskip-v4", n_envs=1, seed=config.seed),
                         n_stack=config.frame_stack)
    model = DQN("CnnPolicy", venv, learning_rate=config.learning_rate, buffer_size=config.buffer_size,
                learning_starts=config.learning_starts, batch_size=config.batch_size, gamma=config.gamma,
                train_freq=config.train_freq, gradient_steps=1,
                target_update_interval=config.target_update_every,
                exploration_fraction=config.epsilon_decay_steps / max(total, 1),
                exploration_final_eps=config.epsilon_end, max_grad_norm=config.max_grad_norm,
                optimize_memory_usage=False,
                replay_buffer_kwargs={"handle_timeout_termination": False},
                seed=config.seed, device="cpu", verbose=0)
    model.learn(total_timesteps=total)
    venv.close()


def loop_rate(envs: list, steps: int, rng: np.random.Generator) -> float:
    """Agent steps/s of ``envs`` stepped in turn with random actions, each reset at its game's end."""
    n_actions = int(envs[0].action_space.n)
    t0 = time.perf_counter()
    for _ in range(steps // len(envs)):
        for env in envs:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
            if terminated or truncated:
                env.reset()
    return (steps // len(envs)) * len(envs) / (time.perf_counter() - t0)


def env_throughput(n_envs: int, steps: int, frame_stack: int) -> tuple[float, float, float, float]:
    rng = np.random.default_rng(0)
    ours = loop_rate([make_atari_env("Breakout", seed=i, frame_stack=frame_stack) for i in range(n_envs)],
                     steps, rng)
    on_native = loop_rate([NativeAtariEnv("Breakout", seed=i, frame_stack=frame_stack) for i in range(n_envs)],
                          steps, rng)
    native = []
    from ale_py.vector_env import AtariVectorEnv

    for threads in (1, 2):
        venv = AtariVectorEnv("breakout", n_envs, num_threads=threads, stack_num=frame_stack)
        venv.reset(seed=0)
        t0 = time.perf_counter()
        for _ in range(steps // n_envs):
            venv.step(rng.integers(4, size=n_envs))
        native.append((steps // n_envs) * n_envs / (time.perf_counter() - t0))
        venv.close()
    return ours, on_native, native[0], native[1]


def batch_throughput(game: str, n_envs: int, steps: int, frame_stack: int) -> tuple[float, float, float]:
    """Agent steps/s on a game without FIRE: our loop, and NativeAtariVector (our semantics,
    bit for bit, batched in C++) with one and two threads."""
    rng = np.random.default_rng(0)
    envs = [make_atari_env(game, seed=i, frame_stack=frame_stack) for i in range(n_envs)]
    n_actions = int(envs[0].action_space.n)
    rates = [loop_rate(envs, steps, rng)]
    for threads in (1, 2):
        batch = NativeAtariVector(game, n_envs, frame_stack=frame_stack, num_threads=threads)
        batch.reset(np.arange(n_envs))
        t0 = time.perf_counter()
        for _ in range(steps // n_envs):
            batch.step(rng.integers(n_actions, size=n_envs))
        rates.append((steps // n_envs) * n_envs / (time.perf_counter() - t0))
        batch.close()
    return rates[0], rates[1], rates[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a2c-steps", type=int, default=8000, help="A2C agent steps timed (after warm-up)")
    parser.add_argument("--dqn-steps", type=int, default=2000, help="DQN learning-phase agent steps timed")
    parser.add_argument("--warmup", type=int, default=1000, help="steps before the timed part")
    args = parser.parse_args()
    for name in ("a2c_steps", "dqn_steps", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    have_sb3 = sb3_available()
    nan = float("nan")

    a2c = A2CConfig(game="Pong", checkpoint_every=10**9)
    a2c_warm = max(args.warmup, a2c.steps_per_update) // a2c.steps_per_update * a2c.steps_per_update

    def ours_a2c(total: int, **changes) -> None:
        with tempfile.TemporaryDirectory() as d:
            train_a2c(A2CConfig(**{**a2c.to_dict(), "total_steps": total, **changes}), Path(d), progress=False)

    a2c_sps = learning_rate_of(ours_a2c, a2c_warm, args.a2c_steps)
    a2c_native = learning_rate_of(lambda t: ours_a2c(t, env_backend="native"), a2c_warm, args.a2c_steps)
    a2c_native2 = learning_rate_of(lambda t: ours_a2c(t, env_backend="native", env_threads=2), a2c_warm,
                                   args.a2c_steps)
    sb3_a2c_sps = learning_rate_of(lambda t: sb3_a2c(a2c, t), a2c_warm, args.a2c_steps) if have_sb3 else nan
    print(f"A2C on Pong (16 games, 5-step rollouts), agent steps/s: ours python backend {a2c_sps:.0f}, "
          f"native backend {a2c_native:.0f} (2 env threads {a2c_native2:.0f}), SB3 {sb3_a2c_sps:.0f}")

    dqn = DQNConfig(game="Breakout", learning_starts=args.warmup, total_steps=args.warmup + args.dqn_steps,
                    checkpoint_every=10**9, save_replay=False)

    def ours_dqn(total: int, **changes) -> None:
        with tempfile.TemporaryDirectory() as d:
            train_dqn(DQNConfig(**{**dqn.to_dict(), "total_steps": total, "snapshot_steps": (), **changes}),
                      Path(d), progress=False)

    dqn_sps = learning_rate_of(lambda t: ours_dqn(t, double=False, dueling=False), args.warmup, args.dqn_steps)
    sb3_dqn_sps = learning_rate_of(lambda t: sb3_dqn(dqn, t), args.warmup, args.dqn_steps) if have_sb3 else nan
    dddqn_sps = learning_rate_of(ours_dqn, args.warmup, args.dqn_steps)
    ref_sps = learning_rate_of(lambda total: reference_dqn(dqn, total), args.warmup, args.dqn_steps)
    print(f"DQN learning phase, agent steps/s: ours (plain DQN) {dqn_sps:.1f}, SB3 (plain DQN) "
          f"{sb3_dqn_sps:.1f}; ours (Double + Dueling) {dddqn_sps:.1f}, reference (Double + Dueling) "
          f"{ref_sps:.1f}")

    env_sps, on_native, native1, native2 = env_throughput(16, 4000, a2c.frame_stack)
    print(f"16 Breakout games, agent steps/s: our loop {env_sps:.0f}, our semantics on the C++ stepper "
          f"(NativeAtariEnv) {on_native:.0f}, AtariVectorEnv 1 thread {native1:.0f}, 2 threads {native2:.0f}")
    pong, batch1, batch2 = batch_throughput("Pong", 16, 4000, a2c.frame_stack)
    print(f"16 Pong games, agent steps/s: our loop {pong:.0f}, NativeAtariVector (our semantics, batched) "
          f"1 thread {batch1:.0f}, 2 threads {batch2:.0f}")
    print(f"RESULT a2c_sps={a2c_sps:.0f} a2c_native_sps={a2c_native:.0f} a2c_native2_sps={a2c_native2:.0f} "
          f"sb3_a2c_sps={sb3_a2c_sps:.0f} a2c_ratio={a2c_sps / sb3_a2c_sps:.2f} "
          f"a2c_native_ratio={a2c_native / sb3_a2c_sps:.2f} a2c_native2_ratio={a2c_native2 / sb3_a2c_sps:.2f} "
          f"dqn_sps={dqn_sps:.1f} sb3_dqn_sps={sb3_dqn_sps:.1f} dqn_ratio={dqn_sps / sb3_dqn_sps:.2f} "
          f"dddqn_sps={dddqn_sps:.1f} reference_sps={ref_sps:.1f} reference_ratio={dddqn_sps / ref_sps:.2f} "
          f"env_sps={env_sps:.0f} native_env_sps={on_native:.0f} vector_env_sps={native1:.0f} "
          f"env_ratio={env_sps / native1:.2f} pong_env_sps={pong:.0f} pong_batch_sps={batch1:.0f} "
          f"pong_batch2_sps={batch2:.0f} batch_ratio={batch1 / pong:.2f}")


if __name__ == "__main__":
    main()
