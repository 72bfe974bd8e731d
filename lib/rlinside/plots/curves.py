"""Learning curves: mean ± standard error over seeds, with optional event markers."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from rlinside.plots import PALETTE

__all__ = ["plot_seed_curves", "mean_sem", "reference_lines"]


def mean_sem(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the first axis of ``curves: (n_seeds, n_points)``."""
    curves = np.asarray(curves, dtype=float)
    if curves.ndim != 2 or curves.shape[0] == 0:
        raise ValueError(f"curves must be (n_seeds >= 1, n_points), got {curves.shape}")
    n = curves.shape[0]
    sem = curves.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(curves.shape[1])
    return curves.mean(0), sem


def plot_seed_curves(
    ax: plt.Axes,
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    markers: Mapping[str, np.ndarray] | None = None,
    colors: Mapping[str, str] | None = None,
    logy: bool = False,
    xlabel: str = "step",
    ylabel: str = "error",
) -> plt.Axes:
    """Draw each ``label -> (x: (n_points,), curves: (n_seeds, n_points))`` as mean ± SEM.

    ``markers[label]`` are x positions drawn as short ticks in that curve's colour along the
    bottom of the axes (e.g. the steps at which new features are added).
    """
    colors = dict(colors or {})
    for i, (label, (x, ys)) in enumerate(curves.items()):
        color = colors.get(label, PALETTE[i % len(PALETTE)])
        m, s = mean_sem(ys)
        n = np.asarray(ys).shape[0]
        ax.plot(x, m, color=color, lw=1.6, label=f"{label} (n={n})")
        ax.fill_between(x, m - s, m + s, color=color, alpha=0.22, lw=0)
        for b in (markers or {}).get(label, []):
            ax.axvline(b, color=color, lw=0.8, ls=":", alpha=0.8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    return ax


def reference_lines(ax: plt.Axes, levels: Mapping[str, float], colors: Mapping[str, str] | None = None) -> plt.Axes:
    """Horizontal reference levels (e.g. the trivial predictor's and the oracle's error), each
    dashed, labelled at the right edge with its name and value."""
    colors = dict(colors or {})
    for name, y in levels.items():
        color = colors.get(name, "0.35")
        ax.axhline(y, color=color, lw=1.0, ls="--", zorder=1)
        ax.annotate(f"{name} {y:.4f}", xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7.5, color=color)
    return ax
