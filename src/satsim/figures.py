"""The project's figures (numbering in DESIGN.md): fig1 t-SNE by cluster, fig2 SAT heatmap."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from satsim.atomic import atomic_path  # noqa: E402

# Fixed metadata keeps PDF bytes reproducible (no creation date).
_PDF_METADATA = {"CreationDate": None, "Creator": "satsim", "Producer": None}


def save_figure(figure: Figure, pdf_path: str | Path, png_path: str | Path) -> None:
    """Write a vector PDF and a PNG, each atomically."""
    with atomic_path(pdf_path) as tmp:
        figure.savefig(tmp, format="pdf", metadata=_PDF_METADATA, bbox_inches="tight")
    with atomic_path(png_path) as tmp:
        figure.savefig(
            tmp, format="png", dpi=200, bbox_inches="tight", metadata={"Software": "satsim"}
        )
    plt.close(figure)


def _cluster_colors(n_clusters: int) -> list:
    cmap = plt.get_cmap("tab10" if n_clusters <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n_clusters)]


def fig1_tsne(embedding: pd.DataFrame, clusters: pd.Series, title: str) -> Figure:
    """t-SNE of the models from SAT, coloured by spectral cluster, each point labelled."""
    n_clusters = int(clusters.max()) + 1
    colors = _cluster_colors(n_clusters)
    size = 5.0 + 0.06 * len(embedding)
    figure, axis = plt.subplots(figsize=(size, size * 0.8))
    for cluster in range(n_clusters):
        members = clusters.index[clusters == cluster]
        axis.scatter(
            embedding.loc[members, "x"],
            embedding.loc[members, "y"],
            s=45,
            color=colors[cluster],
            edgecolor="black",
            linewidth=0.4,
            label=f"cluster {cluster + 1}",
            zorder=3,
        )
    for model, row in embedding.iterrows():
        axis.annotate(
            model, (row["x"], row["y"]), xytext=(4, 3), textcoords="offset points", fontsize=7
        )
    axis.set_xlabel("t-SNE dimension 1 (arbitrary units)")
    axis.set_ylabel("t-SNE dimension 2 (arbitrary units)")
    axis.set_title(title)
    axis.legend(
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        frameon=False,
        fontsize=8,
        title="spectral cluster",
    )
    axis.grid(alpha=0.3)
    return figure


def fig2_heatmap(sat: pd.DataFrame, clusters: pd.Series, title: str) -> Figure:
    """The SAT matrix ordered by cluster, with cluster boundaries drawn."""
    order = clusters.sort_values(kind="stable").index
    ordered = sat.loc[order, order]
    n_models = len(order)
    size = 4.0 + 0.16 * n_models
    figure, axis = plt.subplots(figsize=(size + 1.2, size))
    image = axis.imshow(ordered.to_numpy(dtype=float), cmap="viridis", interpolation="nearest")
    colorbar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    colorbar.set_label("SAT = ln(transfer rate in %)")
    boundaries = np.flatnonzero(np.diff(clusters.loc[order].to_numpy())) + 0.5
    for boundary in boundaries:
        axis.axhline(boundary, color="white", linewidth=1.2)
        axis.axvline(boundary, color="white", linewidth=1.2)
    fontsize = max(4, min(8, int(500 / max(n_models, 1) / 4)))
    axis.set_xticks(range(n_models), order, rotation=90, fontsize=fontsize)
    axis.set_yticks(range(n_models), order, fontsize=fontsize)
    axis.set_xlabel("model (ordered by spectral cluster)")
    axis.set_ylabel("model (ordered by spectral cluster)")
    axis.set_title(title)
    return figure
