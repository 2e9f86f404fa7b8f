"""The benchmarks the docs quote (docs/paper-run.md) run end to end (small sizes: the numbers
come from the full runs the docs name, with when and where they were measured, not from here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from workflow_helpers import REPO


@pytest.mark.slow
def test_transfer_memory_benchmark_prints_a_row_per_set_size():
    command = [sys.executable, str(REPO / "benchmarks" / "transfer_memory.py")]
    command += ["--images", "40", "--size", "32", "--batch-size", "16"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.splitlines() if line.split()[0].isdigit()]
    assert [int(row[0]) for row in rows] == [4, 40]
    for row in rows:  # images, set MB, baseline, sliced, +set, whole (MB)
        baseline, sliced, whole = float(row[2]), float(row[3]), float(row[5])
        assert 0 < baseline and sliced >= 0.9 * baseline and whole >= 0.9 * baseline


@pytest.mark.slow
def test_gpu_check_runs_every_step_in_reduced_mode_on_a_cpu(tiny_run, tmp_path):
    """The prepared GPU check end to end on the CPU: benchmarks at tiny sizes, the tiny workflow
    against the session's run of it, and the gpu tests (skipped here). Its rerun of the tiny
    config doubles as the determinism check: same seed, same bytes."""
    out = tmp_path / "report"
    command = [sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--reduced"]
    command += ["--out", str(out), "--reference-run", str(tiny_run)]
    command += ["--keep-runs", str(tmp_path / "runs")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    steps = json.loads((out / "report.json").read_text())["steps"]
    assert list(steps) == [
        "environment",
        "gpu_tests",
        "throughput_fp32",
        "throughput_bf16",
        "throughput_contiguous",
        "floor",
        "workflow",
        "throughput_compiled",
    ]
    for name, step in steps.items():
        assert step["status"] == "ok" or step["status"].startswith("skipped"), (name, step)
    assert "resnet50" in steps["throughput_bf16"]["output"]
    floor = {line.split()[0]: line.split()[1:] for line in steps["floor"]["output"].splitlines()}
    for loop in ("attack", "evaluation", "training"):  # host ms, model ms, host share %
        host, model, share = (float(value) for value in floor[loop])
        assert host > 0 and model > 0 and 0 <= share < 100
    # Same config, same machine: the CPU rerun reproduces the session's run bit for bit.
    assert steps["workflow"]["numbers"]["sat_identical"]
    for relative in (
        "models/pit.safetensors",
        "adversarial/pit.safetensors",
        "clean/resnet10t.safetensors",
        "transfer/gmlp.safetensors",
        "sat/sat.csv",
    ):
        first = (tiny_run / "results" / "tiny" / relative).read_bytes()
        second = (tmp_path / "runs" / "device" / "results" / "tiny" / relative).read_bytes()
        assert first == second, relative
    assert "skipped" in steps["gpu_tests"]["output"]
    assert (out / "report.md").read_text().startswith("# GPU check (reduced, CPU)")


@pytest.mark.slow
def test_precision_benchmark_compares_bf16_with_float32_on_a_finished_run(tiny_run, tmp_path):
    command = [sys.executable, str(REPO / "benchmarks" / "precision_at_budget.py")]
    command += ["--run", str(tiny_run / "results" / "tiny"), "--models", "resnet10t", "pit"]
    command += ["--registry", str(REPO / "configs" / "models" / "demo.yaml")]
    command += ["--epsilon-255ths", "1", "--step-size-255ths", "0.25", "--steps", "2"]
    command += ["--json", str(tmp_path / "precision.json")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    numbers = json.loads((tmp_path / "precision.json").read_text())
    assert [row["model"] for row in numbers["models"]] == ["resnet10t", "pit"]
    assert numbers["transfer"]["n_entries"] == 2  # the two off-diagonal entries
    for row in numbers["models"]:
        assert row["n_attacked"] > 0
        assert 0 <= row["white_box_success_bf16"] <= 1
        assert 0 <= row["differing_pixel_fraction"] <= 1
    assert "summary: 2 models" in run.stdout
