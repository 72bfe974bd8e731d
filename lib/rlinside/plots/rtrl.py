"""Figures of the RTRL chapter that are more than a call to :mod:`rlinside.plots.curves`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["plot_gradient_bias", "plot_final_by_split", "plot_frames", "plot_relative_bars", "plot_predictions",
           "plot_ablation"]


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


def plot_frames(frames: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Figure 10: per game (a column), the full 84 x 84 frame above the 16 x 16 one the
    benchmark's learners see (``frames[game] = (full, small)``, uint8 grey)."""
    fig, axes = plt.subplots(2, len(frames), figsize=(2.6 * len(frames), 5.2), squeeze=False)
    for j, (game, (full, small)) in enumerate(frames.items()):
        axes[0, j].imshow(full, cmap="gray", vmin=0, vmax=255)
        axes[1, j].imshow(small, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes[0, j].set_title(game)
        for ax in axes[:, j]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel(f"{frames[next(iter(frames))][0].shape[0]} × {frames[next(iter(frames))][0].shape[1]}")
    axes[1, 0].set_ylabel(f"{frames[next(iter(frames))][1].shape[0]} × {frames[next(iter(frames))][1].shape[1]} "
                          "(the input)")
    fig.tight_layout()
    return fig


def plot_relative_bars(ax: plt.Axes, measurements: dict, *, color_by_one: bool = False, log: bool = False) -> plt.Axes:
    """Figures 7 and 8: one bar per label of ``measurements`` (label -> a
    :class:`rlinside.claims.Measurement` of a ratio to the best T-BPTT) with its interval, and
    the line at 1 (equal to the best T-BPTT). ``color_by_one``: green below 1, orange above."""
    labels = list(measurements)
    est = np.array([measurements[lab].estimate for lab in labels], dtype=float)
    lo = np.array([measurements[lab].low for lab in labels], dtype=float)
    hi = np.array([measurements[lab].high for lab in labels], dtype=float)
    colors = np.where(est < 1, "tab:green", "tab:orange") if color_by_one else "0.6"
    ax.bar(range(len(labels)), est, color=colors)
    ax.errorbar(range(len(labels)), est, yerr=[np.clip(np.nan_to_num(est - lo), 0, None),
                                               np.clip(np.nan_to_num(hi - est), 0, None)], fmt="none", color="k")
    ax.axhline(1, color="k", lw=0.8)
    if log:
        ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    return ax


def plot_predictions(tails: dict[str, dict[str, np.ndarray]], last: int = 500) -> plt.Figure:
    """Figure 11: per game (a row), the true return and the predictions of each learner over
    the last ``last`` steps of a run (``tails[game] = {"true return": ..., label: ...}``)."""
    fig, axes = plt.subplots(len(tails), 1, figsize=(9, 1.9 * max(1, len(tails))), squeeze=False, sharex=True)
    styles = [dict(color="tab:green"), dict(color="tab:orange")]
    for ax, (game, series) in zip(axes[:, 0], tails.items()):
        for i, (label, y) in enumerate(series.items()):
            style = dict(ls=":", color="tab:blue") if label == "true return" else styles[(i - 1) % len(styles)]
            ax.plot(y[-last:], label=label, **style)
        ax.set_ylabel(game)
    axes[0, 0].legend(fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel(f"step (last {last} of the run)")
    return fig


def plot_ablation(by_features: dict[int, float], by_truncation: dict[int, float], fixed: int = 8) -> plt.Figure:
    """Figure 9: T-BPTT's normalised error by feature count (truncation ``fixed``) and by
    truncation (``fixed`` features), each averaged over games."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.plot(list(by_features), list(by_features.values()), "o-")
    a1.set_xlabel(f"features (truncation {fixed})")
    a2.plot(list(by_truncation), list(by_truncation.values()), "o-")
    a2.set_xlabel(f"truncation ({fixed} features)")
    a1.set_ylabel("normalised error")
    return fig
