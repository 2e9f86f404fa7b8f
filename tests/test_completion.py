"""Known answers for the estimator of a partly measured SAT matrix
(satsim.similarity.completion): planted matrices recovered, measured cells kept bit for bit,
error bars and held-out errors that say what they measure."""

from __future__ import annotations

import numpy as np
import pytest

from satsim.similarity.completion import (
    MatrixEstimate,
    estimate_error,
    estimate_matrix,
    soft_impute,
)

N_PLANTED = 40
LANDMARKS = [0, 5, 10, 15, 20, 25, 30, 35]


def planted(seed: int = 0, noise: float = 0.0) -> np.ndarray:
    """(40, 40) SAT-like: 2.6 + offsets + a rank-2 symmetric part (+ noise); diagonal 4.55."""
    rng = np.random.default_rng(seed)
    offsets = 0.15 * rng.standard_normal(N_PLANTED)
    factors = 0.3 * rng.standard_normal((N_PLANTED, 2))
    values = 2.6 + offsets[:, None] + offsets[None, :] + factors @ factors.T
    pair_noise = np.triu(rng.standard_normal((N_PLANTED, N_PLANTED)), 1)
    values += noise * (pair_noise + pair_noise.T)
    values = np.triu(values) + np.triu(values, 1).T  # symmetric bit for bit
    np.fill_diagonal(values, 4.55)
    return values


def landmark_rows(full: np.ndarray, landmarks=LANDMARKS) -> np.ndarray:
    """Only the landmarks' rows and columns and the diagonal measured."""
    measured = np.eye(len(full), dtype=bool)
    measured[landmarks, :] = measured[:, landmarks] = True
    return np.where(measured, full, np.nan)


@pytest.fixture(scope="module")
def planted_estimate() -> tuple[np.ndarray, np.ndarray, MatrixEstimate]:
    full = planted()
    observed = landmark_rows(full)
    return full, observed, estimate_matrix(observed, LANDMARKS, neighbours=0)


def test_planted_low_rank_recovered_from_landmark_rows(planted_estimate):
    full, observed, estimate = planted_estimate
    unmeasured = np.isnan(observed)
    error = np.abs(estimate.values - full)[unmeasured]
    assert unmeasured.sum() > 0.6 * N_PLANTED**2
    # guessing the mean of the measured cells errs by about 0.2 ln units here
    mean_only = np.abs(full - np.nanmean(np.where(np.eye(40, dtype=bool), np.nan, observed)))
    assert error.mean() < 0.2 * mean_only[unmeasured].mean()
    assert error.mean() < 0.04
    assert np.corrcoef(estimate.values[unmeasured], full[unmeasured])[0, 1] > 0.97


def test_measured_cells_unchanged_bitwise_symmetric_diagonal_kept(planted_estimate):
    full, observed, estimate = planted_estimate
    measured = ~np.isnan(observed)
    assert np.array_equal(estimate.measured, measured)
    # bit for bit, not merely close
    assert np.array_equal(
        estimate.values[measured].view(np.int64), observed[measured].view(np.int64)
    )
    assert np.array_equal(np.diag(estimate.values), np.diag(observed))
    assert np.array_equal(estimate.values, estimate.values.T)
    assert np.all(estimate.std[measured] == 0.0)
    assert np.all(estimate.std[~measured] > 0.0)
    assert np.array_equal(estimate.std, estimate.std.T)


def test_awkward_values_kept_bitwise():
    """Values with every bit of the mantissa in use survive the estimate untouched."""
    full = planted(seed=3, noise=0.05) + np.random.default_rng(1).uniform(0, 1e-9, (40, 40))
    full = np.triu(full) + np.triu(full, 1).T
    observed = landmark_rows(full)
    estimate = estimate_matrix(observed, LANDMARKS, calibrate=False)
    measured = ~np.isnan(observed)
    assert np.array_equal(
        estimate.values[measured].view(np.int64), observed[measured].view(np.int64)
    )
    assert np.isnan(estimate.std[~measured]).all()  # no error bars asked for


def test_deterministic_given_seed():
    observed = landmark_rows(planted(seed=1, noise=0.05))
    first = estimate_matrix(observed, LANDMARKS, seed=4, calibrate=False)
    second = estimate_matrix(observed, LANDMARKS, seed=4, calibrate=False)
    assert np.array_equal(first.values, second.values)


def random_half(full: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each off-diagonal pair measured with probability 1/2 (both ways), diagonal measured."""
    keep = np.triu(np.random.default_rng(seed).random(full.shape) < 0.5, 1)
    keep = keep | keep.T | np.eye(len(full), dtype=bool)
    return np.where(keep, full, np.nan)


def test_soft_impute_baseline_recovers_randomly_missing_low_rank():
    """A genuine baseline where soft-impute's assumptions hold (cells missing at random)."""
    full = planted(seed=2)
    observed = random_half(full)
    filled = soft_impute(observed)
    measured = ~np.isnan(observed)
    assert np.array_equal(filled[measured], observed[measured])
    assert np.array_equal(filled, filled.T)
    off = ~np.eye(40, dtype=bool)
    mean_only = np.abs(full - full[measured & off].mean())[~measured].mean()
    assert np.abs(filled - full)[~measured].mean() < 0.6 * mean_only


def test_error_estimate_reports_held_out_cells():
    full = planted(seed=4, noise=0.05)
    error = estimate_error(landmark_rows(full), LANDMARKS, neighbours=0, n_clusters=4)
    # each landmark treated as ordinary holds out its cells with the 32 other models
    assert error.n_cells == len(LANDMARKS) * (N_PLANTED - len(LANDMARKS))
    assert 0.8 < error.spearman <= 1.0
    assert 0.0 < error.mae < 0.1
    assert 0.85 <= error.coverage <= 1.0
    assert -1.0 <= error.cluster_ari <= 1.0 and error.cluster_note


def test_error_estimate_without_clusters_says_why():
    error = estimate_error(landmark_rows(planted(seed=5)), LANDMARKS, neighbours=0, n_clusters=None)
    assert np.isnan(error.cluster_ari)
    assert "not computed" in error.cluster_note


def test_without_landmarks_falls_back_to_random_hold_out():
    full = planted(seed=6, noise=0.05)
    observed = random_half(full)
    estimate = estimate_matrix(observed)
    unmeasured = np.isnan(observed)
    assert np.isfinite(estimate.values).all()
    assert np.all(estimate.std[unmeasured] > 0)
    assert np.abs(estimate.values - full)[unmeasured].mean() < 0.1


def test_features_used_only_when_they_help(planted_estimate):
    """Pure-noise features must not make the estimate worse than without them."""
    full, observed, plain = planted_estimate
    noise_features = np.random.default_rng(0).integers(0, 2, (40, 6)).astype(float)
    with_noise = estimate_matrix(observed, LANDMARKS, noise_features, neighbours=0)
    unmeasured = np.isnan(observed)
    plain_error = np.abs(plain.values - full)[unmeasured].mean()
    noisy_error = np.abs(with_noise.values - full)[unmeasured].mean()
    assert noisy_error <= plain_error * 1.1 + 0.005


@pytest.mark.parametrize(
    "observed, message",
    [
        (np.full((3, 4), np.nan), "square"),
        (np.array([[4.6, 2.0], [np.nan, 4.6]]), "symmetric"),
        (np.array([[np.nan, 2.0], [2.0, 4.6]]), "diagonal"),
        (np.array([[4.6, 2.0], [2.1, 4.6]]), "not symmetric"),
    ],
)
def test_bad_input_is_refused(observed, message):
    with pytest.raises(ValueError, match=message):
        estimate_matrix(observed)


def test_estimate_error_needs_two_landmarks():
    with pytest.raises(ValueError, match="two landmarks"):
        estimate_error(landmark_rows(planted(), [0]), [0])
