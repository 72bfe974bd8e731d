"""Figures of the LSTM-contribution chapter (arrays and tables in, a matplotlib figure out)."""

from __future__ import annotations

from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.plots import PALETTE

__all__ = ["plot_offset_channel", "plot_offset_histogram"]


def plot_offset_channel(ep: Mapping[str, Any], offsets: pd.DataFrame, channel: int, gate: str = "output",
                        theta_g: float = 0.5):
    """Figure 5: one channel of one test episode: its ``gate`` (with ``theta_g``), its share of
    the chosen action's score (``ep["r"]``), its salient steps (``ep["mask"]``, red) and its
    preceding offsets from ``offsets`` (rows of this episode's table with ``channel``, ``t0``,
    ``t``; green bars from the gate opening to the salient step). Returns the figure."""
    fig, ax = plt.subplots(figsize=(11, 3.3))
    ax.plot(ep[gate][:, channel], color=PALETTE[0], label=f"{gate} gate")
    ax.plot(ep["r"][:, channel], color="0.1", ls=":", label="share of the score")
    ax.axhline(theta_g, color=PALETTE[0], lw=0.6, ls="--")
    for t in np.flatnonzero(ep["mask"][:, channel]):
        ax.axvspan(t - 0.5, t + 0.5, color="red", alpha=0.25, lw=0)
    mine = offsets[offsets["channel"] == channel]
    for t0, t in zip(mine["t0"], mine["t"]):
        ax.plot([t0, t], [1.03, 1.03], color="green", lw=2)
    ax.set_xlabel("step")
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_offset_histogram(offsets: pd.DataFrame, bins_distance: int = 30):
    """Figure 6: the joint histogram of ``offsets["distance_px"]`` and ``offsets["offset"]``, one
    bin per offset step, colours on a log scale so that a bin holding one offset is visible.
    Returns the figure."""
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(7, 4))
    h = ax.hist2d(offsets["distance_px"], offsets["offset"],
                  bins=[bins_distance, np.arange(-0.5, offsets["offset"].max() + 1.5)], cmap="viridis",
                  norm=LogNorm(), cmin=1)
    fig.colorbar(h[3], ax=ax, label="offsets (log scale)")
    ax.set_xlabel("distance to centre (px)")
    ax.set_ylabel("preceding offset (steps)")
    return fig
