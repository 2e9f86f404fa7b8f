"""Does diversity pay? Ensembles of models built from the clean predictions each model already
made (no new forward passes), set against SAT.

An ensemble averages its members' softmax outputs and predicts the arg-max. Its gain is its
accuracy minus the mean (or the best) of its members' accuracies. Accuracies are fractions in
[0, 1], as everywhere in satsim, so a gain of 0.01 is one percentage point.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from safetensors import safe_open
from scipy.special import softmax
from scipy.stats import spearmanr


def load_probabilities(
    eval_path: str | os.PathLike, clean: Mapping[str, str | os.PathLike]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The eval ``labels`` (N,) and, per model, the softmax (N, C) float64 of its clean logits
    (``clean``: model -> its clean-predictions file). Read with numpy only: no torch needed.

    Raises:
        ValueError: a model's logits are not one row per eval image.
    """
    labels = _read_array(eval_path, "labels")
    probabilities = {}
    for model, path in clean.items():
        logits = _read_array(path, "logits")
        if logits.ndim != 2 or len(logits) != len(labels):
            raise ValueError(
                f"{path}: logits of shape {logits.shape} for {len(labels)} eval images in "
                f"{eval_path}; rerun the clean predictions of {model!r}"
            )
        probabilities[model] = softmax(logits.astype("float64"), axis=1)
    return labels, probabilities


def _read_array(path: str | os.PathLike, name: str) -> np.ndarray:
    with safe_open(str(path), framework="numpy") as handle:
        return handle.get_tensor(name)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in [0, 1] of (N, C) class scores."""
    return float((probabilities.argmax(axis=1) == labels).mean())


def ensemble_accuracy(probabilities: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """Accuracy in [0, 1] of the arg-max of the mean of the members' (N, C) probabilities."""
    return accuracy(np.mean(probabilities, axis=0), labels)


def pair_ensembles(
    probabilities: Mapping[str, np.ndarray],
    labels: np.ndarray,
    sat: pd.DataFrame,
    families: Mapping[str, str],
    max_pairs: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per model pair (all, or a seeded sample of ``max_pairs``): both accuracies, the
    ensemble's, its gain over the members' mean and over the better member, SAT, and whether the
    two share a base-architecture family. Accuracies and gains are fractions."""
    models = list(sat.index)
    accuracies = {m: accuracy(probabilities[m], labels) for m in models}
    pairs = list(combinations(models, 2))
    if 0 < max_pairs < len(pairs):
        chosen = np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False)
        pairs = [pairs[i] for i in sorted(chosen)]
    rows = []
    for a, b in pairs:
        both = ensemble_accuracy([probabilities[a], probabilities[b]], labels)
        rows.append(
            {
                "model_a": a,
                "model_b": b,
                "sat": (sat.loc[a, b] + sat.loc[b, a]) / 2,
                "accuracy_a": accuracies[a],
                "accuracy_b": accuracies[b],
                "ensemble_accuracy": both,
                "gain_over_mean": both - (accuracies[a] + accuracies[b]) / 2,
                "gain_over_best": both - max(accuracies[a], accuracies[b]),
                "same_family": families[a] == families[b],
            }
        )
    return pd.DataFrame(rows)


def spearman_with_ci(
    pairs: pd.DataFrame, column: str, seed: int, n_boot: int = 1000, level: float = 0.95
) -> dict[str, float]:
    """Spearman correlation of SAT with ``column`` over the pairs, and a model-level bootstrap
    confidence interval: resample the models with replacement and recompute over the pairs among
    the distinct models drawn (pairs share models, so resampling pairs would be too optimistic)."""
    n_pairs = len(pairs)
    if n_pairs < 3:
        return {"spearman": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_pairs": n_pairs}
    rho = float(spearmanr(pairs["sat"], pairs[column]).statistic)
    models = np.array(sorted(set(pairs["model_a"]) | set(pairs["model_b"])))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        drawn = set(rng.choice(models, size=len(models), replace=True))
        inside = pairs[pairs["model_a"].isin(drawn) & pairs["model_b"].isin(drawn)]
        if len(inside) >= 3 and inside["sat"].nunique() > 1 and inside[column].nunique() > 1:
            draws.append(spearmanr(inside["sat"], inside[column]).statistic)
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if draws else (np.nan, np.nan)
    return {"spearman": rho, "ci_low": float(low), "ci_high": float(high), "n_pairs": n_pairs}


GAINS = ("gain_over_mean", "gain_over_best")


def gain_correlations(pairs: pd.DataFrame, seed: int, n_boot: int = 1000) -> pd.DataFrame:
    """:func:`spearman_with_ci` of SAT with each gain (:data:`GAINS`), over all pairs and over
    the pairs of the same and of different base architecture: one row per (pairs, gain)."""
    same = pairs["same_family"]
    rows = []
    for subset, mask in (
        ("all pairs", same | ~same),
        ("same base architecture", same),
        ("different base architecture", ~same),
    ):
        for column in GAINS:
            stats = spearman_with_ci(pairs[mask], column, seed, n_boot)
            rows.append({"pairs": subset, "gain": column, **stats})
    return pd.DataFrame(rows)


def partner_gains(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per model: the ensemble gain (over the members' mean) with its most similar partner (the
    highest SAT) and with its least similar partner (the lowest SAT), among the pairs given."""
    long = pd.concat(
        [
            pairs.rename(columns={"model_a": "model", "model_b": "partner"}),
            pairs.rename(columns={"model_b": "model", "model_a": "partner"}),
        ]
    )
    rows = []
    for model, group in long.groupby("model", sort=False):
        most, least = group.loc[group["sat"].idxmax()], group.loc[group["sat"].idxmin()]
        rows.append(
            {
                "model": model,
                "most_similar": most["partner"],
                "sat_most_similar": most["sat"],
                "gain_most_similar": most["gain_over_mean"],
                "least_similar": least["partner"],
                "sat_least_similar": least["sat"],
                "gain_least_similar": least["gain_over_mean"],
            }
        )
    return pd.DataFrame(rows)


WITHIN, ACROSS = "within one cluster", "across clusters"


def draw_members(
    rng: np.random.Generator, by_cluster: Mapping[int, list[str]], k: int, how: str
) -> list[str] | None:
    """``k`` distinct models from one cluster (``WITHIN``: a cluster with at least ``k``
    members, chosen at random) or from ``k`` different clusters (``ACROSS``); None if the
    clustering has no such set."""
    if how == WITHIN:
        big_enough = [c for c, members in by_cluster.items() if len(members) >= k]
        if not big_enough:
            return None
        cluster = big_enough[rng.integers(len(big_enough))]
        return [str(m) for m in rng.choice(by_cluster[cluster], k, replace=False)]
    if len(by_cluster) < k:
        return None
    chosen = rng.choice(list(by_cluster), k, replace=False)
    return [str(rng.choice(by_cluster[c])) for c in chosen]


def cluster_ensembles(
    probabilities: Mapping[str, np.ndarray],
    labels: np.ndarray,
    clusters: pd.Series,
    sizes: Sequence[int],
    samples: int,
    seed: int,
) -> pd.DataFrame:
    """k-model ensembles drawn (seeded) from one cluster or with every member from a different
    cluster; one row per drawn ensemble: k, how it was drawn, members, accuracy, gain over the
    members' mean accuracy (fractions)."""
    rng = np.random.default_rng(seed)
    by_cluster = {c: list(members) for c, members in clusters.groupby(clusters).groups.items()}
    accuracies = {m: accuracy(p, labels) for m, p in probabilities.items()}
    rows = []
    for k in sizes:
        for how in (WITHIN, ACROSS):
            for _ in range(samples):
                members = draw_members(rng, by_cluster, k, how)
                if members is None:
                    break
                both = ensemble_accuracy([probabilities[m] for m in members], labels)
                rows.append(
                    {
                        "k": k,
                        "drawn": how,
                        "members": ", ".join(sorted(members)),
                        "ensemble_accuracy": both,
                        "gain_over_mean": both - float(np.mean([accuracies[m] for m in members])),
                    }
                )
    columns = ["k", "drawn", "members", "ensemble_accuracy", "gain_over_mean"]
    return pd.DataFrame(rows, columns=columns)
