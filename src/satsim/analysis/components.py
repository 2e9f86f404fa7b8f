"""Which architectural components make two networks similar: pair features, a tree-ensemble
regression of SAT on them with permutation importance, and SAT of pairs that share a component
value against pairs that don't.

The unit of analysis is the unordered pair of distinct models (N(N-1)/2 pairs). Pairs share
models, so they are not independent samples: read p-values as descriptive, not as tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

SHARED = "shares: "  # prefix of the pair-feature columns


def pair_table(
    sat: pd.DataFrame, components: Mapping[str, Mapping[str, str]], columns: Sequence[str]
) -> pd.DataFrame:
    """One row per unordered pair of distinct models.

    Columns: ``model_a``, ``model_b``, ``sat`` (the symmetric SAT), and per component
    ``"shares: <component>"`` (1 if both models have the same value, else 0) plus
    ``"<component> (a)"`` / ``"<component> (b)"`` holding the two values.

    Args:
        sat: the SAT matrix, models x models (natural log), symmetric.
        components: model -> {component column: value}.
    """
    missing = [model for model in sat.index if model not in components]
    if missing:
        raise KeyError(f"no components for {', '.join(missing)}: are they in the registry?")
    values = sat.to_numpy(dtype=float)
    rows = []
    for i, j in combinations(range(len(sat)), 2):
        a, b = sat.index[i], sat.index[j]
        row = {"model_a": a, "model_b": b, "sat": (values[i, j] + values[j, i]) / 2}
        for column in columns:
            value_a, value_b = components[a][column], components[b][column]
            row[SHARED + column] = int(value_a == value_b)
            row[f"{column} (a)"], row[f"{column} (b)"] = value_a, value_b
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class ImportanceResult:
    """``table``: one row per component (importance = mean drop in held-out R² when the
    component's feature is permuted, with its standard deviation over folds x repeats);
    ``r2``: the held-out R² of each fold."""

    table: pd.DataFrame
    r2: np.ndarray

    @property
    def cross_validated(self) -> bool:
        """False when there were too few pairs to cross-validate (``r2`` all NaN)."""
        return not np.isnan(self.r2).all()

    def r2_summary(self) -> tuple[float, float]:
        """Mean and standard deviation of the held-out R² over the folds (NaN, NaN if none)."""
        if not self.cross_validated:
            return np.nan, np.nan
        return np.nanmean(self.r2), np.nanstd(self.r2)

    def table_with_r2(self) -> pd.DataFrame:
        """``table`` with the cross-validated R² (``cv_r2_mean``, ``cv_r2_std``) on every row."""
        r2_mean, r2_std = self.r2_summary()
        return self.table.assign(cv_r2_mean=r2_mean, cv_r2_std=r2_std)

    def describe(self, n_pairs: int) -> str:
        """One line on the fit: its held-out R² per fold, or why there is none."""
        if not self.cross_validated:
            return f"only {n_pairs} model pairs: too few to cross-validate (at least 4 needed)"
        r2_mean, r2_std = self.r2_summary()
        folds = ", ".join(f"{r:.3f}" for r in self.r2)
        return (
            f"random forest on {n_pairs} pairs: cross-validated R² = {r2_mean:.3f} "
            f"± {r2_std:.3f} ({len(self.r2)} folds: {folds})"
        )


def component_importance(
    pairs: pd.DataFrame,
    columns: Sequence[str],
    seed: int,
    folds: int = 5,
    repeats: int = 10,
) -> ImportanceResult:
    """Cross-validated random-forest regression of SAT on the "shares a component" features,
    and the permutation importance of each component on the held-out pairs of each fold.

    Every held-out fold keeps at least 2 pairs (R² needs them), so fewer folds are used for
    small zoos; with fewer than 4 pairs nothing can be estimated and the importances and ``r2``
    are NaN."""
    features = [SHARED + column for column in columns]
    x, y = pairs[features].to_numpy(dtype=float), pairs["sat"].to_numpy(dtype=float)
    folds = min(folds, len(y) // 2)
    if folds < 2:
        nan = np.full(len(columns), np.nan)
        table = pd.DataFrame(
            {
                "component": list(columns),
                "importance": nan,
                "importance_std": nan,
                "share_rate": x.mean(axis=0) if len(x) else nan,
            }
        )
        return ImportanceResult(table, np.array([np.nan]))
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    r2, drops = [], []
    for fold, (train, test) in enumerate(splitter.split(x)):
        forest = RandomForestRegressor(
            n_estimators=100, min_samples_leaf=2, random_state=seed + fold, n_jobs=1
        )
        forest.fit(x[train], y[train])
        r2.append(r2_score(y[test], forest.predict(x[test])))
        result = permutation_importance(
            forest, x[test], y[test], n_repeats=repeats, random_state=seed + fold, scoring="r2"
        )
        drops.append(result.importances)  # (n_features, repeats)
    all_drops = np.concatenate(drops, axis=1)
    table = pd.DataFrame(
        {
            "component": list(columns),
            "importance": all_drops.mean(axis=1),
            "importance_std": all_drops.std(axis=1),
            "share_rate": x.mean(axis=0),
        }
    ).sort_values("importance", ascending=False, ignore_index=True)
    return ImportanceResult(table, np.asarray(r2))


def rank_biserial(shared: np.ndarray, not_shared: np.ndarray) -> tuple[float, float]:
    """Effect size in [-1, 1] (Cliff's delta: P(shared > not) - P(shared < not)) and the
    two-sided Mann-Whitney p-value; NaN when either group is empty."""
    if len(shared) == 0 or len(not_shared) == 0:
        return np.nan, np.nan
    test = mannwhitneyu(shared, not_shared, alternative="two-sided")
    return 2 * test.statistic / (len(shared) * len(not_shared)) - 1, float(test.pvalue)


def shared_component_effects(pairs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per component: SAT of pairs sharing its value vs pairs that don't (counts, medians,
    means, Cliff's delta and a descriptive Mann-Whitney p-value)."""
    rows = []
    for column in columns:
        mask = pairs[SHARED + column].to_numpy() == 1
        shared, other = pairs["sat"][mask].to_numpy(), pairs["sat"][~mask].to_numpy()
        delta, p_value = rank_biserial(shared, other)
        rows.append(
            {
                "component": column,
                "n_shared": int(mask.sum()),
                "n_not_shared": int((~mask).sum()),
                "median_shared": np.median(shared) if len(shared) else np.nan,
                "median_not_shared": np.median(other) if len(other) else np.nan,
                "mean_difference": (shared.mean() - other.mean())
                if len(shared) and len(other)
                else np.nan,
                "cliffs_delta": delta,
                "p_value": p_value,
            }
        )
    return pd.DataFrame(rows)
