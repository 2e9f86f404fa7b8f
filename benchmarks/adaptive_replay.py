"""What the adaptive pair strategy loses, replayed on complete SAT matrices, and how long its
estimator takes.

    python benchmarks/adaptive_replay.py [--seeds 0 1 2] [--grid 10x5 15x10 20x10]
        [--released SAT_release.csv] [--sizes 200 1000] [--quick]

Part 1 replays the strategy (k landmarks, m partners, one round) on 69-model family_sat
matrices (tests/synthetic_sat.py, the paper's models and components) for each (k, m) and
seed, with the models' components as features, and prints, averaged over seeds: the share of
pairs measured; Spearman, MAE (ln units), coverage of the +-1.96 std bars and cluster ARI of
the estimator on the unmeasured pairs; the same for soft-impute run through the same strategy;
and the estimator's truth-free estimate of its own Spearman and MAE (``est_*``). Part 2 gives
the per-seed rows at k = 15, m = 10, with and without features, and soft-impute's Spearman
with the best penalty in hindsight (the baseline's ceiling). ``--released`` replays the
authors' released matrix too. Part 3 times estimate_matrix and estimate_error on synthetic
matrices of N models (the paper's 69 repeated under new names). ``--quick``: one seed, two
grid points, N = 200 only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the synthetic matrices live with the tests

from synthetic_sat import family_sat, paper_components, repeated_family_sat  # noqa: E402

from satsim.models.registry import load_registry  # noqa: E402
from satsim.similarity.adaptive import next_pairs, replay_adaptive  # noqa: E402
from satsim.similarity.completion import (  # noqa: E402
    SOFT_IMPUTE_GRID,
    estimate_error,
    estimate_matrix,
    soft_impute,
)
from satsim.similarity.pair_strategy import choose_landmarks  # noqa: E402
from satsim.similarity.released import read_released  # noqa: E402

COLUMNS = {
    "fraction_measured": "frac",
    "spearman_unmeasured": "rho",
    "mae_unmeasured": "mae",
    "coverage_unmeasured": "cov",
    "cluster_ari": "ari",
    "baseline_spearman_unmeasured": "base_rho",
    "baseline_mae_unmeasured": "base_mae",
    "baseline_cluster_ari": "base_ari",
    "estimated_spearman": "est_rho",
    "estimated_mae": "est_mae",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--grid", nargs="+", default=["10x5", "15x10", "20x10"])
    parser.add_argument("--released", type=Path, help="the authors' SAT_release.csv")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.grid, args.sizes = args.seeds[:1], ["10x5", "15x10"], [200]
    grid = [tuple(int(x) for x in point.split("x")) for point in args.grid]
    components = paper_components()
    families = components["Base architecture"].to_dict()

    print("== 1. replay on family_sat (69 models, features = components, 1 round) ==")
    rows = []
    for seed in args.seeds:
        for k, m in grid:
            result = replay_adaptive(family_sat(seed=seed), k, m, 1, 10, families, components)
            rows.append({"seed": seed, **result.metrics})
    table = pd.DataFrame(rows)
    summary = table.groupby(["k", "m"])[list(COLUMNS)].mean().rename(columns=COLUMNS)
    print(f"mean over seeds {args.seeds}")
    print(summary.round(3).to_string())

    print("\n== 2. k = 15, m = 10 per seed ==")
    per_seed(table, components, families, args.seeds)

    if args.released:
        print(f"\n== released matrix {args.released} (features = components) ==")
        names = list(load_registry(REPO / "configs" / "models" / "paper.yaml"))
        full = read_released(args.released, known=names)
        for k, m in grid:
            result = replay_adaptive(full, k, m, 1, 10, families, components)
            print(pd.Series(result.row()).rename(COLUMNS).round(3).to_frame().T.to_string())

    print("\n== 3. timing (k = 15, m = 10, 1 round; one CPU thread if OMP_NUM_THREADS=1) ==")
    for n in args.sizes:
        timing(n, components)


def per_seed(table: pd.DataFrame, components, families, seeds) -> None:
    """Per-seed rows at (15, 10), the same without features, and soft-impute's ceiling."""
    chosen = table[(table["k"] == 15) & (table["m"] == 10)]
    if chosen.empty:
        return
    lines = []
    for row in chosen.itertuples():
        full = family_sat(seed=row.seed)
        plain = replay_adaptive(full, 15, 10, 1, 10, families, None)
        lines.append(
            {
                "seed": row.seed,
                "rho": row.spearman_unmeasured,
                "ari": row.cluster_ari,
                "mae": row.mae_unmeasured,
                "est_rho": row.estimated_spearman,
                "est_mae": row.estimated_mae,
                "cov": row.coverage_unmeasured,
                "rho_nofeat": plain.metrics["spearman_unmeasured"],
                "ari_nofeat": plain.metrics["cluster_ari"],
                "mae_nofeat": plain.metrics["mae_unmeasured"],
                "base_rho": row.baseline_spearman_unmeasured,
                "base_ari": row.baseline_cluster_ari,
                "base_rho_best": soft_impute_ceiling(full, families),
            }
        )
    frame = pd.DataFrame(lines).set_index("seed")
    print(frame.round(3).to_string())
    print("mean", frame.mean().round(3).to_dict())


def soft_impute_ceiling(full: pd.DataFrame, families) -> float:
    """Soft-impute's best Spearman on the unmeasured pairs over its penalty grid, in
    hindsight (its own strategy's measured cells, cross-validated penalty for the picks)."""
    names = list(full.index)
    values = full.to_numpy()
    landmarks = [names.index(x) for x in choose_landmarks(names, families, 15)]
    measured = np.eye(len(names), dtype=bool)
    measured[landmarks, :] = measured[:, landmarks] = True
    measured |= next_pairs(soft_impute(np.where(measured, values, np.nan)), measured, 10)
    observed = np.where(measured, values, np.nan)
    off = measured & ~np.eye(len(names), dtype=bool)
    centered = np.where(off, values - values[off].mean(), 0.0)
    top = np.linalg.svd(centered, compute_uv=False)[0]
    upper = np.triu(~measured, 1)
    scores = [
        spearmanr(soft_impute(observed, fraction * top)[upper], values[upper])[0]
        for fraction in SOFT_IMPUTE_GRID
    ]
    return float(max(scores))


def timing(n: int, components: pd.DataFrame) -> None:
    """Seconds of estimate_matrix and estimate_error at N models, and their accuracy."""
    full = repeated_family_sat(n, seed=0)
    names = list(full.index)
    values = full.to_numpy()
    base = components["Base architecture"]
    families = {name: base[name.split("__")[0]] for name in names}
    landmarks = [names.index(x) for x in choose_landmarks(names, families, 15)]
    measured = np.eye(n, dtype=bool)
    measured[landmarks, :] = measured[:, landmarks] = True
    guess = estimate_matrix(np.where(measured, values, np.nan), landmarks, calibrate=False)
    measured |= next_pairs(guess.values, measured, 10)
    observed = np.where(measured, values, np.nan)
    start = time.perf_counter()
    estimate = estimate_matrix(observed, landmarks, neighbours=10)
    matrix_seconds = time.perf_counter() - start
    start = time.perf_counter()
    error = estimate_error(observed, landmarks, neighbours=10, n_clusters=None)
    error_seconds = time.perf_counter() - start
    upper = np.triu(~measured, 1)
    truth, guessed = values[upper], estimate.values[upper]
    inside = np.abs(truth - guessed) <= 1.959964 * estimate.std[upper]
    print(
        f"N = {n:5d}: measured {np.triu(measured, 1).sum() / (n * (n - 1) / 2):.3f} of pairs; "
        f"estimate_matrix {matrix_seconds:5.1f} s, estimate_error {error_seconds:5.1f} s; "
        f"true rho {spearmanr(truth, guessed)[0]:.3f} mae {np.abs(truth - guessed).mean():.3f} "
        f"cov {inside.mean():.3f}; estimated rho {error.spearman:.3f} mae {error.mae:.3f} "
        f"cov {error.coverage:.3f} ({error.n_cells} held-out cells)"
    )


if __name__ == "__main__":
    main()
