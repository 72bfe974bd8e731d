"""Figures of input streams: features as an image over time with a target below."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rlinside.plots import PALETTE

__all__ = ["plot_stream"]


def plot_stream(
    x: np.ndarray,
    target: np.ndarray,
    *,
    feature_labels: list[str] | None = None,
    title: str | None = None,
    target_label: str = "return",
    fig: plt.Figure | None = None,
    t0: int = 0,
) -> plt.Figure:
    """Draw ``x: (T, n)`` as an n-by-T image (feature rows, time columns) above ``target: (T,)``.

    Feature rows are drawn top to bottom in order; the last row is usually the cumulant.
    """
    x = np.asarray(x)
    target = np.asarray(target)
    if x.ndim != 2 or target.shape != (x.shape[0],):
        raise ValueError(f"expected x: (T, n) and target: (T,), got {x.shape} and {target.shape}")
    T, n = x.shape
    fig = fig or plt.figure(figsize=(min(11, 6 + T / 100), 3.8))
    gs = fig.add_gridspec(2, 1, height_ratios=[n, 3.5], hspace=0.08)
    ax = fig.add_subplot(gs[0])
    ax2 = fig.add_subplot(gs[1], sharex=ax)
    ext = (t0 - 0.5, t0 + T - 0.5, n - 0.5, -0.5)
    ax.imshow(x.T, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest", extent=ext)
    ax.set_yticks(range(n))
    ax.set_yticklabels(feature_labels or [f"x{i + 1}" for i in range(n)], fontsize=8)
    ax.grid(False)
    ax.tick_params(labelbottom=False)
    if title:
        ax.set_title(title)
    ts = np.arange(t0, t0 + T)
    ax2.plot(ts, target, color=PALETTE[0], lw=1.4)
    ax2.fill_between(ts, 0, target, color=PALETTE[0], alpha=0.15)
    ax2.set_ylabel(target_label)
    ax2.set_xlabel("time step")
    ax2.set_xlim(t0 - 0.5, t0 + T - 0.5)
    return fig
