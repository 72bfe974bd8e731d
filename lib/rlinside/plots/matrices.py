"""Layer-by-layer matrices (projection shares, CKA) drawn as small heat maps."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_layer_matrices"]


def plot_layer_matrices(matrices: Mapping[str, np.ndarray], *, cmap: str = "magma",
                        xlabel: str = "target layer", ylabel: str = "source layer",
                        ncols: int | None = None) -> plt.Figure:
    """One heat map per ``title -> M: (n_source_layers, n_target_layers)`` with values in [0, 1];
    layers are numbered from 1. ``ncols`` heat maps per row (default: all in one row)."""
    if not matrices:
        raise ValueError("no matrices to draw")
    ncols = len(matrices) if ncols is None else ncols
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(ncols, len(matrices))
    nrows = -(-len(matrices) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 3 * nrows), squeeze=False)
    for ax in axes.flat[len(matrices):]:
        ax.axis("off")
    for ax, (title, M) in zip(axes.flat, matrices.items()):
        M = np.asarray(M)
        ax.imshow(M, vmin=0, vmax=1, cmap=cmap)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(M.shape[1]), range(1, M.shape[1] + 1))
        ax.set_yticks(range(M.shape[0]), range(1, M.shape[0] + 1))
        ax.grid(False)
    fig.tight_layout()
    return fig
