"""SAT with error bars, from one run: every entry's bootstrap interval over the eval images, how
stable the clusters are under that resampling, and how the matrix converges as images are added
(the stage ``sat_uncertainty``; fig7 and fig8). Built on :mod:`satsim.similarity.bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from satsim.similarity.bootstrap import (
    PairOutcomes,
    cluster_stability,
    images_needed_curve,
    rate_bootstrap,
    rates_from_weights,
    sat_bootstrap,
    sat_from_weights,
    sat_intervals,
)

LEVEL = 0.95
SPEARMAN_TARGET = 0.95  # "stable enough": the subset matrix ranks the pairs like the full one
SUBSET_FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def default_subset_sizes(n_images: int, minimum: int = 10) -> list[int]:
    """The images-needed grid: 5 % to 100 % of the eval set (at least ``minimum`` images, and
    never more than the eval set: a set smaller than ``minimum`` gets itself only)."""
    sizes = {min(n_images, max(minimum, round(n_images * f))) for f in SUBSET_FRACTIONS}
    return sorted(sizes | {n_images})


@dataclass
class Uncertainty:
    """``intervals``: one row per pair of distinct models (model_a, model_b, sat,
    sat_ci_low, sat_ci_high, sat_ci_width in ln %, transfer_rate, rate_ci_low, rate_ci_high in
    %); ``width``: the N x N matrix of SAT interval widths (diagonal included); ``cluster_ari``:
    the adjusted Rand index of each re-clustered resample against the run's clusters;
    ``curve``: the images-needed curve (n_images, spearman, median_ci_width, ari)."""

    intervals: pd.DataFrame
    width: pd.DataFrame
    cluster_ari: pd.DataFrame
    curve: pd.DataFrame

    def images_for_spearman(self, target: float = SPEARMAN_TARGET) -> int | None:
        return images_for_spearman(self.curve, target)


def images_for_spearman(curve: pd.DataFrame, target: float = SPEARMAN_TARGET) -> int | None:
    """The fewest images on the images-needed ``curve`` from which on the subset matrix keeps a
    Spearman ρ ≥ ``target`` with the full one (None if the curve never reaches it)."""
    passing = curve["spearman"].to_numpy() >= target
    if not len(passing) or not passing[-1]:
        return None
    first = len(passing) - 1
    while first > 0 and passing[first - 1]:
        first -= 1
    return int(curve["n_images"].iloc[first])


def sat_uncertainty(
    outcomes: PairOutcomes,
    eps_s: float,
    clusters: pd.Series,
    n_clusters: int,
    seed: int,
    n_boot: int,
    cluster_boot: int,
    subset_sizes: Sequence[int],
    subset_boot: int,
    fill: np.ndarray | None = None,
) -> Uncertainty:
    """Bootstrap intervals (``n_boot`` resamples of the images, seeded), cluster stability (the
    first ``cluster_boot`` of those resamples, clustered as the run's ``clusters`` were:
    spectral, ``n_clusters``, ``seed``) and the images-needed curve (``subset_sizes``, or the
    default grid when empty; ``subset_boot`` resamples per subset).

    An adaptive run passes the ``outcomes`` of its measured cells and its estimate as ``fill``:
    the intervals and the curve's Spearman and widths cover the measured pairs only (estimated
    cells have no images to resample), and the clusterings complete each resample with it."""
    models = list(outcomes.models)
    unit = np.ones((1, outcomes.n_images), dtype=np.int64)
    point = sat_from_weights(outcomes, unit, eps_s)[0]  # equals sat_matrix's, bit for bit
    rate_point = rates_from_weights(outcomes, unit)[0][0]
    replicates = sat_bootstrap(outcomes, eps_s, n_boot, seed)
    low, high = sat_intervals(replicates, LEVEL)
    rates, _ = rate_bootstrap(outcomes, n_boot, seed)
    rate_low, rate_high = sat_intervals(rates, LEVEL)
    upper_a, upper_b = np.triu_indices(len(models), k=1)
    measured = ~np.isnan(point[upper_a, upper_b])
    upper_a, upper_b = upper_a[measured], upper_b[measured]
    intervals = pd.DataFrame(
        {
            "model_a": [models[i] for i in upper_a],
            "model_b": [models[j] for j in upper_b],
            "sat": point[upper_a, upper_b],
            "sat_ci_low": low[upper_a, upper_b],
            "sat_ci_high": high[upper_a, upper_b],
            "sat_ci_width": (high - low)[upper_a, upper_b],
            "transfer_rate": rate_point[upper_a, upper_b],
            "rate_ci_low": rate_low[upper_a, upper_b],
            "rate_ci_high": rate_high[upper_a, upper_b],
        }
    )
    width = pd.DataFrame(high - low, index=pd.Index(models, name="model"), columns=models)
    ari = cluster_stability(
        replicates[:cluster_boot], clusters.reindex(models), n_clusters, seed, fill
    )
    cluster_ari = pd.DataFrame({"resample": np.arange(len(ari)), "ari": ari})
    sizes = list(subset_sizes) or default_subset_sizes(outcomes.n_images)
    sizes = sorted({int(n) for n in sizes})  # too large: refused, never clamped
    curve = images_needed_curve(outcomes, eps_s, sizes, seed, subset_boot, n_clusters, LEVEL, fill)
    return Uncertainty(intervals, width, cluster_ari, curve)
