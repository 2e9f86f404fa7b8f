"""profiles/slurm on a real Slurm: the tiny workflow run with ``--executor slurm`` on a
single-node cluster started for the test (tests/slurm_cluster.py) gives a SAT matrix
byte-identical to a local run's.

Needs root and Debian's ``slurm-wlm`` and ``munge`` (.ci/run installs them); without them the
test is skipped with the reason, except under CI=true, where it fails instead."""

from __future__ import annotations

import os
import re
import subprocess
import time
from types import SimpleNamespace

import pytest
import slurm_cluster
from workflow_helpers import REPO, planned_jobs, snakemake

TINY = REPO / "tests" / "configs" / "tiny.yaml"
PROFILE = REPO / "profiles" / "slurm"
TARGET = "results/tiny/sat/sat.csv"
# No slurmdbd, so no sacct: squeue reports job states (MinJobAge in tests/slurm/slurm.conf keeps
# finished jobs listed), and a 1 s first status check keeps each DAG level short.
TEST_CLUSTER_ARGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
)


def _output(run: subprocess.CompletedProcess) -> str:
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def slurm():
    reason = slurm_cluster.unavailable_reason()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, but no Slurm test cluster can be started: {reason}")
        pytest.skip(f"no Slurm test cluster: {reason}")
    started = time.monotonic()
    slurm_cluster.start()
    print(f"Slurm test cluster up in {time.monotonic() - started:.1f} s ({slurm_cluster.STATE})")
    yield slurm_cluster
    slurm_cluster.stop()


@pytest.mark.slow
def test_slurm_run_matches_local_run(slurm, tiny_run, tmp_path):
    """``tiny_run`` is the session's local run of the same config (tests/conftest.py)."""
    cluster = tmp_path / "slurm"
    cluster.mkdir()
    run = snakemake(
        cluster,
        TARGET,
        "--configfile",
        str(TINY),
        "--profile",
        str(PROFILE),
        *TEST_CLUSTER_ARGS,
        "--verbose",  # prints each sbatch call
        timeout=1500,
    )
    output = _output(run)
    assert run.returncode == 0, output[-6000:] + "\n" + slurm.logs()

    # Every job went through sbatch, each with the profile's runtime and memory, and none asked
    # for a GPU: the tiny config runs on the CPU (gpu=0).
    planned = int(re.search(r"^total\s+(\d+)$", output, re.MULTILINE).group(1))
    calls = re.findall(r"^sbatch call: (.*)$", output, re.MULTILINE)
    assert len(calls) == planned == len(re.findall(r"submitted with SLURM jobid", output))
    for call in calls:
        assert re.search(r" -t \d+ ", call) and re.search(r" --mem \d+ ", call), call
        assert "--gpus" not in call and "--gres" not in call, call

    assert (cluster / TARGET).read_bytes() == (tiny_run / TARGET).read_bytes()


def test_gpu_resource_becomes_gpus_only_when_positive():
    """The executor plugin's mapping the profile relies on: ``gpu`` > 0 -> ``--gpus``, gpu=0
    (compute.device: cpu) -> no GPU request at all."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    def job(**resources):
        return SimpleNamespace(resources=SimpleNamespace(get=resources.get, **resources))

    assert set_gres_string(job(gpu=1)).strip() == "--gpus=1"
    assert set_gres_string(job(gpu=2, gpu_model="a100")).strip() == "--gpus=a100:2"
    assert set_gres_string(job(gpu=0)) == ""


def test_profile_lists_every_gpu_rule():
    """Each rule that declares the ``gpu`` resource gets a runtime and memory in the profile."""
    import yaml

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    gpu_rules = set()
    for path in sorted((REPO / "rules").glob("*.smk")):
        rule = None
        for line in path.read_text().splitlines():
            if match := re.match(r"\s*rule (\w+):", line):
                rule = match.group(1)
            elif re.match(r"\s*gpu=", line) and rule:
                gpu_rules.add(rule)
    assert gpu_rules >= {"train_model", "clean_predictions", "attack", "transfer", "distill"}
    for rule in gpu_rules:
        assert {"runtime", "mem_mb"} <= set(profile["set-resources"].get(rule, {})), rule
    assert profile["executor"] == "slurm"


def test_readme_slurm_commands_plan_the_paper_dag(tmp_path):
    """docs/paper-run.md's two cluster commands (the first is also the README's weights command),
    as dry runs on a fake ImageNet (no Slurm needed):
    the weights first where the network is, then the whole DAG through the profile."""
    from fake_imagenet import make_fake_imagenet

    imagenet = tmp_path / "imagenet" / "val"
    make_fake_imagenet(imagenet, 3, "synset_folders")
    paper = (
        "--configfile",
        str(REPO / "config.yaml"),
        "--config",
        f"data={{imagenet_val: {imagenet}}}",
    )
    weights = snakemake(tmp_path, "-n", "--until", "fetch_weights", *paper)
    assert weights.returncode == 0, _output(weights)[-3000:]
    assert set(planned_jobs(weights)) == {"fetch_weights"}
    run = snakemake(tmp_path, "-n", "--profile", str(PROFILE), *paper)
    assert run.returncode == 0, _output(run)[-3000:]
    counts = planned_jobs(run)
    assert counts["attack"] == counts["transfer"] == 69, counts


def test_the_slurm_extra_is_what_the_tests_run():
    """``pip install -e '.[slurm]'`` (docs/paper-run.md) brings exactly the plugin versions
    tested here."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["slurm"] and set(extras["slurm"]) <= set(extras["test"])
    assert all("==" in requirement for requirement in extras["slurm"])
