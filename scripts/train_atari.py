"""Train an Atari agent of the saliency chapter (Rosynski et al., Table 1); resumable.

Example (the Breakout DDDQN of the book; hours on one CPU thread)::

    python scripts/train_atari.py --game Breakout --agent dddqn --steps 1500000 --seed 0 \\
        --run-dir runs/dddqn_breakout_s0 --threads 1

Run it again with the same arguments to resume from ``RUN_DIR/checkpoint.pt`` (``--steps``
may be raised to train longer). Besides the files of ``rlinside.agents.dqn.train_dqn`` it
writes ``weights_step<N>.pt`` (float16) at ``--early-step`` (an "early" agent, as in the
paper's early-vs-trained comparison), and at the end ``weights_final_fp16.pt`` and
``eval.json`` (full-game scores, protocol of ``rlinside.agents.dqn.evaluate``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rlinside.agents.dqn import DQNConfig, evaluate, export_weights, load_weights, train_dqn
from rlinside.envs.atari import ATARI_GAMES
from rlinside.utils import atomic_write_bytes, code_version

AGENTS = ("dddqn",)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", required=True, choices=sorted(ATARI_GAMES))
    parser.add_argument("--agent", default="dddqn", choices=AGENTS,
                        help="dddqn: Double + Dueling DQN (rlinside.agents.dqn)")
    parser.add_argument("--steps", type=int, default=DQNConfig.total_steps,
                        help="total agent steps (1 step = 4 frames)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--early-step", type=int, default=250_000,
                        help="agent step of the float16 'early' snapshot (0: none)")
    parser.add_argument("--checkpoint-every", type=int, default=DQNConfig.checkpoint_every,
                        help="agent steps between checkpoints (taken at the next game end)")
    parser.add_argument("--no-replay", action="store_true",
                        help="do not store the replay buffer (smaller, resume not bit-identical)")
    parser.add_argument("--eval-episodes", type=int, default=10,
                        help="full games played with the final weights (0: skip)")
    args = parser.parse_args(argv)

    config = DQNConfig(
        game=args.game,
        seed=args.seed,
        total_steps=args.steps,
        torch_threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        save_replay=not args.no_replay,
        snapshot_steps=(args.early_step,) if 0 < args.early_step <= args.steps else (),
    )
    resuming = (args.run_dir / "checkpoint.pt").exists()
    print(f"[{time.strftime('%H:%M:%S')}] {'resuming' if resuming else 'starting'} {args.agent} "
          f"{args.game} seed {args.seed} in {args.run_dir} (code {code_version()})", flush=True)
    print(json.dumps(config.to_dict()), flush=True)
    final = train_dqn(config, args.run_dir)
    if final is None:
        return 1

    weights = export_weights(args.run_dir, args.run_dir / "weights_final_fp16.pt")
    print(f"[{time.strftime('%H:%M:%S')}] wrote {weights}", flush=True)
    if args.eval_episodes > 0:
        net, meta = load_weights(weights)
        scores = evaluate(net, args.game, args.eval_episodes, seed=args.seed, progress=True)
        report = {
            "game": args.game, "agent": args.agent, "step": meta["step"], "seed": args.seed,
            "episodes": args.eval_episodes, "epsilon": 0.001, "scores": scores.tolist(),
            "mean": float(scores.mean()), "std": float(scores.std()), "code": code_version(),
        }
        atomic_write_bytes(args.run_dir / "eval.json", json.dumps(report, indent=2).encode())
        print(f"evaluation: mean {scores.mean():.1f} +- {scores.std():.1f} over "
              f"{args.eval_episodes} games", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
