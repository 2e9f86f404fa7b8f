"""Bootstrap of the SAT matrix over eval images: exact recounting, interval coverage on planted
transfer rates, cluster stability and the images-needed curve."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from satsim.analysis.clusters import spectral_clusters
from satsim.similarity.bootstrap import (
    bootstrap_weights,
    cluster_stability,
    images_needed_curve,
    nested_subsets,
    pair_outcomes,
    rate_bootstrap,
    rates_from_weights,
    sat_bootstrap,
    sat_from_weights,
    sat_intervals,
)
from satsim.similarity.sat import sat_matrix

N_CLASSES = 10


def _run(correct: np.ndarray, fooled: np.ndarray, rng, extra: int = 0):
    """sat_matrix's inputs from planted outcomes: ``correct`` (M, n) clean correctness,
    ``fooled`` (M, M, n) whether source's adversarial image fools target. ``extra`` adds that
    many wrongly classified images to each adversarial set (allowed; outside every X_AB)."""
    n_models, n_images = correct.shape
    models = [f"m{i}" for i in range(n_models)]
    labels = rng.integers(0, N_CLASSES, n_images)
    wrong = (labels + 1 + rng.integers(0, N_CLASSES - 1, n_images)) % N_CLASSES
    clean_pred = {m: np.where(correct[i], labels, wrong) for i, m in enumerate(models)}
    adv_index, transfer_pred = {}, {}
    for s, source in enumerate(models):
        index = np.flatnonzero(correct[s])
        misses = np.flatnonzero(~correct[s])
        index = np.sort(np.concatenate([index, misses[:extra]]))
        adv_index[source] = index
        for t, target in enumerate(models):
            transfer_pred[(source, target)] = np.where(
                fooled[s, t, index], wrong[index], labels[index]
            )
    return labels, clean_pred, adv_index, transfer_pred


def _planted(rng, n_images, accuracy, fool_prob):
    accuracy, fool_prob = np.asarray(accuracy), np.asarray(fool_prob)
    correct = rng.random((len(accuracy), n_images)) < accuracy[:, None]
    fooled = rng.random((*fool_prob.shape, n_images)) < fool_prob[:, :, None]
    return correct, fooled


def test_unit_weights_reproduce_sat_matrix_exactly():
    rng = np.random.default_rng(0)
    n_models, n_images = 6, 80
    correct, fooled = _planted(
        rng, n_images, rng.uniform(0.5, 0.95, n_models), rng.uniform(0, 1, (6, 6))
    )
    # Models m4 and m5 share no correct image: an empty X_AB, floored at ln(eps_s).
    correct[4] = np.arange(n_images) < 10
    correct[5] = np.arange(n_images) >= 70
    fooled[1, 2] = False  # a pair with no transfer one way
    inputs = _run(correct, fooled, rng, extra=3)
    eps_s = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the empty pair's warning
        result = sat_matrix(*inputs, eps_s=eps_s)
    outcomes = pair_outcomes(*inputs)
    assert outcomes.models == tuple(result.sat.index)
    assert outcomes.in_common.shape == (n_images, n_models * (n_models + 1) // 2)
    ones = np.ones((1, n_images))
    np.testing.assert_array_equal(sat_from_weights(outcomes, ones, eps_s)[0], result.sat)
    rate, directional = rates_from_weights(outcomes, ones)
    np.testing.assert_array_equal(rate[0], result.transfer_rate)
    np.testing.assert_array_equal(directional[0], result.directional_rate)
    assert result.n_common.loc["m4", "m5"] == 0  # the floor case is really exercised
    # Weight 2 on every image is the same matrix; weight 0 on one image drops it.
    np.testing.assert_array_equal(sat_from_weights(outcomes, 2 * ones, eps_s)[0], result.sat)
    keep = np.arange(n_images) != 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dropped = sat_matrix(*_subset(inputs, keep), eps_s=eps_s)
    np.testing.assert_array_equal(
        sat_from_weights(outcomes, keep[None].astype(int), eps_s)[0], dropped.sat
    )


def _subset(inputs, keep):
    """sat_matrix's inputs restricted to the images where ``keep`` is True."""
    labels, clean_pred, adv_index, transfer_pred = inputs
    position = np.cumsum(keep) - 1  # new position of each kept image
    kept = {s: keep[index] for s, index in adv_index.items()}
    return (
        labels[keep],
        {m: p[keep] for m, p in clean_pred.items()},
        {s: position[index[kept[s]]] for s, index in adv_index.items()},
        {(s, t): p[kept[s]] for (s, t), p in transfer_pred.items()},
    )


def test_bootstrap_weights_are_resamples_and_deterministic():
    weights = bootstrap_weights(50, 150, seed=3)
    assert weights.shape == (150, 50) and (weights.sum(axis=1) == 50).all()
    np.testing.assert_array_equal(bootstrap_weights(50, 10, seed=3), weights[:10])
    assert not np.array_equal(bootstrap_weights(50, 10, seed=4), weights[:10])
    subset = np.array([2, 3, 11])
    sub = bootstrap_weights(50, 20, seed=3, images=subset)
    assert (sub.sum(axis=1) == 3).all() and not sub[:, np.setdiff1d(np.arange(50), subset)].any()


def test_bootstrap_intervals_cover_planted_transfer_rates():
    # Three models, 300 images: each image is correct for model m with probability accuracy[m],
    # and inside X_AB the attack made on A fools B with planted probability fool[A, B], so the
    # true directional rate is 100 fool[A, B] and the true transfer rate the mean of the two.
    # 400 independent runs; each run's 95 % percentile bootstrap interval (500 resamples)
    # should cover the truth in ~95 % of runs. Binomial standard error of a coverage over
    # 400 runs x 3 pairs: sqrt(0.95 * 0.05 / 1200) = 0.006 (0.011 if a run's pairs were fully
    # correlated, i.e. only 400 independent trials). Accepting [0.90, 0.99] allows >= 4.5 of
    # these, plus the percentile interval's known slight under-coverage at |X_AB| ~ 200, while a
    # too-narrow interval (e.g. per-pair resampling that ignores |X_AB|'s own variation, or
    # unit weights) or a too-wide one (wrong percentiles) falls outside.
    rng = np.random.default_rng(2024)
    accuracy = [0.8, 0.7, 0.9]
    fool = np.array([[0.9, 0.3, 0.5], [0.2, 0.85, 0.4], [0.6, 0.35, 0.95]])
    true_rate = 100.0 * (fool + fool.T) / 2.0
    upper = np.triu_indices(3, k=1)
    off = ~np.eye(3, dtype=bool)
    covered_rate, covered_directional, covered_sat, n_runs = 0, 0, 0, 400
    for run in range(n_runs):
        outcomes = pair_outcomes(*_run(*_planted(rng, 300, accuracy, fool), rng))
        rate, directional = rate_bootstrap(outcomes, n_boot=500, seed=run)
        low, high = sat_intervals(rate)
        covered_rate += ((low <= true_rate) & (true_rate <= high))[upper].sum()
        low, high = sat_intervals(directional)
        covered_directional += ((low <= 100 * fool) & (100 * fool <= high))[off].sum()
        low, high = sat_intervals(sat_bootstrap(outcomes, 0.01, n_boot=500, seed=run))
        covered_sat += ((low <= np.log(true_rate)) & (np.log(true_rate) <= high))[upper].sum()
    assert 0.90 <= covered_rate / (3 * n_runs) <= 0.99
    assert 0.90 <= covered_directional / (6 * n_runs) <= 0.99
    assert 0.90 <= covered_sat / (3 * n_runs) <= 0.99


def _families(rng, n_images=400, family_size=4, n_families=3):
    """Models in families: attacks transfer well inside a family (0.7), poorly across (0.15)."""
    family = np.repeat(np.arange(n_families), family_size)
    fool = np.where(family[:, None] == family[None, :], 0.7, 0.15)
    np.fill_diagonal(fool, 0.95)
    return pair_outcomes(*_run(*_planted(rng, n_images, [0.8] * len(family), fool), rng))


def test_sat_replicates_agree_with_rate_replicates():
    outcomes = _families(np.random.default_rng(5), n_images=100)
    sat = sat_bootstrap(outcomes, 0.01, n_boot=70, seed=1)  # two blocks of weights
    rate, _ = rate_bootstrap(outcomes, n_boot=70, seed=1)
    np.testing.assert_allclose(np.exp(sat), np.maximum(rate, 0.01), rtol=1e-12)
    assert sat.shape == (70, 12, 12) and np.array_equal(sat, sat.transpose(0, 2, 1))
    assert np.ptp(sat, axis=0).max() > 0  # replicates differ


def test_cluster_stability():
    outcomes = _families(np.random.default_rng(6))
    sat = sat_from_weights(outcomes, np.ones((1, outcomes.n_images)), 0.01)[0]
    names = list(outcomes.models)
    clusters = spectral_clusters(pd.DataFrame(sat, index=names, columns=names), 3, seed=0)
    assert clusters.nunique() == 3
    same = cluster_stability(np.stack([sat, sat]), clusters, 3, seed=0)
    np.testing.assert_array_equal(same, [1.0, 1.0])
    # A matrix with the models shuffled clusters differently: the ARI can drop below 1.
    order = np.random.default_rng(0).permutation(len(names))
    shuffled = sat[np.ix_(order, order)]
    assert cluster_stability(shuffled[None], clusters, 3, seed=0)[0] < 0.5
    # Clear families survive resampling of the images.
    replicates = sat_bootstrap(outcomes, 0.01, n_boot=5, seed=0)
    assert np.median(cluster_stability(replicates, clusters, 3, seed=0)) > 0.8


def test_images_needed_curve_on_nested_subsets():
    outcomes = _families(np.random.default_rng(7))
    sizes = [25, 100, 400]
    curve = images_needed_curve(outcomes, 0.01, sizes, seed=3, n_boot_small=50, n_clusters=3)
    assert curve["n_images"].tolist() == sizes
    final = curve.iloc[-1]
    assert final["spearman"] == 1.0 and final["ari"] == 1.0
    assert curve["spearman"].iloc[0] < 1.0
    widths = curve["median_ci_width"].to_numpy()
    assert widths[0] > widths[1] > widths[2] > 0
    # Nested: each subset is the first n of one permutation, and the curve is computed on them.
    subsets = nested_subsets(outcomes.n_images, sizes, seed=3)
    assert set(subsets[0]) <= set(subsets[1]) <= set(subsets[2])
    assert len(subsets[2]) == outcomes.n_images
    weights = np.zeros((1, outcomes.n_images), dtype=int)
    weights[0, subsets[1]] = 1
    upper = np.triu_indices(outcomes.n_models, k=1)
    sub = sat_from_weights(outcomes, weights, 0.01)[0][upper]
    full = sat_from_weights(outcomes, np.ones_like(weights), 0.01)[0][upper]
    assert curve["spearman"].iloc[1] == pytest.approx(spearmanr(sub, full).statistic, abs=1e-12)
