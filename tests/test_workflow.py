"""The whole DAG, through the real ``snakemake`` command, on the committed tiny config
(tests/configs/tiny.yaml: 3 demo models, 96 eval images, 2 training epochs, 2 PGD steps), run once
per session (``tiny_run``, read-only); each test that reruns or changes a run works on its own
copy. The distillation experiment on top of it trains students: the long tier (``slow``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic_sat import write_release_csv
from workflow_helpers import REPO, SNAKEMAKE, TINY_CONFIG, copy_run, planned_jobs, snakemake

from satsim.workflow.artifacts import load_tensors, read_provenance, save_tensors

TINY_MODELS = ["resnet10t", "pit", "gmlp"]


CONFIG = str(TINY_CONFIG)
# Distillation on top of the finished tiny run: one student, one teacher, one seed, 3 epochs.
DISTILL = "distillation={students: [resnet10t], teachers: 1, seeds: [1], training: {epochs: 3}}"


@pytest.fixture(scope="module")
def distilled_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run with the distillation experiment (fig6) added."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("distilled"))
    run = snakemake(workdir, "--configfile", CONFIG, "--config", DISTILL)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


def test_tiny_run_produces_every_output(tiny_run):
    workdir = tiny_run
    out = workdir / "results" / "tiny"
    sat = pd.read_csv(out / "sat" / "sat.csv", index_col=0)
    assert list(sat.index) == TINY_MODELS and list(sat.columns) == TINY_MODELS
    assert np.allclose(sat.to_numpy(), sat.to_numpy().T)
    assert np.isfinite(sat.to_numpy()).all()
    n_common = pd.read_csv(out / "sat" / "n_common.csv", index_col=0)
    assert (n_common.to_numpy() <= 96).all()
    pairs = pd.read_csv(out / "sat" / "pairs.csv")
    assert len(pairs) == 3 * 4 // 2
    for name in ("fig1", "fig2"):
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 1000
    # Files say what made them.
    record = read_provenance(out / "adversarial" / "pit.safetensors")
    assert record["attack"]["steps"] == 2 and record["attack"]["seed"] == 0
    assert {"weights_sha256", "data_sha256", "versions", "white_box_success"} <= set(record)
    for stage in ("train_model", "attack", "transfer"):
        assert len(list((out / "benchmarks" / stage).glob("*.tsv"))) == 3
    assert "attack" in (out / "logs" / "attack" / "pit.log").read_text()  # tqdm progress
    # Nothing temporary left behind.
    assert not list(out.rglob("*.partial")) and not list(out.rglob("*.tmp*"))


def test_tiny_run_has_sat_intervals_and_the_other_measures(tiny_run):
    """Issue 13's stages on the tiny run: the intervals' point SAT is sat.csv's, the measures
    are similarity matrices of the same models, and fig7-fig9 and the summary rows exist."""
    out = tiny_run / "results" / "tiny"
    sat = pd.read_csv(out / "sat" / "sat.csv", index_col=0)
    intervals = pd.read_csv(out / "sat" / "intervals.csv")
    for row in intervals.itertuples():
        assert row.sat == sat.loc[row.model_a, row.model_b]
        assert row.sat_ci_low <= row.sat <= row.sat_ci_high
    curve = pd.read_csv(out / "analysis" / "images_needed.csv")
    assert curve["n_images"].iloc[-1] == 96 and curve["spearman"].iloc[-1] == 1.0
    for name in ("cka", "agreement", "error_consistency", "gradient_sign"):
        matrix = pd.read_csv(out / "similarity" / f"{name}.csv", index_col=0)
        assert list(matrix.index) == TINY_MODELS and list(matrix.columns) == TINY_MODELS
        assert np.allclose(matrix.to_numpy(), matrix.to_numpy().T, equal_nan=True)
        if name != "error_consistency":  # kappa is NaN on the diagonal of a perfect model only
            assert np.allclose(np.diag(matrix.to_numpy()), 1.0)
    features, record = load_tensors(out / "features" / "gmlp.safetensors")
    assert features["features"].dtype == torch.float16 and len(features["features"]) == 96
    assert (
        record["weights_sha256"]
        == read_provenance(out / "clean" / "gmlp.safetensors")["weights_sha256"]
    )
    summary = pd.read_csv(out / "similarity" / "summary.csv", index_col=0)
    assert list(summary.index) == ["sat", "cka", "agreement", "error_consistency", "gradient_sign"]
    assert summary.loc["sat", "spearman_with_sat"] == 1.0
    for n in (7, 8, 9):
        assert (out / "figures" / f"fig{n}.pdf").stat().st_size > 1000
    text = (out / "reports" / "summary.md").read_text()
    assert "eval images for Spearman" in text and "cka: Spearman ρ with SAT" in text


def test_rerun_resumes_from_what_is_done(tiny_run, tmp_path):
    workdir, config = copy_run(tiny_run, tmp_path), CONFIG
    again = snakemake(workdir, "--configfile", str(config), "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
    # Lose one target's transfer file and the matrix: only those are redone, no attack or
    # training.
    out = workdir / "results" / "tiny"
    (out / "transfer" / "gmlp.safetensors").unlink()
    (out / "sat" / "sat.csv").unlink()
    plan = planned_jobs(snakemake(workdir, "--configfile", str(config), "-n"))
    assert plan.get("transfer") == 1 and plan.get("sat_matrix") == 1, plan
    assert not {"train_model", "clean_predictions", "attack"} & set(plan), plan


def test_tiny_run_has_the_component_analysis_the_notebook_and_a_report(tiny_run, tmp_path):
    workdir, config = copy_run(tiny_run, tmp_path), CONFIG
    out = workdir / "results" / "tiny"
    for name in ("fig3", "fig4"):
        assert (out / "figures" / f"{name}.pdf").stat().st_size > 1000
    importance = pd.read_csv(out / "analysis" / "component_importance.csv")
    assert len(importance) == 13  # 3 models = 3 pairs: too few to cross-validate, and it says so
    assert "too few to cross-validate" in (out / "logs" / "component_importance.log").read_text()
    members = pd.read_csv(out / "analysis" / "cluster_members.csv")
    assert members["size"].sum() == len(TINY_MODELS)
    notebook = json.loads((out / "notebooks" / "explore_run.ipynb").read_text())
    outputs = [cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(outputs[2:]), "every cell after the parameters ran and showed something"
    report = snakemake(workdir, "--configfile", str(config), "--report", "report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    html = (workdir / "report.html").read_text()
    assert "fig3.png" in html and "component_importance.csv" in html
    # Categories numbered 1..n, no gap or repeat; the opening text says what this run did.
    categories = html.split("var categories = ", 1)[1].split("\n", 1)[0]
    numbers = sorted(int(n) for n in re.findall(r'(?:^\{|\}, )"(\d+)\. ', categories))
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 7, numbers
    assert "evaluated every model on every other model's adversarial images" in html
    assert "unless" not in html.split("This run (tiny)")[1][:400]


def test_tiny_run_compares_itself_with_a_released_format_matrix(tiny_run, tmp_path):
    workdir, config = copy_run(tiny_run, tmp_path), CONFIG
    ours = pd.read_csv(workdir / "results" / "tiny" / "sat" / "sat.csv", index_col=0)
    released = write_release_csv(np.log(np.exp(ours) * 0.5 + 0.5), workdir / "released.csv")
    run = snakemake(
        workdir,
        "--configfile",
        str(config),
        "--config",
        f"sat={{released_matrix: {released}}}",
        "--",
        "results/tiny/analysis/released_comparison.csv",
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = pd.read_csv(workdir / "results" / "tiny" / "analysis" / "released_comparison.csv")
    assert summary["n_models"].item() == 3
    assert summary["spearman"].item() == pytest.approx(1.0)  # a monotone transform of ours
    assert (workdir / "results" / "tiny" / "figures" / "ours_vs_released.pdf").exists()


@pytest.mark.slow
def test_tiny_run_has_ensembles_and_distillation(distilled_run):
    workdir = distilled_run
    out = workdir / "results" / "tiny"
    for name in ("fig5", "fig6"):
        assert (out / "figures" / f"{name}.pdf").stat().st_size > 1000
    assert len(pd.read_csv(out / "analysis" / "ensemble_pairs.csv")) == 3
    table = pd.read_csv(out / "analysis" / "distillation.csv")
    assert list(table["student"]) == ["resnet10t"] and table["baseline_accuracy"].notna().all()


@pytest.mark.slow
def test_a_killed_distillation_job_resumes_from_its_last_epoch(distilled_run, tmp_path):
    """Kill the whole Snakemake run after the first epoch's checkpoint; the rerun resumes there
    and ends with the same student as the uninterrupted run."""
    workdir, config = copy_run(distilled_run, tmp_path), CONFIG
    out = workdir / "results" / "tiny"
    result = next(
        p
        for p in (out / "distillation" / "resnet10t").glob("*/seed1.json")
        if p.parent.name != "none"
    )
    teacher = result.parent.name
    reference = json.loads(result.read_text())
    result.unlink()
    checkpoint = out / "distillation" / "checkpoints" / f"resnet10t__{teacher}__seed1.pt"
    target = str(result.relative_to(workdir))
    command = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--cores", "1"]
    command += ["--configfile", str(config), "--config", DISTILL, "--", target]
    process = subprocess.Popen(
        command,
        cwd=workdir,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(torch.load(checkpoint, weights_only=True)["losses"])
    assert 1 <= done < 3 and not result.exists()

    assert snakemake(workdir, "--configfile", str(config), "--unlock").returncode == 0
    rerun = snakemake(workdir, "--configfile", str(config), "--config", DISTILL, "--", target)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (out / "logs" / "distill" / "resnet10t" / teacher / "seed1.log").read_text()
    assert f"after epoch {done}" in log
    resumed = json.loads(result.read_text())
    for key in ("student_weights_sha256", "accuracy", "epoch_losses"):
        assert resumed[key] == reference[key], key
    assert not checkpoint.exists()


def test_transfer_refuses_an_adversarial_set_from_another_attack(tiny_run, tmp_path):
    workdir, config = copy_run(tiny_run, tmp_path), CONFIG
    path = workdir / "results" / "tiny" / "adversarial" / "pit.safetensors"
    tensors, record = load_tensors(path)
    record["attack"]["steps"] = 7  # as if pit had been attacked by another config
    save_tensors(path, tensors, record)
    # One target's transfer job is enough (every target's reads every adversarial set).
    target = "results/tiny/transfer/gmlp.safetensors"
    run = snakemake(workdir, "--configfile", str(config), "--", target)
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "disagree on 'attack'" in text and "pit.safetensors" in text, text[-3000:]
