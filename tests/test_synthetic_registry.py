"""tools/synthetic_registry.py: an N-model registry of demo architectures under new names loads,
repeats the demo's families, stays small, and plans a workflow of all N models (a dry run of
the tiny config, a few seconds); benchmarks/dag_scale.py counts the planned pairs of both
strategies and derives the docs' costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_helpers import REPO, TINY_CONFIG, planned_jobs, snakemake

from satsim.models.registry import load_registry

TOOL = REPO / "tools" / "synthetic_registry.py"
DEMO = REPO / "configs" / "models" / "demo.yaml"


def generate(n_models: int, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), str(n_models), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_synthetic_registry_of_30_models_plans_every_model(tmp_path):
    out = tmp_path / "synthetic.yaml"
    result = generate(30, out)
    assert result.returncode == 0, result.stderr

    demo = load_registry(DEMO)
    registry = load_registry(out)
    names = list(registry)
    assert len(names) == len(set(names)) == 30
    demo_names = list(demo)
    for index, (name, spec) in enumerate(registry.items()):
        origin = demo[demo_names[index % len(demo_names)]]
        assert name == f"{origin.name}_{index:04d}"
        # Same model apart from its name: architecture, kwargs, preprocessing, components.
        assert spec.describe() | {"name": origin.name} == origin.describe()
        assert spec.components == origin.components
    families = {spec.components["Base architecture"] for spec in registry.values()}
    assert families == {spec.components["Base architecture"] for spec in demo.values()}

    # The workflow's registry checks pass and every model gets its per-model jobs.
    run = snakemake(
        tmp_path,
        "--dry-run",
        "--quiet",
        "rules",
        "--configfile",
        str(TINY_CONFIG),
        "--config",
        f"models={{registry: {out}, include: []}}",
        timeout=300,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    counts = planned_jobs(run)
    for rule in ("train_model", "clean_predictions", "attack", "transfer"):
        assert counts[rule] == 30, (rule, counts)


def test_output_is_deterministic_and_small(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert generate(1000, first).returncode == 0
    assert generate(1000, second).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    # Each demo model written once (anchored), every later copy one alias line.
    assert text.count(": *") == 1000 - len(load_registry(DEMO))
    assert len(text.splitlines()) < 1400
    assert "resnet10t_0013: *resnet10t" in text


def test_cli_refuses_fewer_than_two_models(tmp_path):
    result = generate(1, tmp_path / "one.yaml")
    assert result.returncode != 0
    assert "at least 2" in result.stderr
    assert not (tmp_path / "one.yaml").exists()


def run_benchmark(*args: str) -> str:
    command = [sys.executable, str(REPO / "benchmarks" / "dag_scale.py"), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def table_row(output: str, first_cells: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"| {first_cells} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_dag_scale_counts_the_planned_pairs_of_both_strategies():
    """benchmarks/dag_scale.py at N = 20: every pair for ``all``; for ``adaptive`` the landmark
    round (N + 2Nk - k² - k), the neighbour pairs waiting for the pair_plan checkpoint."""
    row = table_row(run_benchmark("--models", "20"), "20 | all")
    assert row[5:9] == ["20", "400", "400", "400"]
    adaptive = run_benchmark(
        "--models", "20", "--strategy", "adaptive", "--landmarks", "5", "--neighbours", "3"
    )
    row = table_row(adaptive, "20 | adaptive")
    assert row[5:7] == ["40", str(20 + 2 * 20 * 5 - 5**2 - 5)]
    assert row[8].startswith(f"<= {190 + 2 * 15 * 3} ")


def test_dag_scale_cost_table_matches_the_paper_run_costs():
    """At N = 69 the derived table gives docs/paper-run.md's ~2.0 h of attacks and ~3.7 h of
    transfer for every pair."""
    row = table_row(run_benchmark("--costs", "--models", "69"), "69 | all")
    assert row[2:6] == ["4,761", "0.1", "2.0", "3.7"]
