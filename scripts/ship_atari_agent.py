"""Evaluate a trained Atari agent and ship it to data/ (kind ``atari-agent``).

Example, after ``scripts/train_atari.py`` finished a run::

    python scripts/ship_atari_agent.py --run-dir runs/dddqn_breakout_s0 --agent dddqn

ships the early snapshot (the first ``weights_step*.pt``) and the final weights
(``weights_final_fp16.pt``), each evaluated over ``--episodes`` full games next to a random
policy on the same games (see :func:`rlinside.agents.zoo.ship_agent`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlinside.agents.zoo import AGENTS, STAGES, ship_agent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--agent", required=True, choices=sorted(AGENTS))
    ap.add_argument("--stage", choices=(*STAGES, "both"), default="both")
    ap.add_argument("--weights", type=Path, help="weights file to ship instead of the stage's default")
    ap.add_argument("--episodes", type=int, default=10, help="evaluation games (>= 10)")
    ap.add_argument("--seed", type=int, default=0, help="evaluation seed")
    a = ap.parse_args(argv)
    if a.episodes < 10:
        ap.error(f"--episodes must be at least 10 for a shipped agent, got {a.episodes}")
    command = "python scripts/ship_atari_agent.py " + " ".join(argv if argv is not None else sys.argv[1:])
    stages = STAGES if a.stage == "both" else (a.stage,)
    for stage in stages:
        art = ship_agent(a.run_dir, a.agent, stage, weights=a.weights, episodes=a.episodes,
                         seed=a.seed, command=command, progress=True)
        m = art.manifest["metrics"]
        print(f"shipped {art.kind}/{art.key}: {a.agent} {art.config['game']} {stage} at step "
              f"{m['agent_steps']}: {m['eval_mean']:.1f} +- {m['eval_std']:.1f} over "
              f"{m['eval_episodes']} games (random {m['random_mean']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
