"""Figures of the neuron-activation chapter (tables and arrays in, a matplotlib figure out)."""

from __future__ import annotations

from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np

from rlinside.plots import PALETTE

__all__ = ["plot_distance_densities", "plot_cluster_trees", "plot_iterative",
           "plot_techniques", "plot_error_grids",
           "plot_actuator_sweep", "plot_transfer_rewards", "filmstrip",
           "plot_lambda_comparison", "plot_input_transformations", "plot_pruning_comparison"]

#: One colour per network of Figure 2.
NETWORK_COLOURS = {"random": PALETTE[7], "trained": PALETTE[0], "pruned": PALETTE[3]}


def plot_distance_densities(curves: Mapping[str, Mapping[str, tuple]], title: str):
    """Figure 2 (top): per network (``random``, ``trained``, ``pruned``) and scope (all-to-all,
    within a layer), the density of neuron distances, ``curves[name][scope] = (grid, density,
    n_pairs)`` as :func:`rlinside.studies.neuron_activation.distance_densities` returns."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
    for name, per_scope in curves.items():
        for ax, (scope, (g, dens, n)) in zip(axes, per_scope.items()):
            colour = NETWORK_COLOURS.get(name, PALETTE[1])
            ax.plot(g, dens, color=colour, lw=1.6, label=f"{name} (n={n} pairs)")
            ax.fill_between(g, 0, dens, color=colour, alpha=0.12)
            ax.set_title(scope)
    for ax in axes:
        ax.set_xlabel("neuron distance (eq. 2)")
        ax.set_ylabel("density")
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_cluster_trees(trees: Mapping[str, list[Any]]):
    """Figure 2 (bottom): one dendrogram per hidden layer (columns) and network (rows), each
    tree with its ``linkage``, its cut ``cut`` (dashed) and the neurons it keeps (``neurons``
    -> ``kept`` in the title), as :func:`rlinside.studies.neuron_activation.cluster_trees` returns."""
    from scipy.cluster.hierarchy import dendrogram

    n_layers = max(len(t) for t in trees.values())
    fig, axes = plt.subplots(len(trees), n_layers, figsize=(2.5 * n_layers, 2.4 * len(trees)), squeeze=False)
    for row, (name, layer_trees) in enumerate(trees.items()):
        for k, (ax, t) in enumerate(zip(axes[row], layer_trees)):
            dendrogram(t.linkage, ax=ax, no_labels=True, color_threshold=t.cut, above_threshold_color="0.6")
            ax.axhline(t.cut, color="k", ls="--", lw=0.8)
            ax.set_title(f"{name}, layer {k + 1}: {t.neurons}→{t.kept}", fontsize=9)
            if k == 0:
                ax.set_ylabel("distance")
    fig.tight_layout()
    return fig


#: One colour per pruning rule of the comparison (cluster merge first).
METHOD_COLOURS = {"cluster merge": PALETTE[0], "low-activation": PALETTE[1], "random-live": PALETTE[2]}


def plot_pruning_comparison(sizes, comparison, summary, retrain_budget: int):
    """The pruning comparison: (left) hidden neurons left after one cluster-merge step against
    tau, per width (dots: agent seeds; line: their mean); (middle) validation success right
    after pruning, no retraining, per rule at the same layer sizes (``summary``, from
    :func:`rlinside.studies.neuron_activation.comparison_summary` of ``sizes``: mean over seeds
    with its 95 % bootstrap interval; solid: the first width, dashed: the others); (right) the
    retraining episodes to pass validation again per rule and (width, tau) of ``comparison``
    (dots per seed, open triangles at the budget where it was spent without passing; bar: median
    over seeds, a spent budget counted as the budget)."""
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.7))
    widths = sorted(sizes["width"].unique())
    merge = sizes[sizes["method"] == "cluster merge"]
    cells = sorted({(int(w), float(t)) for w, t in zip(comparison["width"], comparison["tau"])})
    for i, w in enumerate(widths):
        g = merge[merge["width"] == w]
        share = g["neurons_after"] / g["neurons_before"]
        axes[0].scatter(g["tau"], share, s=10, color=PALETTE[i + 3], alpha=0.5)
        m, n = share.groupby(g["tau"]).mean(), g["seed"].nunique()
        axes[0].plot(m.index, m.values, "o-", color=PALETTE[i + 3], label=f"width {w} ({n} seed{'s' * (n > 1)})")
    for method, c in METHOD_COLOURS.items():
        for i, w in enumerate(widths):
            g = summary[(summary["method"] == method) & (summary["width"] == w)].sort_values("tau")
            axes[1].plot(g["tau"], g["success after pruning"], "o-" if i == 0 else "s--", color=c, ms=4,
                         label=f"{method}, width {w}")
            axes[1].fill_between(g["tau"], g["low"], g["high"], color=c, alpha=0.12)
        g = comparison[comparison["method"] == method]
        ep = g["retrain_episodes"].astype(float)
        off = {"cluster merge": -0.2, "low-activation": 0.0, "random-live": 0.2}[method]
        x = np.asarray([cells.index((w, t)) + off for w, t in zip(g["width"], g["tau"])], dtype=float)
        done = ep.notna().to_numpy()
        axes[2].scatter(x[done], ep[done], s=14, color=c)
        axes[2].scatter(x[~done], np.full(int((~done).sum()), retrain_budget), marker="^", s=30,
                        facecolors="none", edgecolors=c)
        med = ep.fillna(float(retrain_budget)).groupby([g["width"], g["tau"]]).median()
        mid = np.asarray([cells.index(k) + off for k in med.index], dtype=float)
        axes[2].hlines(med.values, mid - 0.09, mid + 0.09, color=c, label=method)
    axes[0].set(xlabel="τ", ylabel="hidden neurons left (share)", ylim=(0, 1.05), title="size after one merge step")
    axes[1].set(xlabel="τ", ylabel="success right after pruning", ylim=(-0.02, 1.02),
                title="same sizes, three rules")
    axes[2].set_xticks(range(len(cells)), [f"width {w}\nτ = {t:g}" for w, t in cells])
    axes[2].set_xlim(-0.6, len(cells) - 0.4)
    axes[2].set(ylabel="episodes to pass again", ylim=(0, retrain_budget * 1.08),
                title="retraining (bar: median over seeds)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_iterative(iterative, steps: int):
    """Figure 3 (right): per initial width, the hidden neurons after each prune-retrain step
    and the layer sizes after the last one (log scales)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (w, g) in enumerate(iterative.groupby("width")):
        c = PALETTE[i % len(PALETTE)]
        axes[0].plot(g["step"], g["neurons"], "o-", color=c, label=f"width {w}")
        last = g.iloc[-1]
        axes[1].plot(range(1, len(last["sizes"]) + 1), last["sizes"], "o-", color=c,
                     label=f"width {w}, after step {last['step']}")
    axes[0].set(xlabel="pruning step", ylabel="hidden neurons", yscale="log")
    axes[0].set_xticks(range(steps + 1))
    axes[1].set(xlabel="hidden layer", ylabel="neurons", yscale="log")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    return fig


def plot_techniques(pairs, title: str):
    """Figure 5 (top): the held-out normalised error of every ordered agent pair, greedy
    against linear (non-negative lasso) maps, with each method's mean."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for i, method in enumerate(("greedy", "linear")):
        vals = pairs[pairs["method"] == method]["normalised error (held out)"]
        ax.scatter(np.full(len(vals), i) + np.linspace(-0.08, 0.08, len(vals)), vals, s=18)
        ax.plot([i - 0.2, i + 0.2], [vals.mean()] * 2, color="k", lw=1.5)
    ax.set_xticks([0, 1], ["greedy", "linear (non-negative lasso)"])
    ax.set_ylabel("normalised error, held-out samples")
    ax.set_title(title)
    return fig


def plot_error_grids(grids: Mapping[str, np.ndarray], joints: list[int], label: str = "normalised error (eq. 6)"):
    """Mean normalised error (or another metric in [0, 1], named by ``label``) between arms
    (rows: source, columns: target), one panel per kind of mapping (``grids``: title ->
    matrix), values written in the cells, one colour bar."""
    fig, axes = plt.subplots(1, len(grids), figsize=(4 * len(grids), 3.8), squeeze=False)
    im = None
    for ax, (title, g) in zip(axes[0], grids.items()):
        im = ax.imshow(g, vmin=0, vmax=1, cmap="viridis_r")
        for (i, j), v in np.ndenumerate(g):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="w" if v > 0.5 else "k", fontsize=9)
        ax.set_xticks(range(len(joints)), [f"{b}" for b in joints])
        ax.set_yticks(range(len(joints)), [f"{a}" for a in joints])
        ax.set_xlabel("target arm (joints)")
        if ax is axes[0][0]:
            ax.set_ylabel("source arm (joints)")
        ax.set_title(title)
        ax.grid(False)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label=label)
    return fig


def plot_actuator_sweep(summary, labels: Mapping[str, str], log_x: tuple[str, ...] = ("motor_accel",)):
    """Success in the pybullet twin against each actuator setting (one panel per ``setting``,
    one line per arm, intervals from ``summary``: index ``(setting, joints, value)``, columns
    ``mean``, ``low``, ``high`` and ``planar``, the planar model's success on the same goals,
    dotted)."""
    settings = list(dict.fromkeys(summary.index.get_level_values("setting")))
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.5), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], settings):
        sub = summary.xs(name, level="setting")
        for (n, line), colour in zip(sub.groupby(level="joints"), PALETTE):
            line = line.droplevel("joints").sort_index()
            x = line.index.to_numpy(dtype=float)
            ax.errorbar(x, line["mean"], yerr=[line["mean"] - line["low"], line["high"] - line["mean"]], marker="o",
                        capsize=3, color=colour, label=f"{n} joints")
            ax.axhline(line["planar"].iloc[0], color=colour, ls=":", lw=1)
        if name in log_x:
            ax.set_xscale("log")
        ax.set(xlabel=labels.get(name, name), ylim=(-0.05, 1.05))
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("success in pybullet")
    return fig


def plot_transfer_rewards(results: Mapping[int, tuple[dict, dict]]):
    """One panel per arm: the final reward of each goal in the planar model (x) and in pybullet
    (y), the diagonal and the success threshold 0.9 (dashed); ``results``: joints -> ``(planar,
    bullet)`` runs."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.6 * len(results), 3.4), squeeze=False)
    for ax, (n, (planar, bullet)) in zip(axes[0], results.items()):
        ax.scatter(planar["final_reward"], bullet["final_reward"], s=8, alpha=0.6, color=PALETTE[0])
        ax.plot([0, 1], [0, 1], color="0.6", lw=1)
        ax.axvline(0.9, color="0.4", ls="--", lw=0.8)
        ax.axhline(0.9, color="0.4", ls="--", lw=0.8)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="final reward, planar model",
               ylabel="final reward, pybullet", title=f"{n} joints")
    return fig


def filmstrip(frames: np.ndarray, n: int = 5):
    """``n`` frames spread evenly over an episode's ``frames`` (first and last included)."""
    picks = frames[np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))]
    fig, axes = plt.subplots(1, len(picks), figsize=(2.4 * len(picks), 2.0), squeeze=False)
    for ax, f in zip(axes[0], picks):
        ax.imshow(f)
        ax.axis("off")
    return fig


def plot_lambda_comparison(table, chosen: float):
    """Held-out error, saturation and coverage of the linear maps against the lasso penalty
    (log scale), mean over agent pairs with their range; the dashed line marks ``chosen``."""
    cols = ["normalised error (held out)", "saturation", "coverage"]
    g = table.groupby("lambda")[cols]
    mean, lo, hi = g.mean(), g.min(), g.max()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, col, colour in zip(axes, cols, PALETTE):
        ax.plot(mean.index, mean[col], "o-", color=colour)
        ax.fill_between(mean.index, lo[col], hi[col], color=colour, alpha=0.2)
        ax.axvline(chosen, color="0.4", ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="lasso penalty λ", ylabel=col)
    fig.tight_layout()
    return fig


def plot_input_transformations(pairs: list[tuple[int, int]], n_poses: int = 3, seed: int = 0):
    """The paper's input transformations (Figure 5, 4a naive and 4b balanced): for each pair
    ``(source joints, target joints)``, ``n_poses`` random poses of the target arm (thick, pale;
    joint angles uniform in [-pi/2, pi/2], ``seed``; fingertip: square) and the source arm
    posed by the transformed angles (thin, same colour; fingertip: star), both arms with equal
    links of total length 1; one column per mode. The mapping networks read exactly these
    source-arm inputs (plus the goal, copied)."""
    from rlinside.envs.planar_arm import joint_positions, transform_joint_angles

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(pairs), 2, figsize=(6.4, 3.0 * len(pairs)), squeeze=False)
    for row, (src, tgt) in zip(axes, pairs):
        poses = rng.uniform(-np.pi / 2, np.pi / 2, size=(n_poses, tgt))
        for ax, mode in zip(row, ("naive", "balanced")):
            moved = transform_joint_angles(poses, src, mode)
            for k, (p_t, p_s) in enumerate(zip(poses, moved)):
                colour = PALETTE[k % len(PALETTE)]
                t = joint_positions(p_t, np.full(tgt, 1 / tgt))
                s = joint_positions(p_s, np.full(src, 1 / src))
                ax.plot(t[:, 0], t[:, 1], color=colour, alpha=0.35, lw=5, solid_capstyle="round", zorder=1)
                ax.plot(s[:, 0], s[:, 1], color=colour, lw=1.5, marker="o", ms=3, zorder=2)
                ax.plot(*t[-1], marker="s", color=colour, alpha=0.5, ms=7, zorder=3)
                ax.plot(*s[-1], marker="*", color=colour, ms=9, zorder=3)
            ax.set_aspect("equal")
            ax.set_xlim(-1.05, 1.05)
            ax.set_ylim(-1.05, 1.05)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{tgt}-joint pose read by a {src}-joint network, {mode}", fontsize=8)
    fig.tight_layout()
    return fig
