"""Config validation: both shipped configs are valid; a bad key stops the run at once, named."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from satsim.config import ConfigError, check_config

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


def test_paper_dag_plans_one_job_per_model_and_exclude_drops_one():
    def fetch_jobs(*extra: str) -> int:
        run = subprocess.run(
            [SNAKEMAKE, "-n", "--quiet", "rules", "--cores", "1", *extra],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        counts = re.findall(r"^fetch_weights\s+(\d+)$", run.stdout + run.stderr, re.M)
        return int(counts[0])

    assert fetch_jobs() == 69
    assert fetch_jobs("--config", "models={exclude: [gluon_xception65]}") == 68
