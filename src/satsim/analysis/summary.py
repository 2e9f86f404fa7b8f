"""The run's headline numbers in one short Markdown page (``reports/summary.md``, in the
Snakemake report), read from the tables the run wrote, so no document has to copy them by hand.

CPU training differs in the last bits across CPU types, so a demo run on another machine gives
slightly different numbers; the tests check SAT's properties, not these values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from satsim.similarity.uncertainty import SPEARMAN_TARGET, images_for_spearman


def _range(values: pd.Series | np.ndarray, unit: str = "", digits: int = 1) -> str:
    values = np.asarray(values, dtype=float)
    return f"{np.nanmin(values):.{digits}f}–{np.nanmax(values):.{digits}f}{unit}"


def _row(quantity: str, value: str) -> str:
    return f"| {quantity} | {value} |"


def _interval(row: pd.Series) -> str:
    return f"{row['spearman']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def sat_lines(
    sat: pd.DataFrame, transfer_rate: pd.DataFrame | None, clusters: pd.Series
) -> list[str]:
    """Models, white-box success (from SAT's diagonal), transfer rates and clusters. Without
    the rate table (the authors' released matrix) the rate is e^SAT, exact above SAT's floor."""
    off = ~np.eye(len(sat), dtype=bool)
    rates = np.exp(sat.to_numpy(float)) if transfer_rate is None else transfer_rate
    rates = pd.DataFrame(rates, index=sat.index, columns=sat.columns).to_numpy(float)[off]
    sizes = clusters.value_counts().sort_index()
    return [
        f"| models | {len(sat)} |",
        f"| white-box attack success | {_range(np.exp(np.diag(sat.to_numpy(float))), ' %')} |",
        f"| transfer rate between different models (median; range) | "
        f"{np.nanmedian(rates):.1f} %; {_range(rates, ' %')} |",
        f"| SAT between different models | {_range(sat.to_numpy(float)[off], digits=2)} |",
        f"| spectral clusters (sizes) | {len(sizes)} ({', '.join(map(str, sizes.tolist()))}) |",
    ]


def accuracy_lines(clean_accuracy: pd.DataFrame) -> list[str]:
    """Clean top-1 accuracy over the models (``accuracy``: a fraction)."""
    return [f"| clean accuracy | {_range(100 * clean_accuracy['accuracy'], ' %')} |"]


def component_lines(importance: pd.DataFrame) -> list[str]:
    """The held-out R² of SAT from the shared components (fig3) and its top component."""
    top = importance.sort_values("importance", ascending=False).iloc[0]
    return [
        f"| SAT explained by shared components: held-out R² (mean ± sd over folds) | "
        f"{top['cv_r2_mean']:.2f} ± {top['cv_r2_std']:.2f} |",
        f"| most important component (fig3) | {top['component']} |",
    ]


def ensemble_lines(correlations: pd.DataFrame) -> list[str]:
    """fig5's Spearman ρ between SAT and ensemble gain, all pairs, with its interval."""
    rows = correlations[correlations["pairs"] == "all pairs"].set_index("gain")
    return [
        _row(
            f"ensemble gain over the {which} vs SAT: Spearman ρ [95 % interval]",
            _interval(rows.loc[gain]),
        )
        for which, gain in (
            ("members' mean", "gain_over_mean"),
            ("better member", "gain_over_best"),
        )
    ]


def distillation_lines(distillation: pd.DataFrame) -> list[str]:
    """Per student: accuracy without a teacher and the range over its teachers (fig6)."""
    lines = []
    for student, rows in distillation.groupby("student", sort=False):
        baseline = 100 * float(rows["baseline_accuracy"].iloc[0])
        by_teacher = 100 * rows["accuracy_mean"]
        lines.append(
            f"| distilled {student}: accuracy without a teacher; with a teacher (range) | "
            f"{baseline:.1f} %; {_range(by_teacher, ' %')} |"
        )
    return lines


def uncertainty_lines(
    intervals: pd.DataFrame, cluster_ari: pd.DataFrame, images_needed: pd.DataFrame
) -> list[str]:
    """fig7 and fig8: SAT's interval widths, cluster stability, images for a stable ranking."""
    needed = images_for_spearman(images_needed, SPEARMAN_TARGET)
    stable = "not reached" if needed is None else f"{needed} images"
    total = int(images_needed["n_images"].max())
    width = intervals["sat_ci_width"]
    ari = cluster_ari["ari"]
    return [
        _row(
            "width of SAT's 95 % bootstrap interval (median; range over pairs)",
            f"{width.median():.2f}; {_range(width, digits=2)}",
        ),
        _row(
            "cluster stability under image resampling: ARI (mean; range)",
            f"{ari.mean():.2f}; {_range(ari, digits=2)}",
        ),
        _row(
            f"eval images for Spearman ≥ {SPEARMAN_TARGET} with the full matrix (of {total})",
            stable,
        ),
    ]


def measure_lines(measures: pd.DataFrame) -> list[str]:
    """fig9: each measure's rank correlation with SAT and its held-out R² from components."""
    lines = []
    for name, row in measures.iterrows():
        lines.append(
            f"| {name}: Spearman ρ with SAT; held-out R² from components; ρ with ensemble gain | "
            f"{row['spearman_with_sat']:.2f}; {row['r2_mean']:.2f} ± {row['r2_std']:.2f}; "
            f"{row['ensemble_spearman']:.2f} [{row['ensemble_ci_low']:.2f}, "
            f"{row['ensemble_ci_high']:.2f}] |"
        )
    return lines


def adaptive_lines(measured: pd.DataFrame, estimate_error: pd.DataFrame) -> list[str]:
    """An adaptive run: how many pairs it measured, and its estimate's error measured on held-out
    measured pairs (sat/estimate_error.csv)."""
    values = measured.to_numpy(dtype=bool)
    n_models = len(values)
    pairs = n_models * (n_models - 1) // 2
    done = int((values.sum() - np.trace(values)) // 2)
    error = estimate_error.iloc[0]
    lines = [
        _row(
            "pairs measured (adaptive strategy; the others estimated, every analysis uses both)",
            f"{done} of {pairs} ({100 * done / pairs:.0f} %)",
        ),
        _row(
            f"estimate's error on {int(error['held_out_cells'])} held-out measured cells: "
            "Spearman ρ [95 % interval]; mean absolute error (ln %) [interval]; coverage of its "
            "95 % bars; cluster ARI",
            f"{error['spearman']:.2f} [{error['spearman_low']:.2f}, {error['spearman_high']:.2f}]; "
            f"{error['mae']:.2f} [{error['mae_low']:.2f}, {error['mae_high']:.2f}]; "
            f"{100 * error['coverage_95']:.0f} %; {error['cluster_ari']:.2f}",
        ),
    ]
    if isinstance(error.get("warning"), str) and error["warning"]:
        lines.append(_row("warning on the estimate's error", error["warning"]))
    return lines


def replay_lines(replay: pd.DataFrame) -> list[str]:
    """fig10: the adaptive strategy replayed on this complete matrix, one row per (k, m)."""
    return [
        _row(
            f"adaptive replay, {int(row['k'])} landmarks, {int(row['m'])} neighbours: pairs "
            "measured; Spearman ρ of the estimated pairs (soft-impute baseline); cluster ARI "
            "(baseline)",
            f"{100 * row['fraction_measured']:.0f} %; {row['spearman_unmeasured']:.2f} "
            f"({row['baseline_spearman_unmeasured']:.2f}); {row['cluster_ari']:.2f} "
            f"({row['baseline_cluster_ari']:.2f})",
        )
        for _, row in replay.iterrows()
    ]


def run_summary(
    run_name: str,
    sat: pd.DataFrame,
    transfer_rate: pd.DataFrame | None,
    clusters: pd.Series,
    importance: pd.DataFrame,
    clean_accuracy: pd.DataFrame | None = None,
    ensemble_correlations: pd.DataFrame | None = None,
    distillation: pd.DataFrame | None = None,
    intervals: pd.DataFrame | None = None,
    cluster_ari: pd.DataFrame | None = None,
    images_needed: pd.DataFrame | None = None,
    measures: pd.DataFrame | None = None,
    measured: pd.DataFrame | None = None,
    estimate_error: pd.DataFrame | None = None,
    replay: pd.DataFrame | None = None,
) -> str:
    """The summary page: one table, each row read from a file the run wrote."""
    rows = sat_lines(sat, transfer_rate, clusters)
    if measured is not None and estimate_error is not None:
        rows += adaptive_lines(measured, estimate_error)
    if clean_accuracy is not None:
        rows += accuracy_lines(clean_accuracy)
    rows += component_lines(importance)
    if ensemble_correlations is not None:
        rows += ensemble_lines(ensemble_correlations)
    if distillation is not None:
        rows += distillation_lines(distillation)
    if intervals is not None and cluster_ari is not None and images_needed is not None:
        rows += uncertainty_lines(intervals, cluster_ari, images_needed)
    if measures is not None:
        rows += measure_lines(measures)
    if replay is not None:
        rows += replay_lines(replay)
    return "\n".join(
        [
            f"# Run summary: {run_name}",
            "",
            "Read from this run's tables (sat/, analysis/, reports/). CPU training differs in",
            "the last bits across CPU types: another machine's demo gives slightly other values.",
            "",
            "| quantity | value |",
            "| --- | --- |",
            *rows,
            "",
        ]
    )
