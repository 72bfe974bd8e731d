"""Layer-by-layer matrices (projection shares, CKA) drawn as small heat maps."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_layer_matrices"]


def plot_layer_matrices(matrices: Mapping[str, np.ndarray], *, cmap: str = "magma",
                        xlabel: str = "target layer", ylabel: str = "source layer",
                        ncols: int | None = None, label: str = "", values: bool = True) -> plt.Figure:
    """One heat map per ``title -> M: (n_source_layers, n_target_layers)`` with values in [0, 1];
    layers are numbered from 1. ``ncols`` heat maps per row (default: all in one row). Every
    cell carries its value (``values``), and one colour bar labelled ``label`` serves all."""
    if not matrices:
        raise ValueError("no matrices to draw")
    ncols = len(matrices) if ncols is None else ncols
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(ncols, len(matrices))
    nrows = -(-len(matrices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols + 0.8, 3.4 * nrows), squeeze=False,
                             layout="constrained")
    for ax in axes.flat[len(matrices):]:
        ax.axis("off")
    image = None
    for ax, (title, M) in zip(axes.flat, matrices.items()):
        M = np.asarray(M)
        image = ax.imshow(M, vmin=0, vmax=1, cmap=cmap)
        if values:
            colours = plt.get_cmap(cmap)(np.clip(M, 0, 1))
            for (i, j), v in np.ndenumerate(M):  # dark text on light cells, light text on dark ones
                light = colours[i, j, :3] @ np.array([0.299, 0.587, 0.114]) > 0.5
                ax.text(j, i, f"{v:.2f}"[1:] if 0 <= v < 1 else f"{v:.1f}", ha="center", va="center",
                        fontsize=6.5, color="k" if light else "w")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(M.shape[1]), range(1, M.shape[1] + 1))
        ax.set_yticks(range(M.shape[0]), range(1, M.shape[0] + 1))
        ax.grid(False)
    fig.colorbar(image, ax=list(axes.flat[:len(matrices)]), shrink=0.8, label=label)
    return fig
