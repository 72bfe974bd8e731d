"""Train the marble-maze policy by DAgger from a privileged controller (rlinside.agents.maze_imitation).

    python scripts/train_maze_dagger.py --run-dir runs/maze_dagger_s0
    python scripts/train_maze.py --run-dir runs/maze_dagger_s0 --ship   # evaluate and ship
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from rlinside.agents.maze_imitation import DaggerConfig, train_dagger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=DaggerConfig.rounds)
    parser.add_argument("--episodes", type=int, default=DaggerConfig.episodes_per_round, help="episodes per round")
    parser.add_argument("--epochs", type=int, default=DaggerConfig.epochs_per_round, help="epochs per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tilt-mode", default=DaggerConfig.tilt_mode, choices=("hold", "incremental"),
                        help="how actions tilt the board (rlinside.envs.marble_maze)")
    parser.add_argument("--deadband", type=float, default=DaggerConfig.oracle_deadband,
                        help="the controller's dead band (0: it never chooses no-op)")
    parser.add_argument("--greedy-share", type=float, default=DaggerConfig.greedy_share,
                        help="share of the policy-driven episodes that take the arg-max action")
    parser.add_argument("--lr", type=float, default=DaggerConfig.learning_rate)
    parser.add_argument("--obs-delay", type=int, default=0, help="observation delay of the maze, in steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = DaggerConfig(rounds=args.rounds, episodes_per_round=args.episodes, epochs_per_round=args.epochs,
                       seed=args.seed, tilt_mode=args.tilt_mode, learning_rate=args.lr,
                       oracle_deadband=args.deadband, greedy_share=args.greedy_share,
                       env={"obs_delay": args.obs_delay} if args.obs_delay else None)
    print(f"wrote {train_dagger(cfg, args.run_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
