"""Atomic writes and provenance checks: nothing half-written, no mixing of runs."""

from __future__ import annotations

import pytest
import torch

from satsim.artifacts import load_tensors, save_tensors
from satsim.atomic import atomic_path
from satsim.provenance import ProvenanceMismatch, check_agreement, check_weights


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_tensors_round_trip_with_provenance(tmp_path):
    path = tmp_path / "a.safetensors"
    save_tensors(path, {"x": torch.arange(6).view(2, 3)}, {"model": "m", "attack": {"steps": 3}})
    tensors, record = load_tensors(path)
    assert torch.equal(tensors["x"], torch.arange(6).view(2, 3))
    assert record == {"model": "m", "attack": {"steps": 3}}


def test_unreadable_file_names_itself(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="broken.safetensors"):
        load_tensors(path)


def test_mismatched_inputs_name_both_files():
    records = {
        "adversarial/a.safetensors": {"data_sha256": "1", "attack": {"steps": 10}},
        "adversarial/b.safetensors": {"data_sha256": "1", "attack": {"steps": 20}},
    }
    with pytest.raises(ProvenanceMismatch, match="a.safetensors and adversarial/b.safetensors"):
        check_agreement(records, ["data_sha256", "attack"])
    # A first record without the field (e.g. the eval data has no attack) must not hide a clash.
    with pytest.raises(ProvenanceMismatch, match="disagree on 'attack'"):
        check_agreement(
            {"data/eval.safetensors": {"data_sha256": "1"}, **records}, ["data_sha256", "attack"]
        )
    with pytest.raises(ProvenanceMismatch, match="clean/a.safetensors"):
        check_weights("clean/a.safetensors", {"weights_sha256": "old"}, "new")
