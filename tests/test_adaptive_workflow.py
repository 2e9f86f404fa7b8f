"""The adaptive pair strategy in the workflow (sat.pairs.strategy: adaptive): its DAG (default
tier: dry runs), and a real run on the tiny config with 5 models, k = 1 and m = 1, then a sixth
model added (long tier)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from workflow_helpers import TINY_CONFIG, copy_run, planned_jobs, snakemake

FIVE = ["resnet10t", "pit", "gmlp", "resnet_nf", "resmlp"]
SIXTH = "convnext"
ADAPTIVE = "sat={pairs: {strategy: adaptive, landmarks: 1, neighbours: 1}}"
RUN = "results/tiny"


def include(models: list[str]) -> str:
    return f"models={{include: [{', '.join(models)}]}}"


def dag_edges(workdir, *config: str) -> dict[str, list[tuple[str, str]]]:
    """(from rule, to rule) -> count of job edges in ``snakemake --dag`` (the planned DAG)."""
    run = snakemake(workdir, "--dag", "--configfile", str(TINY_CONFIG), "--config", *config)
    assert run.returncode == 0, run.stderr[-3000:]
    label = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)", run.stdout, re.M))
    edges: dict[tuple[str, str], int] = {}
    for source, target in re.findall(r"^\s*(\d+) -> (\d+)", run.stdout, re.M):
        key = (label[source], label[target])
        edges[key] = edges.get(key, 0) + 1
    return edges


def test_the_landmark_pass_reads_only_the_sets_it_evaluates(tmp_path):
    """Every transfer job of the planned pass has as inputs only the adversarial sets it
    evaluates: with 1 landmark, the landmark reads all 5 sets and every other model 2 (the
    landmark's and its own): 13 edges, not the 25 of strategy all."""
    adaptive = dag_edges(tmp_path, ADAPTIVE, include(FIVE))
    assert adaptive[("attack", "transfer_round")] == 5 + 4 * 2
    assert ("attack", "transfer") not in adaptive  # the last round waits for the checkpoint
    assert adaptive[("transfer_round", "pair_plan")] == 5
    every = dag_edges(tmp_path, include(FIVE))
    assert every[("attack", "transfer")] == 25


def test_a_dry_run_plans_the_checkpoint_and_the_estimate(tmp_path):
    run = snakemake(
        tmp_path, "-n", "--configfile", str(TINY_CONFIG), "--config", ADAPTIVE, include(FIVE)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = planned_jobs(run)
    assert jobs["transfer_round"] == 5 and jobs["pair_plan"] == 1 and jobs["sat_estimate"] == 1
    assert "checkpoint" in run.stdout + run.stderr


def test_landmarks_that_are_not_models_stop_the_run_before_any_job(tmp_path):
    bad = "sat={pairs: {strategy: adaptive, landmarks: [resnet10t, vit]}}"
    run = snakemake(tmp_path, "-n", "--configfile", str(TINY_CONFIG), "--config", bad)
    assert run.returncode != 0
    assert "sat.pairs.landmarks names 'vit', which is not a model of this run" in (
        run.stdout + run.stderr
    )


# --- a real adaptive run (long tier) -----------------------------------------------------------


def read_matrix(workdir, name: str) -> pd.DataFrame:
    return pd.read_csv(workdir / RUN / "sat" / name, index_col=0)


def transfer_sources(workdir, model: str) -> set[str]:
    with safe_open(workdir / RUN / "transfer" / f"{model}.safetensors", "pt") as handle:
        return {key.split("/", 1)[1] for key in handle.keys() if key.startswith("pred/")}


def stored_pairs(workdir) -> set[tuple[str, str]]:
    """(source, target) of every pair file in the run's pair store."""
    store = workdir / RUN / "transfer_pairs"
    return {(path.stem, path.parent.name) for path in store.glob("*/*.safetensors")}


def computed_pairs(workdir) -> set[tuple[str, str]]:
    """(source, target) of the pairs the transfer logs (every round) say were computed."""
    found = set()
    for log in (workdir / RUN / "logs" / "transfer").rglob("*.log"):
        for line in log.read_text().splitlines():
            match = re.match(r"computed (\S+) -> (\S+):", line)
            if match:
                found.add((match[1], match[2]))
    return found


@pytest.fixture(scope="module")
def adaptive_run(tiny_run, tmp_path_factory):
    """The tiny run switched to the adaptive strategy and grown to 5 models."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("adaptive"))
    run = snakemake(workdir, "--configfile", str(TINY_CONFIG), "--config", ADAPTIVE, include(FIVE))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_an_adaptive_run_measures_some_pairs_and_estimates_the_rest(adaptive_run, tiny_run):
    measured = read_matrix(adaptive_run, "measured.csv").astype(bool)
    sat = read_matrix(adaptive_run, "sat.csv")
    counted = read_matrix(adaptive_run, "sat_measured.csv")
    assert list(sat.index) == FIVE
    off = ~np.eye(5, dtype=bool)
    assert 0 < (~measured.to_numpy())[off].sum() < off.sum()  # some pairs stay unmeasured
    assert measured.loc["resnet10t"].all()  # the landmark (first in run order) against all
    assert np.isfinite(sat.to_numpy()).all() and np.array_equal(sat, sat.T)
    # Measured cells are the counted ones, bit for bit; the others were never counted.
    assert np.array_equal(sat.to_numpy()[measured], counted.to_numpy()[measured])
    assert counted.isna().to_numpy()[~measured.to_numpy()].all()
    # ... and they equal what strategy all wrote for the same pair of the same models.
    every = pd.read_csv(tiny_run / RUN / "sat" / "sat.csv", index_col=0)
    for a in every.index:
        for b in every.index:
            if measured.loc[a, b]:
                assert sat.loc[a, b] == every.loc[a, b], (a, b)
    # Each target evaluated exactly the sources of its measured cells.
    for model in FIVE:
        assert transfer_sources(adaptive_run, model) == set(measured.index[measured[model]])
    error = pd.read_csv(adaptive_run / RUN / "sat" / "estimate_error.csv")
    assert {"spearman", "mae", "cluster_ari", "held_out_cells"} <= set(error.columns)
    estimate = pd.read_csv(adaptive_run / RUN / "sat" / "estimate.csv")
    assert len(estimate) == 5 * 6 // 2
    assert (estimate.loc[estimate["measured"], "std"] == 0).all()
    assert (estimate.loc[~estimate["measured"], "std"] > 0).all()
    summary = (adaptive_run / RUN / "reports" / "summary.md").read_text()
    assert re.search(r"pairs measured .*\| \d+ of 10 \(", summary)
    intervals = pd.read_csv(adaptive_run / RUN / "sat" / "intervals.csv")
    assert len(intervals) == (measured.to_numpy()[off].sum()) // 2  # measured pairs only


@pytest.mark.slow
def test_a_finished_adaptive_run_plans_nothing(adaptive_run):
    run = snakemake(
        adaptive_run, "-n", "--configfile", str(TINY_CONFIG), "--config", ADAPTIVE, include(FIVE)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Nothing to be done" in run.stdout + run.stderr


@pytest.mark.slow
def test_adding_a_model_keeps_the_landmarks_and_reuses_the_pairs(adaptive_run, tmp_path):
    workdir = copy_run(adaptive_run, tmp_path / "six")
    before = stored_pairs(workdir)
    for log in (workdir / RUN / "logs" / "transfer").rglob("*.log"):
        log.unlink()  # the new run's logs only
    six = include([*FIVE, SIXTH])
    targets = [f"{RUN}/sat/sat.csv", f"{RUN}/sat/measured.csv"]  # the analyses: test above
    run = snakemake(
        workdir, "--configfile", str(TINY_CONFIG), "--config", ADAPTIVE, six, "--", *targets
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    measured = read_matrix(workdir, "measured.csv").astype(bool)
    assert measured.loc["resnet10t"].all()  # still the landmark
    computed = computed_pairs(workdir)
    assert computed, "the sixth model's pairs were computed"
    assert not computed & before, f"stored pairs were recomputed: {sorted(computed & before)}"
    assert all(SIXTH in pair or pair not in before for pair in computed)
    assert {("resnet10t", SIXTH), (SIXTH, "resnet10t"), (SIXTH, SIXTH)} <= computed
    cells = {(a, b) for a in FIVE for b in FIVE if measured.loc[a, b]}
    assert cells <= before | computed  # every measured cell of the five came from the store
