"""Speed of the marble maze and of the maze policy's training, on this machine.

1. Environment: steps per second of :class:`rlinside.envs.marble_maze.MarbleMazeEnv` at the
   default 64 x 64 image, random actions, one process (the target: 500 per second on one
   core). Baseline, side by side: the physics alone (``stepSimulation`` for the same number of
   substeps, no observation), so the cost of the image and bookkeeping shows as a ratio.
2. Training: environment steps per second of :func:`rlinside.agents.maze_a2c.train_maze`
   (16 mazes, rollouts of 20 steps, one torch thread) over a short run in a temporary folder.

Prints a table and, last, ``RESULT env_steps_per_s=N train_steps_per_s=N``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pybullet
import torch

from rlinside.agents.maze_a2c import MazeA2CConfig, train_maze
from rlinside.envs.marble_maze import MarbleMazeEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-steps", type=int, default=3000)
    parser.add_argument("--train-steps", type=int, default=16_000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    env = MarbleMazeEnv()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 5, args.env_steps)
    t0 = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(int(a))
        if term or trunc:
            env.reset()
    env_sps = args.env_steps / (time.perf_counter() - t0)
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(args.env_steps):
        for _ in range(env.config.substeps):
            pybullet.stepSimulation(physicsClientId=env._client)
    physics_sps = args.env_steps / (time.perf_counter() - t0)
    env.close()

    with tempfile.TemporaryDirectory() as tmp:
        config = MazeA2CConfig(total_steps=args.train_steps, checkpoint_every=10**9)
        t0 = time.perf_counter()
        train_maze(config, tmp, progress=False)
        train_sps = args.train_steps / (time.perf_counter() - t0)

    print(f"{'what':<34}{'steps/s':>10}")
    print(f"{'physics only (baseline)':<34}{physics_sps:>10.0f}")
    print(f"{'environment, 64x64 image':<34}{env_sps:>10.0f}   ({env_sps / physics_sps:.2f} of the physics-only rate)")
    print(f"{'training (16 mazes, 1 thread)':<34}{train_sps:>10.0f}")
    print(f"RESULT env_steps_per_s={env_sps:.0f} train_steps_per_s={train_sps:.0f}")


if __name__ == "__main__":
    main()
