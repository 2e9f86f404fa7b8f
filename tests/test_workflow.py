"""The whole DAG, through the real ``snakemake`` command, on a tiny config: 3 demo models,
96 eval images, 2 training epochs, 2 PGD steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, planned_jobs, snakemake

from satsim.artifacts import load_tensors, read_provenance, save_tensors

TINY_MODELS = ["resnet10t", "pit", "gmlp"]


def tiny_config(workdir: Path) -> Path:
    config = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
    config.update(run_name="tiny", figures_dir="results/tiny/figures")
    config["data"]["eval_size"] = 96
    config["models"].update(registry=str(REPO / "configs/models/demo.yaml"), include=TINY_MODELS)
    config["training"]["epochs"] = 2
    config["attack"].update(steps=2, batch_size=40)
    config["analysis"].update(n_clusters=2, tsne_perplexity=1)
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    config = tiny_config(workdir)
    run = snakemake(workdir, "--configfile", str(config))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir, config


@pytest.mark.slow
def test_tiny_run_produces_every_output(tiny_run):
    workdir, _ = tiny_run
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
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_rerun_resumes_from_what_is_done(tiny_run):
    workdir, config = tiny_run
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


@pytest.mark.slow
def test_same_seed_same_bytes(tiny_run, tmp_path):
    workdir, config = tiny_run
    rerun = snakemake(tmp_path, "--configfile", str(config), "--until", "attack")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for relative in (
        "models/pit.safetensors",
        "adversarial/pit.safetensors",
        "clean/resnet10t.safetensors",
    ):
        first = (workdir / "results" / "tiny" / relative).read_bytes()
        second = (tmp_path / "results" / "tiny" / relative).read_bytes()
        assert first == second, relative


@pytest.mark.slow
def test_transfer_refuses_an_adversarial_set_from_another_attack(tiny_run):
    """Runs last: it leaves the tiny run with a mismatched file."""
    workdir, config = tiny_run
    path = workdir / "results" / "tiny" / "adversarial" / "pit.safetensors"
    tensors, record = load_tensors(path)
    record["attack"]["steps"] = 7  # as if pit had been attacked by another config
    save_tensors(path, tensors, record)
    run = snakemake(workdir, "--configfile", str(config))
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "disagree on 'attack'" in text and "pit.safetensors" in text, text[-3000:]
