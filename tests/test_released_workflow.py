"""The analyses on the authors' released matrix (configs/released.yaml): no data, weights,
attack or transfer job in the DAG, and fig1-fig4, the tables, the notebook and the report come
out. The tests use a synthetic matrix in the release's format (the real one needs the network)."""

from __future__ import annotations

import pandas as pd
import pytest
from model_helpers import PAPER
from synthetic_sat import planted_sat, write_release_csv
from workflow_helpers import REPO, planned_jobs, snakemake

COMPONENTS = {name: spec.components for name, spec in PAPER.items()}


@pytest.fixture(scope="module")
def released_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("released")
    sat = planted_sat(list(PAPER), COMPONENTS, {"Base architecture": 1.0, "Stem layer": 0.5})
    matrix = write_release_csv(sat, workdir / "SAT_release.csv")
    args = ("--configfile", str(REPO / "configs" / "released.yaml"), "--config")
    # One (k, m) of the replay, the paper's default (the grid's other points cost CI minutes).
    args += (f"sat={{released_matrix: {matrix}, replay: {{grid: [[15, 10]]}}}}",)
    plan = planned_jobs(snakemake(workdir, *args, "--dry-run"))
    run = snakemake(workdir, *args)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir, args, plan


@pytest.mark.slow
def test_released_run_plans_no_data_weights_attack_or_transfer(released_run):
    _, _, plan = released_run
    assert plan["released_sat"] == 1 and plan["component_importance"] == 1
    heavy = {"prepare_imagenet", "fetch_weights", "clean_predictions", "attack", "transfer"}
    assert not heavy & set(plan), plan
    assert "sat_matrix" not in plan


@pytest.mark.slow
def test_released_run_draws_fig1_to_fig4_from_the_authors_numbers(released_run):
    workdir, args, _ = released_run
    out = workdir / "results" / "released"
    for n in (1, 2, 3, 4):
        assert (out / "figures" / f"fig{n}.pdf").stat().st_size > 1000
    sat = pd.read_csv(out / "sat" / "sat.csv", index_col=0)
    assert list(sat.index) == list(PAPER)
    importance = pd.read_csv(out / "analysis" / "component_importance.csv")
    assert importance["component"].iloc[0] == "Base architecture"  # the planted driver
    report = snakemake(workdir, *args, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    assert (workdir / "report.html").stat().st_size > 100_000


@pytest.mark.slow
def test_a_released_run_replays_the_adaptive_strategy(released_run):
    workdir, _, plan = released_run
    assert plan["adaptive_replay"] == 1
    out = workdir / "results" / "released"
    replay = pd.read_csv(out / "analysis" / "adaptive_replay.csv")
    assert replay[["k", "m"]].values.tolist() == [[15, 10]]
    row = replay.iloc[0]
    assert 0.3 < row["fraction_measured"] < 0.8
    for column in ("spearman_unmeasured", "cluster_ari"):
        assert row[column] > row[f"baseline_{column}"] - 0.05, column  # planted: both work
        assert -1 <= row[column] <= 1
    assert (out / "figures" / "fig10.pdf").stat().st_size > 1000
    summary = (out / "reports" / "summary.md").read_text()
    assert "adaptive replay, 15 landmarks, 10 neighbours" in summary


@pytest.mark.slow
def test_a_subset_run_takes_its_rows_and_an_unknown_name_is_reported(released_run, tmp_path):
    workdir, args, _ = released_run
    subset = (
        "models={include: [resnet50, resnet101, vit_small_patch16_224, deit_small_patch16_224]}",
    )
    run = snakemake(
        workdir,
        *args,
        *subset,
        "analysis={n_clusters: 2, tsne_perplexity: 1}",
        "--",
        "results/released/sat/sat.csv",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    sat = pd.read_csv(workdir / "results" / "released" / "sat" / "sat.csv", index_col=0)
    assert list(sat.index) == [
        "resnet50",
        "resnet101",
        "vit_small_patch16_224",
        "deit_small_patch16_224",
    ]

    renamed = (workdir / "SAT_release.csv").read_text().replace("convnext_tiny", "convnext_t")
    (tmp_path / "bad.csv").write_text(renamed)
    bad = snakemake(
        tmp_path,
        "--configfile",
        str(REPO / "configs" / "released.yaml"),
        "--config",
        f"sat={{released_matrix: {tmp_path / 'bad.csv'}}}",
        "--",
        "results/released/sat/sat.csv",
    )
    assert bad.returncode != 0
    assert "convnext_t (did you mean convnext_tiny" in bad.stdout + bad.stderr
    assert not (tmp_path / "results" / "released" / "sat" / "sat.csv").exists()
