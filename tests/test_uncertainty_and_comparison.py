"""SAT's uncertainty stage (intervals, stability, images needed) and the comparison of SAT with
other measures, on planted runs whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
from synthetic_sat import planted_sat

from satsim.analysis.components import component_importance, pair_table
from satsim.analysis.ensembles import spearman_with_ci
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.models.registry import load_registry
from satsim.similarity.bootstrap import pair_outcomes
from satsim.similarity.comparison import measure_summary, pair_values, rank_correlations
from satsim.similarity.sat import sat_matrix
from satsim.similarity.uncertainty import (
    default_subset_sizes,
    images_for_spearman,
    sat_uncertainty,
)

N_CLASSES = 10


def planted_run(n_models: int = 5, n_images: int = 200, seed: int = 0):
    """sat_matrix's inputs: two families of models; within a family adversarial images transfer
    often (70 %), across rarely (10 %)."""
    rng = np.random.default_rng(seed)
    models = [f"m{i}" for i in range(n_models)]
    family = np.arange(n_models) % 2
    fool = np.where(family[:, None] == family[None, :], 0.7, 0.1)
    labels = rng.integers(0, N_CLASSES, n_images)
    wrong = (labels + 1) % N_CLASSES
    correct = rng.random((n_models, n_images)) < 0.9
    clean_pred = {m: np.where(correct[i], labels, wrong) for i, m in enumerate(models)}
    adv_index, transfer_pred = {}, {}
    for s, source in enumerate(models):
        index = np.flatnonzero(correct[s])
        adv_index[source] = index
        for t, target in enumerate(models):
            fooled = rng.random(len(index)) < (1.0 if s == t else fool[s, t])
            transfer_pred[(source, target)] = np.where(fooled, wrong[index], labels[index])
    return models, labels, clean_pred, adv_index, transfer_pred, family


def test_default_grid_runs_from_five_percent_to_the_whole_set():
    assert default_subset_sizes(5000) == [250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000]
    assert default_subset_sizes(96)[0] == 10 and default_subset_sizes(96)[-1] == 96
    # An eval set below the 10-image minimum (the paper workflow's 4-image test) gets itself:
    # the default never asks for more images than there are.
    assert default_subset_sizes(4) == [4]


def test_images_for_spearman_is_where_the_curve_stays_above_the_target():
    curve = pd.DataFrame({"n_images": [10, 20, 40, 80], "spearman": [0.97, 0.90, 0.96, 1.0]})
    assert images_for_spearman(curve, 0.95) == 40  # 10 passes, but 20 falls back below
    assert images_for_spearman(curve, 0.85) == 10
    assert images_for_spearman(curve.assign(spearman=[0.1, 0.2, 0.3, 0.9]), 0.95) is None


def test_uncertainty_tables_match_the_sat_matrix_and_shrink_with_more_images():
    models, labels, clean_pred, adv_index, transfer_pred, family = planted_run()
    sat = sat_matrix(labels, clean_pred, adv_index, transfer_pred, eps_s=0.01, models=models)
    outcomes = pair_outcomes(labels, clean_pred, adv_index, transfer_pred, models)
    clusters = pd.Series(family + 1, index=models, name="cluster")
    result = sat_uncertainty(outcomes, 0.01, clusters, 2, 0, 300, 50, [], 50)
    intervals = result.intervals.set_index(["model_a", "model_b"])
    assert len(intervals) == len(models) * (len(models) - 1) // 2
    for (a, b), row in intervals.iterrows():
        assert row["sat"] == sat.sat.loc[a, b]  # the point estimate is the run's SAT, exactly
        assert row["sat_ci_low"] <= row["sat"] <= row["sat_ci_high"]
        assert row["rate_ci_low"] <= row["transfer_rate"] <= row["rate_ci_high"]
        assert np.isclose(row["transfer_rate"], sat.transfer_rate.loc[a, b])
    assert np.allclose(result.width, result.width.T)
    # Two well separated families: every resample finds the same two clusters.
    assert (result.cluster_ari["ari"] == 1.0).all() and len(result.cluster_ari) == 50
    curve = result.curve
    assert curve["n_images"].iloc[-1] == len(labels) and curve["spearman"].iloc[-1] == 1.0
    assert curve["median_ci_width"].iloc[0] > curve["median_ci_width"].iloc[-1]


def test_sat_goes_through_the_comparison_as_fig3_and_fig5_see_it():
    registry = load_registry("configs/models/demo.yaml")
    names = list(registry)[:8]
    components = {name: registry[name].components for name in names}
    effects = {"Base architecture": 1.0, "Normalization": 0.5}
    sat = planted_sat(names, components, effects, seed=1)
    noise = np.random.default_rng(2).normal(size=sat.shape)
    other = sat + (noise + noise.T)  # a noisier measure of the same thing
    reversed_sat = -sat  # ranks every pair the other way round
    pairs = pair_table(sat, components, COMPONENT_COLUMNS)
    gains = pairs[["model_a", "model_b"]].assign(
        gain_over_mean=np.random.default_rng(3).normal(size=len(pairs)) - 0.1 * pairs["sat"]
    )
    measures = {"sat": sat, "noisy": other, "reversed": reversed_sat}
    values = pair_values(measures)
    assert np.allclose(values["sat"], pairs["sat"])
    rho = rank_correlations(values, list(measures))
    assert rho.loc["sat", "sat"] == 1.0 and np.isclose(rho.loc["sat", "reversed"], -1.0)
    assert 0.0 < rho.loc["sat", "noisy"] < 1.0
    summary = measure_summary(measures, components, COMPONENT_COLUMNS, gains, 0, 3, 2, 200)
    r2 = component_importance(pairs, COMPONENT_COLUMNS, 0, 3, 2).r2
    assert np.isclose(summary.loc["sat", "r2_mean"], r2.mean())
    expected = spearman_with_ci(gains.assign(sat=pairs["sat"]), "gain_over_mean", 0, 200)
    assert np.isclose(summary.loc["sat", "ensemble_spearman"], expected["spearman"])
    assert np.isclose(summary.loc["sat", "ensemble_ci_low"], expected["ci_low"])
    assert np.isclose(summary.loc["reversed", "ensemble_spearman"], -expected["spearman"])
    # The planted SAT is made of components; its reversal is too, the noisy one less so.
    assert summary.loc["sat", "r2_mean"] > summary.loc["noisy", "r2_mean"]
