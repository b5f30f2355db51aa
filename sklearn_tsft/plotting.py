"""Plots of explanations: a text's words, each shaded by its contribution."""

from ._optional import import_optional

# Horizontal gap between words and vertical step between lines, in units of
# the height of one word's box.
_WORD_GAP = 0.5
_LINE_STEP = 1.8


def plot_explanation(explanation, ax=None, *, cmap="RdBu", max_contribution=None, fontsize=12):
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
        Where to draw (its axis lines are hidden); None makes a new figure.
    cmap : str or matplotlib.colors.Colormap, default="RdBu"
    max_contribution : float or None, default=None
        The absolute contribution of the strongest shade; None takes this
        text's largest. Give the same value to compare several texts.
    fontsize : float, default=12

    Returns
    -------
    ax : matplotlib.axes.Axes
        With one ``Text`` per word, in order (``ax.texts``).
    """
    import_optional("matplotlib", "plot", "plot_explanation")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.2))
    ax.set_axis_off()
    limit = max_contribution or max((abs(c) for _, c in explanation), default=0.0) or 1.0
    shade = Normalize(-limit, limit, clip=True)
    colormap = colormaps[cmap] if isinstance(cmap, str) else cmap
    # Words are placed in points from the axes' top-left corner, so a later
    # change of the figure's layout (tight_layout) moves them together.
    renderer = ax.figure.canvas.get_renderer()
    points = 72 / ax.figure.dpi
    line_width = ax.get_window_extent(renderer).width * points
    x, y = 0.0, 0.0
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
    return ax
