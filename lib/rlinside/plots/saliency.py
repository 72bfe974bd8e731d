"""Drawing saliency maps on the game screen: colour overlays, frame choice, method galleries.

Paper: Rosynski et al., *Are gradient-based saliency maps useful in deep RL?*, appendix
("The visualized results are presented in red or green color. Meanwhile red is used for
negative gradients, green has been used for positive ones"). The maps themselves come from
:mod:`rlinside.explain.saliency`; this module only shows them:

- :func:`overlay` blends a map in [-1, 1] onto an RGB screen: each pixel moves towards the
  positive colour (paper: green) or the negative colour (paper: red) by ``alpha * |value|``,
  so a value of +-1 is drawn at ``alpha`` (50 %) opacity and 0 leaves the screen untouched.
  ``palette="colorblind"`` uses blue ``#0072B2`` (positive) and orange ``#E69F00``
  (negative) of the Okabe-Ito palette instead, as the rest of the book does;
  ``palette="diverging"`` (the book's default) takes the colour of each value from
  matplotlib's perceptually uniform diverging map ``vanimo`` (Crameri's scientific colour
  maps: dark at 0, brighter pink towards -1, brighter green towards +1), so a stronger value is
  both brighter and more opaque, and green still means positive as in the paper.
- :func:`reduce_channels` picks the map of one stacked frame: channel ``C-1`` of an
  observation ``(C, 84, 84)`` is the newest frame (time ``t``), ``C-2`` is ``t-1`` and so on
  (``gymnasium.wrappers.FrameStackObservation`` order). :func:`frame_label` names a channel.
- :func:`gallery` draws a grid of panels (rows = agents or states, columns = methods).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Patch

__all__ = [
    "SALIENCY_PALETTES",
    "PALETTE_CMAPS",
    "check_palette",
    "overlay",
    "plot_memorised",
    "reduce_channels",
    "frame_label",
    "gallery",
    "gallery_of_rows",
    "plot_lag_shares",
    "plot_cascade",
    "strip_of_rows",
]

#: Colours (RGB, 0-255) of positive and negative saliency for each palette.
SALIENCY_PALETTES: dict[str, dict[str, tuple[int, int, int]]] = {
    "paper": {"positive": (0, 255, 0), "negative": (255, 0, 0)},  # Rosynski et al.: green / red
    "colorblind": {"positive": (0, 114, 178), "negative": (230, 159, 0)},  # Okabe-Ito #0072B2 / #E69F00
    "diverging": {"positive": (190, 253, 165), "negative": (255, 205, 253)},  # the ends of matplotlib's vanimo
}
#: Palettes whose colour varies with the value: the matplotlib colour map, read at ``(1 + v) / 2``.
PALETTE_CMAPS: dict[str, str] = {"diverging": "vanimo"}

_RANGE_TOL = 1e-5  # float slack allowed outside [-1, 1]


def check_palette(palette: str) -> str:
    """Return ``palette`` if it is a key of :data:`SALIENCY_PALETTES`, else a ValueError."""
    if not isinstance(palette, str) or palette not in SALIENCY_PALETTES:
        raise ValueError(
            f"palette must be one of {sorted(SALIENCY_PALETTES)}, got {palette!r}"
        )
    return palette


def _as_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def _resize_bilinear(saliency: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(h, w)`` -> ``(H, W)`` float32, bilinear (``align_corners=False``, as Grad-CAM's upsampling)."""
    if saliency.shape == size:
        return saliency.astype(np.float32, copy=False)
    t = torch.from_numpy(np.ascontiguousarray(saliency, dtype=np.float32))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def overlay(
    frame_rgb: np.ndarray,
    saliency: np.ndarray | torch.Tensor,
    *,
    alpha: float | None = None,
    palette: str = "paper",
    gamma: float | None = None,
) -> np.ndarray:
    """Blend a saliency map onto an RGB screen.

    Args:
        frame_rgb: ``(H, W, 3)`` uint8 screen (e.g. the 210x160 Atari screen).
        saliency: ``(h, w)`` float map with values in [-1, 1] (e.g. the 84x84 map of
            :func:`reduce_channels` after :func:`~rlinside.explain.saliency.normalize`); it is
            resized bilinearly to ``(H, W)`` first.
        alpha: opacity of a value of +-1 (default: the paper's 0.5; 0.8 for ``diverging``); a
            value ``v`` is drawn at opacity ``alpha * |v| ** gamma``.
        gamma: the display's contrast for weak values (default: 1, linear, as the paper; 0.5 for
            ``diverging``, so a value of 0.25 shows at half strength). Only the drawing changes:
            every statistic is computed on the maps themselves.
        palette: ``"paper"`` (positive green, negative red), ``"colorblind"`` (positive blue
            #0072B2, negative orange #E69F00) or ``"diverging"`` (the colour of each value from
            matplotlib's perceptually uniform diverging map ``vanimo``, :data:`PALETTE_CMAPS`).

    Returns:
        ``(H, W, 3)`` uint8: ``round((1 - a) * frame + a * colour)`` with ``a = alpha * |v| ** gamma``
        and ``colour`` the positive or negative colour by the sign of ``v`` (``diverging``: the
        colour map's colour at ``(1 + v) / 2``).
    """
    check_palette(palette)
    frame = _as_numpy(frame_rgb, "frame_rgb")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame_rgb must have shape (H, W, 3), got {frame.shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame_rgb must be uint8 (RGB 0-255), got dtype {frame.dtype}")
    sal = _as_numpy(saliency, "saliency")
    if sal.ndim != 2:
        raise ValueError(
            f"saliency must have shape (h, w), got {sal.shape}; pick one stacked frame with "
            "reduce_channels(maps, frame=...) first"
        )
    if not np.issubdtype(sal.dtype, np.floating):
        raise ValueError(f"saliency must be a float map, got dtype {sal.dtype}")
    if not np.isfinite(sal).all():
        raise ValueError("saliency contains NaN or infinite values")
    if sal.size and np.abs(sal).max() > 1 + _RANGE_TOL:
        raise ValueError(
            f"saliency must lie in [-1, 1], got max |value| {float(np.abs(sal).max()):.4g}; "
            "scale it with rlinside.explain.saliency.normalize first"
        )
    if alpha is None:
        alpha = 0.8 if palette in PALETTE_CMAPS else 0.5
    if gamma is None:
        gamma = 0.5 if palette in PALETTE_CMAPS else 1.0
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0 < gamma <= 4:
        raise ValueError(f"gamma must be a number in (0, 4], got {gamma!r}")
    sal = np.clip(_resize_bilinear(sal, frame.shape[:2]), -1.0, 1.0)
    sal = np.sign(sal) * np.abs(sal) ** float(gamma)
    colours = SALIENCY_PALETTES[palette]
    if palette in PALETTE_CMAPS:
        import matplotlib

        colour = matplotlib.colormaps[PALETTE_CMAPS[palette]]((1.0 + sal) / 2)[..., :3].astype(np.float32) * 255
    else:
        pos = np.asarray(colours["positive"], dtype=np.float32)
        neg = np.asarray(colours["negative"], dtype=np.float32)
        colour = np.where(sal[..., None] >= 0, pos, neg)  # (H, W, 3)
    a = (float(alpha) * np.abs(sal))[..., None]
    out = (1.0 - a) * frame.astype(np.float32) + a * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def reduce_channels(maps: np.ndarray | torch.Tensor, frame: str | int = "latest") -> np.ndarray:
    """The map of one stacked frame: ``(B, C, H, W)`` -> ``(B, H, W)`` float32.

    Observations stack the last ``C`` frames oldest first, so channel ``C-1`` is the newest
    frame (time ``t``), ``C-2`` is ``t-1``, ..., ``0`` is ``t-(C-1)``. The paper shows the
    gradient methods on the newest frame unless it says otherwise.

    Args:
        maps: ``(B, C, H, W)`` saliency maps (numpy or torch).
        frame: ``"latest"`` (channel ``C-1``, time ``t``) or a channel index in ``[-C, C)``
            (negative indices count from the newest frame: ``-1`` is ``t``, ``-2`` is ``t-1``).
            A single-channel map ``(B, 1, H, W)`` (Grad-CAM, G1Grad-CAM: one map for the whole
            stack) is the same for every frame and is returned for any valid ``frame`` of a
            stack, i.e. any int.
    """
    arr = _as_numpy(maps, "maps")
    if arr.ndim != 4:
        raise ValueError(f"maps must have shape (B, C, H, W), got {arr.shape}")
    channels = arr.shape[1]
    if channels < 1:
        raise ValueError(f"maps must have at least one channel, got shape {arr.shape}")
    if frame == "latest":
        index = channels - 1
    elif isinstance(frame, int | np.integer) and not isinstance(frame, bool):
        if channels == 1:
            index = 0
        elif -channels <= frame < channels:
            index = int(frame) % channels
        else:
            raise ValueError(
                f"frame must be 'latest' or a channel index in [{-channels}, {channels}), got {frame!r}"
            )
    else:
        raise ValueError(f"frame must be 'latest' or an int channel index, got {frame!r}")
    return arr[:, index].astype(np.float32, copy=False)


def frame_label(channels: int, frame: str | int = "latest") -> str:
    """``"t"``, ``"t-1"``, ... for the channel :func:`reduce_channels` picks from ``channels``."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be an int >= 1, got {channels!r}")
    if frame == "latest":
        back = 0
    elif isinstance(frame, int | np.integer) and not isinstance(frame, bool) and -channels <= frame < channels:
        back = channels - 1 - int(frame) % channels
    else:
        raise ValueError(f"frame must be 'latest' or a channel index in [{-channels}, {channels}), got {frame!r}")
    return "t" if back == 0 else f"t-{back}"


def gallery(
    images: Sequence[Sequence[np.ndarray]],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    palette: str | None = None,
    title: str | None = None,
    panel_width: float = 1.7,
    quantity: str = "saliency",
) -> plt.Figure:
    """A grid of RGB panels, rows = agents or states, columns = methods; returns the figure.

    Args:
        images: ``rows x cols`` nested sequence of ``(H, W, 3)`` uint8 images (e.g. from
            :func:`overlay`); every row has the same number of panels.
        row_labels: one label per row (left of the row), or None.
        col_labels: one label per column (above the first row), or None.
        palette: draw a legend of the palette's positive/negative colours (None: no legend).
        title: figure title.
        panel_width: width of one panel in inches (the height follows the images' aspect).
        quantity: what the colours show, in the legend ("positive <quantity>"), e.g.
            "attention / saliency" for a figure that mixes attention and saliency maps.
    """
    rows = [list(r) for r in images]
    if not rows or not rows[0]:
        raise ValueError("images must be a non-empty rows x cols grid of (H, W, 3) arrays")
    n_cols = len(rows[0])
    if any(len(r) != n_cols for r in rows):
        raise ValueError(f"images must have the same number of panels in every row, got {[len(r) for r in rows]}")
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            a = _as_numpy(im, f"images[{i}][{j}]")
            if a.ndim != 3 or a.shape[2] != 3:
                raise ValueError(f"images[{i}][{j}] must have shape (H, W, 3), got {a.shape}")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"row_labels must have {len(rows)} entries (one per row), got {len(row_labels)}")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"col_labels must have {n_cols} entries (one per column), got {len(col_labels)}")
    if palette is not None:
        check_palette(palette)
    if not isinstance(panel_width, int | float) or panel_width <= 0:
        raise ValueError(f"panel_width must be a positive number, got {panel_width!r}")

    h, w = _as_numpy(rows[0][0], "images[0][0]").shape[:2]
    panel_height = panel_width * h / w
    extra = 0.35 + (0.3 if title else 0) + (0.3 if palette else 0)
    fig, axes = plt.subplots(len(rows), n_cols, squeeze=False,
                             figsize=(panel_width * n_cols + 0.4, panel_height * len(rows) + extra))
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            ax = axes[i][j]
            ax.imshow(_as_numpy(im, "image"), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if i == 0 and col_labels is not None:
                ax.set_title(col_labels[j], fontsize=8)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    if palette is not None:
        colours = SALIENCY_PALETTES[palette]
        handles = [Patch(color=np.array(colours[k]) / 255, label=f"{k} {quantity}") for k in ("positive", "negative")]
        fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=7, frameon=False,
                   bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.04 if palette else 0, 1, 1))
    return fig


def gallery_of_rows(rows: Sequence, cols: Sequence[str] | None = None, *, palette: str = "paper",
                    quantity: str = "saliency"):
    """A :func:`gallery` of rows that each carry ``label``, ``screen (210, 160, 3)`` and
    ``maps`` (column name -> ``(84, 84)`` map in [-1, 1]), e.g. the rows of
    :mod:`rlinside.studies.saliency`: every map drawn over its row's screen, a blank panel
    where a row has no map for a column. ``cols`` defaults to the first row's maps. A row
    whose ``insensitive`` flag is set (its agent failed the sensitivity gate) is drawn in
    washed-out grey and marked "agent insensitive to input": its maps are float noise."""
    if not rows:
        raise ValueError("rows must not be empty")
    cols = list(cols or rows[0].maps)
    blank = np.full_like(rows[0].screen, 255)

    def panel(r, c):
        if c not in r.maps:
            return blank
        image = overlay(r.screen, r.maps[c], palette=palette)
        return _greyed(image) if getattr(r, "insensitive", False) else image

    panels = [[panel(r, c) for c in cols] for r in rows]
    labels = [r.label + ("\n(agent insensitive\nto input)" if getattr(r, "insensitive", False) else "")
              for r in rows]
    fig = gallery(panels, row_labels=labels, col_labels=cols, palette=palette, quantity=quantity)
    axes = np.asarray(fig.axes[:len(rows) * len(cols)]).reshape(len(rows), len(cols))
    for r, row_axes in zip(rows, axes):
        if getattr(r, "insensitive", False):
            for ax in row_axes:
                ax.text(0.5, 0.5, "agent insensitive\nto input", transform=ax.transAxes, ha="center",
                        va="center", fontsize=7, color="black",
                        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    return fig


def _greyed(image: np.ndarray) -> np.ndarray:
    """``image (H, W, 3)`` uint8 in washed-out grey: the panel of an agent whose maps are not
    to be read (it failed the sensitivity gate of :mod:`rlinside.explain.gate`)."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return (0.4 * grey[..., None].repeat(3, axis=2) + 0.6 * 255).astype(np.uint8)


def plot_lag_shares(share_table, ax=None, intervals=None):
    """Draw one line per row of ``share_table`` (index: agent; columns: the lag ``k`` of the
    input frame ``t-k``; values: the share of the map's magnitude on it), with error bars from
    ``intervals`` when given (index (agent, lag); columns ``low`` and ``high``, as
    :func:`rlinside.claims.interval_table` returns). Returns the figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for name, row in share_table.iterrows():
        line, = ax.plot(row.index, row.values, marker="o", label=name)
        if intervals is not None and name in intervals.index.get_level_values(0):
            iv = intervals.loc[name].reindex(row.index)
            ax.vlines(row.index, iv["low"], iv["high"], color=line.get_color(), alpha=0.6)
    ax.set_xlabel("lag k of the input frame t-k")
    ax.set_ylabel("share of |guided backprop|")
    ax.set_xticks(range(int(share_table.columns.max()) + 1))
    ax.legend(fontsize=8)
    return ax.figure


def plot_cascade(cascade, agent_names: Sequence[str], methods: Sequence[str],
                 metrics: Sequence[str] = ("spearman", "spearman |.|", "ssim")):
    """The cascading-randomization figure: one row per agent, one panel per similarity metric,
    one line per method over the randomization steps (step 0: the trained network, similarity
    1), from the long table of :func:`rlinside.studies.saliency.cascading_study` (columns
    ``agent, step, layer, method`` and the metrics). Returns the figure."""
    from rlinside.plots import PALETTE

    fig, axes = plt.subplots(len(agent_names), len(metrics), figsize=(12, 3.1 * len(agent_names)), squeeze=False)
    for r, name in enumerate(agent_names):
        sub = cascade[cascade.agent == name]
        layers = ["trained"] + list(sub.groupby("step")["layer"].first())
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            for m, colour in zip(methods, PALETTE):
                curve = sub[sub.method == m].groupby("step")[metric].mean()
                ax.plot([0, *curve.index], [1.0, *curve.values], marker="o", ms=3, color=colour, label=m)
            ax.set_xticks(range(len(layers)))
            ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
            ax.axhline(0, color="0.5", lw=0.8, ls=":")
            ax.set_title(f"{name}: {metric}", fontsize=9)
            ax.set_ylim(-1.05, 1.05)
    axes[0, 0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def strip_of_rows(rows: Sequence, key: str, *, palette: str = "paper"):
    """One panel per row of ``rows`` (:class:`~rlinside.studies.saliency.MapRow`-like: ``screen``,
    ``maps``, ``label``): the map ``maps[key]`` over the screen, titled by the row's label."""
    fig, axes = plt.subplots(1, len(rows), figsize=(3 * len(rows), 3.6), squeeze=False)
    for ax, r in zip(axes[0], rows):
        ax.imshow(overlay(r.screen, r.maps[key], palette=palette))
        ax.set_title(r.label, fontsize=9)
        ax.axis("off")
    return fig


def plot_memorised(scores, maps):
    """The memorised-policy figure (saliency notebook 08). Left: mean full-game score of each
    agent on each start variant with a 95 % bootstrap interval over games (``scores``: columns
    ``agent``, ``start``, ``score``). Right: per method, the mean per-state difference of the
    two networks' enrichment on the objects with its interval, one marker per start variant
    (``maps``: columns ``start``, ``method``, ``difference``), and beside it in grey, when
    ``maps`` has a ``seed difference``, the control's (usual minus its second seed). Returns
    the figure."""
    from rlinside.claims import bootstrap_ci

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
    starts = list(dict.fromkeys(scores["start"]))
    agents = list(dict.fromkeys(scores["agent"]))
    width = 0.8 / max(len(agents), 1)
    for j, agent in enumerate(agents):
        xs, ys, err = [], [], []
        for i, start in enumerate(starts):
            v = scores[(scores.agent == agent) & (scores.start == start)]["score"].to_numpy()
            lo, hi = bootstrap_ci(v)
            xs.append(i + (j - (len(agents) - 1) / 2) * width)
            ys.append(v.mean())
            err.append([v.mean() - lo if np.isfinite(lo) else 0, hi - v.mean() if np.isfinite(hi) else 0])
        ax.bar(xs, ys, width=width, yerr=np.array(err).T, capsize=3, label=agent)
    ax.set_xticks(range(len(starts)), starts)
    ax.set_ylabel("full-game score")
    if agents:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no games played", transform=ax.transAxes, ha="center", va="center")
    methods = list(dict.fromkeys(maps["method"]))
    columns = [("difference", "usual minus twin", 0)]
    if "seed difference" in maps and maps["seed difference"].notna().any():
        columns.append(("seed difference", "usual minus second seed (control)", 0.12))
    for k, start in enumerate(dict.fromkeys(maps["start"])):
        for col, what, shift in columns:
            for i, m in enumerate(methods):
                v = maps[(maps.start == start) & (maps.method == m)][col].dropna().to_numpy()
                if not len(v):
                    continue
                lo, hi = bootstrap_ci(v)
                x = i + (k - 0.5) * 0.36 + shift
                ax2.errorbar([x], [v.mean()], yerr=[[v.mean() - lo if np.isfinite(lo) else 0],
                                                     [hi - v.mean() if np.isfinite(hi) else 0]],
                             fmt="os"[k % 2], color=f"C{k}" if not shift else "0.55", capsize=3,
                             mfc="none" if shift else None, label=f"{start}: {what}" if i == 0 else None)
    ax2.axhline(0, color="0.5", lw=0.8, ls=":")
    ax2.set_xticks(range(len(methods)), methods, rotation=20, fontsize=8)
    ax2.set_ylabel("difference of enrichment")
    if ax2.get_legend_handles_labels()[1]:
        ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig
