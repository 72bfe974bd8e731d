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
metrics (use ``--no-ship-failed`` to skip them).
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rlinside import store
from rlinside.agents.arm_dqn import (
    ARTIFACT_KIND,
    ARTIFACT_VERSION,
    ArmDQNConfig,
    save_arm_weights,
    train_arm_dqn,
    validate,
)
from rlinside.envs.planar_arm import sample_goals
from rlinside.utils import code_version

HOLDOUT_SEED = 7_000_000  # seeds the 300 fresh goals of the hold-out test


def rounded(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A float32 copy of ``model`` whose weights went through ``dtype`` and back."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.to(dtype).float())
    return m.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--joints", type=int, default=2, help="joints of the arm (2, 3, 4)")
    parser.add_argument("--width", type=int, default=32, help="neurons per hidden layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-episodes", type=int, default=ArmDQNConfig.max_episodes,
                        help="training budget in episodes")
    parser.add_argument("--out", type=Path, default=None, help="run folder (resumable)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-ship", action="store_true", help="train only, write nothing to data/")
    parser.add_argument("--no-ship-failed", action="store_true",
                        help="do not ship agents that did not pass validation")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "scripts/train_arm.py", *(sys.argv[1:] if argv is None else argv)])

    config = ArmDQNConfig(n_joints=args.joints, width=args.width, seed=args.seed,
                          max_episodes=args.max_episodes, torch_threads=args.threads)
    out = args.out or Path("runs/arm_dqn") / f"j{args.joints}_w{args.width}_s{args.seed}"
    print(f"[{time.strftime('%H:%M:%S')}] arm-DQN {args.joints} joints, width {args.width}, "
          f"seed {args.seed} in {out} (code {code_version()})", flush=True)
    res = train_arm_dqn(config, out)
    assert res is not None
    print(f"[{time.strftime('%H:%M:%S')}] {'passed' if res.passed else 'did NOT pass'} validation "
          f"after {res.episodes} episodes ({res.success_rate:.1%} of 300), training wall time "
          f"{res.wall_time:.0f} s", flush=True)

    # -- float16 if the validation outcome survives the rounding
    v32 = validate(res.model, config)
    v16 = validate(rounded(res.model, torch.float16), config)
    keeps = v16.passed if v32.passed else v16.successes >= v32.successes
    dtype = torch.float16 if keeps else torch.float32
    shipped = rounded(res.model, dtype)
    print(f"validation successes: float32 {v32.successes}/300, float16 {v16.successes}/300 "
          f"-> shipping {str(dtype).removeprefix('torch.')}", flush=True)
    holdout_goals = sample_goals(np.random.default_rng(HOLDOUT_SEED), 300,
                                 config.arm_config().link_lengths, config.workspace)
    hold = validate(shipped, config, goals=holdout_goals)
    print(f"hold-out test (300 fresh goals): {hold.successes}/300, passed={hold.passed}", flush=True)

    if args.no_ship or (args.no_ship_failed and not res.passed):
        return 0 if res.passed else 1
    weights = save_arm_weights(res.model, out / "weights.pt", config, dtype=dtype,
                               passed=res.passed, episodes=res.episodes)
    metrics = {
        "validation_passed": bool(res.passed),
        "training_episodes": int(res.episodes),
        "validation_success_rate": round(v32.success_rate, 4),
        "validation_success_rate_shipped": round(validate(shipped, config).success_rate, 4),
        "validation_threshold": int(v32.threshold),
        "holdout_success_rate": round(hold.success_rate, 4),
        "holdout_passed": bool(hold.passed),
        "weights_dtype": str(dtype).removeprefix("torch."),
        "training_wall_time_s": round(res.wall_time, 1),
        "hidden_sizes": list(res.model.hidden_sizes),
    }
    art = store.save(
        ARTIFACT_KIND, config.to_dict(), ARTIFACT_VERSION,
        {"weights.pt": weights, "metrics.csv": out / "metrics.csv",
         "validation.csv": out / "validation.csv"},
        metrics=metrics, command=command, wall_time_s=round(res.wall_time, 1),
        root=store.data_root(),
    )
    print(f"[{time.strftime('%H:%M:%S')}] shipped {art.path}", flush=True)
    return 0 if res.passed else 1


if __name__ == "__main__":
    sys.exit(main())
