"""Train a planar-arm reaching agent (neuron-activation chapter) and ship it to data/.

Example (a 2-joint agent of width 32; minutes on one CPU thread)::

    python scripts/train_arm.py --joints 2 --width 32 --seed 0

Trains with :func:`rlinside.agents.arm_dqn.train_arm_dqn` in ``--out`` (default
``runs/arm_dqn/j<J>_w<W>_s<S>``; run the same command again to resume) until the validation
test passes or ``--max-episodes`` are spent. Then:

1. the weights are rounded to float16 and validated again on the same 300 goals; float16 is
   shipped when it keeps the outcome (passes if float32 passed; no fewer successes if float32
   did not pass), else float32;
2. the shipped weights are also tested on 300 fresh goals (``holdout_success_rate``: the
   validation goals were used to decide when to stop, so their rate is optimistic);
3. the artifact ``arm-dqn`` (config = the ArmDQNConfig as a dict) is written to ``data/``
   with ``weights.pt``, ``metrics.csv`` (per training episode) and ``validation.csv``.

Agents that never passed are shipped too, with ``validation_passed: false`` in the manifest's
metrics (use ``--no-ship-failed`` to skip them). The work is done by
:func:`rlinside.agents.arm_zoo.train_and_store`, which the paper-scale sweep
(``rlinside sweep sweeps/arm_agents_paper.yml``) calls too.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from rlinside import store
from rlinside.agents.arm_dqn import ArmDQNConfig
from rlinside.agents.arm_zoo import train_and_store
from rlinside.utils import code_version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joints", type=int, default=2, help="joints of the arm (2, 3, 4)")
    parser.add_argument("--width", type=int, default=32, help="neurons per hidden layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-episodes", type=int, default=ArmDQNConfig.max_episodes,
                        help="training budget in episodes")
    parser.add_argument("--out", type=Path, default=None, help="run folder (resumable)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-ship", action="store_true",
                        help="train only, write nothing to data/ (the agent goes to the cache)")
    parser.add_argument("--no-ship-failed", action="store_true",
                        help="do not ship agents that did not pass validation")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "scripts/train_arm.py", *(sys.argv[1:] if argv is None else argv)])

    config = ArmDQNConfig(n_joints=args.joints, width=args.width, seed=args.seed,
                          max_episodes=args.max_episodes, torch_threads=args.threads)
    out = args.out or Path("runs/arm_dqn") / f"j{args.joints}_w{args.width}_s{args.seed}"
    print(f"[{time.strftime('%H:%M:%S')}] arm-DQN {args.joints} joints, width {args.width}, "
          f"seed {args.seed} in {out} (code {code_version()})", flush=True)
    _, passed = train_and_store(
        config, out, root=None if args.no_ship else store.data_root(), command=command,
        store_failed=not args.no_ship_failed,
        log=lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
