"""Train an Atari agent of the saliency chapter (Rosynski et al., Table 1); resumable.

Examples (the agents of the book; hours on one CPU thread each)::

    python scripts/train_atari.py --game Breakout --agent dddqn --steps 1200000 --seed 0 \\
        --run-dir runs/dddqn_breakout_s0 --threads 1
    python scripts/train_atari.py --game Seaquest --agent a2c-lstm --steps 3000000 --seed 0 \\
        --run-dir runs/a2c-lstm_seaquest_s0 --threads 1
    python scripts/train_atari.py --game Seaquest --agent drqn --steps 250000 --init orthogonal \\
        --epsilon-decay-steps 1000000 --snapshots 0,50000,100000,150000,200000 --no-replay \\
        --run-dir runs/drqn_seaquest_slow_eps_s0   # the paper's early agent (Figures 43-48)

Run it again with the same arguments to resume from ``RUN_DIR/checkpoint.pt`` (``--steps``
may be raised to train longer). Besides the files of ``rlinside.agents.dqn.train_dqn`` it
writes ``weights_step<N>.pt`` (float16) at ``--early-step`` (an "early" agent, as in the
paper's early-vs-trained comparison), and at the end ``weights_final_fp16.pt`` and
``eval.json`` (full-game scores, protocol of ``rlinside.agents.dqn.evaluate``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from rlinside.agents import registry
from rlinside.envs.atari import ATARI_GAMES
from rlinside.utils import atomic_write_bytes, code_version

AGENTS = tuple(k.name for k in registry.kinds("atari"))  # the registry's Atari families


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", required=True, choices=sorted(ATARI_GAMES))
    parser.add_argument("--agent", default="dddqn", choices=AGENTS,
                        help="; ".join(f"{k.name}: {k.label} ({k.module})" for k in registry.kinds("atari")))
    parser.add_argument("--steps", type=int, default=None,
                        help="total agent steps (1 step = 4 frames; A2C: summed over its games); "
                        "default: the agent config's total_steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--early-step", type=int, default=250_000,
                        help="agent step of the float16 'early' snapshot (0: none)")
    parser.add_argument("--snapshots", default="",
                        help="more agent steps with float16 snapshots, comma-separated (e.g. "
                        "0,25000,50000: the weights over training, for the saliency chapter)")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="agent steps between checkpoints (default: the agent config's)")
    parser.add_argument("--no-replay", action="store_true",
                        help="do not store the replay buffer (smaller, resume not bit-identical)")
    parser.add_argument("--init", choices=("pytorch", "orthogonal"), default=None,
                        help="drqn only: weight initialization of the network (default: "
                        "pytorch; the shipped agent used orthogonal, see rlinside.nets.attention)")
    parser.add_argument("--bug", choices=("value_link", "merge"), default=None,
                        help="dddqn only: plant an error in the dueling head (the saliency chapter's "
                        "bug-localisation study; see rlinside.nets.atari.DUELING_BUGS)")
    parser.add_argument("--epsilon-decay-steps", type=int, default=None,
                        help="dqn/drqn only: agent steps of the linear exploration decay (default: the "
                        "config's 150k; 1000000 leaves 75 %% of actions random at step 250k, the "
                        "paper's early agent of Figures 43-48)")
    parser.add_argument("--noop-max", type=int, default=None,
                        help="A2C agents only: most reset no-ops (default 30; 0: every game starts "
                        "the same, the deterministic variant of the saliency chapter's memorised-policy study)")
    parser.add_argument("--eval-episodes", type=int, default=10,
                        help="full games played with the final weights (0: skip)")
    args = parser.parse_args(argv)

    kind = registry.get(args.agent)
    fields = {f.name: f for f in dataclasses.fields(kind.config_class())}
    steps = args.steps if args.steps is not None else fields["total_steps"].default
    try:
        extra = [int(v) for v in args.snapshots.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--snapshots must be comma-separated integers, got {args.snapshots!r}")
    if any(not 0 <= v <= steps for v in extra):
        parser.error(f"--snapshots must lie in [0, {steps}] (the total steps), got {args.snapshots!r}")
    if args.init is not None and "init" not in fields:
        parser.error(f"--init applies to the agents whose config has an init, not --agent {args.agent}")
    if args.bug is not None and "bug" not in fields:
        parser.error(f"--bug applies to the dddqn agent, not --agent {args.agent}")
    if args.epsilon_decay_steps is not None and "epsilon_decay_steps" not in fields:
        parser.error(f"--epsilon-decay-steps applies to the Q-learning agents, not --agent {args.agent}")
    if args.epsilon_decay_steps is not None and args.epsilon_decay_steps < 1:
        parser.error(f"--epsilon-decay-steps must be >= 1, got {args.epsilon_decay_steps}")
    if args.noop_max is not None and "noop_max" not in fields:
        parser.error(f"--noop-max applies to the A2C agents, not --agent {args.agent}")
    if args.noop_max is not None and args.noop_max < 0:
        parser.error(f"--noop-max must be >= 0, got {args.noop_max}")
    early = [args.early_step] if 0 < args.early_step <= steps else []
    common = dict(game=args.game, seed=args.seed, total_steps=steps, torch_threads=args.threads,
                  snapshot_steps=tuple(sorted(set(early + extra))))
    if args.checkpoint_every is not None:
        common["checkpoint_every"] = args.checkpoint_every
    if args.init is not None:
        common["init"] = args.init
    if args.bug is not None:
        common["bug"] = args.bug
    if args.epsilon_decay_steps is not None:
        common["epsilon_decay_steps"] = args.epsilon_decay_steps
    if args.noop_max is not None:
        common["noop_max"] = args.noop_max
    if "save_replay" in fields:
        common["save_replay"] = not args.no_replay
    config = kind.make_config(**common)
    train, export, load, evaluate_fn = (kind.function(w) for w in ("train", "export", "load", "evaluate"))
    resuming = (args.run_dir / "checkpoint.pt").exists()
    print(f"[{time.strftime('%H:%M:%S')}] {'resuming' if resuming else 'starting'} {args.agent} "
          f"{args.game} seed {args.seed} in {args.run_dir} (code {code_version()})", flush=True)
    print(json.dumps(config.to_dict()), flush=True)
    final = train(config, args.run_dir)
    if final is None:
        return 1

    weights = export(args.run_dir, args.run_dir / "weights_final_fp16.pt")
    print(f"[{time.strftime('%H:%M:%S')}] wrote {weights}", flush=True)
    if args.eval_episodes > 0:
        net, meta = load(weights)
        scores = evaluate_fn(net, args.game, args.eval_episodes, seed=args.seed, progress=True)
        protocol = kind.protocol
        report = {
            "game": args.game, "agent": args.agent, "step": meta["step"], "seed": args.seed,
            "episodes": args.eval_episodes, "protocol": protocol, "scores": scores.tolist(),
            "mean": float(scores.mean()), "std": float(scores.std()), "code": code_version(),
        }
        atomic_write_bytes(args.run_dir / "eval.json", json.dumps(report, indent=2).encode())
        print(f"evaluation: mean {scores.mean():.1f} +- {scores.std():.1f} over "
              f"{args.eval_episodes} games", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
