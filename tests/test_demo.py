"""The embedded demo, exactly as the README runs it (configs/demo.yaml), in a scratch folder.

Checks what the demo promises: >= 12 models, each >= 90 % test accuracy; a symmetric SAT matrix
whose diagonal is >= ln(90) and whose off-diagonal entries are below their row's diagonal;
off-diagonal transfer rates that spread out; fig1-fig6; the component analysis with its
cross-validated R²; the cluster tables; the ensemble and distillation tables (2 students x 3
teachers x 2 seeds); the executed notebook; and the Snakemake report.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    run = subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(REPO / "Snakefile"),
            "--cores",
            "all",
            "--configfile",
            str(REPO / "configs" / "demo.yaml"),
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir / "results" / "demo"


def demo_report(workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--configfile"]
        + [str(REPO / "configs" / "demo.yaml"), "--report", "report.html"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_demo_models_are_accurate(demo_run):
    cards = [json.loads(path.read_text()) for path in (demo_run / "models").glob("*.json")]
    assert len(cards) >= 12
    accuracy = {card["model"]["name"]: card["test_accuracy"] for card in cards}
    assert min(accuracy.values()) >= 0.90, accuracy


@pytest.mark.slow
def test_demo_sat_matrix_has_the_expected_shape(demo_run):
    sat = pd.read_csv(demo_run / "sat" / "sat.csv", index_col=0)
    values = sat.to_numpy()
    assert len(sat) >= 12 and list(sat.index) == list(sat.columns)
    assert np.allclose(values, values.T)
    assert (values.diagonal() >= math.log(90)).all(), sat.to_numpy().diagonal()
    off_diagonal = ~np.eye(len(sat), dtype=bool)
    assert (values < values.diagonal()[:, None])[off_diagonal].all()
    rates = pd.read_csv(demo_run / "sat" / "transfer_rate.csv", index_col=0).to_numpy()
    low, high = np.percentile(rates[off_diagonal], [10, 90])
    assert low > 1.0 and high < 90.0 and high - low > 10.0, (low, high)


@pytest.mark.slow
def test_demo_figures_exist(demo_run):
    for name in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6"):
        assert (demo_run / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert (demo_run / "figures" / f"{name}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_demo_component_analysis_clusters_notebook_and_report(demo_run):
    log = (demo_run / "logs" / "component_importance.log").read_text()
    assert "cross-validated R² = " in log
    importance = pd.read_csv(demo_run / "analysis" / "component_importance.csv")
    assert len(importance) == 13 and np.isfinite(importance["cv_r2_mean"]).all()
    members = pd.read_csv(demo_run / "analysis" / "cluster_members.csv")
    assert len(members) == 4 and members["size"].sum() >= 12
    assert (demo_run / "analysis" / "cluster_component_values.csv").exists()
    assert (demo_run / "notebooks" / "explore_run.ipynb").stat().st_size > 10_000
    report = demo_report(demo_run.parent.parent)
    assert report.returncode == 0, report.stderr[-3000:]
    assert (demo_run.parent.parent / "report.html").stat().st_size > 100_000


@pytest.mark.slow
def test_demo_ensembles_and_distillation_tables(demo_run):
    correlations = pd.read_csv(demo_run / "analysis" / "ensemble_correlations.csv")
    overall = correlations[correlations["pairs"] == "all pairs"].iloc[0]
    assert (
        overall["n_pairs"] == 78 and overall["ci_low"] <= overall["spearman"] <= overall["ci_high"]
    )
    table = pd.read_csv(demo_run / "analysis" / "distillation.csv")
    assert set(table["student"]) == {"resnet10t", "pit"} and (table["n_seeds"] >= 2).all()
    assert len(table) == 6 and table["gain_mean"].notna().all()
