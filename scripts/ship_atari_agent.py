"""Evaluate a trained Atari agent and ship it to data/ (kind ``atari-agent``).

Example, after ``scripts/train_atari.py`` finished a run::

    python scripts/ship_atari_agent.py --run-dir runs/dddqn_breakout_s0 --agent dddqn

ships the early snapshot (the first ``weights_step*.pt``) and the final weights
(``weights_final_fp16.pt``), each evaluated over ``--episodes`` full games next to a random
policy on the same games (see :func:`rlinside.agents.zoo.ship_agent`).

For an agent whose greedy play swings from snapshot to snapshot, choose the final weights
on validation games instead of taking the last ones::

    python scripts/ship_atari_agent.py --run-dir runs/drqn_orth_seaquest_s0 --agent drqn \
        --stage final --select-from-step 400000

scores every snapshot from step 400000 on (and the last weights) over ``--episodes`` games
of ``--selection-seed`` (default 1), ships the best, and reports its score on the games of
``--seed`` (default 0), which the choice never saw; the manifest records every candidate's
validation score (:func:`rlinside.agents.zoo.select_snapshot`; validation scores are kept in
``RUN_DIR/selection_cache.json``, so a rerun only plays the new snapshots).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlinside.agents import shipped
from rlinside.agents.zoo import AGENTS, STAGES, select_snapshot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--agent", required=True, choices=sorted(AGENTS))
    ap.add_argument("--stage", choices=(*STAGES, "both"), default="both")
    ap.add_argument("--weights", type=Path, help="weights file to ship instead of the stage's default")
    ap.add_argument("--episodes", type=int, default=10, help="evaluation games (>= 10)")
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed")
    ap.add_argument("--select-from-step", type=int, default=None,
                    help="final stage: choose the weights among the snapshots from this step on "
                         "by their score on the validation games of --selection-seed")
    ap.add_argument("--selection-seed", type=int, default=1, help="validation seed (not --seed)")
    a = ap.parse_args(argv)
    if a.episodes < 10:
        ap.error(f"--episodes must be at least 10 for a shipped agent, got {a.episodes}")
    selection = None
    if a.select_from_step is not None:
        if a.stage != "final" or a.weights is not None:
            ap.error("--select-from-step chooses the final weights: use it with --stage final "
                     "and without --weights")
        if a.selection_seed == a.seed:
            ap.error(f"--selection-seed must differ from --seed ({a.seed}): the reported score "
                     "must come from games the choice never saw")
        if a.select_from_step < 0:
            ap.error(f"--select-from-step must be >= 0, got {a.select_from_step}")
        a.weights, selection = select_snapshot(a.agent, a.run_dir, from_step=a.select_from_step,
                                               episodes=a.episodes, seed=a.selection_seed,
                                               progress=True,
                                               cache=a.run_dir / "selection_cache.json")
        for row in selection["candidates"]:
            print(f"validation: {row['file']} (step {row['step']}): {row['validation_mean']:.1f} "
                  f"+- {row['validation_std']:.1f}")
        print(f"chosen: {a.weights.name}")
    command = "python scripts/ship_atari_agent.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stages = STAGES if a.stage == "both" else (a.stage,)
    for stage in stages:
        art = shipped.ship(a.agent, a.run_dir, stage=stage, weights=a.weights, episodes=a.episodes,
                           seed=a.seed, command=command, progress=True, selection=selection)
        m = art.manifest["metrics"]
        print(f"shipped {art.kind}/{art.key}: {a.agent} {art.config['game']} {stage} at step "
              f"{m['agent_steps']}: {m['eval_mean']:.1f} +- {m['eval_std']:.1f} over "
              f"{m['eval_episodes']} games (random {m['random_mean']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
