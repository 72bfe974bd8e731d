"""Figures of the RTRL chapter that are more than a call to :mod:`rlinside.plots.curves`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_gradient_bias", "plot_final_by_split"]


def plot_gradient_bias(bias: pd.DataFrame, isi: tuple[int, int], title: str) -> plt.Figure:
    """Two panels over the steps since the last CS onset, one line per truncation ``k``: the
    median cosine of the truncated gradient with the exact one, and the median relative error
    (log scale), for the trained network of ``bias``
    (:func:`rlinside.studies.rtrl.tbptt_gradient_bias`); ``isi``: the ISI range, shaded."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    ks = sorted(bias.k.unique())
    colors = dict(zip(ks, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(ks)))))
    trained = bias[(bias.network == "trained") & (bias.since_cs >= 0)]
    for k in ks:
        g = trained[trained.k == k].groupby("since_cs")
        axes[0].plot(g.cosine.median().index, g.cosine.median().values, color=colors[k], label=f"k = {k}")
        axes[1].plot(g.relative_error.median().index, g.relative_error.median().values, color=colors[k])
    for ax in axes:
        ax.axvspan(isi[0], isi[1], color="0.92", zorder=0)
        ax.set_xlabel("steps since the last CS onset")
    axes[0].set_ylabel("cosine with the exact gradient, median")
    axes[1].set_ylabel("relative error, median")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8, ncol=2)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_final_by_split(ax: plt.Axes, finals: dict[str, np.ndarray], truncation: dict[str, int],
                        shade_below: int) -> plt.Axes:
    """Figure 5's right panel: the final error of each T-BPTT split (mean ± standard error
    over its report seeds, ``finals[label]``), splits whose truncation is below
    ``shade_below`` (the shortest ISI) shaded."""
    labels = list(finals)
    means = [np.mean(finals[lab]) for lab in labels]
    sems = [np.std(finals[lab], ddof=1) / np.sqrt(len(finals[lab])) if len(finals[lab]) > 1 else 0.0
            for lab in labels]
    ax.errorbar(range(len(labels)), means, yerr=sems, fmt="o", color="k")
    ax.set_xticks(range(len(labels)), labels, rotation=45)
    for i, lab in enumerate(labels):
        if truncation[lab] < shade_below:
            ax.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
    ax.set_ylabel("final error")
    ax.set_xlabel("features : truncation")
    ax.set_title(f"final error (shaded: k < {shade_below}, shorter than any ISI)")
    return ax
