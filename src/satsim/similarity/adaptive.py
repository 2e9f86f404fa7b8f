"""The adaptive pair strategy on arrays, and its replay on a complete SAT matrix.

The strategy measures every model against k landmark models (both directions), then, per
round, each model against the m partners the current estimate predicts it to be most similar
to and not yet measured, and estimates every unmeasured cell
(:func:`satsim.similarity.completion.estimate_matrix`). Replaying it on a complete matrix (the
paper's, or the authors' released one) measures how much is lost by measuring fewer pairs:
only the cells the strategy would have measured are read, the rest are estimated and compared
with the truth, next to soft-impute run through the same strategy and next to the estimator's
own estimate of its error, made without the truth.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score

from satsim.analysis.clusters import spectral_clusters
from satsim.similarity.completion import (
    Z_95,
    MatrixEstimate,
    _top_partners,
    estimate_matrix,
    estimate_with_error,
    soft_impute,
)
from satsim.similarity.pair_strategy import choose_landmarks

TABLE_COLUMNS = [
    "k",
    "m",
    "rounds",
    "fraction_measured",
    "spearman_unmeasured",
    "mae_unmeasured",
    "cluster_ari",
    "baseline_spearman_unmeasured",
    "baseline_mae_unmeasured",
    "baseline_cluster_ari",
    "estimated_spearman",
    "estimated_mae",
    "coverage_unmeasured",
]


def next_pairs(estimate: np.ndarray, measured: np.ndarray, m: int) -> np.ndarray:
    """The cells a round measures next.

    Args:
        estimate: (N, N) current SAT estimate (ln %); only its unmeasured cells are read.
        measured: (N, N) bool, True where measured (symmetric).
        m: partners per model.

    Returns:
        (N, N) bool, symmetric: for each model, its ``m`` highest-estimate unmeasured partners
        (ties broken by the lower index), united over models; never a measured cell or the
        diagonal.
    """
    estimate = np.asarray(estimate, dtype=float)
    measured = np.asarray(measured, dtype=bool)
    if estimate.shape != measured.shape or estimate.ndim != 2:
        raise ValueError("estimate and measured must be (N, N) arrays of the same shape")
    if m < 0:
        raise ValueError(f"m = {m} must be at least 0")
    return _top_partners(estimate, measured, m)


@dataclass(frozen=True)
class ReplayResult:
    """One replay of the adaptive strategy on a complete matrix.

    Attributes:
        names: the N models, in the order of the matrix.
        landmarks: the landmark models.
        measured: (N, N) bool, the cells the strategy measured.
        estimate: the estimate from those cells (values, std, measured).
        baseline_measured: (N, N) bool, the cells measured with soft-impute choosing partners.
        baseline_values: (N, N) soft-impute's estimate from those cells.
        metrics: ``k, m, rounds, fraction_measured`` (of the N(N-1)/2 off-diagonal pairs),
            ``spearman_unmeasured, mae_unmeasured, coverage_unmeasured`` (of the +-1.96 std
            bars), ``cluster_ari`` (spectral clusters of the estimate vs of the full matrix),
            the same for the baseline (``baseline_...``, with ``baseline_fraction_measured``),
            and the estimator's own, truth-free estimate of its error (``estimated_spearman,
            estimated_mae, estimated_coverage, estimated_cluster_ari, estimated_cells``).
    """

    names: list[str]
    landmarks: list[str]
    measured: np.ndarray
    estimate: MatrixEstimate
    baseline_measured: np.ndarray
    baseline_values: np.ndarray
    metrics: dict[str, float]

    def row(self) -> dict[str, float]:
        """The metrics of :data:`TABLE_COLUMNS`, in that order."""
        return {column: self.metrics[column] for column in TABLE_COLUMNS}


def _checked_full(full: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Model names and the (N, N) values of a complete, symmetric SAT DataFrame (averaged with
    its transpose, so that one symmetric to within 1e-6, e.g. rounded apart, becomes exactly
    symmetric; an exactly symmetric one keeps every bit)."""
    names = [str(name) for name in full.index]
    if [str(c) for c in full.columns] != names:
        raise ValueError("full: the rows and columns must name the same models in one order")
    values = full.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("full: every cell must be a finite SAT value (a complete matrix)")
    if not np.allclose(values, values.T, atol=1e-6):
        raise ValueError("full: SAT matrices are symmetric")
    return names, (values + values.T) / 2.0


def _feature_array(features, names: list[str]) -> np.ndarray | None:
    """Features as an (N, F) array in the order of ``names`` (a DataFrame is aligned by name)."""
    if features is None:
        return None
    if isinstance(features, pd.DataFrame):
        missing = [name for name in names if name not in features.index]
        if missing:
            raise ValueError(f"features: no row for model {missing[0]!r}")
        frame = features.loc[names]
        if not all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
            frame = pd.get_dummies(frame.astype(str))
        return frame.to_numpy(dtype=float)
    return np.asarray(features, dtype=float)


def _run_strategy(
    values: np.ndarray,
    landmarks: list[int],
    m: int,
    rounds: int,
    estimator: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The cells the strategy measures: landmarks, then ``rounds`` rounds of partners picked
    by ``estimator`` (observed matrix with NaN -> estimate)."""
    n = len(values)
    measured = np.eye(n, dtype=bool)
    measured[landmarks, :] = True
    measured[:, landmarks] = True
    for _ in range(rounds):
        estimate = estimator(np.where(measured, values, np.nan))
        measured |= next_pairs(estimate, measured, m)
    return measured


def _scores(values, estimate, measured, names, n_clusters, seed, reference) -> dict[str, float]:
    """Spearman and MAE over the unmeasured off-diagonal cells and the clusters' ARI."""
    upper = np.triu(~measured, 1)
    truth, guess = values[upper], estimate[upper]
    frame = pd.DataFrame(estimate, index=names, columns=names)
    return {
        "spearman": float(spearmanr(truth, guess)[0]) if len(truth) > 2 else math.nan,
        "mae": float(np.mean(np.abs(truth - guess))) if len(truth) else math.nan,
        "ari": float(adjusted_rand_score(reference, spectral_clusters(frame, n_clusters, seed))),
    }


def _fraction(measured: np.ndarray) -> float:
    """Share of the N(N-1)/2 off-diagonal pairs measured."""
    n = len(measured)
    return float(np.triu(measured, 1).sum() / (n * (n - 1) / 2))


def replay_adaptive(
    full: pd.DataFrame,
    k: int | Sequence[str],
    m: int,
    rounds: int = 1,
    n_clusters: int = 10,
    families: Mapping[str, str] | None = None,
    features: pd.DataFrame | np.ndarray | None = None,
    seed: int = 0,
) -> ReplayResult:
    """Replay the adaptive strategy on a complete SAT matrix.

    Args:
        full: (N, N) complete symmetric SAT (ln %), rows and columns the same model names; e.g.
            the authors' release via :func:`satsim.similarity.released.read_released`.
        k: landmark count, or the landmark names
            (:func:`satsim.similarity.pair_strategy.choose_landmarks`, model order of ``full``).
        m: partners per model and round.
        rounds: rounds of partner picking.
        n_clusters: spectral clusters compared by ``cluster_ari``.
        families: model -> family (base architecture) for the landmark choice; None: each
            model its own family.
        features: optional side information per model: an (N, F) array in the order of
            ``full``, or a DataFrame indexed by model (categorical columns are one-hot encoded).
        seed: seeds the estimators and the clustering.

    Returns:
        :class:`ReplayResult`.
    """
    names, values = _checked_full(full)
    chosen = choose_landmarks(names, families or {}, k)
    landmarks = [names.index(name) for name in chosen]
    feature_array = _feature_array(features, names)

    def adaptive_guess(observed):
        return estimate_matrix(
            observed, landmarks, feature_array, seed, neighbours=m, calibrate=False
        ).values

    measured = _run_strategy(values, landmarks, m, rounds, adaptive_guess)
    observed = np.where(measured, values, np.nan)
    estimate, cv = _estimate_and_error(
        observed, landmarks, feature_array, seed, m, rounds, n_clusters
    )

    def baseline_guess(observed):
        return soft_impute(observed, seed=seed)

    baseline_measured = _run_strategy(values, landmarks, m, rounds, baseline_guess)
    baseline_values = soft_impute(np.where(baseline_measured, values, np.nan), seed=seed)

    reference = spectral_clusters(full, n_clusters, seed)
    ours = _scores(values, estimate.values, measured, names, n_clusters, seed, reference)
    theirs = _scores(values, baseline_values, baseline_measured, names, n_clusters, seed, reference)
    upper = np.triu(~measured, 1)
    inside = np.abs(values - estimate.values) <= Z_95 * estimate.std
    metrics = {
        "k": len(landmarks),
        "m": m,
        "rounds": rounds,
        "fraction_measured": _fraction(measured),
        "spearman_unmeasured": ours["spearman"],
        "mae_unmeasured": ours["mae"],
        "coverage_unmeasured": float(inside[upper].mean()) if upper.any() else math.nan,
        "cluster_ari": ours["ari"],
        "baseline_fraction_measured": _fraction(baseline_measured),
        "baseline_spearman_unmeasured": theirs["spearman"],
        "baseline_mae_unmeasured": theirs["mae"],
        "baseline_cluster_ari": theirs["ari"],
        **cv,
    }
    return ReplayResult(
        names, chosen, measured, estimate, baseline_measured, baseline_values, metrics
    )


def _estimate_and_error(observed, landmarks, features, seed, m, rounds, n_clusters):
    """The estimate and the estimator's truth-free estimate of its error (NaN with fewer than
    two landmarks), from the same refits."""
    if len(landmarks) < 2:
        estimate = estimate_matrix(observed, landmarks, features, seed, neighbours=m, rounds=rounds)
        nan = math.nan
        return estimate, {
            "estimated_spearman": nan,
            "estimated_mae": nan,
            "estimated_coverage": nan,
            "estimated_cluster_ari": nan,
            "estimated_cells": 0,
        }
    estimate, error = estimate_with_error(
        observed, landmarks, features, seed, neighbours=m, rounds=rounds, n_clusters=n_clusters
    )
    return estimate, {
        "estimated_spearman": error.spearman,
        "estimated_mae": error.mae,
        "estimated_coverage": error.coverage,
        "estimated_cluster_ari": error.cluster_ari,
        "estimated_cells": error.n_cells,
    }


def replay_table(
    full: pd.DataFrame,
    grid: Sequence[tuple[int, int]],
    rounds: int = 1,
    n_clusters: int = 10,
    families: Mapping[str, str] | None = None,
    seed: int = 0,
    features: pd.DataFrame | np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`replay_adaptive` for each (k, m) of ``grid``: one row each, columns
    :data:`TABLE_COLUMNS`.

    Grid points that leave nothing to estimate are skipped: k > N, or so many landmarks and
    partners that every pair is measured (N - k - 1 <= m x rounds, or a replay that measured
    everything). ``table.attrs["skipped"]`` lists them as (k, m, reason).
    """
    n = len(full)
    rows, skipped = [], []
    for k, m in grid:
        if k > n:
            skipped.append((k, m, f"k = {k} > N = {n} models"))
            continue
        if n - k - 1 <= m * rounds:
            skipped.append((k, m, "every pair would be measured"))
            continue
        result = replay_adaptive(full, k, m, rounds, n_clusters, families, features, seed)
        if result.metrics["fraction_measured"] >= 1.0:
            skipped.append((k, m, "every pair was measured"))
            continue
        rows.append(result.row())
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table.attrs["skipped"] = skipped
    return table
