"""Plots of explanations: a text's words, each shaded by its contribution."""

import warnings

from ._optional import import_optional

# Horizontal gap between words and vertical step between lines, in units of
# the height of one word's box.
_WORD_GAP = 0.5
_LINE_STEP = 1.8
# A new figure: its width, the margins under and above the words and the
# band that holds the colour bar and its label, in inches.
_WIDTH = 8.0
_MARGIN = 0.15
_TOP = 0.06
_BAR_BAND = 0.75
COLORBAR_LABEL = "contribution: change of the class probability without the word"


def plot_explanation(explanation, ax=None, *, cmap="RdBu", max_contribution=None, fontsize=12,
                     colorbar=True):
    """Draw one text's words in order, each on a background shaded by its contribution.

    Words that push towards the explained class take the colour of the top
    of ``cmap`` (blue for ``"RdBu"``), words that push away its bottom
    (red); words of no weight stay near white. Lines wrap at the right edge.

    Parameters
    ----------
    explanation : list of (str, float)
        One text's ``(word, contribution)`` pairs, as
        :meth:`TokenSparseClassifier.explain` gives them.
    ax : matplotlib.axes.Axes or None, default=None
        Where to draw (its axis lines are hidden). None makes a new figure
        8 inches wide and as tall as the wrapped text needs. A given axes
        keeps its size: a warning says how many lines fall below it.
    cmap : str or matplotlib.colors.Colormap, default="RdBu"
    max_contribution : float or None, default=None
        The absolute contribution of the strongest shade; None takes this
        text's largest. Give the same value to compare several texts.
    fontsize : float, default=12
    colorbar : bool, default=True
        Add a horizontal colour bar under the words, in the contribution's
        unit: the change of the class probability when the word is left out.

    Returns
    -------
    ax : matplotlib.axes.Axes
        With one ``Text`` per word, in order (``ax.texts``).
    """
    import_optional("matplotlib", "plot", "plot_explanation")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    limit = max_contribution or max((abs(c) for _, c in explanation), default=0.0) or 1.0
    shade = Normalize(-limit, limit, clip=True)
    colormap = colormaps[cmap] if isinstance(cmap, str) else cmap
    bar = ScalarMappable(norm=shade, cmap=colormap)
    own_figure = ax is None
    if own_figure:
        ax = plt.figure(figsize=(_WIDTH, 1.0)).add_axes((0.01, 0.0, 0.98, 1.0))
    elif colorbar:
        # Before the words: the bar takes its room from the axes.
        _add_colorbar(ax.figure, bar, ax=ax)
    ax.set_axis_off()
    used = _place_words(ax, explanation, shade, colormap, fontsize)
    if own_figure:
        _fit_figure_to_words(ax, used, bar if colorbar else None)
    else:
        _warn_if_cut(ax, used)
    return ax


def _place_words(ax, explanation, shade, colormap, fontsize):
    """Annotate each word, wrapping at the axes' width; return the height used, in points."""
    # Words are placed in points from the axes' top-left corner, so a later
    # change of the figure's layout (tight_layout) moves them together.
    renderer = ax.figure.canvas.get_renderer()
    points = 72 / ax.figure.dpi
    line_width = ax.get_window_extent(renderer).width * points
    x, y, bottom = 0.0, 0.0, 0.0
    for word, contribution in explanation:
        level = shade(contribution)
        text = ax.annotate(word, xy=(0, 1), xycoords="axes fraction", xytext=(x, y),
                           textcoords="offset points", ha="left", va="top", fontsize=fontsize,
                           color="white" if abs(level - 0.5) > 0.35 else "black",
                           bbox={"facecolor": colormap(level), "edgecolor": "none", "pad": 2})
        box = text.get_window_extent(renderer)
        width, height = box.width * points, box.height * points
        if x > 0 and x + width > line_width:
            x, y = 0.0, y - _LINE_STEP * height
            text.set_position((x, y))
        x += width + _WORD_GAP * height
        bottom = min(bottom, y - height)
    return -bottom


def _fit_figure_to_words(ax, used, bar):
    """Make the figure as tall as the words (plus the colour bar's band), width unchanged."""
    figure = ax.figure
    words = used / 72 + _MARGIN
    band = _BAR_BAND if bar is not None else 0.0
    height = _TOP + words + band
    figure.set_size_inches(_WIDTH, height)
    ax.set_position((0.01, band / height, 0.98, words / height))
    if bar is not None:
        cax = figure.add_axes((0.2, 0.55 * band / height, 0.6, 0.12 / height))
        _add_colorbar(figure, bar, cax=cax)


def _add_colorbar(figure, bar, **where):
    colorbar = figure.colorbar(bar, orientation="horizontal", **where)
    colorbar.set_label(COLORBAR_LABEL, fontsize=9)
    return colorbar


def _warn_if_cut(ax, used):
    height = ax.get_window_extent(ax.figure.canvas.get_renderer()).height * 72 / ax.figure.dpi
    if used > height + 1:
        warnings.warn(
            f"the words need {used:.0f} points of height and the axes has {height:.0f}: the "
            "last lines fall outside it. Give a taller axes, a smaller fontsize, or ax=None "
            "(a figure sized to the text).", UserWarning, stacklevel=3)
