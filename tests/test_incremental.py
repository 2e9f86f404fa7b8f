"""Rerun only what changed: params that are the numbers' causes only (dry runs on the session's
tiny run), and pair-level reuse of transfer evaluations when a model is added (your own
architecture, from a file the test writes; training and attacking it is the long tier, ``slow``)."""

from __future__ import annotations

import pytest
from workflow_helpers import (
    FOURTH,
    TINY,
    TINY_CONFIG,
    copy_run,
    models_override,
    pair_statuses,
    planned_jobs,
    snakemake,
)

SAT = "results/tiny/sat/sat.csv"


@pytest.fixture(scope="module")
def four_model_run(tiny_run, my_zoo_registry, tmp_path_factory):
    """The tiny run with a fourth model, your own architecture, added on the command line."""
    workdir = copy_run(tiny_run, tmp_path_factory.mktemp("added"))
    add = models_override([*TINY, FOURTH], my_zoo_registry)
    run = snakemake(workdir, "--configfile", str(TINY_CONFIG), "--config", add, "--", SAT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return workdir


@pytest.mark.slow
def test_adding_a_model_computes_only_the_new_pairs(four_model_run):
    statuses = pair_statuses(four_model_run / "results" / "tiny", [*TINY, FOURTH])
    # 2N + 1 = 7 new pairs: the new target on every set, every target on the new set.
    expected_new = {f"{source} -> {FOURTH}" for source in [*TINY, FOURTH]}
    expected_new |= {f"{FOURTH} -> {target}" for target in TINY}
    assert sorted(statuses["computed"]) == sorted(expected_new)
    assert len(statuses["reused"]) == 9
    assert not set(statuses["reused"]) & expected_new


@pytest.mark.slow
def test_added_model_matrix_equals_a_from_scratch_run(four_model_run, four_model_scratch_run):
    for name in ("sat.csv", "transfer_rate.csv", "n_common.csv", "pairs.csv"):
        added = (four_model_run / "results" / "tiny" / "sat" / name).read_bytes()
        scratch = (four_model_scratch_run / "results" / "tiny" / "sat" / name).read_bytes()
        assert added == scratch, name


@pytest.mark.slow
def test_excluding_a_model_again_computes_no_pair(four_model_run, tiny_run, tmp_path):
    workdir = copy_run(four_model_run, tmp_path / "excluded")
    run = snakemake(workdir, "--configfile", str(TINY_CONFIG), "--", SAT)
    assert run.returncode == 0, run.stderr[-3000:]
    statuses = pair_statuses(workdir / "results" / "tiny", TINY)
    assert statuses["computed"] == [] and len(statuses["reused"]) == 9
    original = (tiny_run / "results" / "tiny" / "sat" / "sat.csv").read_bytes()
    assert (workdir / "results" / "tiny" / "sat" / "sat.csv").read_bytes() == original


@pytest.mark.parametrize(
    "override",
    [
        "attack={batch_size: 7}",
        "compute={batch_size: 13}",
        "compute={device: auto}",  # the CPU here: a device choice, not a new result
    ],
)
def test_execution_settings_plan_no_job(tiny_run, override):
    plan = snakemake(tiny_run, "--configfile", str(TINY_CONFIG), "--config", override, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "Nothing to be done" in plan.stdout + plan.stderr, planned_jobs(plan)


def test_a_new_attack_budget_plans_attacks_and_what_follows_only(tiny_run):
    plan = planned_jobs(
        snakemake(
            tiny_run,
            "--configfile",
            str(TINY_CONFIG),
            "--config",
            "attack={epsilon_255ths: 30}",
            "-n",
        )
    )
    assert plan["attack"] == 3 and plan["transfer"] == 3 and plan["sat_matrix"] == 1, plan
    assert not {"prepare_digits", "train_model", "clean_predictions", "accuracy_report"} & set(plan)


def test_a_new_seed_reruns_the_seeded_rules_and_their_consumers(tiny_run):
    plan = planned_jobs(
        snakemake(tiny_run, "--configfile", str(TINY_CONFIG), "--config", "seed=1", "-n")
    )
    # A new split, new models, new attacks: everything downstream; nothing is skipped.
    assert plan["prepare_digits"] == 1 and plan["train_model"] == 3 and plan["attack"] == 3, plan
