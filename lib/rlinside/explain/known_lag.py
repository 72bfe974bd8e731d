"""A memory task with a known lag, to check what the preceding-offset method measures.

Lee et al. (Sec. 4) read the *preceding offset*, the steps from a gate's opening to the
channel's contribution, as the temporal dependency of an LSTM policy. On the marble maze the
true dependency is unknown, so the method cannot be checked there. Here it is known:

**Cue -> response.** An episode of ``T`` steps shows, at a random step ``t0``, one of two cues
(inputs 0 or 1), and ``lag`` steps later a *go* signal (input 2). At the go step the right
action is the cue's (action 1 or 2); at every other step it is *wait* (action 0). The
action at the go step depends on an input exactly ``lag`` steps old, and on nothing in
between: an agent that solves the task must hold the cue for ``lag`` steps.

:func:`train_cue_response` trains a small LSTM policy (``nn.LSTM`` + a linear read-out of
the action scores, the architecture of the maze policy) on this task by supervised learning;
:func:`episode_trace` runs it on fresh episodes and returns what the chapter's pipeline needs
(hidden state, gates, the action taken, the go steps); :func:`lag_offsets` applies the
chapter's method (:mod:`rlinside.explain.contribution`) and keeps the offsets of the
contributions that start at a go step. If the method measured the dependency, those offsets
would equal ``lag``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from rlinside.explain.contribution import all_offsets, contributions, salient_channels

__all__ = ["CueResponsePolicy", "cue_response_batch", "train_cue_response", "episode_trace", "lag_offsets"]

GATES = ("input", "forget", "output")


def cue_response_batch(n: int, T: int, lag: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x: (n, T, 3)`` float32 inputs and ``y: (n, T)`` int64 target actions of ``n`` episodes."""
    if lag < 1 or T < lag + 4:
        raise ValueError(f"need lag >= 1 and T >= lag + 4, got lag={lag}, T={T}")
    x = np.zeros((n, T, 3), dtype=np.float32)
    y = np.zeros((n, T), dtype=np.int64)
    t0 = rng.integers(1, T - lag - 1, size=n)
    cue = rng.integers(2, size=n)
    rows = np.arange(n)
    x[rows, t0, cue] = 1.0
    x[rows, t0 + lag, 2] = 1.0
    y[rows, t0 + lag] = cue + 1
    return x, y


class CueResponsePolicy(nn.Module):
    """An LSTM over the inputs and a linear read-out of the three action scores."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, batch_first=True)
        self.policy = nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        return self.policy(h)


def train_cue_response(lag: int, *, hidden: int = 16, T: int | None = None, updates: int = 1500, batch: int = 64,
                       seed: int = 0) -> tuple[CueResponsePolicy, float]:
    """Train a policy on the task with ``lag`` (cross-entropy, go steps weighted as much as all
    the wait steps together). Returns the policy and its accuracy at the go steps of 500 fresh
    episodes."""
    T = T or max(24, 3 * lag)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = CueResponsePolicy(hidden)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    w = torch.tensor([1.0, T / 2, T / 2])
    for _ in range(updates):
        x, y = cue_response_batch(batch, T, lag, rng)
        logits = net(torch.from_numpy(x))
        loss = nn.functional.cross_entropy(logits.reshape(-1, 3), torch.from_numpy(y).reshape(-1), weight=w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = cue_response_batch(500, T, lag, np.random.default_rng(seed + 1))
    with torch.no_grad():
        act = net(torch.from_numpy(x)).argmax(-1).numpy()
    go = y > 0
    return net, float((act[go] == y[go]).mean())


@dataclass
class EpisodeTrace:
    hidden: np.ndarray  #: (T, H) h_t
    gates: dict[str, np.ndarray]  #: gate name -> (T, H)
    actions: np.ndarray  #: (T,) the action taken (arg-max score)
    go: int  #: the go step
    correct: bool  #: the action at the go step is the cue's


def episode_trace(net: CueResponsePolicy, lag: int, T: int, rng: np.random.Generator) -> EpisodeTrace:
    """One fresh episode, stepped through the LSTM's equations (PyTorch's gate order i, f, g, o)."""
    x, y = cue_response_batch(1, T, lag, rng)
    W_ih, W_hh = net.lstm.weight_ih_l0.detach().double(), net.lstm.weight_hh_l0.detach().double()
    b = (net.lstm.bias_ih_l0 + net.lstm.bias_hh_l0).detach().double()
    H = W_hh.shape[1]
    h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    hs, gs = [], {g: [] for g in GATES}
    for t in range(T):
        z = W_ih @ torch.from_numpy(x[0, t]).double() + W_hh @ h + b
        i, f = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H])
        g, o = torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h.numpy().copy())
        for name, v in zip(GATES, (i, f, o)):
            gs[name].append(v.numpy().copy())
    hidden = np.array(hs)
    scores = hidden @ net.policy.weight.detach().double().numpy().T + net.policy.bias.detach().double().numpy()
    actions = scores.argmax(1)
    go = int(np.flatnonzero(x[0, :, 2])[0])
    return EpisodeTrace(hidden, {k: np.array(v) for k, v in gs.items()}, actions, go, bool(actions[go] == y[0, go]))


def lag_offsets(net: CueResponsePolicy, lag: int, *, episodes: int = 40, T: int | None = None, gate: str = "output",
                theta_g: float = 0.5, theta_c: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """The chapter's offsets on fresh episodes: for every salient channel, the offsets under
    ``gate`` of the contributions whose first step above ``theta_c`` is the go step (the
    action that needs the memory). One row per offset: ``episode``, ``channel``, ``offset``,
    ``t0`` (the gate's opening), ``censored`` (the gate was open from the episode's first
    step, so the true opening is unknown), and ``lag``."""
    if gate not in GATES:
        raise ValueError(f"gate must be one of {GATES}, got {gate!r}")
    T = T or max(24, 3 * lag)
    rng = np.random.default_rng(seed)
    W = net.policy.weight.detach().double().numpy()
    rows = []
    for e in range(episodes):
        tr = episode_trace(net, lag, T, rng)
        _, shares = contributions(W, tr.hidden, tr.actions)
        mask = salient_channels(shares)
        chans = np.flatnonzero(mask[tr.go])
        off = all_offsets(tr.gates[gate], shares, theta_g, theta_c, channels=chans)
        off = off[off["t"] == tr.go]
        for r in off.itertuples():
            rows.append({"episode": e, "channel": int(r.channel), "offset": int(r.offset), "t0": int(r.t0),
                         "censored": bool(r.t0 == 0), "lag": lag, "correct": tr.correct})
    return pd.DataFrame(rows, columns=["episode", "channel", "offset", "t0", "censored", "lag", "correct"])
