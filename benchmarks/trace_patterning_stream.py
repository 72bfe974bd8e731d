"""Throughput of the trace patterning stream generator.

Side by side on the same machine: our vectorised generator (`TracePatterningStream.sample`,
exact returns by a backward IIR filter), the same stream through the gymnasium env one step
at a time, and a plain per-step Python reference written here (per-trial draws, returns by a
backward loop). Prints `RESULT stream_steps_per_s=N env_steps_per_s=N python_baseline_steps_per_s=N speedup=R`.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

import gymnasium as gym

import rlinside.envs  # noqa: F401
from rlinside.envs.trace_patterning import TracePatterningStream


def python_reference(T: int, seed: int = 0, gamma: float = 0.9) -> tuple[list, list]:
    """The task written the obvious way: lists, one step at a time."""
    rnd = random.Random(seed)
    patterns = [p for p in itertools.combinations(range(6), 3)]
    positive = set(rnd.sample(range(20), 10))
    xs: list[list[float]] = []
    horizon = 400
    while len(xs) < T + horizon:
        pat = rnd.randrange(20)
        isi, iti = rnd.randint(14, 26), rnd.randint(80, 120)
        for k in range(isi + iti):
            row = [0.0] * 7
            if k == 0:
                for i in patterns[pat]:
                    row[i] = 1.0
            if k == isi and pat in positive:
                row[6] = 1.0
            xs.append(row)
    G = [0.0] * len(xs)
    for t in range(len(xs) - 2, -1, -1):
        G[t] = xs[t + 1][6] + gamma * G[t + 1]
    return xs[:T], G[:T]


def rate(fn, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return steps / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2_000_000)
    ap.add_argument("--baseline-steps", type=int, default=200_000)
    ap.add_argument("--env-steps", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    ours = rate(lambda: TracePatterningStream(seed=0).sample(a.steps), a.steps, a.repeats)
    base = rate(lambda: python_reference(a.baseline_steps), a.baseline_steps, a.repeats)

    def env_loop():
        env = gym.make("rlinside/TracePatterning-v0")
        env.reset(seed=0)
        for _ in range(a.env_steps):
            env.step(0)

    env = rate(env_loop, a.env_steps, a.repeats)
    print(f"vectorised stream : {ours:14,.0f} steps/s")
    print(f"gymnasium env     : {env:14,.0f} steps/s (one step per call)")
    print(f"python reference  : {base:14,.0f} steps/s")
    print(f"RESULT stream_steps_per_s={ours:.0f} env_steps_per_s={env:.0f} "
          f"python_baseline_steps_per_s={base:.0f} speedup={ours / base:.1f}")


if __name__ == "__main__":
    main()
