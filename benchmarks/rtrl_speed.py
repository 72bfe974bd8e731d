"""Throughput of the staged RTRL learners on the trace patterning stream (one core).

Side by side on the same machine and data:

- our numba learner (:class:`rlinside.rtrl.StagedRTRL`), one call per chunk, for the paper's
  trace-patterning configurations: columnar 5 features, constructive 10 and hybrid 20 with 4
  per stage. Constructive and hybrid run through their whole stage schedule (stages shortened
  so all of them occur), so their rate is the average of a full run; the hybrid rate with all
  20 features begun (its slowest stage) is printed too;
- a plain per-step PyTorch implementation of the same columnar learner, written here: each
  step builds the graph of eqs. 13-18 and asks autograd for the one-step Jacobians
  ``dh_t/d(theta, h_{t-1}, c_{t-1})`` and ``dc_t/d(...)``, from which it carries the RTRL traces;
  normalization and TD(lambda) as in the learner. Its predictions are checked against ours.

The figures run RMSProp (the authors' released code), so the RMSProp rates of the same
configurations are timed next to the SGD ones; and the Atari benchmark's learners at 277
inputs (a 16 x 16 frame, an action one-hot padded to 20, the reward; Sec. 6 of the paper):
columnar 7, constructive 10, hybrid 20 with 5 per stage (their whole schedules), and T-BPTT
with truncation:features 15:2, 8:5, 5:8, 4:10, 2:25 (the paper's Table 1 writes k:d), all with
RMSProp, on random frames (the rate does not depend on the pixels).

Prints ``RESULT columnar_steps_per_s=N columnar_rmsprop_steps_per_s=N hybrid_steps_per_s=N
hybrid_rmsprop_steps_per_s=N torch_baseline_steps_per_s=N speedup=R atari_<learner>_steps_per_s=N ...``
(speedup = columnar (SGD) / torch baseline, the same learner in both).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rlinside.envs.trace_patterning import TracePatterningStream
from rlinside.rtrl.experiment import make_learner
from rlinside.rtrl.learner import RTRLConfig, StagedRTRL

torch.set_num_threads(1)


class TorchColumnarRTRL:
    """Columnar RTRL + normalization + TD(lambda) (sgd), one step at a time with torch autograd."""

    def __init__(self, learner: StagedRTRL) -> None:
        p = learner.params()
        cfg = learner.config
        self.cfg = cfg
        n = p.n_inputs
        self.n = n
        th = np.concatenate([p.W[0], p.u[0][..., None], p.b[0][..., None]], axis=2)   # (m, 4, n + 2)
        self.theta = torch.tensor(th, dtype=torch.float64)
        m = th.shape[0]
        z = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
        self.TH, self.TC, self.E = z(*th.shape), z(*th.shape), z(*th.shape)
        self.h, self.c = z(m), z(m)
        self.mu, self.var = z(m), torch.ones(m, dtype=torch.float64)
        self.w, self.Ew = z(m), z(m)
        self.b, self.Eb = 0.0, 0.0
        self.y_prev: float | None = None

    def step(self, x_t: torch.Tensor) -> float:
        cfg, n = self.cfg, self.n
        theta = self.theta.requires_grad_(True)
        hp = self.h.clone().requires_grad_(True)
        cp = self.c.clone().requires_grad_(True)
        a = torch.einsum("mqj,j->mq", theta[:, :, :n], x_t) + theta[:, :, n] * hp[:, None] + theta[:, :, n + 1]
        i, f, o = torch.sigmoid(a[:, 0]), torch.sigmoid(a[:, 1]), torch.sigmoid(a[:, 2])
        g = torch.tanh(a[:, 3])
        c = f * cp + i * g
        h = o * torch.tanh(c)
        dh_dth, dh_dh, dh_dc = torch.autograd.grad(h.sum(), (theta, hp, cp), retain_graph=True)
        dc_dth, dc_dh, dc_dc = torch.autograd.grad(c.sum(), (theta, hp, cp))
        with torch.no_grad():
            self.theta = theta.detach()
            TH, TC = self.TH, self.TC
            self.TH = dh_dth + dh_dh[:, None, None] * TH + dh_dc[:, None, None] * TC   # eq. 6, per column
            self.TC = dc_dth + dc_dh[:, None, None] * TH + dc_dc[:, None, None] * TC
            self.h, self.c = h.detach(), c.detach()
            beta = cfg.beta
            self.mu = beta * self.mu + (1 - beta) * self.h
            self.var = beta * self.var + (1 - beta) * (self.mu - self.h) ** 2
            isd = 1.0 / torch.sqrt(torch.clamp(self.var, min=cfg.epsilon))
            fh = (self.h - self.mu) * isd
            y = float(torch.dot(self.w, fh)) + self.b
            gs = self.w * isd
            if self.y_prev is not None:
                ad = cfg.step_size * (float(x_t[cfg.cumulant_index]) + cfg.gamma * y - self.y_prev)
                self.theta += ad * self.E
                self.w += ad * self.Ew
                self.b += ad * self.Eb
            gl = cfg.gamma * cfg.lam
            self.E = gl * self.E + gs[:, None, None] * self.TH
            self.Ew = gl * self.Ew + fh
            self.Eb = gl * self.Eb + 1.0
            self.y_prev = y
        return y


def rate_ours(cfg: RTRLConfig, x: np.ndarray, repeats: int, chunk: int) -> float:
    StagedRTRL(cfg, x.shape[1], seed=1).learn(x[:10])                      # compile / load the cache
    best = float("inf")
    for _ in range(repeats):
        lrn = StagedRTRL(cfg, x.shape[1], seed=0)
        t0 = time.perf_counter()
        for s in range(0, x.shape[0], chunk):
            lrn.learn(x[s : s + chunk])
        best = min(best, time.perf_counter() - t0)
    return x.shape[0] / best


def rate_config(config: dict, x: np.ndarray, repeats: int, chunk: int) -> float:
    """Steps per second of the learner ``make_learner(config)`` on ``x`` (best of ``repeats``)."""
    make_learner(config, x.shape[1], 1).learn(x[:10])
    best = float("inf")
    for _ in range(repeats):
        lrn = make_learner(config, x.shape[1], 0)
        t0 = time.perf_counter()
        for s in range(0, x.shape[0], chunk):
            lrn.learn(x[s : s + chunk])
        best = min(best, time.perf_counter() - t0)
    return x.shape[0] / best


def atari_inputs(steps: int, seed: int = 0) -> np.ndarray:
    """``steps`` inputs of the Atari benchmark's shape (277), random frames and actions."""
    rng = np.random.default_rng(seed)
    x = np.zeros((steps, 277))
    x[:, :256] = rng.integers(256, size=(steps, 256)) / 255.0
    x[np.arange(steps), 256 + rng.integers(18, size=steps)] = 1.0
    x[:, 276] = np.where(rng.random(steps) < 0.02, 1.0, 0.0)
    return x


ATARI = {  # learner -> config (gamma 0.98, RMSProp; the reward is input 276)
    "columnar": dict(method="columnar", n_features=7),
    "constructive": dict(method="constructive", n_features=10, steps_per_stage=None),
    "hybrid": dict(method="hybrid", n_features=20, features_per_stage=5, steps_per_stage=None),
    **{f"tbptt_k{k}_d{d}": dict(method="tbptt", n_features=d, truncation=k)
       for k, d in [(15, 2), (8, 5), (5, 8), (4, 10), (2, 25)]},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2_000_000, help="steps per timed run of our learner")
    ap.add_argument("--baseline-steps", type=int, default=3_000, help="steps of the torch baseline")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats (best is reported)")
    ap.add_argument("--chunk", type=int, default=500_000, help="steps per learn() call")
    ap.add_argument("--atari-steps", type=int, default=100_000, help="steps per timed run at 277 inputs")
    a = ap.parse_args()

    x, _ = TracePatterningStream(seed=0).sample(a.steps)
    common = dict(step_size=1e-3, epsilon=0.01)
    cfgs = {
        "columnar 5": RTRLConfig.trace_patterning("columnar", **common),
        "constructive 10": RTRLConfig.trace_patterning("constructive", steps_per_stage=a.steps // 10, **common),
        "hybrid 20/4": RTRLConfig.trace_patterning("hybrid", steps_per_stage=a.steps // 5, **common),
        "hybrid 20/4, last stage": RTRLConfig.trace_patterning("hybrid", steps_per_stage=1, **common),
        "columnar 5, rmsprop": RTRLConfig.trace_patterning("columnar", optimizer="rmsprop", **common),
        "hybrid 20/4, rmsprop": RTRLConfig.trace_patterning("hybrid", steps_per_stage=a.steps // 5,
                                                           optimizer="rmsprop", **common),
    }
    rates = {}
    for name, cfg in cfgs.items():
        rates[name] = rate_ours(cfg, x, a.repeats, a.chunk)
        print(f"{name:26s}: {rates[name]:14,.0f} steps/s")

    # torch baseline: same learner, same initial weights and data; check predictions agree
    ours = StagedRTRL(cfgs["columnar 5"], x.shape[1], seed=0)
    ref = TorchColumnarRTRL(ours)
    xt = torch.tensor(x[: a.baseline_steps])
    t0 = time.perf_counter()
    y_torch = np.array([ref.step(xt[t]) for t in range(a.baseline_steps)])
    base = a.baseline_steps / (time.perf_counter() - t0)
    y_ours = ours.learn(x[: a.baseline_steps])
    diff = np.abs(y_ours - y_torch).max()
    print(f"{'torch autograd baseline':26s}: {base:14,.0f} steps/s (columnar 5; max |y_ours - y_torch| = {diff:.1e})")
    if not diff < 1e-9:
        raise SystemExit(f"the torch baseline and the numba learner disagree (max |dy| = {diff:.3e})")
    xa = atari_inputs(a.atari_steps)
    atari = {}
    for name, cfg in ATARI.items():
        cfg = dict(cfg, step_size=1e-4, optimizer="rmsprop", gamma=0.98, cumulant_index=276)
        if cfg.get("steps_per_stage", 0) is None:  # every stage of the schedule within the timed run
            cfg["steps_per_stage"] = max(1, a.atari_steps // (4 if cfg["method"] == "hybrid" else 10))
        atari[name] = rate_config(cfg, xa, a.repeats, a.chunk)
        print(f"{'atari ' + name + ' (277 in)':26s}: {atari[name]:14,.0f} steps/s")
    print(f"RESULT columnar_steps_per_s={rates['columnar 5']:.0f} "
          f"columnar_rmsprop_steps_per_s={rates['columnar 5, rmsprop']:.0f} "
          f"hybrid_steps_per_s={rates['hybrid 20/4']:.0f} "
          f"hybrid_rmsprop_steps_per_s={rates['hybrid 20/4, rmsprop']:.0f} "
          f"torch_baseline_steps_per_s={base:.0f} speedup={rates['columnar 5'] / base:.1f} "
          + " ".join(f"atari_{k}_steps_per_s={v:.0f}" for k, v in atari.items()))


if __name__ == "__main__":
    main()
