"""Why an A2C-LSTM agent ignores its input: the scale of its LSTM's input and its gates.

For each stage (early, final) of a shipped recurrent A2C agent, on the states of one
evaluation game (from a zero recurrent state), print: the fc features that feed the LSTM
(mean, largest), the gate pre-activations' mean |W_ih x|, the share of input, forget and output
gate values within 1e-6 of 0 or 1, the largest |d logit / d pixel|, and the norms of the
torso's and fc layer's weights (unchanged norms between stages: those layers stopped learning).

    python scripts/diagnose_lstm_saturation.py --agent a2c-lstm --game Seaquest
    python scripts/diagnose_lstm_saturation.py --agent a2c-lnlstm --game Seaquest
"""

from __future__ import annotations

import argparse

import torch

from rlinside.agents import zoo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agent", default="a2c-lstm", choices=("a2c-lstm", "a2c-lnlstm"))
    parser.add_argument("--game", default="Seaquest")
    parser.add_argument("--steps", type=int, default=60, help="agent steps played (states measured)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    fresh = None
    for stage in ("early", "final"):
        try:
            net, art = zoo.load_agent(args.agent, args.game, stage)
        except Exception as err:  # not shipped: say so and go on
            print(f"{stage}: {err}")
            continue
        obs, _, _ = zoo.play_states(args.agent, net, args.game, steps=args.steps)
        if fresh is None:  # the same architecture untrained (seed 0), on the same states
            from rlinside.nets.recurrent import ActorCritic
            torch.manual_seed(0)
            fresh = ActorCritic(net.n_actions, in_channels=net.torso.in_channels, lstm_size=net.lstm.hidden_size,
                                lstm_input_norm=net.lstm_norm is not None)
            with torch.no_grad():
                f0 = fresh.fc_relu(fresh.fc(fresh.torso(torch.from_numpy(obs).float())))
            print(f"untrained network (seed 0): fc features mean {f0.mean():.3f}, max {f0.max():.2f}")
        x = torch.tensor(obs, dtype=torch.float32, requires_grad=True)
        feats = net.fc_relu(net.fc(net.torso(x)))
        lstm_in = net.lstm_norm(feats) if net.lstm_norm is not None else feats
        h = torch.zeros(len(x), net.lstm.hidden_size)
        _, _, g = net.lstm(lstm_in, (h, h.clone()), return_gates=True)
        saturated = {k: float(((t < 1e-6) | (t > 1 - 1e-6)).float().mean())
                     for k, t in (("input", g.input), ("forget", g.forget), ("output", g.output))}
        logits, _, _ = net(x, None)
        (grad,) = torch.autograd.grad(logits.max(1).values.sum(), x)
        print(f"{args.agent} {args.game} {stage} ({art.config['step']:,} steps), {len(x)} states:")
        print(f"  fc features: mean {feats.mean():.3f}, max {feats.max():.2f}")
        print(f"  mean |W_ih x| (LSTM input term of the gate pre-activations): "
              f"{(lstm_in @ net.lstm.weight_ih.T).abs().mean():.3f}")
        print("  gate values within 1e-6 of 0 or 1: " + ", ".join(f"{k} {v:.3f}" for k, v in saturated.items()))
        print(f"  largest |d logit / d pixel|: {grad.abs().max():.3g}")
        norms = {n: float(p.detach().norm()) for n, p in net.named_parameters()
                 if n.endswith("weight") and (n.startswith("torso") or n.startswith("fc"))}
        print("  weight norms: " + ", ".join(f"{n} {v:.4f}" for n, v in norms.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
