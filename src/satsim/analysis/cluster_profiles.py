"""What the spectral clusters are: their members, the component values over-represented in
each, within- vs between-cluster SAT, and how stable the clustering is across seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import hypergeom
from sklearn.metrics import adjusted_rand_score

from satsim.analysis.clusters import spectral_clusters


def cluster_members(sat: pd.DataFrame, clusters: pd.Series) -> pd.DataFrame:
    """One row per cluster: size, members, mean SAT within the cluster (distinct pairs) and
    between its members and every other model."""
    values = sat.to_numpy(dtype=float)
    values = (values + values.T) / 2
    labels = clusters.reindex(sat.index).to_numpy()
    rows = []
    for cluster in sorted(set(labels)):
        inside = labels == cluster
        block = values[np.ix_(inside, inside)]
        off_diagonal = block[~np.eye(len(block), dtype=bool)]
        rows.append(
            {
                "cluster": int(cluster),
                "size": int(inside.sum()),
                "members": ", ".join(sat.index[inside]),
                "mean_sat_within": off_diagonal.mean() if len(off_diagonal) else np.nan,
                "mean_sat_between": values[np.ix_(inside, ~inside)].mean()
                if (~inside).any()
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def overrepresented_values(
    clusters: pd.Series, components: Mapping[str, Mapping[str, str]], columns: Sequence[str]
) -> pd.DataFrame:
    """Component values more frequent in a cluster than among all models.

    For each cluster, component and value held by at least two members (or the only member of a
    singleton cluster): its count, its fraction in the cluster and overall, the enrichment
    (ratio of the two) and the hypergeometric p-value of drawing that many or more. Sorted by
    cluster, then p-value.
    """
    models = list(clusters.index)
    total = len(models)
    rows = []
    for cluster, members in clusters.groupby(clusters).groups.items():
        size = len(members)
        for column in columns:
            overall = pd.Series([components[m][column] for m in models]).value_counts()
            inside = pd.Series([components[m][column] for m in members]).value_counts()
            for value, count in inside.items():
                fraction, base = count / size, overall[value] / total
                if fraction <= base or count < min(2, size):
                    continue
                rows.append(
                    {
                        "cluster": int(cluster),
                        "component": column,
                        "value": value,
                        "count": int(count),
                        "cluster_size": size,
                        "fraction_in_cluster": fraction,
                        "fraction_overall": base,
                        "enrichment": fraction / base,
                        "p_value": float(hypergeom.sf(count - 1, total, overall[value], size)),
                    }
                )
    columns_out = [
        "cluster",
        "component",
        "value",
        "count",
        "cluster_size",
        "fraction_in_cluster",
        "fraction_overall",
        "enrichment",
        "p_value",
    ]
    table = pd.DataFrame(rows, columns=columns_out)
    return table.sort_values(["cluster", "p_value", "component"], ignore_index=True)


def cluster_stability(sat: pd.DataFrame, n_clusters: int, seed: int, n_seeds: int) -> pd.DataFrame:
    """Spectral clustering with seeds ``seed .. seed + n_seeds - 1``: the adjusted Rand index of
    each against the run's own clustering (``seed``) and its mean ARI against all others."""
    labelings = [
        spectral_clusters(sat, n_clusters, s).to_numpy() for s in range(seed, seed + n_seeds)
    ]
    rows = []
    for index, labels in enumerate(labelings):
        others = [
            adjusted_rand_score(labels, other) for k, other in enumerate(labelings) if k != index
        ]
        rows.append(
            {
                "seed": seed + index,
                "ari_vs_run_seed": adjusted_rand_score(labelings[0], labels),
                "mean_ari_vs_other_seeds": float(np.mean(others)) if others else np.nan,
            }
        )
    return pd.DataFrame(rows)
