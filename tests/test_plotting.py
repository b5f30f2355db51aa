"""plot_explanation: one shaded box per word, in order."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colormaps  # noqa: E402

from sklearn_tsft.plotting import plot_explanation  # noqa: E402

EXPLANATION = [("my", 0.0), ("card", 0.6), ("never", -0.3), ("arrived", 0.2)]


def test_one_text_per_word_in_order_shaded_by_contribution():
    ax = plot_explanation(EXPLANATION)
    assert [text.get_text() for text in ax.texts] == ["my", "card", "never", "arrived"]
    colours = [text.get_bbox_patch().get_facecolor() for text in ax.texts]
    # The largest contribution takes the top of the colour map, zero its middle.
    np.testing.assert_allclose(colours[1], colormaps["RdBu"](1.0))
    np.testing.assert_allclose(colours[0], colormaps["RdBu"](0.5))
    np.testing.assert_allclose(colours[2], colormaps["RdBu"](0.25))
    plt.close(ax.figure)


def test_words_follow_each_other_and_wrap_at_the_edge():
    figure, ax = plt.subplots(figsize=(2, 4))
    plot_explanation([(f"word{i}", 0.1) for i in range(12)], ax=ax)
    positions = [text.get_position() for text in ax.texts]
    assert positions[1][0] > positions[0][0]
    lines = sorted({y for _, y in positions}, reverse=True)
    assert len(lines) > 1 and positions[0][1] == lines[0]
    plt.close(figure)


def test_a_shared_scale_shades_weaker_texts_lighter():
    strong = plot_explanation(EXPLANATION, max_contribution=1.2)
    assert strong.texts[1].get_bbox_patch().get_facecolor() == pytest.approx(
        colormaps["RdBu"](0.75))
    plt.close(strong.figure)


def test_a_long_text_fits_its_own_figure_and_has_a_colour_bar():
    ax = plot_explanation([(f"word{i}", (-1) ** i * i / 120) for i in range(120)])
    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    figure_box = figure.bbox
    outside = [text.get_text() for text in ax.texts
               if not figure_box.contains(*text.get_window_extent(renderer).p0)]
    assert outside == []
    bars = [axes for axes in figure.axes if axes is not ax]
    assert len(bars) == 1 and "change of the class probability" in bars[0].get_xlabel()
    low, high = bars[0].get_xlim()
    assert (low, high) == pytest.approx((-119 / 120, 119 / 120))
    plt.close(figure)


def test_a_given_axes_too_small_warns_and_colour_bar_is_optional():
    figure, ax = plt.subplots(figsize=(2, 0.5))
    with pytest.warns(UserWarning, match="last lines fall outside it"):
        plot_explanation([(f"word{i}", 0.1) for i in range(60)], ax=ax, colorbar=False)
    assert figure.axes == [ax]
    plt.close(figure)
