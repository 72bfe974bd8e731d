"""Saliency overlays, frame choice and galleries, checked against hand-computed pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rlinside.plots.saliency import (  # noqa: E402
    PALETTE_CMAPS,
    SALIENCY_PALETTES,
    frame_label,
    gallery,
    overlay,
    reduce_channels,
)


def _frame(h=6, w=4):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_zero_map_leaves_frame_unchanged():
    frame = _frame()
    out = overlay(frame, np.zeros((3, 2)))
    assert out.dtype == np.uint8 and out.shape == frame.shape
    np.testing.assert_array_equal(out, frame)


def test_plus_one_is_half_green_minus_one_is_half_red():
    frame = np.full((2, 2, 3), [100, 50, 200], dtype=np.uint8)
    sal = np.array([[1.0, -1.0], [0.5, 0.0]])
    out = overlay(frame, sal)  # same size: no resizing, alpha 0.5
    # +1: 0.5 * (100, 50, 200) + 0.5 * (0, 255, 0) = (50, 152.5, 100) -> round half to even 152
    np.testing.assert_array_equal(out[0, 0], [50, 152, 100])
    # -1: 0.5 * (100, 50, 200) + 0.5 * (255, 0, 0) = (177.5, 25, 100) -> 178 (round half even)
    np.testing.assert_array_equal(out[0, 1], [178, 25, 100])
    # +0.5: opacity 0.25: 0.75 * (100, 50, 200) + 0.25 * (0, 255, 0) = (75, 101.25, 150)
    np.testing.assert_array_equal(out[1, 0], [75, 101, 150])
    np.testing.assert_array_equal(out[1, 1], [100, 50, 200])


def test_colorblind_palette_and_alpha():
    frame = np.zeros((1, 2, 3), dtype=np.uint8)
    out = overlay(frame, np.array([[1.0, -1.0]]), alpha=1.0, palette="colorblind")
    np.testing.assert_array_equal(out[0, 0], [0x00, 0x72, 0xB2])  # Okabe-Ito blue
    np.testing.assert_array_equal(out[0, 1], [0xE6, 0x9F, 0x00])  # Okabe-Ito orange
    assert SALIENCY_PALETTES["paper"] == {"positive": (0, 255, 0), "negative": (255, 0, 0)}
    np.testing.assert_array_equal(overlay(frame, np.array([[1.0, -1.0]]), alpha=0.0), frame)


def test_map_is_resized_bilinearly_to_the_frame():
    frame = np.zeros((4, 4, 3), dtype=np.uint8)
    sal = np.array([[1.0, 0.0], [0.0, 0.0]])
    out = overlay(frame, torch.tensor(sal, dtype=torch.float32), alpha=1.0)
    # align_corners=False bilinear 2x2 -> 4x4: output pixel (0, 0) samples source (-0.25, -0.25),
    # clamped to (0, 0): value 1; pixel (1, 1) samples (0.25, 0.25): 0.75 * 0.75 = 0.5625.
    assert out[0, 0, 1] == 255
    assert out[1, 1, 1] == round(0.5625 * 255)
    assert out[3, 3].sum() == 0
    assert (out[..., 0] == 0).all() and (out[..., 2] == 0).all()  # only green: all values >= 0


def test_reduce_channels_picks_the_stacked_frame():
    maps = np.arange(2 * 4 * 3 * 3, dtype=np.float32).reshape(2, 4, 3, 3)
    np.testing.assert_array_equal(reduce_channels(maps), maps[:, 3])
    np.testing.assert_array_equal(reduce_channels(maps, "latest"), maps[:, 3])
    np.testing.assert_array_equal(reduce_channels(maps, 0), maps[:, 0])
    np.testing.assert_array_equal(reduce_channels(maps, -2), maps[:, 2])  # t-1
    np.testing.assert_array_equal(reduce_channels(torch.from_numpy(maps), 1), maps[:, 1])
    cam = maps[:, :1]  # Grad-CAM: one map for the whole stack
    np.testing.assert_array_equal(reduce_channels(cam, 2), maps[:, 0])
    assert [frame_label(4, f) for f in ("latest", 3, 2, 0, -1, -4)] == ["t", "t", "t-1", "t-3", "t", "t-3"]


@pytest.mark.parametrize("kwargs, match", [
    ({"palette": "viridis"}, "palette"),
    ({"alpha": 1.5}, "alpha"),
    ({"saliency": np.full((2, 2), 2.0)}, r"\[-1, 1\]"),
    ({"saliency": np.zeros((1, 2, 2))}, "saliency must have shape"),
    ({"saliency": np.zeros((2, 2), dtype=np.int64)}, "float"),
    ({"saliency": np.full((2, 2), np.nan)}, "NaN"),
    ({"frame_rgb": np.zeros((2, 2), dtype=np.uint8)}, "frame_rgb"),
    ({"frame_rgb": np.zeros((2, 2, 3), dtype=np.float32)}, "frame_rgb must be uint8"),
])
def test_overlay_bad_inputs(kwargs, match):
    args = {"frame_rgb": np.zeros((2, 2, 3), dtype=np.uint8), "saliency": np.zeros((2, 2))}
    args.update(kwargs)
    frame, sal = args.pop("frame_rgb"), args.pop("saliency")
    with pytest.raises(ValueError, match=match):
        overlay(frame, sal, **args)


@pytest.mark.parametrize("maps, frame, match", [
    (np.zeros((4, 3, 3)), "latest", "maps must have shape"),
    (np.zeros((1, 4, 3, 3)), 4, "frame"),
    (np.zeros((1, 4, 3, 3)), -5, "frame"),
    (np.zeros((1, 4, 3, 3)), "first", "frame"),
    (np.zeros((1, 4, 3, 3)), True, "frame"),
])
def test_reduce_channels_bad_inputs(maps, frame, match):
    with pytest.raises(ValueError, match=match):
        reduce_channels(maps, frame)


def test_gallery_grid_and_labels():
    imgs = [[np.full((21, 16, 3), 10 * (3 * i + j), dtype=np.uint8) for j in range(3)] for i in range(2)]
    fig = gallery(imgs, row_labels=["A", "B"], col_labels=["x", "y", "z"], palette="paper", title="T")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 6
    assert [ax.get_title() for ax in drawn[:3]] == ["x", "y", "z"]
    assert drawn[3].get_ylabel() == "B"
    np.testing.assert_array_equal(drawn[4].images[0].get_array(), imgs[1][1])
    assert len(fig.legends) == 1
    plt.close(fig)


@pytest.mark.parametrize("kwargs, match", [
    ({"images": [[np.zeros((2, 2, 3), np.uint8)], []]}, "same number"),
    ({"images": []}, "non-empty"),
    ({"row_labels": ["a", "b"]}, "row_labels"),
    ({"col_labels": ["a", "b"]}, "col_labels"),
    ({"palette": "red-green"}, "palette"),
    ({"images": [[np.zeros((2, 2), np.uint8)]]}, r"images\[0\]\[0\]"),
])
def test_gallery_bad_inputs(kwargs, match):
    args = {"images": [[np.zeros((2, 2, 3), np.uint8)]]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gallery(args.pop("images"), **args)


def test_diverging_palette_reads_the_colour_map_and_lifts_weak_values():
    import matplotlib

    cmap = matplotlib.colormaps[PALETTE_CMAPS["diverging"]]
    frame = np.zeros((1, 3, 3), dtype=np.uint8)
    out = overlay(frame, np.array([[1.0, -1.0, 0.25]]), alpha=1.0, palette="diverging")
    np.testing.assert_array_equal(out[0, 0], np.rint(np.array(cmap(1.0)[:3]) * 255))  # + : green end
    np.testing.assert_array_equal(out[0, 1], np.rint(np.array(cmap(0.0)[:3]) * 255))  # - : pink end
    # 0.25 ** 0.5 = 0.5: drawn at half opacity, in the colour of 0.5
    np.testing.assert_allclose(out[0, 2], 0.5 * np.array(cmap(0.75)[:3]) * 255, atol=0.51)
    for end, v in (("positive", 1.0), ("negative", 0.0)):  # the legend shows the ends of the map
        assert SALIENCY_PALETTES["diverging"][end] == tuple(round(255 * c) for c in cmap(v)[:3])
    # defaults: opacity 0.8 for the diverging palette, the paper's linear 0.5 for the others
    grey = np.full((1, 1, 3), 100, dtype=np.uint8)
    np.testing.assert_array_equal(overlay(grey, np.ones((1, 1)), palette="diverging"),
                                  overlay(grey, np.ones((1, 1)), palette="diverging", alpha=0.8, gamma=0.5))
    with pytest.raises(ValueError, match="gamma"):
        overlay(grey, np.ones((1, 1)), gamma=0)
