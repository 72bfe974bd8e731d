"""Evaluate every float16 snapshot of an Atari run (``weights_step<N>.pt``) with the zoo's
protocol, to see how an agent's greedy play changes along its run.

Example (the recurrent attention DQN runs of the saliency chapter)::

    python scripts/eval_snapshots.py --run-dir runs/drqn_seaquest_s0 --agent drqn --from-step 450000

Prints one row per snapshot and adds it to ``RUN_DIR/snapshot_eval.csv`` (replacing an
earlier row of the same step and seed, keeping the others): the seed, the mean and standard
deviation of the full-game score over ``--episodes`` games (``rlinside.agents.zoo``
evaluation: epsilon 0.001 for Q-learning agents, sampled actions for A2C), how many distinct
scores those games gave (1: the agent plays the same game whatever the no-op start); then,
over 200 steps of evaluation game ``--seed``, the share of its most frequent action and the
number of actions it used, and for the recurrent attention DQN the mean largest weight of
each of its three attentions relative to uniform attention (1: uniform), over every 10th
state. ``--episodes 0`` skips the evaluation games.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rlinside.agents.rundir import snapshots as run_snapshots
from rlinside.agents.zoo import AGENTS, evaluate_agent, load_weights_file, play_states
from rlinside.explain.attention import attention_summary


def play_statistics(agent: str, net, game: str, seed: int) -> dict[str, float]:
    """Over 200 steps of evaluation game ``seed``: the share of the most frequent action and
    the number of actions used; for the recurrent attention DQN also the mean
    ``49 * max(attention)`` of each of its attentions over every 10th state."""
    obs, _, actions, states = play_states(agent, net, game, steps=200, seed=seed, return_states=True)
    counts = np.bincount(actions)
    stats = {"top action share": float(counts.max() / counts.sum()), "actions used": int((counts > 0).sum())}
    if agent != "drqn":
        return stats
    peaks: dict[str, list[float]] = {"lstm": [], "value": [], "advantage": []}
    with torch.no_grad():
        for i in range(9, 200, 10):
            _, _, d = net(torch.from_numpy(obs[i:i + 1]), states[i], return_details=True)
            for name in peaks:
                peaks[name].append(attention_summary(getattr(d, f"{name}_attention"))["peak / uniform"])
    return stats | {f"attention peak / uniform ({k})": float(np.mean(v)) for k, v in peaks.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--agent", required=True, choices=sorted(AGENTS))
    parser.add_argument("--game", default=None, help="default: the game stored in the weights")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation games (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (as ship_atari_agent.py)")
    parser.add_argument("--from-step", type=int, default=0, help="skip snapshots before this step")
    args = parser.parse_args(argv)
    if args.episodes < 0:
        parser.error(f"--episodes must be >= 0 (0: no evaluation games), got {args.episodes}")
    if not args.run_dir.is_dir():
        parser.error(f"--run-dir {args.run_dir} is not a directory")
    snapshots = [(step, p) for step, p in run_snapshots(args.run_dir) if step >= args.from_step]
    if not snapshots:
        parser.error(f"no weights_step<N>.pt at or after step {args.from_step} in {args.run_dir}")
    torch.set_num_threads(1)
    rows = []
    for step, path in snapshots:
        net, meta = load_weights_file(args.agent, path, device=torch.device("cpu"))
        game = args.game or meta["game"]
        row = {"step": step, "game": game, "seed": args.seed}
        if args.episodes:
            scores = np.asarray(evaluate_agent(args.agent, net, game, args.episodes, args.seed))
            row |= {"mean": float(scores.mean()), "std": float(scores.std()),
                    "distinct scores": int(len(np.unique(scores)))}
        row.update(play_statistics(args.agent, net, game, args.seed))
        rows.append(row)
        print(", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
              flush=True)
    table = pd.DataFrame(rows)
    out = args.run_dir / "snapshot_eval.csv"
    if out.is_file():
        old = pd.read_csv(out)
        if "seed" not in old:
            old["seed"] = 0
        mine = set(zip(table["step"], table["seed"]))
        old = old[[(st, sd) not in mine for st, sd in zip(old["step"], old["seed"])]]
        merged = pd.concat([old, table], ignore_index=True).sort_values(["seed", "step"])
    else:
        merged = table
    tmp = out.with_suffix(".csv.tmp")
    merged.to_csv(tmp, index=False)
    tmp.replace(out)
    print(table.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
