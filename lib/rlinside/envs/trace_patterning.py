"""The trace patterning task (Rafiee et al. 2022), as used by Javed et al. (RTRL paper, Fig. 3).

The stream is a sequence of trials. At the first step of a trial the conditional stimulus
(CS) is shown: ``k_on`` (3) of ``n_cs`` (6) binary features are one, so there are C(6, 3) = 20
patterns. ``n_positive`` (10) of them, chosen once per seed, are followed by the
unconditional stimulus (US = 1) exactly ISI steps later, ISI ~ U{isi_low..isi_high}
(14..26). The others are followed by nothing. The next CS comes ITI steps after the US slot,
ITI ~ U{iti_low..iti_high} (80..120). The observation is the 6 CS features and the US as a 7th
input; the US is also the cumulant, and the learner predicts the discounted return

    G_t = sum_{j >= t+1} gamma^(j - t - 1) c_j        (RTRL paper, eq. 1)

with gamma = 0.9. :func:`discounted_return` computes it exactly from the cumulants.

Time line of one trial that starts at step ``s`` (CS at ``s``)::

    s          CS pattern on (one step)
    s + ISI    US = 1 if the pattern is positive (one step), else nothing
    s + ISI + ITI   next CS

so CS onsets are ISI + ITI steps apart, as in the paper's Figure 3 caption.

Two interfaces over one generator:

- :class:`TracePatterningStream` (fast, numpy): ``sample(T)`` gives ``x: (T, 7)`` and the exact
  returns ``G: (T,)``; ``chunks(T, chunk)`` streams long runs without holding them.
- :class:`TracePatterningEnv`, registered as ``rlinside/TracePatterning-v0``: a gymnasium
  environment with no actions to speak of (a single dummy action: the data-generating policy
  is fixed), observation ``x_t``, reward ``c_{t+1}`` (the US of the next step), and
  ``info["return"]`` the exact ``G_t``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Iterator

import gymnasium as gym
import numpy as np

__all__ = [
    "TracePatterningConfig",
    "TracePatterningStream",
    "TracePatterningEnv",
    "all_patterns",
    "discounted_return",
]


@dataclass(frozen=True)
class TracePatterningConfig:
    """Every number of the task. Defaults are the paper's (Javed et al., Experiment 1)."""

    n_cs: int = 6          #: number of CS features
    k_on: int = 3          #: CS features that are one in a pattern
    n_positive: int = 10   #: patterns followed by the US (chosen per seed)
    isi_low: int = 14      #: inter-stimulus interval, CS onset to US, lower bound (inclusive)
    isi_high: int = 26     #: ... upper bound (inclusive)
    iti_low: int = 80      #: inter-trial interval, US slot to next CS, lower bound (inclusive)
    iti_high: int = 120    #: ... upper bound (inclusive)
    gamma: float = 0.9     #: discount of the return to predict
    first_cs: int = 0      #: step of the first CS onset (the paper's Figure 3 shows one at step 4)

    def __post_init__(self) -> None:
        errs = []
        if self.n_cs < 1:
            errs.append(f"n_cs={self.n_cs} must be >= 1")
        if not 1 <= self.k_on <= self.n_cs:
            errs.append(f"k_on={self.k_on} must be in [1, n_cs={self.n_cs}]")
        n_pat = math.comb(self.n_cs, self.k_on) if 1 <= self.k_on <= self.n_cs else 0
        if n_pat and not 0 <= self.n_positive <= n_pat:
            errs.append(f"n_positive={self.n_positive} must be in [0, C(n_cs, k_on)={n_pat}]")
        if not 1 <= self.isi_low <= self.isi_high:
            errs.append(f"ISI range [{self.isi_low}, {self.isi_high}] must satisfy 1 <= isi_low <= isi_high")
        if not 1 <= self.iti_low <= self.iti_high:
            errs.append(f"ITI range [{self.iti_low}, {self.iti_high}] must satisfy 1 <= iti_low <= iti_high")
        if not 0.0 <= self.gamma < 1.0:
            errs.append(f"gamma={self.gamma} must be in [0, 1)")
        if self.first_cs < 0:
            errs.append(f"first_cs={self.first_cs} must be >= 0")
        if errs:
            raise ValueError("invalid trace patterning config: " + "; ".join(errs))

    @property
    def n_inputs(self) -> int:
        """Length of the observation: the CS features plus the US."""
        return self.n_cs + 1

    @property
    def n_patterns(self) -> int:
        return math.comb(self.n_cs, self.k_on)

    @classmethod
    def illustrative(cls) -> "TracePatterningConfig":
        """The small setting drawn in the paper's Figure 3: ISI 3, ITI 7, first CS at step 4."""
        return cls(isi_low=3, isi_high=3, iti_low=7, iti_high=7, first_cs=4)


def all_patterns(n_cs: int = 6, k_on: int = 3) -> np.ndarray:
    """Every CS pattern, ``(C(n_cs, k_on), n_cs)`` float array in lexicographic order."""
    pats = np.zeros((math.comb(n_cs, k_on), n_cs))
    for i, on in enumerate(itertools.combinations(range(n_cs), k_on)):
        pats[i, list(on)] = 1.0
    return pats


def discounted_return(cumulant: np.ndarray, gamma: float, tail: float = 0.0) -> np.ndarray:
    """Exact ``G_t = sum_{j>t} gamma^(j-t-1) c_j`` for a finite cumulant sequence ``c: (T,)``.

    ``tail`` is ``G_{T-1}``'s continuation: the discounted return from step ``T`` on
    (``c_T + gamma c_{T+1} + ...``), 0 for a stream that ends. Backward recursion
    ``G_t = c_{t+1} + gamma G_{t+1}``.
    """
    from scipy.signal import lfilter

    c = np.asarray(cumulant, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"cumulant must be 1-D (T,), got shape {c.shape}")
    T = c.shape[0]
    if T == 0:
        return np.zeros(0)
    # S_t = c_t + gamma S_{t+1} (a first-order IIR filter run backwards), S_T = tail; G_t = S_{t+1}
    S = lfilter([1.0], [1.0, -gamma], c[::-1], zi=[gamma * float(tail)])[0][::-1]
    return np.concatenate([S[1:], [float(tail)]])


class TracePatterningStream:
    """Seeded generator of the trace patterning stream.

    The positive patterns are drawn once from ``seed``; trials are drawn lazily. Two streams
    with the same config and seed produce identical data however they are chunked.
    """

    def __init__(self, config: TracePatterningConfig | None = None, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.config = config or TracePatterningConfig()
        self.seed = int(seed)
        cfg = self.config
        self.rng = np.random.default_rng(self.seed)
        self.patterns = all_patterns(cfg.n_cs, cfg.k_on)
        self.positive = np.zeros(cfg.n_patterns, dtype=bool)
        self.positive[self.rng.choice(cfg.n_patterns, size=cfg.n_positive, replace=False)] = True
        # pending data: a buffer of generated steps not yet handed out
        self._x = np.zeros((0, cfg.n_inputs))
        self._trial = np.zeros(0, dtype=np.int64)  # pattern index at CS onset steps, -1 elsewhere
        self._generated = 0
        self._started = False

    # -- generation -------------------------------------------------------------------
    def _new_trial(self) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        pat = int(self.rng.integers(cfg.n_patterns))
        isi = int(self.rng.integers(cfg.isi_low, cfg.isi_high + 1))
        iti = int(self.rng.integers(cfg.iti_low, cfg.iti_high + 1))
        x = np.zeros((isi + iti, cfg.n_inputs))
        x[0, : cfg.n_cs] = self.patterns[pat]
        if self.positive[pat]:
            x[isi, cfg.n_cs] = 1.0
        marks = np.full(isi + iti, -1, dtype=np.int64)
        marks[0] = pat
        return x, marks

    def _extend(self, n: int) -> None:
        xs, ms = [self._x], [self._trial]
        have = self._x.shape[0]
        if not self._started:
            self._started = True
            lead = self.config.first_cs
            xs.append(np.zeros((lead, self.config.n_inputs)))
            ms.append(np.full(lead, -1, dtype=np.int64))
            have += lead
        while have < n:
            x, m = self._new_trial()
            xs.append(x)
            ms.append(m)
            have += x.shape[0]
        self._x = np.concatenate(xs)
        self._trial = np.concatenate(ms)

    def _horizon(self) -> int:
        """Look-ahead after which gamma^k < 1e-17: the return is exact to float64 precision."""
        g = self.config.gamma
        return 1 if g == 0 else int(math.ceil(math.log(1e-17) / math.log(g))) + 1

    def next(self, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next ``T`` steps: ``x: (T, n_inputs)``, exact returns ``G: (T,)``, ``trial: (T,)``.

        ``trial[t]`` is the pattern index at CS onsets and -1 elsewhere. The returns are exact:
        the generator looks far enough ahead that the neglected tail is below 1e-17.
        """
        if T < 0:
            raise ValueError(f"T must be >= 0, got {T}")
        H = self._horizon()
        self._extend(T + H + 1)
        x, trial = self._x[:T], self._trial[:T]
        c = self._x[: T + H, self.config.n_cs]
        G = discounted_return(c, self.config.gamma)[:T]
        self._x, self._trial = self._x[T:], self._trial[T:]
        self._generated += T
        return x.copy(), G, trial.copy()

    def sample(self, T: int) -> tuple[np.ndarray, np.ndarray]:
        """``x: (T, n_inputs)`` and ``G: (T,)`` for the next ``T`` steps."""
        x, G, _ = self.next(T)
        return x, G

    def chunks(self, T: int, chunk: int = 100_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream ``T`` steps in pieces of at most ``chunk`` steps."""
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        done = 0
        while done < T:
            n = min(chunk, T - done)
            yield self.sample(n)
            done += n

    @property
    def steps_generated(self) -> int:
        return self._generated


class TracePatterningEnv(gym.Env):
    """Gymnasium view of the stream. The data-generating policy is fixed: one dummy action.

    ``step`` returns the next observation, reward = the cumulant of that step, and
    ``info["return"]``: the exact return to predict at that observation.
    """

    metadata = {"render_modes": []}

    def __init__(self, config: TracePatterningConfig | None = None, **overrides) -> None:
        cfg = config or TracePatterningConfig()
        if overrides:
            cfg = TracePatterningConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(cfg.n_inputs,), dtype=np.float64)
        self.action_space = gym.spaces.Discrete(1)
        self._stream: TracePatterningStream | None = None
        self._buf_x = np.zeros((0, cfg.n_inputs))
        self._buf_g = np.zeros(0)

    def _draw(self) -> tuple[np.ndarray, float]:
        if self._buf_x.shape[0] == 0:
            self._buf_x, self._buf_g = self._stream.sample(4096)
        x, g = self._buf_x[0], float(self._buf_g[0])
        self._buf_x, self._buf_g = self._buf_x[1:], self._buf_g[1:]
        return x, g

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(2**31))
        self._stream = TracePatterningStream(self.config, seed=seed)
        self._buf_x = np.zeros((0, self.config.n_inputs))
        self._buf_g = np.zeros(0)
        x, g = self._draw()
        return x, {"return": g}

    def step(self, action):
        if self._stream is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space} (the only action is 0)")
        x, g = self._draw()
        reward = float(x[self.config.n_cs])
        return x, reward, False, False, {"return": g}


def stream_statistics(config: TracePatterningConfig, seed: int, n_steps: int) -> dict:
    """Empirical statistics of ``n_steps`` of the stream, for checking it against the spec.

    Returns a dict with the number of trials, trials per pattern, how many of the 20
    patterns are positive, observed ISI and ITI ranges, and the US count.
    """
    s = TracePatterningStream(config, seed)
    x, G, trial = s.next(n_steps)
    onsets = np.flatnonzero(trial >= 0)
    us = np.flatnonzero(x[:, config.n_cs] > 0)
    pats = trial[onsets]
    # the first US after each onset, counted when it comes before the next onset
    first = np.searchsorted(us, onsets, side="right")
    has_us = first < us.size
    next_onset = np.append(onsets[1:], np.iinfo(np.int64).max)
    us_after = us[np.minimum(first, max(us.size - 1, 0))] if us.size else np.zeros_like(onsets)
    isis = (us_after - onsets)[has_us & (us_after < next_onset)].tolist()
    gaps = np.diff(onsets)
    return {
        "steps": int(n_steps),
        "trials": int(onsets.size),
        "patterns_seen": int(np.unique(pats).size),
        "positive_patterns": int(s.positive.sum()),
        "trials_per_pattern_min": int(np.bincount(pats, minlength=config.n_patterns).min()) if pats.size else 0,
        "trials_per_pattern_max": int(np.bincount(pats, minlength=config.n_patterns).max()) if pats.size else 0,
        "us_count": int(us.size),
        "positive_trials": int(s.positive[pats].sum()),
        "isi_min": min(isis) if isis else None,
        "isi_max": max(isis) if isis else None,
        "onset_gap_min": int(gaps.min()) if gaps.size else None,
        "onset_gap_max": int(gaps.max()) if gaps.size else None,
        "mean_return": float(G.mean()),
    }
