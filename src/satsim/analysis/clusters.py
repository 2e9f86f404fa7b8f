"""Spectral clusters and a t-SNE embedding of models from their SAT matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import SpectralClustering
from sklearn.manifold import TSNE
from threadpoolctl import threadpool_limits  # a scikit-learn dependency


def affinity_from_sat(sat: pd.DataFrame) -> np.ndarray:
    """Symmetric, non-negative affinity: the transfer rate as a fraction, exp(SAT) / 100."""
    values = np.exp(sat.to_numpy(dtype=float)) / 100.0
    return (values + values.T) / 2.0


def distance_from_sat(sat: pd.DataFrame) -> np.ndarray:
    """Dissimilarity for t-SNE: how far each pair's SAT falls below the highest SAT of the
    matrix (zero on the diagonal, non-negative, symmetric)."""
    values = sat.to_numpy(dtype=float)
    values = (values + values.T) / 2.0
    distance = np.nanmax(values) - values
    np.fill_diagonal(distance, 0.0)
    return np.clip(distance, 0.0, None)


def spectral_clusters(sat: pd.DataFrame, n_clusters: int, seed: int) -> pd.Series:
    """Cluster number per model, 1 .. n_clusters, numbered by first appearance in ``sat``.

    These numbers are the ones every output uses: clusters.csv, the cluster tables, fig1's
    legend, fig2's cluster strip, the notebook."""
    n_models = len(sat)
    if not 2 <= n_clusters <= n_models:
        raise ValueError(
            f"analysis.n_clusters = {n_clusters} must be between 2 and the number of models "
            f"({n_models})"
        )
    model = SpectralClustering(
        n_clusters=n_clusters,
        affinity="precomputed",
        random_state=seed,
        assign_labels="kmeans",
        n_init=10,
    )
    raw = model.fit_predict(affinity_from_sat(sat))
    # Stable numbering: cluster 1 holds the first model, and so on.
    renumber = {label: index for index, label in enumerate(dict.fromkeys(raw), start=1)}
    return pd.Series([renumber[label] for label in raw], index=sat.index, name="cluster")


def tsne_embedding(sat: pd.DataFrame, perplexity: float, seed: int) -> pd.DataFrame:
    """2-D t-SNE of the models from :func:`distance_from_sat`; columns ``x`` and ``y``.

    The perplexity is capped below the number of models (t-SNE requires it)."""
    n_models = len(sat)
    perplexity = min(float(perplexity), max(1.0, (n_models - 1) / 3.0))
    tsne = TSNE(
        n_components=2,
        metric="precomputed",
        init="random",
        random_state=seed,
        perplexity=perplexity,
    )
    # One OpenMP thread: for tens of models threads only add overhead, and on a busy machine
    # (parallel Snakemake jobs) their spin-waiting made t-SNE of 69 models take 10 s, not 0.2 s.
    # The embedding is the same either way.
    with threadpool_limits(limits=1, user_api="openmp"):
        coords = tsne.fit_transform(distance_from_sat(sat))
    return pd.DataFrame(coords, index=sat.index, columns=["x", "y"])
