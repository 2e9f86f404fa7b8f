"""Transfer with pair-level reuse: a stored (source, target) evaluation is reused only while
everything that made it is unchanged."""

from __future__ import annotations

import torch

from satsim.models.predict import predict_classes
from satsim.similarity.transfer import transfer_pairs
from satsim.workflow.artifacts import save_tensors


def adversarial_file(path, digits, rows, steps=2):
    images, *_ = digits
    index = torch.arange(rows)
    record = {"kind": "adversarial", "weights_sha256": "source", "attack": {"steps": steps}}
    save_tensors(path, {"images": images[:rows], "index": index}, record)
    return path


def run(model, adversarial, pair_dir, precision="none", target=None):
    target = target or {"name": "target", "mean": [0.5, 0.5, 0.5]}
    return transfer_pairs(
        model, target, "target-sha", adversarial, pair_dir, precision, batch_size=7
    )


def test_pairs_are_computed_once_then_reused_until_their_key_changes(tmp_path, digits, small_cnn):
    adversarial = {
        "a": adversarial_file(tmp_path / "a.safetensors", digits, 20),
        "b": adversarial_file(tmp_path / "b.safetensors", digits, 30),
    }
    pairs = tmp_path / "pairs"
    first = run(small_cnn, adversarial, pairs)
    assert {p.status for p in first.values()} == {"computed"}
    images, *_ = digits
    assert torch.equal(first["b"].pred, predict_classes(small_cnn, images[:30], 64))
    assert torch.equal(first["b"].index, torch.arange(30))

    again = run(small_cnn, adversarial, pairs)
    assert {p.status for p in again.values()} == {"reused"}
    for source in adversarial:
        assert torch.equal(again[source].pred, first[source].pred)

    # A source set with other content is recomputed, the rest reused; so is another precision.
    adversarial_file(adversarial["a"], digits, 25)
    statuses = {s: p.status for s, p in run(small_cnn, adversarial, pairs).items()}
    assert statuses == {"a": "computed", "b": "reused"}
    assert {p.status for p in run(small_cnn, adversarial, pairs, "bf16").values()} == {"computed"}
    # The same weights behind other preprocessing (an edited registry entry) are another target.
    other = {"name": "target", "mean": [0.4, 0.4, 0.4]}
    assert {p.status for p in run(small_cnn, adversarial, pairs, target=other).values()} == {
        "computed"
    }


def test_an_unreadable_stored_pair_is_recomputed(tmp_path, digits, small_cnn):
    adversarial = {"a": adversarial_file(tmp_path / "a.safetensors", digits, 10)}
    first = run(small_cnn, adversarial, tmp_path / "pairs")
    (tmp_path / "pairs" / "a.safetensors").write_bytes(b"not a safetensors file")
    second = run(small_cnn, adversarial, tmp_path / "pairs")
    assert second["a"].status == "computed"
    assert torch.equal(second["a"].pred, first["a"].pred)
