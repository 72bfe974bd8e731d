"""Collect the prediction stream of a shipped Atari agent and ship it (kind ``atari-stream``).

The RTRL chapter's Atari benchmark (Javed et al., Sec. 6): the agent's greedy play, the
newest frame at 16 x 16, the actions and rewards (see :mod:`rlinside.agents.streams`).

    python scripts/collect_atari_stream.py --game Pong                 # the most trained agent of the game
    python scripts/collect_atari_stream.py --game Pong --agent a2c --steps 100000 --seed 20000

The same agent, steps and seed give the same stream, bit for bit.
"""

from __future__ import annotations

import argparse
import sys

from rlinside.agents import shipped
from rlinside.agents.streams import StreamConfig, ship_stream
from rlinside.agents.zoo import AGENTS, find_agents
from rlinside.envs.atari import ATARI_GAMES

#: Agent families whose shipped agents do not respond to their input (the saliency chapter's
#: A2C-LSTM: input gradients about 1e-10); their greedy play is one action, whatever the
#: screen, so their streams have nothing to predict from. Chosen only when asked by --agent.
INSENSITIVE = ("a2c-lstm",)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--game", required=True, choices=sorted(ATARI_GAMES))
    ap.add_argument("--agent", choices=sorted(AGENTS), help="family of the agent (default: any)")
    ap.add_argument("--steps", type=int, default=StreamConfig.steps, help="at least this many agent steps")
    ap.add_argument("--seed", type=int, default=StreamConfig.seed, help="evaluation seed of the games")
    a = ap.parse_args(argv)
    try:
        config = StreamConfig(steps=a.steps, seed=a.seed)
    except ValueError as e:
        ap.error(str(e))
    found = [art for art in find_agents(a.agent, a.game) if art.config["stage"] == "final"]
    if a.agent is None:  # by default not an agent known to ignore its input (its stream is one action)
        found = [art for art in found if art.config["agent"] not in INSENSITIVE] or found
    if not found:
        ap.error(f"no final {a.agent or ''} agent of {a.game} is shipped: train and ship one first "
                 "(scripts/train_atari.py, scripts/ship_atari_agent.py)")
    agent = shipped.most_trained(found)
    command = "python scripts/collect_atari_stream.py " + " ".join(argv if argv is not None else sys.argv[1:])
    art = ship_stream(agent, config, command=command)
    m = art.metrics
    print(f"shipped {art.kind}/{art.key}: {a.game} by {agent.config['agent']} {agent.key} "
          f"(eval {m['agent_eval_mean']}): {m['steps']:,} steps, {m['games']} games, mean score "
          f"{m['mean_game_score']}, {m['distinct_actions']} distinct actions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
