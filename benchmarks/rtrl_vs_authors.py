"""Our staged RTRL learner against the authors' C++, like for like, on one core.

Javed et al. released their learners as C++ (float32, RMSProp) in
https://github.com/khurramjaved96/Columnar-Constructive-Networks. This script does not ship
or copy any of it: given a checkout of that repository (``--authors-repo PATH``), it writes a
small timing harness of ours (the C++ string below, which only calls their public classes),
compiles it with their network and environment sources (``g++ -O3 -DNDEBUG -march=native``;
the database, JSON and ALE parts of their build are left out, and ``-include cstdint`` makes
their headers compile with a current g++), and times it against our numba learner in turn,
A B A B, so a drift in the machine's speed affects both sides of each pair alike.

Like for like:

- the same learner: ``IncrementalNetworks`` (their columnar / hybrid network: one-unit LSTM
  columns, exact RTRL traces, online feature normalisation, TD(lambda), RMSProp with decay
  0.9999 and 1e-8) against :class:`rlinside.rtrl.StagedRTRL` with ``optimizer="rmsprop"``;
- the same input size: their trace-patterning environment has 12 inputs (6 conditioned
  stimuli, 5 distractors, the US); ours is fed our 7-input stream plus 5 random distractor
  bits, 12 inputs (the rate does not depend on the values);
- inputs generated before the clock starts on both sides; the clock covers forward, trace
  update, TD error and parameter update of every step;
- configurations: columnar with 5 and 20 columns, and hybrid's slowest stage (20 columns in
  5 stages of 4, all stages begun: their ``layer = 4``, our ``steps_per_stage=1``).

Differences that stay: theirs is float32 with one C++ object per neuron and synapse, ours is
float64 in flat arrays. The ratio is ours / theirs in steps per second, per pair.

Prints a line per pair and ``RESULT authors_<cfg>_steps_per_s=N ours_<cfg>_steps_per_s=N
ratio_<cfg>=R ...`` (medians over pairs).

Get their code (network needed once; not a dependency of the project)::

    git clone https://github.com/khurramjaved96/Columnar-Constructive-Networks /tmp/ccn
    python benchmarks/rtrl_vs_authors.py --authors-repo /tmp/ccn [--steps 2000000] [--pairs 3]

Without a checkout (``make bench`` runs every script bare) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rlinside.envs.trace_patterning import TracePatterningStream
from rlinside.rtrl.learner import RTRLConfig, StagedRTRL

#: their sources the harness needs (network, columns, environment, helpers)
SOURCES = [
    "src/nn/networks/lstm_incremental_networks.cpp", "src/nn/lstm.cpp", "src/nn/utils.cpp", "src/utils.cpp",
    "src/nn/neuron.cpp", "src/nn/synapse.cpp", "src/nn/dynamic_elem.cpp",
    "src/environments/animal_learning/tracepatterning.cpp",
]

#: our harness: builds their network, pre-generates inputs from their environment, then times
#: the learning loop of their trace-patterning experiment (forward, backward, update)
HARNESS = r"""
#include <chrono>
#include <iostream>
#include <string>
#include <vector>
#include "include/nn/networks/lstm_incremental_networks.h"
#include "include/environments/animal_learning/tracecondioning.h"
int main(int argc, char** argv) {
  int steps = std::stoi(argv[1]), features = std::stoi(argv[2]), per_stage = std::stoi(argv[3]);
  int layer = features / per_stage - 1;              // every stage begun: the slowest stage
  TracePatterning env({14, 26}, {80, 120}, 5, 0);
  std::vector<std::vector<float>> xs;
  std::vector<float> us;
  env.reset();
  for (int i = 0; i < steps; i++) { xs.push_back(env.step()); us.push_back(env.get_US()); }
  IncrementalNetworks net(1e-3f, 0, (int)xs[0].size(), 1, features, per_stage, 0.01f, 0.99999f);
  float gamma = 0.9f, lambda = 0.99f, old_pred = net.forward(xs[0]);
  double checksum = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i < steps; i++) {
    net.decay_gradient(lambda * gamma);
    net.backward(layer);
    float pred = net.forward(xs[i]);
    net.update_parameters(layer, us[i] + gamma * pred - old_pred);
    old_pred = pred;
    checksum += pred;
  }
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "RATE " << (steps - 1) / dt << " INPUTS " << xs[0].size() << " CHECKSUM " << checksum << "\n";
}
"""

#: name -> (features, features per stage)
CONFIGS = {"columnar5": (5, 5), "columnar20": (20, 20), "hybrid20_last_stage": (20, 4)}


def build(repo: Path, out: Path) -> Path:
    missing = [s for s in SOURCES if not (repo / s).is_file()]
    if missing:
        raise SystemExit(f"--authors-repo {repo}: not a checkout of Columnar-Constructive-Networks "
                         f"(missing {', '.join(missing)})")
    (out / "harness.cpp").write_text(HARNESS)
    exe = out / "harness"
    cmd = ["g++", "-O3", "-DNDEBUG", "-march=native", "-std=c++20", "-include", "cstdint", f"-I{repo}",
           "-o", str(exe), str(out / "harness.cpp"), *[str(repo / s) for s in SOURCES]]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit("building the authors' harness failed:\n" + res.stderr[-3000:])
    return exe


def rate_theirs(exe: Path, steps: int, features: int, per_stage: int) -> tuple[float, int]:
    out = subprocess.run([str(exe), str(steps), str(features), str(per_stage)], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[out.index("RATE") + 1]), int(out[out.index("INPUTS") + 1])


def rate_ours(x: np.ndarray, features: int, per_stage: int) -> float:
    method = "columnar" if per_stage == features else "hybrid"
    kw = {} if method == "columnar" else dict(features_per_stage=per_stage, steps_per_stage=1)
    cfg = RTRLConfig.trace_patterning(method, n_features=features, optimizer="rmsprop", step_size=1e-3,
                                      epsilon=0.01, **kw)
    StagedRTRL(cfg, x.shape[1], seed=1).learn(x[:10])            # compile or load the cache
    lrn = StagedRTRL(cfg, x.shape[1], seed=0)
    t0 = time.perf_counter()
    lrn.learn(x)
    return x.shape[0] / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--authors-repo", type=Path, default=os.environ.get("RLINSIDE_AUTHORS_REPO"),
                    help="checkout of Columnar-Constructive-Networks (default: $RLINSIDE_AUTHORS_REPO)")
    ap.add_argument("--steps", type=int, default=2_000_000, help="steps per timed run (columnar 5; 20 columns: /4)")
    ap.add_argument("--pairs", type=int, default=3, help="A B pairs per configuration")
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {','.join(CONFIGS)}")
    a = ap.parse_args()
    names = [c for c in a.configs.split(",") if c]
    bad = [c for c in names if c not in CONFIGS]
    if bad or not names:
        ap.error(f"--configs: unknown {bad or 'empty'}; allowed: {', '.join(CONFIGS)}")
    if a.steps < 1000 or a.pairs < 1:
        ap.error("--steps must be >= 1000 and --pairs >= 1")
    if a.authors_repo is None:   # `make bench` runs every script bare: say what is needed, fail nothing
        print("skipped: no checkout of the authors' code; give --authors-repo PATH or set RLINSIDE_AUTHORS_REPO "
              "(see this script's docstring)")
        return 0
    a.authors_repo = Path(a.authors_repo)
    if not a.authors_repo.is_dir():
        ap.error(f"--authors-repo {a.authors_repo}: no such folder")
    result = []
    with tempfile.TemporaryDirectory(prefix="rlinside-authors-") as tmp:
        exe = build(a.authors_repo.resolve(), Path(tmp))
        for name in names:
            features, per_stage = CONFIGS[name]
            steps = a.steps if features <= 5 else a.steps // 4
            theirs, n_in = rate_theirs(exe, 2000, features, per_stage)      # warm-up; input count
            x7, _ = TracePatterningStream(seed=0).sample(steps)
            rng = np.random.default_rng(0)
            x = np.concatenate([x7, (rng.random((steps, n_in - 7)) < 0.1).astype(float)], axis=1)
            t, o = [], []
            for _ in range(a.pairs):
                t.append(rate_theirs(exe, steps, features, per_stage)[0])
                o.append(rate_ours(x, features, per_stage))
                print(f"{name:20s} authors {t[-1]:11,.0f}  ours {o[-1]:11,.0f} steps/s  ratio {o[-1] / t[-1]:.2f}")
            ratio = statistics.median(oo / tt for oo, tt in zip(o, t))
            result += [f"authors_{name}_steps_per_s={statistics.median(t):.0f}",
                       f"ours_{name}_steps_per_s={statistics.median(o):.0f}", f"ratio_{name}={ratio:.2f}"]
    print("RESULT " + " ".join(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
