"""Measure how much each saliency method's maps lie on the game objects over a training run.

The saliency chapter's "features before reward" test (rlinside.studies.saliency). The
run folder must hold float16 snapshots, e.g. from::

    python scripts/train_atari.py --game Breakout --agent a2c --steps 1000000 --seed 1 \\
        --run-dir runs/a2c_breakout_snapshots_s1 --early-step 0 --eval-episodes 0 \\
        --snapshots 1,10000,25000,50000,100000,150000,200000,300000,400000,600000,800000
    python scripts/measure_saliency_training.py --run-dir runs/a2c_breakout_snapshots_s1 \\
        --agent a2c --game Breakout --ship

The other families' shipped runs (one per family; notebook saliency/07 says why the
recurrent A2C is the layer-normalised one) were trained with::

    python scripts/train_atari.py --game Seaquest --agent dddqn --seed 1 --steps 300000 \\
        --early-step 0 --eval-episodes 0 --no-replay --checkpoint-every 25000 \\
        --snapshots 1,10000,25000,50000,100000,150000,200000,250000 \\
        --run-dir runs/dddqn_seaquest_snapshots_s1
    python scripts/train_atari.py --game Seaquest --agent a2c-lnlstm --seed 1 --steps 400000 \\
        --early-step 0 --eval-episodes 0 --snapshots 1,10000,25000,50000,100000,150000,200000,300000 \\
        --run-dir runs/a2c-lnlstm_seaquest_snapshots_s1
    python scripts/train_atari.py --game Seaquest --agent drqn --init orthogonal --seed 1 \\
        --steps 400000 --early-step 0 --eval-episodes 0 --no-replay --checkpoint-every 25000 \\
        --snapshots 1,10000,25000,50000,100000,150000,200000,250000,300000,350000 \\
        --run-dir runs/drqn_seaquest_snapshots_s1

(the DRQN run was stopped at its 300k snapshot, for time: its last network is that snapshot),
each measured like the A2C run (``--agent`` and ``--game`` as trained). ``--ship`` stores the
table in data/ (else the cache), where notebook saliency/07_learning_before_reward finds it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from rlinside import store
from rlinside.agents import registry
from rlinside.studies.saliency import measure_run, ship_measurement


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--agent", required=True, choices=[k.name for k in registry.kinds("atari")])
    parser.add_argument("--game", required=True, choices=("Breakout", "Seaquest"))
    parser.add_argument("--states", type=int, default=40, help="states explained per snapshot")
    parser.add_argument("--every", type=int, default=5, help="agent steps between two states")
    parser.add_argument("--seed", type=int, default=0, help="evaluation game the states come from")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ship", action="store_true", help="store in data/ (default: the cache)")
    args = parser.parse_args(argv)
    if not (args.run_dir / "metrics.csv").exists():
        parser.error(f"{args.run_dir} is not a training run folder (no metrics.csv)")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    table = measure_run(args.run_dir, args.agent, args.game, n_states=args.states, every=args.every,
                        seed=args.seed, progress=True)
    config = {"agent": args.agent, "game": args.game, "run": args.run_dir.name, "states": args.states,
              "every": args.every, "seed": args.seed, "cam_layer": "conv1", "dilate": 1}
    games = pd.read_csv(args.run_dir / "metrics.csv")[["step", "return"]]
    art = ship_measurement(table, config, root=store.data_root() if args.ship else None, returns=games,
                           command="python scripts/measure_saliency_training.py " + " ".join(sys.argv[1:]),
                           wall_time_s=round(time.perf_counter() - t0, 1))
    print(f"stored {art.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
