"""fig7: how certain each SAT entry is — bootstrap 95 % intervals over the eval images."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def fig7_sat_intervals(
    sat: pd.DataFrame, width: pd.DataFrame, pairs: pd.DataFrame, clusters: pd.Series, title: str
) -> Figure:
    """(a) the interval width of every entry, ordered by cluster as in fig2; (b) every pair's
    SAT with its interval, sorted: pairs whose intervals overlap cannot be told apart with this
    many images. ``pairs`` has model_a, model_b, sat, sat_ci_low, sat_ci_high (one row per pair,
    diagonal excluded)."""
    order = clusters.reindex(sat.index).sort_values(kind="stable").index
    n_models = len(order)
    figure, axes = plt.subplots(
        1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1.5]}, constrained_layout=True
    )
    axis = axes[0]
    values = width.loc[order, order].to_numpy(float)
    # The diagonal, and an adaptive run's estimated cells (no images to resample), are blank.
    masked = np.ma.masked_where(np.eye(n_models, dtype=bool) | np.isnan(values), values)
    image = axis.imshow(masked, cmap="magma_r", interpolation="nearest")
    fontsize = 5 if n_models > 30 else 7
    axis.set_xticks(range(n_models), order, rotation=90, fontsize=fontsize)
    axis.set_yticks(range(n_models), order, fontsize=fontsize)
    axis.set_xlabel("model (ordered by spectral cluster, as in fig2)")
    colorbar = figure.colorbar(image, ax=axis, shrink=0.8)
    colorbar.set_label("width of the 95 % interval of SAT (ln %; diagonal not shown)")
    axis.set_title("(a) interval width per entry", fontsize=9)

    axis = axes[1]
    ordered = pairs.sort_values("sat").reset_index(drop=True)
    rank = np.arange(len(ordered))
    axis.fill_between(
        rank,
        ordered["sat_ci_low"],
        ordered["sat_ci_high"],
        color="tab:blue",
        alpha=0.3,
        linewidth=0,
        label="95 % bootstrap interval",
    )
    axis.plot(rank, ordered["sat"], color="tab:blue", linewidth=1, label="SAT")
    axis.set_xlabel("model pair, sorted by SAT")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("SAT (ln of transfer rate in %)")
    axis.legend(loc="upper left", frameon=False, fontsize=8)
    axis.grid(alpha=0.3)
    axis.set_title("(b) pairs whose intervals overlap are indistinguishable", fontsize=9)
    figure.suptitle(title, fontsize=10)
    return figure
