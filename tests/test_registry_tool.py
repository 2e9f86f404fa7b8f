"""tools/registry_preprocessing.py: the committed paper registry's preprocessing values are what
the tool generates from timm, and the tool repairs hand edits without touching anything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import timm.data

from satsim.models import registry

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "registry_preprocessing.py"
PAPER = REPO / "configs" / "models" / "paper.yaml"


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=REPO
    )


def test_committed_paper_registry_is_what_the_tool_generates():
    result = run_tool("--check", str(PAPER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # two passes over timm's 69 pretrained configs (~8 s)
def test_tool_restores_hand_edited_values_byte_for_byte(tmp_path):
    committed = PAPER.read_bytes()
    entry = "  botnet26t_256:\n    architecture: botnet26t_256.c1_in1k\n"
    values = "    mean: [0.485, 0.456, 0.406]\n    std: [0.229, 0.224, 0.225]\n    crop_pct: 0.95\n"
    edited = "    mean: [0.5, 0.456, 0.406]\n    std: [0.229, 0.224, 0.225]\n    crop_pct: 0.9\n"
    text = committed.decode()
    start = text.index(entry)
    assert text.index(values, start) < text.index("  convmixer_1536_20:\n")
    copy = tmp_path / "paper.yaml"
    copy.write_bytes((text[:start] + text[start:].replace(values, edited, 1)).encode())

    check = run_tool("--check", str(copy))
    assert check.returncode == 1
    assert "botnet26t_256: crop_pct: 0.9 -> 0.95" in check.stdout
    assert "botnet26t_256: mean: [0.5, 0.456, 0.406] -> [0.485, 0.456, 0.406]" in check.stdout
    assert copy.read_bytes() != committed  # --check writes nothing

    fix = run_tool(str(copy))
    assert fix.returncode == 0, fix.stdout + fix.stderr
    assert copy.read_bytes() == committed


def test_registry_default_normalisation_is_timms():
    # Written out in satsim.models.registry so that reading a registry does not import timm.
    assert registry.IMAGENET_MEAN == timm.data.IMAGENET_DEFAULT_MEAN
    assert registry.IMAGENET_STD == timm.data.IMAGENET_DEFAULT_STD
