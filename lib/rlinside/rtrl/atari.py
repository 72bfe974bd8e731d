"""Experiment 2 of Javed et al.: online prediction on the Atari benchmark (Sec. 6, Figs. 7-11).

A learner reads, step by step, a stream of an agent's play (:mod:`rlinside.agents.streams`):
the newest frame at 16 x 16 (256 grey values in [0, 1]), the one-hot of the action just taken
(padded to ``action_pad`` entries; the paper uses 20), and the reward just received, clipped
to [-1, 1]: ``256 + action_pad + 1`` inputs (277 for the paper's padding). The reward feature
is also the cumulant: the learner predicts ``G_t = sum_{j>t} gamma^(j-t-1) c_j`` with
``gamma = 0.98``. At a game's first step the previous action and reward are zero.

A stored stream is finite (at least 100k steps); a run longer than it goes round it again, as
one continuing stream (the last game of the recording is followed by the first). Returns are
those of that periodic stream, computed exactly. Each seed starts at its own place in the
stream, drawn from the seed's ``env`` generator (:func:`rlinside.seeds.streams`), while the
learner's initial weights come from its ``init`` generator: the two are separate streams.

:func:`run_atari_prediction` has the ``fn(config, seed) -> {"metrics", "arrays"}`` shape that
:mod:`rlinside.sweep` runs. Its final error is the mean squared return error over the last
``final_fraction`` of the run (the paper: the last 200k of 50M steps, 0.4 %; the same fraction
at every run length unless ``final_steps`` is given).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import numpy as np

from rlinside import seeds
from rlinside.rtrl.experiment import make_learner

__all__ = ["ATARI_GAMMA", "PAPER_FINAL_FRACTION", "atari_inputs", "periodic_returns", "run_atari_prediction",
           "n_inputs"]

ATARI_GAMMA = 0.98
#: the paper's error window: the last 200k steps of a 50M-step run
PAPER_FINAL_FRACTION = 200_000 / 50_000_000
_RUN_KEYS = {"game", "agent_key", "n_steps", "bin_steps", "chunk", "action_pad", "final_fraction", "final_steps",
             "tail_steps"}


def n_inputs(frame_size: int = 16, action_pad: int = 20) -> int:
    """Input size of the benchmark: frame pixels, padded action one-hot, previous reward."""
    return frame_size * frame_size + action_pad + 1


def atari_inputs(stream: Mapping[str, np.ndarray], action_pad: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, extras)`` of a stream, the two parts of every input ``x_t``:
    ``frames: (T, 256) float32`` in [0, 1] and ``extras: (T, action_pad + 1) float32`` (the
    one-hot of the previous action, the previous reward clipped to [-1, 1]; zero at a game's
    first step). The cumulant of step ``t`` is ``extras[t, -1]``."""
    frames = np.asarray(stream["frames"])
    actions = np.asarray(stream["actions"]).astype(np.int64)
    rewards = np.asarray(stream["rewards"], dtype=np.float64)
    starts = np.asarray(stream["starts"], dtype=bool)
    T = actions.size
    if frames.shape[0] != T or rewards.shape != (T,) or starts.shape != (T,):
        raise ValueError(f"stream arrays disagree in length: frames {frames.shape}, actions {actions.shape}, "
                         f"rewards {rewards.shape}, starts {starts.shape}")
    if actions.size and actions.max() >= action_pad:
        raise ValueError(f"action_pad={action_pad} is smaller than the stream's action {int(actions.max())} + 1")
    f = frames.reshape(T, -1).astype(np.float32) / np.float32(255.0)
    extras = np.zeros((T, action_pad + 1), dtype=np.float32)
    prev = np.arange(T) - 1
    ok = ~starts
    ok[0] = False
    extras[np.flatnonzero(ok), actions[prev[ok]]] = 1.0
    extras[ok, -1] = np.clip(rewards[prev[ok]], -1.0, 1.0)
    return f, extras


def periodic_returns(cumulant: np.ndarray, gamma: float) -> np.ndarray:
    """Exact returns ``G_t = sum_{j>t} gamma^(j-t-1) c_{j mod T}`` of a cumulant that repeats
    with period ``T``: the return of the last step continues into the first."""
    from rlinside.envs.trace_patterning import discounted_return

    c = np.asarray(cumulant, dtype=np.float64)
    T = c.size
    G0 = discounted_return(c, gamma)  # ends at 0 after T
    # the tail after the period: G_{T-1} = c_0 + gamma G_0, with G_0 (periodic) = G0_0 + gamma^(T-1) G_{T-1}
    g_last = (c[0] + gamma * G0[0]) / (1.0 - gamma ** T)
    return discounted_return(c, gamma, tail=g_last)


@functools.lru_cache(maxsize=4)
def _stream(game: str, agent_key: str | None) -> tuple[dict[str, np.ndarray], str]:
    from rlinside.agents.streams import load_stream

    data, art = load_stream(game, **({"agent_key": agent_key} if agent_key else {}))
    return data, art.key


def run_atari_prediction(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Run one learner for ``config["n_steps"]`` steps of ``config["game"]``'s stream.

    ``config``: ``game``, optional ``agent_key`` (the key of the agent whose stream to use;
    default: the stream of the game's most trained agent), ``n_steps``, ``bin_steps``
    (default n_steps/100), ``action_pad`` (20),
    ``final_fraction`` (the paper's 0.4 %) or ``final_steps``, ``tail_steps`` (2000: the
    predictions and returns of the run's last steps are returned), ``chunk``, ``method`` and the
    learner's parameters (``gamma`` defaults to 0.98). Returns ``{"metrics": {final_error,
    mean_error, return_var, steps, n_params, stream_key, offset}, "arrays": {error, step,
    stage_boundaries, tail_prediction, tail_return}}``.
    """
    game = config.get("game")
    if not isinstance(game, str):
        raise ValueError(f"game must be a game name, got {game!r}")
    n_steps = int(config["n_steps"])
    if n_steps < 1:
        raise ValueError(f"n_steps={n_steps}: must be >= 1")
    bin_steps = int(config.get("bin_steps") or max(1, n_steps // 100))
    if not 1 <= bin_steps <= n_steps:
        raise ValueError(f"bin_steps={bin_steps}: must be in [1, n_steps={n_steps}]")
    pad = int(config.get("action_pad", 20))
    final = config.get("final_steps")
    final = int(final) if final else max(1, int(round(n_steps * float(config.get("final_fraction",
                                                                                  PAPER_FINAL_FRACTION)))))
    chunk = int(config.get("chunk") or 10_000)
    data, key = _stream(game, config.get("agent_key"))
    frames, extras = atari_inputs(data, pad)
    T = frames.shape[0]
    params = {k: v for k, v in config.items() if k not in _RUN_KEYS}
    params.setdefault("gamma", ATARI_GAMMA)
    params["cumulant_index"] = frames.shape[1] + pad
    gamma = float(params["gamma"])
    G = periodic_returns(extras[:, -1], gamma)
    gen = seeds.streams(seed, ["env", "init"])
    offset = int(gen["env"].integers(T))
    init_seed = int(gen["init"].integers(1 << 31))
    learner = make_learner(params, frames.shape[1] + pad + 1, init_seed)

    n_bins = n_steps // bin_steps
    n = n_bins * bin_steps
    err_bins = np.zeros(n_bins)
    sq_final = 0.0
    n_tail = min(int(config.get("tail_steps", 2000)), n_steps)
    tail_y, tail_G = np.zeros(n_tail), np.zeros(n_tail)
    x = np.empty((chunk, frames.shape[1] + pad + 1))
    done = 0
    while done < n:
        m = min(chunk, n - done)
        idx = (offset + done + np.arange(m)) % T
        x[:m, :frames.shape[1]] = frames[idx]
        x[:m, frames.shape[1]:] = extras[idx]
        y = learner.learn(x[:m])
        if not np.all(np.isfinite(y)):
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise FloatingPointError(f"{params.get('method')} diverged at step {done + bad} on {game}; "
                                     f"try a smaller step_size than {params.get('step_size')}")
        sq = (y - G[idx]) ** 2
        steps = done + np.arange(m)
        np.add.at(err_bins, steps // bin_steps, sq)
        sq_final += float(sq[steps >= n - final].sum())
        keep = steps >= n - n_tail
        if keep.any():
            pos = steps[keep] - (n - n_tail)
            tail_y[pos], tail_G[pos] = y[keep], G[idx[keep]]
        done += m
    err = err_bins / bin_steps
    bounds = learner.stage_boundaries(n) if hasattr(learner, "stage_boundaries") else np.zeros(0)
    return {
        "metrics": {"final_error": sq_final / min(final, n), "mean_error": float(err.mean()),
                    "return_var": float(G.var()), "steps": int(n), "final_steps": int(min(final, n)),
                    "n_params": int(learner.n_params), "stream_key": key, "offset": offset},
        # float32 on disk (errors near 1e-2 keep 7 digits): half the size of float64 in data/
        "arrays": {"error": err.astype(np.float32), "step": (np.arange(n_bins) + 1) * bin_steps,
                   "stage_boundaries": np.asarray(bounds, dtype=np.int64),
                   "tail_prediction": tail_y.astype(np.float32), "tail_return": tail_G.astype(np.float32)},
    }
