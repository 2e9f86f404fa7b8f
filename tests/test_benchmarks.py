"""The benchmarks the README quotes run end to end (small sizes: the numbers come from the full
runs the README names, not from here)."""

from __future__ import annotations

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
