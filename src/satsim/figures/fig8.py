"""fig8: how many eval images a stable SAT matrix needs (nested subsets of one run)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

SPEARMAN_TARGET = 0.95  # the line drawn in panel (a); the summary reports where it is passed
# Upright labels about 12 px wide on a panel about 330 px wide: 5 % of the axis keeps them apart.
MIN_LABEL_GAP = 0.05


def fig8_images_needed(curve: pd.DataFrame, title: str) -> Figure:
    """Against the number of eval images n (log scale): (a) Spearman correlation of the SAT
    matrix on n images with the full one; (b) median width of SAT's 95 % interval; (c) adjusted
    Rand index of the clusters against the full matrix's."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = (
        ("spearman", "Spearman ρ with the full matrix", "(a) ranking of the pairs"),
        ("median_ci_width", "median 95 % interval width of SAT (ln %)", "(b) uncertainty"),
        ("ari", "adjusted Rand index with the full clusters", "(c) clusters"),
    )
    for axis, (column, label, panel) in zip(axes, panels, strict=True):
        axis.plot(curve["n_images"], curve[column], marker="o", color="tab:blue")
        axis.set_xscale("log")
        subset_size_ticks(axis, curve["n_images"])
        axis.set_xlabel("eval images used (nested random subsets)")
        axis.set_ylabel(label)
        axis.set_title(panel, fontsize=9)
        axis.grid(alpha=0.3, which="major")
    axes[0].axhline(SPEARMAN_TARGET, color="black", linestyle="--", linewidth=0.8)
    figure.suptitle(title, fontsize=10)
    return figure


def subset_size_ticks(axis: Axes, sizes: Sequence[int]) -> None:
    """The log x axis labelled with the subset sizes themselves, as plain numbers, upright.

    Matplotlib's log axis labels its minor ticks (3×10¹, 4×10¹, ...) when the range spans less
    than a decade, and they overprint each other; the sizes measured are the useful ticks. Every
    size gets a tick; a label closer than :data:`MIN_LABEL_GAP` of the axis to a larger size's
    label is left off (the largest, the whole eval set, is always labelled).
    """
    ticks = sorted({int(n) for n in sizes})
    axis.xaxis.set_major_locator(FixedLocator(ticks))
    labelled = labelled_sizes(ticks)
    axis.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value:.0f}" if round(value) in labelled else "")
    )
    axis.xaxis.set_minor_locator(NullLocator())
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.tick_params(axis="x", labelrotation=90)  # wide numbers (25000) stay apart


def labelled_sizes(ticks: Sequence[int]) -> set[int]:
    """The sizes that get a label: from the largest down, those at least ``MIN_LABEL_GAP`` of
    the axis's log span from the last one labelled."""
    logs = np.log10(np.asarray(ticks, dtype=float))
    span = max(logs[-1] - logs[0], 0.3)  # the axis spans at least this many decades
    kept = [len(ticks) - 1]
    for index in range(len(ticks) - 2, -1, -1):
        if logs[kept[-1]] - logs[index] >= MIN_LABEL_GAP * span:
            kept.append(index)
    return {ticks[index] for index in kept}
