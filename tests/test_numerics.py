"""GPU numerics, recorded and chosen: every computed file says how it was computed, mixing bf16
with float32 is refused, mixing devices or TF32 settings warns, TF32 follows the config."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from satsim.compute.runtime import configure_numerics, describe_numerics, make_deterministic
from satsim.workflow.artifacts import read_provenance
from satsim.workflow.provenance import MUST_AGREE, ProvenanceMismatch, check_agreement


def _record(**numerics):
    base = {"device_type": "cpu", "device_name": "x", "autocast": "none", "tf32": False}
    return {
        "data_sha256": "d",
        "precision": numerics.get("autocast", "none"),
        "numerics": base | numerics,
    }


def test_every_computed_file_records_its_numerics(tiny_run):
    for kind in ("clean", "adversarial", "transfer"):
        record = read_provenance(tiny_run / "results" / "tiny" / kind / "pit.safetensors")
        assert record["numerics"]["device_type"] == "cpu"
        assert record["numerics"]["autocast"] == "none"
        assert record["numerics"]["tf32"] is False
        assert record["numerics"]["deterministic_algorithms"] is True


def test_files_from_a_gpu_and_a_cpu_mix_with_a_warning_naming_both():
    records = {
        "a.safetensors": _record(),
        "b.safetensors": _record(device_type="cuda", device_name="NVIDIA H200"),
    }
    with pytest.warns(UserWarning, match=r"a\.safetensors and b\.safetensors were computed with"):
        check_agreement(records, MUST_AGREE)


def test_tf32_differences_warn_and_equal_numerics_are_silent():
    with pytest.warns(UserWarning, match="TF32"):
        check_agreement({"a": _record(tf32=True), "b": _record()}, MUST_AGREE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_agreement({"a": _record(), "b": _record()}, MUST_AGREE)


def test_bf16_files_are_refused_next_to_float32_files():
    with pytest.raises(ProvenanceMismatch, match="'precision'.*'none' vs 'bf16'"):
        check_agreement({"a": _record(), "b": _record(autocast="bf16")}, MUST_AGREE)


def test_tf32_follows_the_config_choice_for_matmuls_and_convolutions():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        configure_numerics(True)
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        configure_numerics(False)
        assert not torch.backends.cuda.matmul.allow_tf32
        assert not torch.backends.cudnn.allow_tf32
        assert describe_numerics("cpu", "bf16")["tf32"] is False  # no TF32 on a CPU
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_deterministic_mode_sets_the_cublas_workspace(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    make_deterministic(0)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled()
