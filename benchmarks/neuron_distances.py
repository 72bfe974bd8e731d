"""All-pairs neuron distances (eq. 2 of the neuron-activation paper) at the paper's largest size.

6 hidden layers x 256 neurons (1536 neurons, 1.18M pairs) over 500 episodes x 60 steps,
activations shaped like a trained ReLU network's (non-negative, a share of silent neurons).
Side by side:

- ours: :func:`rlinside.explain.activations.neuron_distances` (per-episode Gram matrices,
  exact recomputation of the pairs where the Gram formula cancels);
- reference: ``scipy.spatial.distance.pdist`` per episode on the same normalized series, on
  a subset of episodes (it is much slower), scaled to 500; its mean matrix is compared with
  ours on that subset.

Target (issue): under 5 s on 2 cores. Last line:
``RESULT distances_s=N reference_s=N speedup=R max_abs_diff=D``.
Run: ``python benchmarks/neuron_distances.py [--episodes 500] [--width 256]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.spatial.distance import pdist, squareform

from rlinside.explain.activations import neuron_distances, normalized_activations


def fake_activations(n_episodes: int, steps: int, width: int, layers: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    eps = []
    for _ in range(n_episodes):
        ep = []
        for _ in range(layers):
            x = rng.normal(size=(steps, width)).cumsum(axis=0) * 0.1 + rng.normal(size=width)
            x = np.maximum(x, 0.0)
            x[:, rng.random(width) < 0.1] = 0.0  # silent neurons
            ep.append(x)
        eps.append(ep)
    return eps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=500)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--reference-episodes", type=int, default=20)
    a = ap.parse_args()
    eps = fake_activations(a.episodes, a.steps, a.width, a.layers)
    t0 = time.perf_counter()
    D = neuron_distances(eps)
    ours = time.perf_counter() - t0
    print(f"ours: {D.shape[0]} neurons, {a.episodes} episodes x {a.steps} steps: {ours:.2f} s")

    sub = eps[: a.reference_episodes]
    norm = normalized_activations(eps)[: a.reference_episodes]  # normalized over all episodes
    t0 = time.perf_counter()
    ref = np.mean([squareform(pdist(np.concatenate(ep, axis=1).T)) for ep in norm], axis=0)
    ref_s = (time.perf_counter() - t0) * a.episodes / len(sub)
    # ours on the subset, normalized by the maxima over all episodes like the reference
    maxima = [np.max([ep[l].max(axis=0) for ep in eps], axis=0) for l in range(a.layers)]
    scaled = [[np.concatenate([sub_ep[l] / np.where(maxima[l] > 0, maxima[l], 1.0)
                               for l in range(a.layers)], axis=1)] for sub_ep in sub]
    from rlinside.explain.activations import _mean_episode_distance

    mine = _mean_episode_distance([s[0] for s in scaled], False)
    diff = float(np.abs(mine - ref).max())
    print(f"reference (scipy pdist per episode), scaled to {a.episodes} episodes: {ref_s:.2f} s; "
          f"max |ours - reference| on {len(sub)} episodes: {diff:.2e}")
    print(f"RESULT distances_s={ours:.2f} reference_s={ref_s:.2f} speedup={ref_s / ours:.1f} "
          f"max_abs_diff={diff:.1e}")


if __name__ == "__main__":
    main()
