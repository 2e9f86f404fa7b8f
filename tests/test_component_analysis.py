"""Component importance, SAT by shared component, cluster profiles, the released-matrix parser
and the comparison of two matrices, on synthetic matrices with a planted answer."""

from __future__ import annotations

import numpy as np
import pytest
from model_helpers import PAPER
from synthetic_sat import planted_sat, write_release_csv

from satsim.analysis.cluster_profiles import (
    cluster_members,
    cluster_stability,
    overrepresented_values,
)
from satsim.analysis.clusters import spectral_clusters
from satsim.analysis.components import (
    SHARED,
    component_importance,
    pair_table,
    shared_component_effects,
)
from satsim.models.component_labels import COMPONENT_COLUMNS
from satsim.similarity.released import (
    ReleasedMatrixError,
    compare_matrices,
    off_diagonal,
    read_released,
)

NAMES = list(PAPER)
COMPONENTS = {name: spec.components for name, spec in PAPER.items()}


@pytest.fixture(scope="module")
def planted():
    """The paper's 69 models, with SAT driven by sharing the base architecture (strongly) and the
    stem layer (weakly)."""
    effects = {"Base architecture": 1.5, "Stem layer": 0.5}
    return planted_sat(NAMES, COMPONENTS, effects, seed=1)


def test_pair_table_has_each_unordered_pair_once(planted):
    pairs = pair_table(planted, COMPONENTS, COMPONENT_COLUMNS)
    assert len(pairs) == 69 * 68 // 2
    pair = {"resnet50", "resnet101"}
    row = pairs[pairs.model_a.isin(pair) & pairs.model_b.isin(pair)].iloc[0]
    assert (
        row[SHARED + "Base architecture"] == 1
        and row["sat"] == planted.loc["resnet50", "resnet101"]
    )
    with pytest.raises(KeyError, match="no components for mystery"):
        pair_table(planted.rename(index={"resnet50": "mystery"}), COMPONENTS, COMPONENT_COLUMNS)


def test_importance_finds_the_planted_components(planted):
    pairs = pair_table(planted, COMPONENTS, COMPONENT_COLUMNS)
    result = component_importance(pairs, COMPONENT_COLUMNS, seed=0, folds=5, repeats=5)
    assert np.nanmean(result.r2) > 0.8  # the planted model is nearly noise-free
    assert list(result.table["component"][:2]) == ["Base architecture", "Stem layer"]
    assert (result.table["importance"][2:] < 0.05).all()
    table = result.table_with_r2()
    assert (table["cv_r2_mean"] == np.nanmean(result.r2)).all()
    assert result.describe(len(pairs)).startswith(f"random forest on {len(pairs)} pairs: ")


def test_too_few_pairs_give_no_importance_and_say_why(planted):
    three = planted.iloc[:3, :3]  # 3 models, 3 pairs: too few to cross-validate
    pairs = pair_table(three, COMPONENTS, COMPONENT_COLUMNS)
    result = component_importance(pairs, COMPONENT_COLUMNS, seed=0)
    assert not result.cross_validated
    assert result.table_with_r2()[["cv_r2_mean", "cv_r2_std"]].isna().all().all()
    assert "too few to cross-validate" in result.describe(len(pairs))


def test_shared_component_effect_sizes_follow_the_plant(planted):
    pairs = pair_table(planted, COMPONENTS, COMPONENT_COLUMNS)
    effects = shared_component_effects(pairs, COMPONENT_COLUMNS).set_index("component")
    assert effects.loc["Base architecture", "cliffs_delta"] > 0.8
    assert (
        effects.loc["Base architecture", "median_shared"]
        > effects.loc["Base architecture", "median_not_shared"]
    )
    assert effects.loc["Base architecture", "n_shared"] + effects.loc[
        "Base architecture", "n_not_shared"
    ] == len(pairs)


def test_clusters_are_described_by_what_their_members_share(planted):
    clusters = spectral_clusters(planted, 4, seed=0)
    members = cluster_members(planted, clusters)
    assert members["size"].sum() == 69
    assert (members["mean_sat_within"] > members["mean_sat_between"]).all()
    values = overrepresented_values(clusters, COMPONENTS, COMPONENT_COLUMNS)
    top = values.groupby("cluster").first()
    assert (top["component"] == "Base architecture").sum() >= 2  # clusters follow the plant
    assert (values["fraction_in_cluster"] > values["fraction_overall"]).all()
    stability = cluster_stability(planted, 4, seed=0, n_seeds=3)
    assert stability["ari_vs_run_seed"].iloc[0] == 1.0 and len(stability) == 3


def test_released_matrix_round_trips_and_bad_files_are_named(tmp_path, planted):
    good = write_release_csv(planted, tmp_path / "SAT_release.csv")
    parsed = read_released(good, NAMES)
    assert list(parsed.index) == NAMES and np.allclose(parsed, planted, atol=1e-6)

    def broken(name, edit):
        frame = planted.copy()
        edit(frame)
        return write_release_csv(frame, tmp_path / name)

    asymmetric = broken("asym.csv", lambda f: f.iloc.__setitem__((0, 1), 0.0))
    with pytest.raises(ReleasedMatrixError, match="not symmetric: \\(botnet26t_256"):
        read_released(asymmetric, NAMES)
    misspelled = broken("typo.csv", lambda f: None)
    text = misspelled.read_text().replace("resnet50,", "resnet_50,")
    misspelled.write_text(text)
    with pytest.raises(ReleasedMatrixError, match="resnet_50 \\(did you mean resnet50"):
        read_released(misspelled, NAMES)
    swapped = planted.copy()
    swapped.columns = list(reversed(NAMES))
    with pytest.raises(ReleasedMatrixError, match="row and column names differ"):
        read_released(write_release_csv(swapped, tmp_path / "swap.csv"), NAMES)
    holes = broken("nan.csv", lambda f: f.iloc.__setitem__((2, 3), np.nan))
    with pytest.raises(ReleasedMatrixError, match="not a finite number"):
        read_released(holes, NAMES)


def test_comparison_reports_the_planted_correlation(planted):
    rng = np.random.default_rng(5)
    theirs = off_diagonal(planted)
    standard = (theirs - theirs.mean()) / theirs.std()
    planted_r = 0.6
    ours_values = planted_r * standard + np.sqrt(1 - planted_r**2) * rng.standard_normal(
        len(standard)
    )
    ours = planted.copy()
    for (a, b), value in ours_values.items():
        ours.loc[a, b] = ours.loc[b, a] = value
    summary, pairs = compare_matrices(ours, planted, top_k=20, n_clusters=10, seed=0)
    assert summary["n_models"] == 69 and summary["n_pairs"] == len(pairs) == 2346
    assert abs(summary["pearson"] - planted_r) < 0.05  # standard error ~0.013 at 2,346 pairs

    # A monotone transform of the same matrix: rank correlation and top pairs are identical.
    monotone = np.log(np.exp(planted) * 0.5 + 1.0)
    same, _ = compare_matrices(monotone, planted, top_k=20, n_clusters=10, seed=0)
    assert same["spearman"] == pytest.approx(1.0) and same["top_k_overlap"] == 1.0
    # Only the shared models count.
    subset = NAMES[:30]
    partial, _ = compare_matrices(planted.loc[subset, subset], planted, 20, 10, 0)
    assert partial["n_models"] == 30 and partial["pearson"] == pytest.approx(1.0)
    with pytest.raises(ReleasedMatrixError, match="only 2 models are in both"):
        compare_matrices(planted.iloc[:2, :2], planted, 20, 2, 0)
