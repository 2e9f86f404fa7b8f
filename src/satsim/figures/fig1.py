"""fig1: t-SNE of the models from SAT, coloured by spectral cluster, each point labelled.

Sized for the paper's 69 models: every text is at least ``MIN_FONT_PT`` points at the saved
size, and no label overlaps another label or a marker (:func:`place_labels`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from satsim.figures.labels import place_labels
from satsim.figures.style import PNG_DPI, cluster_colors

LABEL_GID = "model-label"  # fig1's point labels, for tests and readers of the figure
LEADER_GID = "model-label-leader"
_LABEL_PT = 7.0
_MARKER_AREA = 36.0  # scatter size, points²


def fig1_tsne(embedding: pd.DataFrame, clusters: pd.Series, title: str) -> Figure:
    """t-SNE of the models from SAT, coloured by spectral cluster, each point labelled.

    Labels are placed by :func:`place_labels` at the PNG's resolution: none overlaps another
    label or a marker, all lie inside the axes, and a thin line joins a displaced label to its
    point."""
    clusters = clusters.reindex(embedding.index)
    colors = cluster_colors(clusters)
    n_models = len(embedding)
    width = float(np.clip(4.5 + 0.085 * n_models, 6.0, 11.0))
    figure = plt.figure(figsize=(width + 1.6, width * 0.72), dpi=PNG_DPI)
    axis = figure.add_axes((0.07, 0.08, width / (width + 1.6) - 0.08, 0.85))
    for number, color in colors.items():
        members = clusters.index[clusters == number]
        axis.scatter(
            embedding.loc[members, "x"],
            embedding.loc[members, "y"],
            s=_MARKER_AREA,
            color=color,
            edgecolor="black",
            linewidth=0.4,
            label=f"cluster {number}",
            zorder=3,
        )
    x, y = embedding["x"].to_numpy(float), embedding["y"].to_numpy(float)
    span_x, span_y = np.ptp(x) or 1.0, np.ptp(y) or 1.0
    axis.set_xlim(x.min() - 0.12 * span_x, x.max() + 0.12 * span_x)
    axis.set_ylim(y.min() - 0.06 * span_y, y.max() + 0.06 * span_y)
    axis.set_xlabel("t-SNE dimension 1 (arbitrary units)", fontsize=8)
    axis.set_ylabel("t-SNE dimension 2 (arbitrary units)", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.set_title(title, fontsize=9)
    axis.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=7,
        title="spectral cluster",
        title_fontsize=7,
        borderaxespad=0.0,
    )
    axis.grid(alpha=0.25, linewidth=0.5)

    renderer = figure.canvas.get_renderer()
    labels = [
        axis.text(0, 0, str(model), fontsize=_LABEL_PT, ha="center", va="center", gid=LABEL_GID)
        for model in embedding.index
    ]
    # Room for 4 % more than the PNG's text: the PDF's unhinted glyphs run up to ~3 % wider.
    sizes = 1.04 * np.array(
        [[(e := t.get_window_extent(renderer)).width, e.height] for t in labels]
    )
    points = axis.transData.transform(np.column_stack([x, y]))
    pixels_per_point = figure.dpi / 72.0
    frame = axis.get_window_extent(renderer)
    inset = 2 * pixels_per_point
    boxes, leaders = place_labels(
        points,
        sizes,
        (frame.x0 + inset, frame.y0 + inset, frame.x1 - inset, frame.y1 - inset),
        marker_radius=np.sqrt(_MARKER_AREA) / 2 * pixels_per_point,
        pad=1.5 * pixels_per_point,
    )
    to_data = axis.transData.inverted()
    for text, box, leader in zip(labels, boxes, leaders, strict=True):
        text.set_position(to_data.transform([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]))
        if not np.isnan(leader[0]):
            ends = to_data.transform(leader.reshape(2, 2))
            axis.plot(ends[:, 0], ends[:, 1], color="0.45", linewidth=0.5, zorder=2, gid=LEADER_GID)
    return figure
