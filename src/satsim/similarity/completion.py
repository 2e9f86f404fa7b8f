"""Estimate the unmeasured cells of a partly measured SAT matrix, with error bars, and measure
the estimator's own error without the truth.

The adaptive pair strategy (:mod:`satsim.similarity.pair_strategy`,
:mod:`satsim.similarity.adaptive`) measures every model against k landmark models and against
the m partners it is predicted to be most similar to; every other cell is estimated here.

All matrices are (N, N) SAT in natural log of percent, NaN where unmeasured; the measured pattern
is symmetric and the diagonal (ln of 100 x white-box success, a different quantity) is always
measured and never used for fitting.

The estimator, chosen by measurement (``benchmarks/adaptive_replay.py``), averages models of the
matrix that err differently, each fitted to the measured off-diagonal cells:

- kernel embeddings SAT_ij = c + o_i + o_j + g exp(-|x_i - x_j|^2): models as points (5 and 8
  dimensions) whose similarity falls off with distance, o_i a model's vulnerability;
- a two-sided low-rank model with offsets, SAT_ij = mu + a_i + b_j + u_i . v_j (rank 3, ALS);
- given ``features`` (e.g. one-hot architectural components), embeddings with
  x_i = f_i W + delta_i;
- a symmetric low-rank model c + o_i + o_j + x_i . x_j, which alone recovers exactly low-rank
  matrices.

Which of these are averaged (see :func:`_subsets`) is decided per matrix by the held-out error
below, so features are used only where they help. Its error bars and its error estimate come
from held-out cells that look like the unmeasured ones: each landmark in turn is treated as an
ordinary model (its cells with the other landmarks and the partners the strategy would have
picked for it stay, the rest are held out), the matrix is re-estimated from scratch and the
held-out cells, whose truth is measured, are scored (:func:`estimate_error`). This sees the
error for models like the landmarks: where a region of models has no landmark, it understates
it (the authors' release in its own order gives 3 of 15 landmarks to its 39 CNNs; at m = 10 the
estimated MAE was 0.062, the true one 0.090).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import minimize
from scipy.sparse.linalg import eigsh, svds
from scipy.stats import spearmanr

Z_95 = 1.959963984540054  # two-sided 95 % normal quantile
INNER_RANK = 3
ALS_RANK = 3
ALS_RIDGE = 0.3
EMBEDDING_DIMS = (5, 8)
EMBEDDING_RIDGE = 0.01
FEATURE_RIDGE = 0.3  # on delta_i, the part of a model's position its features do not explain
LARGE_N = 150  # beyond it, landmarks are left out GROUP_SIZE at a time
GROUP_SIZE = 3
# L-BFGS limits of the embeddings: far looser than scipy's defaults, which changed no replay
# score by more than 0.01 (benchmarks/adaptive_replay.py) and took three times as long. Refits
# that leave a landmark out stop earlier: that can only make their error, and so the error bars,
# larger.
FIT_ITERATIONS = 120
REFIT_ITERATIONS = 80
FIT_TOLERANCE = 1e-5
# Refits that leave a landmark out start from scratch: started from the fit that saw the
# held-out cells they recall them (held-out error 5-10 % lower, flattering); from scratch they
# lean pessimistic by about as much. False trades that honesty for a third of the time.
REFIT_FROM_SCRATCH = True


@dataclass(frozen=True)
class MatrixEstimate:
    """A SAT matrix with every cell filled in.

    Attributes:
        values: (N, N) SAT, ln of percent, symmetric; measured cells (and the diagonal) are the
            input's values bit for bit.
        std: (N, N) predictive standard deviation of each cell's error, ln units; 0 where
            measured. values +- 1.96 std is meant to cover the truth 95 % of the time.
        measured: (N, N) bool, True where the input had a value.
    """

    values: np.ndarray
    std: np.ndarray
    measured: np.ndarray


@dataclass(frozen=True)
class ErrorEstimate:
    """The estimator's error on measured cells it was not given (see :func:`estimate_error`).

    Attributes:
        spearman: Spearman correlation of estimate and truth over the held-out cells.
        mae: mean absolute error, ln units.
        coverage: share of held-out cells inside values +- 1.96 std (std cross-calibrated).
        n_cells: number of held-out cells.
        cluster_ari: mean adjusted Rand index of the spectral clusters of the full estimate
            against those of each held-out refit (how much the clusters depend on the
            information one landmark's held-out cells carry); NaN when not computed.
        cluster_note: what ``cluster_ari`` measures, or why it is NaN.
        spearman_low, spearman_high, mae_low, mae_high: 95 % percentile bootstrap intervals of
            ``spearman`` and ``mae`` over the held-out cells (:func:`held_out_figures`): with
            few held-out cells (a few models, two or three landmarks) they are wide, and the
            point figures alone would claim more than the data support.
    """

    spearman: float
    mae: float
    coverage: float
    n_cells: int
    cluster_ari: float
    cluster_note: str = ""
    spearman_low: float = math.nan
    spearman_high: float = math.nan
    mae_low: float = math.nan
    mae_high: float = math.nan


ERROR_BOOTSTRAP = 1000


def held_out_figures(
    truth: np.ndarray, guess: np.ndarray, covered: np.ndarray, seed: int
) -> dict[str, float]:
    """Spearman, mean absolute error and coverage over held-out cells, with 95 % percentile
    bootstrap intervals of the first two (:data:`ERROR_BOOTSTRAP` resamples of the cells,
    seeded). Cells of one held-out landmark are not independent, so the intervals are if
    anything too narrow."""
    truth, guess = np.asarray(truth, dtype=float), np.asarray(guess, dtype=float)
    errors = np.abs(truth - guess)
    figures = {
        "spearman": float(spearmanr(truth, guess)[0]) if len(truth) > 2 else math.nan,
        "mae": float(errors.mean()),
        "coverage": float(np.mean(covered)),
    }
    nan = math.nan
    figures |= {"spearman_low": nan, "spearman_high": nan, "mae_low": nan, "mae_high": nan}
    if len(truth) < 3:
        return figures
    draws = np.random.default_rng(seed).integers(0, len(truth), (ERROR_BOOTSTRAP, len(truth)))
    maes = errors[draws].mean(axis=1)
    rhos = np.array([_rank_correlation(truth[d], guess[d]) for d in draws])
    figures["mae_low"], figures["mae_high"] = (float(v) for v in np.percentile(maes, [2.5, 97.5]))
    if np.isfinite(rhos).any():
        low, high = np.nanpercentile(rhos, [2.5, 97.5])
        figures["spearman_low"], figures["spearman_high"] = float(low), float(high)
    return figures


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    # Pearson of ranks; NaN for a constant resample (all draws of one cell).
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass
class _HeldOut:
    """One landmark's held-out cells (column indices) with their truth and each member's
    estimate; per member subset, the median member spread over the refit's unmeasured cells
    and (when kept) the refit matrix itself."""

    landmark: int
    cells: np.ndarray
    truth: np.ndarray
    members: np.ndarray  # (M, cells)
    floors: dict[tuple[int, ...], float]
    refits: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict, repr=False)

    def values(self, use: tuple[int, ...]) -> np.ndarray:
        return self.members[list(use)].mean(axis=0)

    def shape(self, use: tuple[int, ...]) -> np.ndarray:
        spread = self.members[list(use)].std(axis=0)
        return np.sqrt(self.floors[use] ** 2 + spread**2)


# ---------------------------------------------------------------------------------------------
# Input checks and shared pieces


def _checked(observed: np.ndarray) -> np.ndarray:
    """``observed`` as a float (N, N) array after checking its shape and pattern."""
    values = np.asarray(observed, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"observed must be a square (N, N) matrix, got shape {values.shape}")
    measured = ~np.isnan(values)
    if not np.array_equal(measured, measured.T):
        raise ValueError("observed: the measured pattern must be symmetric (SAT needs both ways)")
    if not measured.diagonal().all():
        raise ValueError("observed: the diagonal (white-box SAT) must be measured")
    if np.isinf(values).any():
        raise ValueError("observed: values must be finite or NaN")
    asymmetry = np.abs(np.where(measured, values - values.T, 0.0))
    if asymmetry.max(initial=0.0) > 1e-6:
        i, j = np.unravel_index(asymmetry.argmax(), asymmetry.shape)
        raise ValueError(f"observed: not symmetric at ({i}, {j}): {values[i, j]} vs {values[j, i]}")
    return values


def _off_diagonal(measured: np.ndarray) -> np.ndarray:
    """Measured off-diagonal cells, the ones every model is fitted to."""
    mask = measured.copy()
    np.fill_diagonal(mask, False)
    return mask


def _keep_measured(observed: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Symmetrised ``estimate`` with every measured cell replaced by its input value."""
    symmetric = (estimate + estimate.T) / 2.0
    return np.where(np.isnan(observed), symmetric, observed)


def _offsets(values: np.ndarray, mask: np.ndarray, ridge: float = 1.0, sweeps: int = 30):
    """Mean and per-model offsets of SAT_ij ~ mu + a_i + a_j over ``mask`` (ridge on a), by
    Gauss-Seidel sweeps over the measured cells only (cost O(cells), not O(N^2))."""
    cells = np.argwhere(mask)
    rows, cols = cells[:, 0], cells[:, 1]
    y = values[rows, cols]
    n = len(values)
    counts = np.bincount(rows, minlength=n)
    mu = float(y.mean()) if len(y) else 0.0
    offsets = np.zeros(n)
    for _ in range(sweeps):
        offsets = np.bincount(rows, y - mu - offsets[cols], n) / (counts + ridge)
        mu = float(np.mean(y - offsets[rows] - offsets[cols])) if len(y) else 0.0
    return mu, offsets


def _top_partners(estimate: np.ndarray, measured: np.ndarray, m: int) -> np.ndarray:
    """Bool (N, N) symmetric: per model its ``m`` highest-estimate unmeasured partners (ties by
    index), union over models. The rule of :func:`satsim.similarity.adaptive.next_pairs`."""
    n = len(estimate)
    new = np.zeros((n, n), dtype=bool)
    if m <= 0:
        return new
    candidates = np.where(measured, -np.inf, np.asarray(estimate, dtype=float))
    np.fill_diagonal(candidates, -np.inf)
    # A stable sort of the negated scores keeps the lower index first among ties.
    order = np.argsort(-candidates, axis=1, kind="stable")[:, :m]
    rows = np.repeat(np.arange(n), order.shape[1])
    cols = order.ravel()
    open_cell = np.isfinite(candidates[rows, cols])
    new[rows[open_cell], cols[open_cell]] = True
    return new | new.T


# ---------------------------------------------------------------------------------------------
# The soft-impute baseline


def _soft_impute_path(
    centered: np.ndarray,
    mask: np.ndarray,
    penalty: float,
    start: np.ndarray,
    max_iter: int,
    tol: float,
) -> np.ndarray:
    """Mazumder et al.'s iteration at one penalty: fill the unobserved cells with the current
    low-rank estimate, soft-threshold the singular values, repeat."""
    current = start
    for _ in range(max_iter):
        filled = np.where(mask, centered, current)
        u, s, vt = np.linalg.svd(filled, full_matrices=False)
        updated = (u * np.maximum(s - penalty, 0.0)) @ vt
        change = np.sum((updated - current) ** 2) / max(np.sum(current**2), 1e-12)
        current = updated
        if change < tol:
            break
    return current


def soft_impute(
    observed: np.ndarray,
    rank_penalty: float | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-5,
) -> np.ndarray:
    """Soft-impute (Mazumder, Hastie & Tibshirani, JMLR 2010), the plain baseline.

    Fitted to the measured off-diagonal cells after subtracting their mean (the diagonal is a
    different quantity and would only bias a low-rank fit); the estimate is symmetrised.

    Args:
        observed: (N, N) SAT, ln of percent, NaN where unmeasured.
        rank_penalty: the nuclear-norm penalty (singular-value threshold, ln units). None picks
            it from :data:`SOFT_IMPUTE_GRID` x the largest singular value of the zero-filled
            matrix by ``folds``-fold cross-validation over random measured off-diagonal pairs
            (the usual choice), warm-starting along the path. Random pairs are mostly similar
            ones: on an adaptive strategy's matrices this picks a smaller penalty than the
            best one in hindsight (Spearman about 0.04 lower on the unmeasured cells; holding
            out landmark rows instead did worse still).
        seed: seeds the folds.

    Returns:
        (N, N) SAT with measured cells unchanged and the rest estimated.
    """
    values = _checked(observed)
    mask = _off_diagonal(~np.isnan(values))
    if not mask.any():
        raise ValueError("observed has no measured off-diagonal cell to fit")
    mean = values[mask].mean()
    centered = np.where(mask, values - mean, 0.0)
    if rank_penalty is None:
        pairs = np.argwhere(np.triu(mask, 1))
        fold_of = np.random.default_rng(seed).integers(0, folds, len(pairs))
        held = [pairs[fold_of == fold] for fold in range(folds)]
        rank_penalty = _soft_impute_penalty(centered, mask, held, max_iter, tol)
    fitted = _soft_impute_path(centered, mask, rank_penalty, np.zeros_like(centered), max_iter, tol)
    return _keep_measured(values, fitted + mean)


SOFT_IMPUTE_GRID = (0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03, 0.02, 0.01)


def _soft_impute_penalty(centered, mask, held: list[np.ndarray], max_iter, tol) -> float:
    """The penalty of :data:`SOFT_IMPUTE_GRID` (x the top singular value) with the lowest
    squared error on the ``held`` cells, summed over folds."""
    top = np.linalg.svd(centered, compute_uv=False)[0]
    errors = np.zeros(len(SOFT_IMPUTE_GRID))
    for cells in held:
        if len(cells) == 0:
            continue
        train = mask.copy()
        train[cells[:, 0], cells[:, 1]] = train[cells[:, 1], cells[:, 0]] = False
        current = np.zeros_like(centered)
        for index, fraction in enumerate(SOFT_IMPUTE_GRID):
            current = _soft_impute_path(
                np.where(train, centered, 0.0), train, fraction * top, current, max_iter, tol
            )
            errors[index] += np.sum(
                (current[cells[:, 0], cells[:, 1]] - centered[cells[:, 0], cells[:, 1]]) ** 2
            )
    return SOFT_IMPUTE_GRID[int(np.argmin(errors))] * top


# ---------------------------------------------------------------------------------------------
# Members of the ensemble


@dataclass
class _Pairs:
    """The measured off-diagonal cells i < j as index arrays and values."""

    n: int
    i: np.ndarray
    j: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, mask: np.ndarray) -> _Pairs:
        cells = np.argwhere(np.triu(mask, 1))
        i, j = cells[:, 0], cells[:, 1]
        return cls(len(values), i, j, values[i, j])


def _fit_als(values, mask, state=None, sweeps: int = 50):
    """Low-rank model with offsets, SAT_ij ~ mu + a_i + b_j + u_i . v_j, fitted by alternating
    ridge regressions over the measured cells (sparse: cost O(cells x rank^2) a sweep), then
    symmetrised. Returns (estimate (N, N), state for a warm start)."""
    n = len(values)
    cells = np.argwhere(mask)
    rows, cols = cells[:, 0], cells[:, 1]
    y = values[rows, cols]
    # Dense products are faster for small N, sparse ones for large.
    dense = n <= LARGE_N
    if dense:
        pattern = mask.astype(float)
    else:
        pattern = sparse.csr_matrix((np.ones(len(y)), (rows, cols)), shape=(n, n))
    rank = ALS_RANK
    if state is None:
        mu, a = _offsets(values, mask)
        b = a.copy()
        left, right = _leading_factors(y - mu - a[rows] - b[cols], rows, cols, n, rank)
        left, right = left / max(mask.mean(), 1e-9) ** 0.5, right / max(mask.mean(), 1e-9) ** 0.5
    else:
        mu, a, b, left, right = (np.array(x, copy=True) for x in state)
        sweeps = min(sweeps, 20)
    ridge = np.diag([ALS_RIDGE] * rank + [0.1])

    def targets(data, own_rows, other_rows):
        if dense:
            matrix = np.zeros((n, n))
            matrix[own_rows, other_rows] = data
            return matrix
        return sparse.csr_matrix((data, (own_rows, other_rows)), shape=(n, n))

    def solve(other, other_bias, own_rows, other_rows):
        # per model: ridge regression of its cells on the other side's factors and a 1
        design = np.c_[other, np.ones(n)]
        outer = (design[:, :, None] * design[:, None, :]).reshape(n, -1)
        gram = (pattern @ outer).reshape(n, rank + 1, rank + 1) + ridge
        target = targets(y - mu - other_bias[other_rows], own_rows, other_rows)
        solution = np.linalg.solve(gram, (target @ design)[..., None])[..., 0]
        return solution[:, :rank], solution[:, rank]

    for _ in range(sweeps):
        left, a = solve(right, b, rows, cols)
        right, b = solve(left, a, cols, rows)
        fit = a[rows] + b[cols] + np.einsum("pr,pr->p", left[rows], right[cols])
        mu = float(np.mean(y - fit))
    estimate = mu + a[:, None] + b[None, :] + left @ right.T
    return (estimate + estimate.T) / 2.0, (mu, a, b, left, right)


def _leading_factors(residual, rows, cols, n, rank):
    """(left, right), (N, rank) each: the leading singular pairs of the sparse zero-filled
    residual matrix, scaled by the square root of the singular values (deterministic)."""
    matrix = sparse.csr_matrix((residual, (rows, cols)), shape=(n, n))
    if n <= 400 or rank >= n - 1:
        u, s, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    else:
        u, s, vt = svds(matrix, k=rank, v0=np.full(n, 1.0 / np.sqrt(n)))
        order = np.argsort(-s)
        u, s, vt = u[:, order], s[order], vt[order]
    width = len(s)
    left, right = np.zeros((n, rank)), np.zeros((n, rank))
    left[:, :width] = u * np.sqrt(s)
    right[:, :width] = vt.T * np.sqrt(s)
    return left, right


def _incidence(n: int, i: np.ndarray, j: np.ndarray) -> sparse.csr_matrix:
    """(n, P) sparse: +1 at (i_p, p) and, when ``j`` is given (same length), -1 at (j_p, p):
    B @ rows adds each pair's row to its first model and subtracts it from its second."""
    count = len(i)
    rows = np.r_[i, j]
    data = np.r_[np.ones(count), -np.ones(len(j))]
    columns = np.r_[np.arange(count), np.arange(len(j))]
    return sparse.csr_matrix((data, (rows, columns)), shape=(n, count))


def _initial_positions(values, mask, landmarks, dim, seed) -> np.ndarray:
    """Starting points: the leading directions of the models' landmark profiles (SAT minus
    offsets against each landmark), or of the whole zero-filled matrix without landmarks."""
    mu, a = _offsets(values, mask)
    residual = np.where(mask, values - mu - a[:, None] - a[None, :], 0.0)
    profiles = residual[:, list(landmarks)] if len(landmarks) >= 2 else residual
    profiles = profiles - profiles.mean(axis=0)
    u, s, _ = np.linalg.svd(profiles, full_matrices=False)
    start = np.zeros((len(values), dim))
    width = min(dim, len(s))
    start[:, :width] = u[:, :width] * s[:width]
    start /= np.sqrt((start**2).sum(axis=1)).mean() + 1e-9
    return start + 0.01 * np.random.default_rng(seed).standard_normal(start.shape)


def _fit_embedding(
    values, mask, landmarks, dim, seed, features=None, state=None, reset=(), iterations=None
):
    """Kernel embedding SAT_ij ~ c + o_i + o_j + g exp(-|x_i - x_j|^2), x_i in R^dim (with
    ``features``: x_i = f_i W + delta_i), fitted by L-BFGS to the measured cells with small
    ridge penalties. ``state`` warm-starts; models in ``reset`` restart from their most similar
    measured partner. Returns (estimate (N, N), state)."""
    pairs = _Pairs.of(values, mask)
    n = pairs.n
    n_feat = 0 if features is None else features.shape[1]
    if state is None:
        mu, offsets = _offsets(values, mask)
        if features is None:
            position = _initial_positions(values, mask, landmarks, dim, seed)
            weights = np.zeros((0, dim))
        else:
            weights = 0.1 * np.random.default_rng(seed).standard_normal((n_feat, dim))
            position = np.zeros((n, dim))
        start = np.concatenate([weights.ravel(), position.ravel(), offsets, [mu, 0.5]])
        max_iter = iterations or FIT_ITERATIONS
    else:
        start = _reset_models(state, values, mask, reset, n, n_feat, dim)
        max_iter = iterations or REFIT_ITERATIONS
    ridge_position = EMBEDDING_RIDGE if features is None else FEATURE_RIDGE
    signed = _incidence(n, pairs.i, pairs.j)
    unsigned = abs(signed)

    def unpack(p):
        weights = p[: n_feat * dim].reshape(n_feat, dim)
        delta = p[n_feat * dim : (n_feat + n) * dim].reshape(n, dim)
        offsets = p[(n_feat + n) * dim : (n_feat + n) * dim + n]
        return weights, delta, offsets, p[-2], p[-1]

    def loss(p):
        weights, delta, offsets, c, g = unpack(p)
        x = delta if features is None else features @ weights + delta
        diff = x[pairs.i] - x[pairs.j]
        kernel = np.exp(-(diff**2).sum(axis=1))
        r = c + offsets[pairs.i] + offsets[pairs.j] + g * kernel - pairs.y
        value = 0.5 * (r @ r) + 0.5 * ridge_position * np.sum(delta**2)
        value += 0.5 * EMBEDDING_RIDGE * (np.sum(weights**2) + offsets @ offsets)
        grad_x = signed @ ((-2.0 * g * kernel * r)[:, None] * diff)
        grad_w = features.T @ grad_x + EMBEDDING_RIDGE * weights if n_feat else weights
        grad_o = unsigned @ r
        grad = [
            grad_w.ravel(),
            (grad_x + ridge_position * delta).ravel(),
            grad_o + EMBEDDING_RIDGE * offsets,
            [r.sum(), r @ kernel],
        ]
        return value, np.concatenate(grad)

    result = minimize(
        loss,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": FIT_TOLERANCE},
    )
    weights, delta, offsets, c, g = unpack(result.x)
    x = delta if features is None else features @ weights + delta
    squared = np.maximum((x**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2 * x @ x.T, 0.0)
    estimate = c + offsets[:, None] + offsets[None, :] + g * np.exp(-squared)
    return estimate, result.x


def _fit_inner_product(values, mask, dim, seed, state=None, reset=(), iterations=None):
    """Symmetric low-rank model with offsets, SAT_ij ~ c + o_i + o_j + x_i . x_j (x_i in
    R^dim), fitted by L-BFGS with a small ridge. The model to beat when the matrix is low rank
    (a planted one is recovered from landmark rows alone, where the ridge of two-sided ALS, a
    nuclear-norm penalty, shrinks the block no landmark covers). Returns (estimate, state);
    the state is laid out as the embeddings' (positions, offsets, c, 1)."""
    pairs = _Pairs.of(values, mask)
    n = pairs.n
    if state is None:
        mu, offsets = _offsets(values, mask)
        residual = np.where(mask, values - mu - offsets[:, None] - offsets[None, :], 0.0)
        position = _leading_eigenvectors(residual, dim) / max(mask.mean(), 1e-3) ** 0.5
        position += 0.01 * np.random.default_rng(seed).standard_normal(position.shape)
        start = np.concatenate([position.ravel(), offsets, [mu, 1.0]])
        max_iter = iterations or FIT_ITERATIONS
    else:
        start = _reset_models(state, values, mask, reset, n, 0, dim)
        max_iter = iterations or REFIT_ITERATIONS
    first = _incidence(n, pairs.i, pairs.i[:0])
    second = _incidence(n, pairs.j, pairs.j[:0])
    both = first + second

    def loss(p):
        x = p[: n * dim].reshape(n, dim)
        offsets, c = p[n * dim : n * dim + n], p[-2]
        xi, xj = x[pairs.i], x[pairs.j]
        r = c + offsets[pairs.i] + offsets[pairs.j] + np.einsum("pd,pd->p", xi, xj) - pairs.y
        value = 0.5 * (r @ r) + 0.5 * EMBEDDING_RIDGE * (np.sum(x**2) + offsets @ offsets)
        grad_x = first @ (r[:, None] * xj) + second @ (r[:, None] * xi)
        grad = [
            (grad_x + EMBEDDING_RIDGE * x).ravel(),
            both @ r + EMBEDDING_RIDGE * offsets,
            [r.sum(), 0.0],
        ]
        return value, np.concatenate(grad)

    result = minimize(
        loss,
        start,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": FIT_TOLERANCE},
    )
    x = result.x[: n * dim].reshape(n, dim)
    offsets, c = result.x[n * dim : n * dim + n], result.x[-2]
    return c + offsets[:, None] + offsets[None, :] + x @ x.T, result.x


def _leading_eigenvectors(symmetric: np.ndarray, dim: int) -> np.ndarray:
    """(N, dim): the eigenvectors of the ``dim`` largest eigenvalues, each scaled by the square
    root of its eigenvalue (floored at 1e-3): a PSD starting point (deterministic)."""
    n = len(symmetric)
    if n <= 400 or dim >= n - 1:
        eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
        top = np.argsort(-eigenvalues)[:dim]
        eigenvalues, eigenvectors = eigenvalues[top], eigenvectors[:, top]
    else:
        start = np.full(n, 1.0 / np.sqrt(n))
        eigenvalues, eigenvectors = eigsh(symmetric, k=dim, which="LA", v0=start)
    return eigenvectors * np.sqrt(np.maximum(eigenvalues, 1e-3))


def _reset_models(state, values, mask, reset, n, n_feat, dim) -> np.ndarray:
    """A warm start in which each model of ``reset`` forgets its fitted position and offset:
    it starts at its most similar measured partner, with the partner's offset."""
    start = np.array(state, copy=True)
    delta = start[n_feat * dim : (n_feat + n) * dim].reshape(n, dim)
    offsets = start[(n_feat + n) * dim : (n_feat + n) * dim + n]
    for model in reset:
        row = np.where(mask[model], values[model] - offsets, -np.inf)
        row[model] = -np.inf
        partner = int(np.argmax(row))
        delta[model] = delta[partner]
        offsets[model] = offsets[partner]
    return start


def _members(features: np.ndarray | None) -> list[tuple[str, int, bool]]:
    """(kind, dimension, uses features) of every ensemble member."""
    members = [("inner", INNER_RANK, False), ("als", ALS_RANK, False)]
    members += [("embedding", dim, False) for dim in EMBEDDING_DIMS]
    if features is not None:
        members += [("embedding", dim, True) for dim in EMBEDDING_DIMS]
    return members


def _fit_members(
    values, landmarks, features, seed, states=None, reset=(), only=None, iterations=None
):
    """(M, N, N) member estimates and their states (for warm starts); members not in ``only``
    (default: all) are not fitted (NaN estimate, None state). ``iterations`` caps L-BFGS."""
    mask = _off_diagonal(~np.isnan(values))
    estimates, new_states = [], []
    for index, (kind, dim, with_features) in enumerate(_members(features)):
        state = None if states is None else states[index]
        if only is not None and index not in only:
            estimate, state = np.full(values.shape, np.nan), None
        elif kind == "als":
            estimate, state = _fit_als(values, mask, state)
        elif kind == "inner":
            estimate, state = _fit_inner_product(
                values, mask, dim, seed + index, state, reset, iterations
            )
        else:
            estimate, state = _fit_embedding(
                values,
                mask,
                landmarks,
                dim,
                seed + index,
                features if with_features else None,
                state,
                reset,
                iterations,
            )
        estimates.append(estimate)
        new_states.append(state)
    return np.stack(estimates), new_states


def _subsets(features: np.ndarray | None) -> list[tuple[int, ...]]:
    """The member subsets the estimate may average, the one with the lowest held-out error
    wins: the symmetric low-rank model alone (right when the matrix is low rank), the kernel
    embeddings, those with the two-sided ALS model (which helps where many cells are measured
    and hurts where few are), and with features each of the last two plus the feature-based
    embeddings. The last is the largest (the one that picks partners)."""
    members = _members(features)
    kernel = tuple(i for i, (kind, _, f) in enumerate(members) if kind == "embedding" and not f)
    plain = (1, *kernel)  # with the two-sided ALS
    subsets = [(0,), kernel, plain]
    if features is not None:
        with_features = tuple(i for i, (_, _, f) in enumerate(members) if f)
        subsets += [(*kernel, *with_features), (*plain, *with_features)]
    return subsets


def _floor(spread: np.ndarray, unmeasured: np.ndarray) -> float:
    """h0: the median member spread over the unmeasured cells (1 when the members agree
    everywhere, e.g. a single member: the error bars are then one size)."""
    floor = float(np.median(spread[unmeasured])) if unmeasured.any() else 0.0
    return floor if floor > 0 else 1.0


def _combine(values: np.ndarray, estimates: np.ndarray, use: Sequence[int]):
    """Average of the members ``use``; returns (values with measured cells kept, shape of the
    error: sqrt(h0^2 + spread^2), spread the members' standard deviation per cell and h0 its
    median over the unmeasured cells (disagreement predicts the error only mildly))."""
    chosen = estimates[list(use)]
    mean = _keep_measured(values, chosen.mean(axis=0))
    spread = chosen.std(axis=0)
    spread = (spread + spread.T) / 2.0
    floor = _floor(spread, np.isnan(values))
    return mean, np.sqrt(floor**2 + spread**2)


# ---------------------------------------------------------------------------------------------
# Leave one landmark out


def _infer_partners(measured: np.ndarray, landmarks: Sequence[int], rounds: int) -> int:
    """m of the strategy that made ``measured``: the fewest non-landmark partners any
    non-landmark model has, per round (the union of picks gives every model at least m)."""
    n = len(measured)
    ordinary = np.setdiff1d(np.arange(n), np.asarray(landmarks, dtype=int))
    if len(ordinary) < 2:
        return 0
    block = measured[np.ix_(ordinary, ordinary)].copy()
    np.fill_diagonal(block, False)
    return int(block.sum(axis=1).min()) // max(rounds, 1)


def _leave_landmarks_out(
    values, group, landmarks, features, seed, partners, rounds, states, keep_refits
) -> list[_HeldOut]:
    """Treat the landmarks of ``group`` as ordinary models: keep their cells with the other
    landmarks and those the strategy would have measured for them, re-estimate, and return
    each one's other cells with their estimates (a cell between two of them once).

    Their partners are replayed round by round: each one's own ``partners`` highest-estimate
    open cells, and every model j that would have picked it, that is, where it ranks among
    j's ``partners`` x round highest-estimate cells outside the landmarks' (j's own picks were
    made with it a landmark, so its rank is taken among all of j's non-landmark cells).
    ``states`` (None: fit from scratch) warm-starts the refits, the group's own parameters
    reset."""
    n = len(values)
    group = list(group)
    others = [x for x in landmarks if x not in group]
    landmark_cells = np.eye(n, dtype=bool)
    landmark_cells[others, :] = landmark_cells[:, others] = True
    reduced = values.copy()
    for landmark in group:
        reduced[landmark, ~landmark_cells[landmark]] = np.nan
        reduced[~landmark_cells[landmark], landmark] = np.nan
    subsets = _subsets(features)
    for round_index in range(1, rounds + 1):
        estimates, _ = _fit_members(
            reduced, others, features, seed, states, group, subsets[-1], REFIT_ITERATIONS
        )
        guess = estimates[list(subsets[-1])].mean(axis=0)
        guess = (guess + guess.T) / 2.0
        picks = {}
        for landmark in group:
            own = _row_top(guess[landmark], np.isnan(reduced[landmark]), landmark, partners)
            chosen_by = _ranks_below(guess, landmark_cells, landmark, partners * round_index)
            picks[landmark] = (own | chosen_by) & ~np.isnan(values[landmark])
        for landmark, picked in picks.items():
            reduced[landmark, picked] = reduced[picked, landmark] = values[landmark, picked]
    estimates, _ = _fit_members(
        reduced, others, features, seed, states, group, None, REFIT_ITERATIONS
    )
    estimates = (estimates + estimates.transpose(0, 2, 1)) / 2.0
    unmeasured = np.isnan(reduced)
    floors, refits = {}, {}
    for use in subsets:
        floors[use] = _floor(estimates[list(use)].std(axis=0), unmeasured)
        if keep_refits:
            refits[use] = _keep_measured(reduced, estimates[list(use)].mean(axis=0))
    held, done = [], np.zeros(n, dtype=bool)
    for landmark in group:
        cells = np.flatnonzero(unmeasured[landmark] & ~np.isnan(values[landmark]) & ~done)
        done[landmark] = True
        held.append(
            _HeldOut(
                landmark,
                cells,
                values[landmark, cells],
                estimates[:, landmark, cells],
                floors,
                refits,
            )
        )
    return held


def _row_top(row: np.ndarray, open_cells: np.ndarray, model: int, count: int) -> np.ndarray:
    """Bool (N,): the ``count`` highest cells of ``row`` among ``open_cells`` (not ``model``
    itself), ties by the lower index."""
    scores = np.where(open_cells, row, -np.inf)
    scores[model] = -np.inf
    best = np.argsort(-scores, kind="stable")[: max(count, 0)]
    picked = np.zeros(len(row), dtype=bool)
    picked[best[np.isfinite(scores[best])]] = True
    return picked


def _ranks_below(guess, landmark_cells, model, count) -> np.ndarray:
    """Bool (N,): models j for which ``model`` is among the ``count`` highest-``guess`` cells
    of row j outside ``landmark_cells`` (ties by the lower index, as in :func:`_top_partners`)."""
    candidates = ~landmark_cells
    target = guess[:, model][:, None]
    index = np.arange(len(guess))
    ahead = (guess > target) | ((guess == target) & (index[None, :] < model))
    rank = (ahead & candidates).sum(axis=1)
    return candidates[:, model] & (rank < count)


def _held_out(
    values, landmarks, features, seed, partners, rounds, states, which, keep_refits=False
):
    """Held-out cells of every landmark of ``which``: left out one at a time up to
    :data:`LARGE_N` models, beyond that :data:`GROUP_SIZE` at a time (interleaved, so that a
    group spans families; fewer refits, and one landmark fewer each only adds pessimism)."""
    states = None if REFIT_FROM_SCRATCH else states
    size = 1 if len(values) <= LARGE_N else GROUP_SIZE
    count = -(-len(which) // size)
    groups = [list(which)[start::count] for start in range(count)]
    held = []
    for group in groups:
        held += _leave_landmarks_out(
            values, group, landmarks, features, seed, partners, rounds, states, keep_refits
        )
    return held


def _best_subset(held: Sequence[_HeldOut], subsets: Sequence[tuple[int, ...]]):
    """The member subset with the lowest held-out squared error (the plain one on a tie)."""
    errors = [sum(float(np.sum((h.values(use) - h.truth) ** 2)) for h in held) for use in subsets]
    return subsets[int(np.argmin(errors))]


def _calibration(held: Sequence[_HeldOut], use: tuple[int, ...]) -> float:
    """Scale s such that |error| <= 1.96 s shape on 95 % of the held-out cells."""
    ratios = [np.abs(h.values(use) - h.truth) / h.shape(use) for h in held]
    ratios = np.concatenate(ratios) if ratios else np.zeros(0)
    if len(ratios) == 0:
        return math.nan
    return float(np.quantile(ratios, 0.95)) / Z_95


def _spread_out(landmarks: Sequence[int], count: int) -> list[int]:
    """``count`` landmarks evenly spaced through ``landmarks`` (all when fewer)."""
    if len(landmarks) <= count:
        return list(landmarks)
    positions = np.linspace(0, len(landmarks) - 1, count).round().astype(int)
    return [landmarks[p] for p in dict.fromkeys(positions)]


def _random_held_out(values, features, seed, states, folds: int = 5) -> list[_HeldOut]:
    """Without landmarks: ``folds``-fold hold-out of random measured off-diagonal pairs. Random
    missing cells are mostly similar pairs, so this understates the error on cells an adaptive
    strategy left out; it is the fallback for a matrix measured without landmarks."""
    pairs = np.argwhere(np.triu(_off_diagonal(~np.isnan(values)), 1))
    fold_of = np.random.default_rng(seed).integers(0, folds, len(pairs))
    subsets = _subsets(features)
    held = []
    for fold in range(folds):
        cells = pairs[fold_of == fold]
        if len(cells) == 0:
            continue
        reduced = values.copy()
        reduced[cells[:, 0], cells[:, 1]] = reduced[cells[:, 1], cells[:, 0]] = np.nan
        start = None if REFIT_FROM_SCRATCH else states
        estimates, _ = _fit_members(reduced, (), features, seed, start, (), None, REFIT_ITERATIONS)
        estimates = (estimates + estimates.transpose(0, 2, 1)) / 2.0
        unmeasured = np.isnan(reduced)
        floors = {use: _floor(estimates[list(use)].std(axis=0), unmeasured) for use in subsets}
        members = estimates[:, cells[:, 0], cells[:, 1]]
        held.append(_HeldOut(-1, cells, values[cells[:, 0], cells[:, 1]], members, floors))
    return held


def _checked_landmarks(landmarks: Sequence[int], n: int) -> list[int]:
    """Landmark indices, unique, in order, each within 0..n-1."""
    chosen = [int(x) for x in dict.fromkeys(landmarks)]
    if any(not 0 <= x < n for x in chosen):
        raise ValueError(f"landmarks must be model indices between 0 and {n - 1}: {chosen}")
    return chosen


def _checked_features(features: np.ndarray | None, n: int) -> np.ndarray | None:
    """Features as a float (N, F) array with no constant column, or None."""
    if features is None:
        return None
    array = np.asarray(features, dtype=float)
    if array.ndim != 2 or array.shape[0] != n or not np.isfinite(array).all():
        raise ValueError(f"features must be a finite (N, F) array with N = {n} rows")
    varying = array.std(axis=0) > 0
    return array[:, varying] if varying.any() else None


def _prepared(observed, landmarks, features):
    """Checked (values, landmark indices, features, measured mask)."""
    values = _checked(observed)
    n = len(values)
    landmarks = _checked_landmarks(landmarks, n)
    features = _checked_features(features, n)
    measured = ~np.isnan(values)
    if not measured.all() and not _off_diagonal(measured).any():
        raise ValueError("observed has no measured off-diagonal cell to fit")
    return values, landmarks, features, measured


def _calibration_landmarks(landmarks: list[int], n: int) -> list[int]:
    """Landmarks whose held-out cells calibrate the error bars: all up to :data:`LARGE_N`
    models, beyond that :data:`GROUP_SIZE` evenly spread ones, left out together (each holds
    out about N cells, plenty for a 95 % quantile, and refits cost)."""
    if n <= LARGE_N:
        return list(landmarks)
    return _spread_out(landmarks, GROUP_SIZE)


def _finish(values, measured, estimates, use, scale) -> MatrixEstimate:
    """The MatrixEstimate of the members ``use`` with error bars ``scale`` x shape."""
    filled, shape = _combine(values, estimates, use)
    return MatrixEstimate(filled, np.where(measured, 0.0, scale * shape), measured)


def estimate_matrix(
    observed: np.ndarray,
    landmarks: Sequence[int] = (),
    features: np.ndarray | None = None,
    seed: int = 0,
    *,
    neighbours: int | None = None,
    rounds: int = 1,
    calibrate: bool = True,
) -> MatrixEstimate:
    """Fill in a partly measured SAT matrix, with a calibrated error bar on every estimate.

    Args:
        observed: (N, N) SAT, ln of percent, NaN where unmeasured; symmetric measured pattern,
            diagonal measured (never fitted: white-box success is another quantity).
        landmarks: indices of the models measured against every other model.
        features: optional (N, F) side information, e.g. one-hot architectural components;
            used only where it lowers the held-out error.
        seed: seeds every random choice; the result is deterministic given it.
        neighbours: m, the partners per model and round the strategy measured; None infers it
            from ``observed``. With ``rounds``, it lets the error bars mimic the strategy.
        calibrate: False skips the error bars (std is NaN on unmeasured cells), which a
            strategy choosing its next pairs does not need.

    Returns:
        :class:`MatrixEstimate`. The error bars are scaled so that +-1.96 std covers 95 % of
        the cells held out by leaving landmarks out (as in :func:`estimate_error`; all
        landmarks up to N = 150, else :data:`GROUP_SIZE` of them); without two
        landmarks, of random held-out pairs (optimistic for an adaptive strategy's
        unmeasured cells).
    """
    values, landmarks, features, measured = _prepared(observed, landmarks, features)
    n = len(values)
    if measured.all():
        return MatrixEstimate(values.copy(), np.zeros((n, n)), measured)
    subsets = _subsets(features)
    if not calibrate:
        estimates, _ = _fit_members(values, landmarks, features, seed, only=subsets[-1])
        return _finish(values, measured, estimates, subsets[-1], math.nan)
    estimates, states = _fit_members(values, landmarks, features, seed)
    if len(landmarks) >= 2:
        if neighbours is None:
            neighbours = _infer_partners(measured, landmarks, rounds)
        which = _calibration_landmarks(landmarks, n)
        held = _held_out(values, landmarks, features, seed, neighbours, rounds, states, which)
    else:
        held = _random_held_out(values, features, seed, states)
    use = _best_subset(held, subsets)
    return _finish(values, measured, estimates, use, _calibration(held, use))


def estimate_error(
    observed: np.ndarray,
    landmarks: Sequence[int],
    features: np.ndarray | None = None,
    seed: int = 0,
    *,
    neighbours: int | None = None,
    rounds: int = 1,
    n_clusters: int | None = 10,
) -> ErrorEstimate:
    """The estimator's error, measured without the truth on measured cells it is not given.

    Each landmark in turn is treated as an ordinary model: it keeps its cells with the other
    landmarks and those the strategy would have measured for it (its ``neighbours``
    predicted-nearest partners per round, and every model that would have picked it), the
    matrix is re-estimated from scratch, and its other cells, measured but held out, are
    scored. Like the cells the strategy leaves unmeasured, they are pairs predicted
    dissimilar; they are estimated with one landmark fewer, so the figures lean pessimistic
    for models like the landmarks. They cannot see a region of models that no landmark
    resembles, where the error can be larger than they say (see the module docstring).

    Coverage is cross-calibrated: the error bars on one landmark's cells are scaled from the
    other landmarks' held-out cells only. The member subset (with or without features) is the
    one :func:`estimate_matrix` chooses, by the same held-out cells (a choice between two,
    which flatters by little).

    Args:
        observed, features, seed, neighbours, rounds: as for :func:`estimate_matrix`.
        landmarks: at least two landmark indices.
        n_clusters: spectral clusters for ``cluster_ari`` (None skips it: it costs one
            spectral clustering per landmark).

    Returns:
        :class:`ErrorEstimate`.
    """
    return estimate_with_error(
        observed,
        landmarks,
        features,
        seed,
        neighbours=neighbours,
        rounds=rounds,
        n_clusters=n_clusters,
    )[1]


def estimate_with_error(
    observed: np.ndarray,
    landmarks: Sequence[int],
    features: np.ndarray | None = None,
    seed: int = 0,
    *,
    neighbours: int | None = None,
    rounds: int = 1,
    n_clusters: int | None = 10,
) -> tuple[MatrixEstimate, ErrorEstimate]:
    """:func:`estimate_matrix` and :func:`estimate_error` of the same arguments, sharing the
    refits (half the cost of calling both)."""
    values, landmarks, features, measured = _prepared(observed, landmarks, features)
    n = len(values)
    if len(landmarks) < 2:
        raise ValueError("estimate_error needs at least two landmarks to leave one out")
    if neighbours is None:
        neighbours = _infer_partners(measured, landmarks, rounds)
    estimates, states = _fit_members(values, landmarks, features, seed)
    keep = n_clusters is not None
    everything = _held_out(
        values, landmarks, features, seed, neighbours, rounds, states, landmarks, keep
    )
    subsets = _subsets(features)
    which = set(_calibration_landmarks(landmarks, n))
    calibrating = [h for h in everything if h.landmark in which]
    use = _best_subset(calibrating, subsets)
    estimate = _finish(values, measured, estimates, use, _calibration(calibrating, use))
    held = [h for h in everything if len(h.cells)]
    if not held:
        nan = math.nan
        return estimate, ErrorEstimate(nan, nan, nan, 0, nan, "no cell to hold out")
    truth = np.concatenate([h.truth for h in held])
    guess = np.concatenate([h.values(use) for h in held])
    covered = []
    for index, h in enumerate(held):
        scale = _calibration(held[:index] + held[index + 1 :], use)
        covered.append(np.abs(h.values(use) - h.truth) <= Z_95 * scale * h.shape(use))
    ari, note = _refit_cluster_ari(values, estimates, use, held, n_clusters, seed)
    figures = held_out_figures(truth, guess, np.concatenate(covered), seed)
    error = ErrorEstimate(n_cells=int(len(truth)), cluster_ari=ari, cluster_note=note, **figures)
    return estimate, error


def _refit_cluster_ari(values, estimates, use, held, n_clusters, seed) -> tuple[float, str]:
    """Mean ARI of the spectral clusters of the full estimate against each refit's."""
    from sklearn.metrics import adjusted_rand_score

    from satsim.analysis.clusters import spectral_clusters

    n = len(values)
    if n_clusters is None:
        return math.nan, "not computed (n_clusters=None)"
    if not 2 <= n_clusters <= n:
        return math.nan, f"n_clusters = {n_clusters} is not between 2 and N = {n}"
    names = [str(i) for i in range(n)]

    def clusters(matrix):
        return spectral_clusters(pd.DataFrame(matrix, index=names, columns=names), n_clusters, seed)

    full, _ = _combine(values, estimates, use)
    reference = clusters(full)
    refits = {id(h.refits): h.refits[use] for h in held}  # a group of landmarks shares one
    scores = [adjusted_rand_score(reference, clusters(refit)) for refit in refits.values()]
    return float(np.mean(scores)), (
        "agreement of the estimate's spectral clusters with those of refits that each lost "
        "one landmark's held-out cells (stability, not agreement with the truth)"
    )
