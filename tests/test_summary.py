"""The run summary reads its numbers from the run's tables: planted values come out as written."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from satsim.analysis.summary import run_summary

MODELS = ["a", "b", "c"]


def tables():
    rate = pd.DataFrame(
        [[100.0, 20.0, 40.0], [20.0, 100.0, 60.0], [40.0, 60.0, 100.0]],
        index=MODELS,
        columns=MODELS,
    )
    values = np.log(rate.to_numpy())
    np.fill_diagonal(values, np.log([99.0, 98.0, 97.0]))
    sat = pd.DataFrame(values, index=MODELS, columns=MODELS)
    clusters = pd.Series([1, 1, 2], index=MODELS, name="cluster")
    importance = pd.DataFrame(
        {
            "component": ["Stem layer", "Activation"],
            "importance": [0.2, 0.7],
            "cv_r2_mean": [0.31, 0.31],
            "cv_r2_std": [0.05, 0.05],
        }
    )
    return sat, rate, clusters, importance


def row(text: str, quantity: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(f"| {quantity}")]
    assert len(lines) == 1, (quantity, text)
    return lines[0].split(" | ")[-1].rstrip(" |")


def test_a_released_run_has_the_sat_rows_and_rates_from_sat():
    sat, _, clusters, importance = tables()
    text = run_summary("released", sat, None, clusters, importance)
    assert row(text, "models") == "3"
    assert row(text, "white-box attack success") == "97.0–99.0 %"
    assert row(text, "transfer rate between different models") == "40.0 %; 20.0–60.0 %"
    assert row(text, "SAT between different models") == f"{math.log(20):.2f}–{math.log(60):.2f}"
    assert row(text, "spectral clusters") == "2 (2, 1)"
    assert row(text, "SAT explained by shared components") == "0.31 ± 0.05"
    assert row(text, "most important component") == "Activation"
    assert "clean accuracy" not in text and "ensemble" not in text and "distilled" not in text


def test_a_computed_run_adds_accuracy_ensembles_and_distillation():
    sat, rate, clusters, importance = tables()
    accuracy = pd.DataFrame({"model": MODELS, "accuracy": [0.91, 0.955, 0.99]})
    correlations = pd.DataFrame(
        {
            "pairs": ["all pairs", "all pairs", "same base architecture"],
            "gain": ["gain_over_mean", "gain_over_best", "gain_over_mean"],
            "spearman": [0.25, -0.5, 0.9],
            "ci_low": [-0.1, -0.8, 0.1],
            "ci_high": [0.6, -0.2, 1.0],
        }
    )
    distillation = pd.DataFrame(
        {
            "student": ["a", "a"],
            "teacher": ["b", "c"],
            "accuracy_mean": [0.95, 0.97],
            "baseline_accuracy": [0.96, 0.96],
        }
    )
    text = run_summary(
        "demo", sat, rate, clusters, importance, accuracy, correlations, distillation
    )
    assert row(text, "clean accuracy") == "91.0–99.0 %"
    assert row(text, "ensemble gain over the members' mean") == "0.25 [-0.10, 0.60]"
    assert row(text, "ensemble gain over the better member") == "-0.50 [-0.80, -0.20]"
    assert row(text, "distilled a") == "96.0 %; 95.0–97.0 %"


def test_uncertainty_and_measure_rows():
    sat, rate, clusters, importance = tables()
    intervals = pd.DataFrame({"sat_ci_width": [0.2, 0.4, 0.9]})
    cluster_ari = pd.DataFrame({"ari": [1.0, 0.5, 0.75, 0.75]})
    curve = pd.DataFrame({"n_images": [10, 50, 100], "spearman": [0.5, 0.96, 1.0]})
    measures = pd.DataFrame(
        {
            "spearman_with_sat": [1.0, 0.42],
            "r2_mean": [0.3, 0.1],
            "r2_std": [0.05, 0.02],
            "ensemble_spearman": [0.2, -0.1],
            "ensemble_ci_low": [-0.1, -0.4],
            "ensemble_ci_high": [0.5, 0.3],
        },
        index=pd.Index(["sat", "cka"], name="measure"),
    )
    text = run_summary(
        "demo",
        sat,
        rate,
        clusters,
        importance,
        intervals=intervals,
        cluster_ari=cluster_ari,
        images_needed=curve,
        measures=measures,
    )
    assert row(text, "width of SAT's 95 % bootstrap interval") == "0.40; 0.20–0.90"
    assert row(text, "cluster stability under image resampling") == "0.75; 0.50–1.00"
    assert row(text, "eval images for Spearman ≥ 0.95 with the full matrix (of 100)") == (
        "50 images"
    )
    assert row(text, "cka: Spearman ρ with SAT") == "0.42; 0.10 ± 0.02; -0.10 [-0.40, 0.30]"
