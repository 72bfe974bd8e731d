"""Train the marble-maze policy of the LSTM-contribution chapter (recurrent A2C); resumable.

    python scripts/train_maze.py --run-dir runs/maze_s0 --steps 2000000   # the shipped policy: 14 min on one core
    python scripts/train_maze.py --run-dir runs/maze_s0 --ship   # after training: evaluate, ship

Kill it at any time; the same command resumes from the last checkpoint. ``--ship`` evaluates
the final policy on 40 test episodes (with and without memory) and stores it as a
``maze-policy`` artifact in data/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlinside.agents.maze_a2c import MazeA2CConfig, train_maze


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=MazeA2CConfig.total_steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lstm-size", type=int, default=MazeA2CConfig.lstm_size)
    parser.add_argument("--obs-delay", type=int, default=0, help="observation delay of the maze, in steps")
    parser.add_argument("--reward-scale", type=float, default=MazeA2CConfig.reward_scale)
    parser.add_argument("--entropy", type=float, default=MazeA2CConfig.entropy_coef, help="entropy bonus")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tilt-mode", default="hold", choices=("hold", "incremental"),
                        help="how actions tilt the board (rlinside.envs.marble_maze)")
    parser.add_argument("--lr", type=float, default=MazeA2CConfig.learning_rate)
    parser.add_argument("--init-weights", type=Path, help="start from this policy (a final.pt or weights file, "
                        "e.g. of scripts/train_maze_dagger.py): A2C fine-tuning")
    parser.add_argument("--critic-warmup", type=int, default=0,
                        help="first updates that train only the critic's head (with --init-weights)")
    parser.add_argument("--ship", action="store_true", help="evaluate the finished run and store it in data/")
    parser.add_argument("--episodes", type=int, default=40, help="test episodes when shipping")
    args = parser.parse_args(argv)
    env = dict(MazeA2CConfig().env)
    env["tilt_mode"] = args.tilt_mode
    if args.obs_delay:
        env["obs_delay"] = args.obs_delay
    config = MazeA2CConfig(total_steps=args.steps, seed=args.seed, lstm_size=args.lstm_size,
                           reward_scale=args.reward_scale, entropy_coef=args.entropy,
                           torch_threads=args.threads, env=env, learning_rate=args.lr,
                           init_weights=str(args.init_weights) if args.init_weights else None,
                           critic_warmup_updates=args.critic_warmup)
    if args.ship:
        from rlinside.agents import shipped

        art = shipped.ship("maze-policy", args.run_dir, episodes=args.episodes)
        m = art.manifest["metrics"]
        print(f"shipped {art.path}: success {m['success_rate']:.3f} with memory, "
              f"{m['success_rate_no_memory']:.3f} without, over {m['episodes']} test episodes")
        return 0
    final = train_maze(config, args.run_dir)
    print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
