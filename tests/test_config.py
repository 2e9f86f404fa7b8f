"""Config validation: both shipped configs are valid; a bad key stops the run at once, named."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fake_imagenet import make_fake_imagenet

from satsim.workflow.config import ConfigError, check_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "schemas" / "config.schema.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "configs/demo.yaml"])
def test_shipped_configs_are_valid(name):
    check_config(load(name), SCHEMA)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["attack"].update(epsilon=2), "unknown config key 'attack.epsilon'"),
        (lambda c: c.update(sed=1), "unknown config key 'sed'"),
        (lambda c: c["attack"].update(steps=0), "config key 'attack.steps'"),
        (lambda c: c["attack"].update(backend="foolbox"), "config key 'attack.backend'"),
        (lambda c: c["sat"].update(eps_s=0), "config key 'sat.eps_s'"),
        (lambda c: c.pop("training"), "'training' is a required property"),
        (lambda c: c.update(run_name="my run"), "config key 'run_name'"),
    ],
)
def test_bad_config_names_the_key(edit, message):
    config = copy.deepcopy(load("configs/demo.yaml"))
    edit(config)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(config, SCHEMA)


def test_command_line_strings_become_numbers_where_the_schema_wants_them():
    config = copy.deepcopy(load("configs/demo.yaml"))
    config["attack"].update(steps="3", random_start="false", epsilon_255ths="many")
    with pytest.raises(ConfigError, match="attack.epsilon_255ths"):
        check_config(config, SCHEMA)
    assert config["attack"]["steps"] == 3 and config["attack"]["random_start"] is False
    # List items, and a number that is one alternative of a oneOf (teachers: a count or names).
    config["attack"]["epsilon_255ths"] = "8"
    config["distillation"].update(seeds=["1", "2"], teachers="2")
    config["models"]["include"] = ["resnet10t", "pit"]
    check_config(config, SCHEMA)
    assert config["distillation"]["seeds"] == [1, 2] and config["distillation"]["teachers"] == 2
    assert config["models"]["include"] == ["resnet10t", "pit"]
    # A key that may be a string or null stays as given.
    paper = copy.deepcopy(load("config.yaml"))
    paper["data"]["imagenet_val"] = "/data/imagenet/val"
    check_config(paper, SCHEMA)
    assert paper["data"]["imagenet_val"] == "/data/imagenet/val"


def test_snakemake_stops_at_once_on_an_unknown_key(tmp_path):
    config = load("configs/demo.yaml")
    config["attack"]["epsilon"] = 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "1", "--configfile", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "unknown config key 'attack.epsilon'" in run.stdout + run.stderr


def paper_dry_run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    """``snakemake -n`` of the paper config (config.yaml) from ``workdir``."""
    return subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--configfile"]
        + [str(REPO / "config.yaml"), "-n", "--quiet", "rules", "--cores", "1", *extra],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def job_counts(run: subprocess.CompletedProcess) -> dict[str, int]:
    assert run.returncode == 0, run.stderr[-2000:]
    return {
        rule: int(count)
        for rule, count in re.findall(r"^(\w+)\s+(\d+)$", run.stdout + run.stderr, re.M)
        if rule != "total"
    }


@pytest.fixture(scope="module")
def fake_imagenet(tmp_path_factory):
    root = tmp_path_factory.mktemp("imagenet") / "val"
    make_fake_imagenet(root, 3, "synset_folders")
    return root


def test_paper_dag_plans_one_job_per_model_against_a_fake_imagenet(tmp_path, fake_imagenet):
    """The README's paper run command, `snakemake --cores all --config data=...`, as a dry run
    on a fake ImageNet folder (tests/test_docs.py lists it as the test of that command)."""
    counts = job_counts(
        paper_dry_run(tmp_path, "--config", f"data={{imagenet_val: {fake_imagenet}}}")
    )
    per_model = {"fetch_weights", "clean_predictions", "input_gradients", "attack", "transfer"}
    assert {rule: counts[rule] for rule in per_model} == dict.fromkeys(per_model, 69)
    once = {
        *("prepare_imagenet", "accuracy_report", "sat_matrix", "clusters", "sat_figures", "all"),
        *("component_importance", "shared_components", "cluster_profiles", "notebooks"),
        *("fetch_released_matrix", "compare_released", "ensembles", "summary"),
        *("sat_uncertainty", "similarity_measures", "compare_measures"),
        "adaptive_replay",  # a complete matrix of 20 models or more (sat.replay.run: auto)
    }
    assert {rule: counts[rule] for rule in once} == dict.fromkeys(once, 1)
    assert set(counts) == per_model | once

    excluded = job_counts(
        paper_dry_run(
            tmp_path,
            "--config",
            f"data={{imagenet_val: {fake_imagenet}}}",
            "models={exclude: [gluon_xception65]}",
        )
    )
    assert {rule: excluded[rule] for rule in per_model} == dict.fromkeys(per_model, 68)


def test_paper_run_without_imagenet_stops_before_any_job_naming_the_key():
    """The first thing a new user types, verbatim: it must stop at once and say what to do."""
    started = time.perf_counter()
    run = subprocess.run(
        [SNAKEMAKE, "--cores", "all"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    elapsed = time.perf_counter() - started
    print(f"snakemake --cores all without ImageNet stopped after {elapsed:.1f} s")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert "data.imagenet_val is not set" in text
    assert "snakemake --cores all --configfile configs/demo.yaml" in text
    assert "Building DAG" not in text and "rule " not in text  # no job was planned


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            "data={imagenet_val: /no/such/imagenet}",
            "data.imagenet_val = /no/such/imagenet: no such folder",
        ),
        (
            "models={local_weights: {resnet_50: /tmp/w.safetensors}}",
            "model 'resnet_50' is not in the registry .* Did you mean resnet50",
        ),
        (
            "models={include: [convnext]}",
            "model 'convnext' is not in the registry .* Did you mean convnext_tiny",
        ),
    ],
)
def test_first_user_mistakes_get_one_line_cause_and_fix(tmp_path, fake_imagenet, extra, message):
    args = ("--config", f"data={{imagenet_val: {fake_imagenet}}}", extra)
    if extra.startswith("data="):
        args = ("--config", extra)
    run = paper_dry_run(tmp_path, *args)
    assert run.returncode != 0
    assert re.search(message, run.stdout + run.stderr), (run.stdout + run.stderr)[-2000:]


def test_readme_yaml_check_names_the_line_of_a_broken_config(tmp_path):
    """docs/configuration.md's one-liner for a --configfile that Snakemake calls "not valid JSON
    or YAML" (written by tools/config_docs.py)."""
    broken = tmp_path / "my.yaml"
    broken.write_text("run_name: demo\nattack: {epsilon_255ths: 8\nseed: 0\n")
    check = "import yaml, sys; yaml.safe_load(open(sys.argv[1]))"
    run = subprocess.run([sys.executable, "-c", check, str(broken)], capture_output=True, text=True)
    assert run.returncode != 0 and "line 3" in run.stderr
