"""The layer-matrix heat maps: one panel per matrix, laid out in rows, bad input refused."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rlinside.plots.matrices import plot_layer_matrices  # noqa: E402


def test_grid_layout_and_values():
    mats = {f"{a}→{b}": np.full((6, 6), (a + b) / 10) for a in (2, 3, 4) for b in (2, 3, 4)}
    fig = plot_layer_matrices(mats, ncols=3, label="share")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 9 and len(fig.axes) == 10  # and one colour bar
    assert fig.axes[-1].get_ylabel() == "share"
    assert [t.get_text() for t in drawn[0].texts][:2] == [".40", ".40"]  # every cell carries its value
    assert [ax.get_title() for ax in drawn] == list(mats)
    np.testing.assert_array_equal(drawn[4].images[0].get_array(), mats["3→3"])
    rows = {round(ax.get_position().y0, 3) for ax in drawn}
    assert len(rows) == 3  # three rows of three
    plt.close(fig)


def test_unfilled_panels_are_hidden_and_one_row_by_default():
    mats = {k: np.eye(3) for k in "abcde"}
    fig = plot_layer_matrices(mats, ncols=3)
    assert len(fig.axes) == 7 and not fig.axes[5].axison  # 6 panels and the colour bar
    plt.close(fig)
    fig = plot_layer_matrices(mats)
    fig.canvas.draw()
    assert len({round(ax.get_position().y0, 3) for ax in fig.axes if ax.images}) == 1
    plt.close(fig)


@pytest.mark.parametrize("ncols", [0, -1, 1.5, "2"])
def test_bad_ncols(ncols):
    with pytest.raises(ValueError, match="ncols"):
        plot_layer_matrices({"a": np.eye(2)}, ncols=ncols)


def test_no_matrices():
    with pytest.raises(ValueError, match="no matrices"):
        plot_layer_matrices({})
