"""Speed of the six saliency methods (Rosynski et al.) on a dueling DQN, on two CPU threads.

1. One state: each method of :mod:`rlinside.explain.saliency` explains one observation
   ``(1, 4, 84, 84)`` of a :class:`~rlinside.nets.atari.DuelingQNetwork` (the shipped early
   DDDQN on Breakout if present, else a randomly initialised network with Breakout's 4
   actions), target the greedy action; median over ``--repeats`` calls after warm-up.
2. A video gallery: all six methods for ``--frames`` states (random pixel stacks; the speed
   does not depend on the content), ``--batch`` states per call, each explaining its own
   greedy action. This is what a saliency video of the paper costs.

Baseline: one plain forward + backward pass of the network (what :class:`Gradient` must at
least do), so the ratios stay meaningful on a noisy machine.

Threads: 2 by default (``--threads``). On a machine whose cores are busy with other work,
two torch threads fight for them and a batch-1 forward pass measured 80x slower than with one
thread; pass ``--threads 1`` there.

Prints a table and, last, ``RESULT six_methods_ms=N video_500_s=N``
(the sum of the six per-state medians, and the video gallery's wall time).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rlinside.explain.saliency import (
    G1GradCAM,
    G2GradCAM,
    GradCAM,
    Gradient,
    GuidedBackprop,
    GuidedGradCAM,
    cam_module,
)
from rlinside.nets.atari import DuelingQNetwork

torch.set_num_threads(2)


def load_net() -> tuple[torch.nn.Module, str]:
    try:
        from rlinside.agents.zoo import load_agent

        net, art = load_agent("dddqn", "Breakout", "early", device=torch.device("cpu"))
        return net, f"shipped DDDQN Breakout early ({art.config['step']:,} steps)"
    except Exception as e:  # noqa: BLE001 - any missing artifact: fall back to random weights
        torch.manual_seed(0)
        return DuelingQNetwork(4).eval(), f"random DuelingQNetwork (no shipped agent: {type(e).__name__})"


def methods(net: torch.nn.Module) -> dict:
    layer = cam_module(net, "conv1")
    return {
        "Gradient": Gradient(net), "Guided Backprop": GuidedBackprop(net),
        "Grad-CAM": GradCAM(net, layer), "Guided Grad-CAM": GuidedGradCAM(net, layer),
        "G1Grad-CAM": G1GradCAM(net, layer), "G2Grad-CAM": G2GradCAM(net, layer),
    }


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25, help="timed calls per method (>= 20)")
    parser.add_argument("--frames", type=int, default=500, help="states of the video gallery")
    parser.add_argument("--batch", type=int, default=50, help="states per call in the video gallery")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (default 2; use 1 when other jobs hold the cores: "
                             "oversubscribed threads spin and slow small convolutions ~50x)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.repeats < 1 or args.frames < 1 or args.batch < 1:
        parser.error("--repeats, --frames and --batch must be >= 1")

    net, what = load_net()
    gen = torch.Generator().manual_seed(0)
    obs = torch.randint(0, 256, (1, net.torso.in_channels, 84, 84), dtype=torch.uint8, generator=gen)
    with torch.no_grad():
        action = int(net(obs).argmax(1))
    ms = methods(net)

    def forward_backward():
        x = obs.float().requires_grad_(True)
        torch.autograd.grad(net(x)[0, action], x)

    base = median_ms(forward_backward, args.repeats)
    per_state = {name: median_ms(lambda m=m: m.attribute(obs, target=action), args.repeats) for name, m in ms.items()}

    video = torch.randint(0, 256, (args.frames, net.torso.in_channels, 84, 84), dtype=torch.uint8, generator=gen)
    for m in ms.values():  # warm up the batched shapes
        m.attribute(video[: args.batch], target=0)
    t0 = time.perf_counter()
    per_method_video = dict.fromkeys(ms, 0.0)
    for start in range(0, args.frames, args.batch):
        chunk = video[start:start + args.batch]
        with torch.no_grad():
            actions = net(chunk).argmax(1)
        for name, m in ms.items():
            t1 = time.perf_counter()
            m.attribute(chunk, target=actions)
            per_method_video[name] += time.perf_counter() - t1
    video_s = time.perf_counter() - t0

    print(f"network: {what}; torch threads: {torch.get_num_threads()}; repeats: {args.repeats}")
    print(f"{'method':<18}{'one state (ms)':>16}{'x fwd+bwd':>11}{f'{args.frames} states (s)':>18}")
    print(f"{'forward+backward':<18}{base:>16.2f}{1.0:>11.1f}{'':>18}")
    for name in ms:
        print(f"{name:<18}{per_state[name]:>16.2f}{per_state[name] / base:>11.1f}{per_method_video[name]:>18.2f}")
    six = sum(per_state.values())
    print(f"{'all six':<18}{six:>16.2f}{six / base:>11.1f}{video_s:>18.2f}"
          f"   (video: batches of {args.batch}, {1e3 * video_s / args.frames:.1f} ms per state)")
    print(f"RESULT six_methods_ms={six:.1f} video_{args.frames}_s={video_s:.2f}")


if __name__ == "__main__":
    main()
