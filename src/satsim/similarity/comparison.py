"""SAT next to other similarity measures of the same models: do they rank the pairs alike, how
much of each the 13 shared architectural components explain (fig3's model and folds), and how
each relates to ensemble gain (fig5's model-level bootstrap).

Every measure is an N x N similarity matrix (higher = more similar). SAT goes through exactly
the same functions as the others, so its row reproduces fig3's R² and fig5's Spearman ρ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from satsim.analysis.components import component_importance, pair_table
from satsim.analysis.ensembles import spearman_with_ci


def pair_values(measures: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per unordered pair of distinct models (model_a, model_b, in the first matrix's
    model order) and one column per measure: the symmetrised value ``(m[a, b] + m[b, a]) / 2``."""
    names = list(measures)
    models = list(measures[names[0]].index)
    upper_a, upper_b = np.triu_indices(len(models), k=1)
    table = pd.DataFrame(
        {"model_a": [models[i] for i in upper_a], "model_b": [models[j] for j in upper_b]}
    )
    for name, matrix in measures.items():
        values = matrix.loc[models, models].to_numpy(float)
        table[name] = (values[upper_a, upper_b] + values[upper_b, upper_a]) / 2
    return table


def rank_correlations(pairs: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """Spearman ρ between every two measures over the model pairs (measures x measures)."""
    rho = np.eye(len(measures))
    for i, first in enumerate(measures):
        for j in range(i + 1, len(measures)):
            rho[i, j] = rho[j, i] = spearmanr(pairs[first], pairs[measures[j]]).statistic
    return pd.DataFrame(rho, index=list(measures), columns=list(measures))


def measure_summary(
    measures: Mapping[str, pd.DataFrame],
    components: Mapping[str, Mapping[str, str]],
    columns: Sequence[str],
    ensemble_pairs: pd.DataFrame,
    seed: int,
    folds: int,
    repeats: int,
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Per measure (rows, in the given order):

    - ``r2_mean``, ``r2_std``: held-out R² of the random forest that predicts the measure from
      the pairs' shared-component features (:func:`satsim.analysis.components.component_importance`
      with the same seed, folds and repeats as fig3, so the same pairs fall in the same folds);
    - ``ensemble_spearman``, ``ensemble_ci_low``, ``ensemble_ci_high``: Spearman ρ of the
      measure with the pair-ensemble gain over the members' mean, with the model-level bootstrap
      interval of :func:`satsim.analysis.ensembles.spearman_with_ci`.
    """
    gains = ensemble_pairs.set_index(["model_a", "model_b"])["gain_over_mean"]
    rows = {}
    for name, matrix in measures.items():
        table = pair_table(matrix, components, columns)  # its "sat" column holds the measure
        r2 = component_importance(table, columns, seed, folds, repeats).r2
        pairs = table[["model_a", "model_b", "sat"]].copy()
        pairs["gain_over_mean"] = [
            gains.get((a, b), gains.get((b, a), np.nan))
            for a, b in zip(pairs["model_a"], pairs["model_b"], strict=True)
        ]
        ensemble = spearman_with_ci(pairs.dropna(), "gain_over_mean", seed, n_boot)
        rows[name] = {
            "r2_mean": float(np.nanmean(r2)) if not np.isnan(r2).all() else np.nan,
            "r2_std": float(np.nanstd(r2)) if not np.isnan(r2).all() else np.nan,
            "ensemble_spearman": ensemble["spearman"],
            "ensemble_ci_low": ensemble["ci_low"],
            "ensemble_ci_high": ensemble["ci_high"],
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")
