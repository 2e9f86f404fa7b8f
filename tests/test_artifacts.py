"""Atomic writes and provenance checks: nothing half-written, no mixing of runs."""

from __future__ import annotations

import pytest
import torch

from satsim.workflow.artifacts import (
    CONTENT_KEY,
    content_sha256,
    load_tensors,
    open_rows,
    save_tensors,
)
from satsim.workflow.atomic import atomic_path
from satsim.workflow.provenance import ProvenanceMismatch, check_agreement, check_weights


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
    content = record.pop(CONTENT_KEY)
    assert record == {"model": "m", "attack": {"steps": 3}}
    assert content == content_sha256({"x": torch.arange(6).view(2, 3)})


def test_content_hash_tells_tensors_apart_by_value_name_and_shape():
    base = content_sha256({"x": torch.arange(6)})
    assert content_sha256({"x": torch.arange(6)}) == base
    assert content_sha256({"x": torch.arange(1, 7)}) != base
    assert content_sha256({"y": torch.arange(6)}) != base
    assert content_sha256({"x": torch.arange(6).view(2, 3)}) != base


def test_rows_read_in_slices_equal_the_whole_tensor(tmp_path):
    path = tmp_path / "a.safetensors"
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    save_tensors(path, {"images": images, "index": torch.arange(10)}, {})
    rows = open_rows(path, "images")
    assert len(rows) == 10 and rows.shape == (10, 3, 4, 4)
    assert torch.equal(torch.cat([rows[0:3], rows[3:9], rows[9:20]]), images)
    assert rows[4:4].shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match="a.safetensors.*'labels'"):
        open_rows(path, "labels")
    path.write_bytes(path.read_bytes()[:-50])  # truncated
    with pytest.raises(ValueError, match="truncated"):
        open_rows(path, "images")[0:10]


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
