"""fig2: the SAT matrix as a heatmap, ordered by cluster, with cluster boundaries; its colour
scale spans the off-diagonal values only."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import make_axes_locatable

from satsim.figures.style import DIAGONAL_COLOR, MIN_FONT_PT, cluster_colors


def off_diagonal_range(sat: pd.DataFrame) -> tuple[float, float]:
    """The smallest and largest SAT between two different models (fig2's colour limits)."""
    values = sat.to_numpy(dtype=float)
    off = values[~np.eye(len(values), dtype=bool)]
    return float(np.nanmin(off)), float(np.nanmax(off))


def _text_color(color) -> str:
    red, green, blue = to_rgb(color)
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"


def fig2_heatmap(
    sat: pd.DataFrame, clusters: pd.Series, title: str, measured: pd.DataFrame | None = None
) -> Figure:
    """The SAT matrix ordered by cluster, with cluster boundaries drawn.

    The colour scale spans the off-diagonal values; the diagonal (ln of the white-box success
    rate, about 4.6) is drawn grey. A strip along the left and bottom edges gives each model's
    cluster number in fig1's colours. Given ``measured`` (an adaptive run's 0/1 matrix), every
    estimated cell carries a small white dot."""
    order = clusters.reindex(sat.index).sort_values(kind="stable").index
    ordered = sat.loc[order, order].to_numpy(dtype=float)
    numbers = clusters.loc[order].to_numpy()
    n_models = len(order)
    cell = 0.15 if n_models > 30 else 0.3 if n_models > 8 else 0.5  # inches per model
    fontsize = 7 if n_models > 30 else 8
    side = max(cell * n_models, 3.5)
    figure = plt.figure(figsize=(side + 3.2, side + 2.4))
    axis = figure.add_axes(
        (1.9 / (side + 3.2), 1.9 / (side + 2.4), side / (side + 3.2), side / (side + 2.4))
    )
    masked = np.ma.masked_where(np.eye(n_models, dtype=bool) | np.isnan(ordered), ordered)
    cmap = plt.get_cmap("viridis").with_extremes(bad=DIAGONAL_COLOR)
    low, high = off_diagonal_range(sat)
    image = axis.imshow(
        masked, cmap=cmap, vmin=low, vmax=high, interpolation="nearest", aspect="equal"
    )
    divider = make_axes_locatable(axis)
    strip_size = 0.16
    left = divider.append_axes("left", size=strip_size, pad=0.0, sharey=axis)
    bottom = divider.append_axes("bottom", size=strip_size, pad=0.0, sharex=axis)
    colorbar_axis = divider.append_axes("right", size=0.18, pad=0.12)
    colorbar = figure.colorbar(image, cax=colorbar_axis)
    colorbar.set_label(
        "SAT = ln(transfer rate in %), between different models\n"
        "(diagonal: white-box success, shown grey)",
        fontsize=fontsize + 1,
    )
    colorbar.ax.tick_params(labelsize=fontsize)
    colors = cluster_colors(clusters)
    edges = np.flatnonzero(np.diff(numbers)) + 1
    for start, stop in zip(np.r_[0, edges], np.r_[edges, n_models], strict=True):
        number = int(numbers[start])
        color, middle = colors[number], (start + stop - 1) / 2
        left.axhspan(start - 0.5, stop - 0.5, color=color, linewidth=0)
        bottom.axvspan(start - 0.5, stop - 0.5, color=color, linewidth=0)
        style = {"ha": "center", "va": "center", "fontsize": MIN_FONT_PT + 1}
        style["color"] = _text_color(color)
        left.text(0.5, middle, str(number), transform=left.get_yaxis_transform(), **style)
        bottom.text(middle, 0.5, str(number), transform=bottom.get_xaxis_transform(), **style)
    if measured is not None:
        estimated = ~measured.loc[order, order].to_numpy(dtype=bool)
        rows, cols = np.nonzero(estimated)
        axis.scatter(cols, rows, s=max(1.0, 40.0 / n_models) ** 2 / 4, c="white", linewidths=0)
        colorbar.set_label(
            colorbar.ax.get_ylabel() + f"\nwhite dot: estimated, not measured ({len(rows) // 2} "
            f"of {n_models * (n_models - 1) // 2} pairs)",
            fontsize=fontsize + 1,
        )
    for boundary in edges - 0.5:
        axis.axhline(boundary, color="white", linewidth=1.0)
        axis.axvline(boundary, color="white", linewidth=1.0)
    axis.set_xlim(-0.5, n_models - 0.5)
    axis.set_ylim(n_models - 0.5, -0.5)
    axis.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    left.set_xticks([])
    bottom.set_yticks([])
    left.set_yticks(range(n_models), order, fontsize=fontsize)
    bottom.set_xticks(range(n_models), order, rotation=90, fontsize=fontsize)
    left.set_ylabel("model (ordered by spectral cluster)", fontsize=fontsize + 1)
    bottom.set_xlabel(
        "model (ordered by spectral cluster; coloured strips: cluster number as in fig1)",
        fontsize=fontsize + 1,
    )
    axis.set_title(title, fontsize=fontsize + 2)
    return figure
