"""Figures of the LSTM-contribution chapter (arrays and tables in, a matplotlib figure out)."""

from __future__ import annotations

from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside.plots import PALETTE

__all__ = ["plot_offset_channel", "plot_offset_histogram", "plot_contribution_heatmap", "plot_snapshots",
           "plot_channel_locations", "plot_window_success", "plot_maze_layout", "plot_training_logs",
           "plot_dagger_log"]


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


def plot_contribution_heatmap(ep: Mapping[str, Any], order: np.ndarray, snaps: np.ndarray,
                              action_names: tuple[str, ...]):
    """Figures 2 and 3: the salient channels of test episode ``ep`` over time (rows in
    ``order``, a cell coloured by the action it serves), and below it the ball's distance to the
    centre with the steps ``snaps`` marked in red. Returns the figure."""
    from matplotlib.colors import ListedColormap

    colours = ["white"] + list(PALETTE[:len(action_names)])
    grid = np.where(ep["mask"], ep["actions"][:, None] + 1, 0).T[order]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.imshow(grid, aspect="auto", interpolation="nearest", cmap=ListedColormap(colours), vmin=0,
              vmax=len(action_names))
    ax.set_ylabel("LSTM channel (grouped by action)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours[1:]]
    ax.legend(handles, action_names, ncol=len(action_names), fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, 1.12))
    ax2.plot(ep["distance_px"], color="0.2")
    ax2.set(xlabel="step", ylabel="distance to centre (px)")
    ax2.scatter(snaps, ep["distance_px"][snaps], color="red", zorder=3)
    return fig


def plot_snapshots(ep: Mapping[str, Any], snaps: np.ndarray):
    """The observations of test episode ``ep`` at the steps ``snaps``, with step and ring."""
    fig, axes = plt.subplots(1, len(snaps), figsize=(2.6 * len(snaps), 2.8), squeeze=False)
    for ax, t in zip(axes[0], snaps):
        ax.imshow(ep["obs"][t, 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"step {t}, ring {ep['ring'][t]}", fontsize=9)
        ax.axis("off")
    return fig


def plot_channel_locations(mask: np.ndarray, actions: np.ndarray, xy: np.ndarray, channels: list[int],
                           by_ring: set | list, wall_radii, outer_radius: float):
    """Figure 4: for each of ``channels``, the ball positions ``xy`` at the steps where it is
    salient (``mask`` ``(T, n_l)``), coloured by the chosen action, over the maze's walls."""
    fig, axes = plt.subplots(1, len(channels), figsize=(3.2 * len(channels), 3.3), squeeze=False)
    phi = np.linspace(0, 2 * np.pi, 200)
    R = outer_radius
    for ax, j in zip(axes[0], channels):
        on = mask[:, j]
        for rad in list(wall_radii) + [R]:
            ax.plot(rad * np.cos(phi), rad * np.sin(phi), color="0.85", lw=0.8)
        ax.scatter(xy[on, 0], xy[on, 1], c=[PALETTE[a] for a in actions[on]], s=4)
        ax.set_aspect("equal")
        ax.set(xlim=(-R, R), ylim=(-R, R))
        ax.set_title(f"channel {j} ({'ring' if j in by_ring else 'region'})", fontsize=9)
        ax.axis("off")
    return fig


def plot_window_success(success: pd.DataFrame, windows: list[int]):
    """The memory-window figure: one panel per ``condition`` of ``success`` (index ``condition,
    seed, window``, columns ``mean``, ``low``, ``high``; window 0 is the full memory), one line
    per training seed with its intervals, over "full" and the windows ``windows`` (a condition's
    extra windows are drawn too). Returns the figure."""
    conditions = list(dict.fromkeys(success.index.get_level_values("condition")))
    fig, axes = plt.subplots(1, len(conditions), figsize=(7.5 * len(conditions), 3.6), squeeze=False, sharey=True)
    for ax, cond in zip(axes[0], conditions):
        sub = success.xs(cond, level="condition")
        ks = sorted(set(sub.index.get_level_values("window")) | set(windows))
        ks = [0] + [k for k in ks if k]
        for (seed, line), colour in zip(sub.groupby(level="seed"), PALETTE):
            line = line.droplevel("seed").reindex(ks)
            x = np.arange(len(ks)) + 0.08 * (seed % 3 - 1)  # seeds side by side
            ax.errorbar(x, line["mean"], yerr=[line["mean"] - line["low"], line["high"] - line["mean"]],
                        marker="o", capsize=3, color=colour, label=f"training seed {seed}")
        ax.set_xticks(range(len(ks)), ["full" if k == 0 else str(k) for k in ks])
        ax.set(title=cond, xlabel="memory window K (images the state is rebuilt from)", ylim=(-0.05, 1.05))
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("success rate")
    return fig


def plot_maze_layout(obs: np.ndarray, env_cfg: Any):
    """The maze: the 64 x 64 observation ``obs`` ``(H, W)`` the policy receives (left) and the
    walls with their gates in metres (right), from the maze config ``env_cfg``."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 4))
    ax.imshow(obs, cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"observation ({obs.shape[0]} x {obs.shape[1]})")
    ax.axis("off")
    phi = np.linspace(0, 2 * np.pi, 400)
    for k, (r, gate) in enumerate(zip(env_cfg.wall_radii, env_cfg.gates), 1):
        open_ = np.abs((phi - gate + np.pi) % (2 * np.pi) - np.pi) * r < env_cfg.gate_width / 2
        ax2.plot(np.where(open_, np.nan, r * np.cos(phi)), np.where(open_, np.nan, r * np.sin(phi)), color="0.3")
        ax2.annotate(f"wall {k}", (r * np.cos(gate + 0.4), r * np.sin(gate + 0.4)), fontsize=7)
    ax2.plot(env_cfg.outer_radius * np.cos(phi), env_cfg.outer_radius * np.sin(phi), color="0.3")
    ax2.set_aspect("equal")
    ax2.set_title("walls and gates (metres)")
    return fig


def plot_training_logs(logs: Mapping[str, pd.DataFrame], smoothing: int):
    """A2C training curves of several runs (``logs``: label -> the run's ``metrics.csv`` with
    ``step``, ``success``, ``length`` per episode): the success rate and the episode length,
    each a rolling mean over ``smoothing`` episodes, one line per run."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for (label, log), colour in zip(logs.items(), PALETTE):
        roll = log.rolling(smoothing, min_periods=1).mean()
        ax.plot(log["step"], roll["success"], color=colour, label=label, lw=1.2)
        ax2.plot(log["step"], roll["length"], color=colour, lw=1.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"success (mean of {smoothing} episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax2.set_xlabel("environment steps")
    ax2.set_ylabel("episode length (steps)")
    return fig


def plot_dagger_log(log: pd.DataFrame):
    """A DAgger run's log (one row per round): the imitation loss, and how often the episodes
    the policy drove itself (and, where logged, its arg-max actions) reached the centre."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax.plot(log["round"], log["loss"], marker="o", color=PALETTE[0])
    ax.set_xlabel("DAgger round")
    ax.set_ylabel("imitation loss (cross-entropy)")
    ax2.plot(log["round"], log["policy_success"], marker="o", color=PALETTE[1], label="all policy-driven")
    if "greedy_success" in log and log["greedy_success"].notna().any():
        ax2.plot(log["round"], log["greedy_success"], marker="s", color=PALETTE[2], label="arg-max actions")
        ax2.legend(fontsize=8)
    ax2.set_xlabel("DAgger round")
    ax2.set_ylabel("episodes reaching the centre")
    ax2.set_ylim(-0.02, 1.02)
    return fig
