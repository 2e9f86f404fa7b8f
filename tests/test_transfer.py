"""Transfer in memory and from files (the same predictions), pair-level reuse (a stored
(source, target) evaluation is reused only while everything that made it is unchanged), and the
transfer files read back for SAT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from satsim.models.predict import predict_classes
from satsim.similarity.transfer import (
    PairResult,
    load_sat_inputs,
    save_transfer,
    transfer_pairs,
    transfer_predictions,
)
from satsim.workflow.artifacts import save_tensors
from satsim.workflow.provenance import ProvenanceMismatch


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


def test_in_memory_transfer_gives_the_file_based_predictions(tmp_path, digits, small_cnn):
    images, *_ = digits
    adversarial = {
        "a": adversarial_file(tmp_path / "a.safetensors", digits, 20),
        "b": adversarial_file(tmp_path / "b.safetensors", digits, 30),
    }
    from_files = run(small_cnn, adversarial, tmp_path / "pairs")
    in_memory = transfer_predictions(
        {"target": small_cnn}, {"a": images[:20], "b": images[:30]}, batch_size=7
    )
    assert list(in_memory) == [("a", "target"), ("b", "target")]
    for source, pair in from_files.items():
        assert torch.equal(in_memory[(source, "target")], pair.pred)


def write_run(tmp_path, models, weights=None):
    """Eval, clean and transfer files of a made-up run: every model gets images 0-3 right and
    is attacked on them; ``weights`` overrides a source's weights hash in the transfer files."""
    weights = weights or {}
    labels = torch.arange(6)
    eval_path = tmp_path / "eval.safetensors"
    tensors = {"images": torch.zeros((6, 3, 2, 2), dtype=torch.uint8), "labels": labels}
    record = {"kind": "data", "data_sha256": "d"}
    save_tensors(eval_path, {**tensors, "ids": labels.clone()}, record)
    clean, transfer = {}, {}
    sources = {m: {"attack": {"steps": 1}, "weights_sha256": weights.get(m, m)} for m in models}
    for model in models:
        clean[model] = tmp_path / f"clean_{model}.safetensors"
        pred = torch.tensor([0, 1, 2, 3, 0, 0])
        save_tensors(clean[model], {"pred": pred}, {"weights_sha256": model, "data_sha256": "d"})
        transfer[model] = tmp_path / f"transfer_{model}.safetensors"
        pred = torch.tensor([9, 1, 2, 3])
        pairs = {s: PairResult(s, torch.arange(4), pred.clone(), "computed") for s in models}
        save_transfer(
            transfer[model],
            pairs,
            sources,
            model=model,
            weights_sha256=model,
            data_sha256="d",
            precision="none",
            numerics={},
        )
    return eval_path, clean, transfer


def test_transfer_files_read_back_as_the_inputs_of_sat(tmp_path):
    eval_path, clean, transfer = write_run(tmp_path, ["x", "y"])
    loaded = load_sat_inputs(eval_path, clean, transfer)
    assert loaded.models == ["x", "y"] and loaded.labels.tolist() == list(range(6))
    assert loaded.adv_index["y"].tolist() == [0, 1, 2, 3]
    assert set(loaded.transfer_pred) == {("x", "x"), ("x", "y"), ("y", "x"), ("y", "y")}
    assert np.array_equal(loaded.transfer_pred[("x", "y")], [9, 1, 2, 3])


def test_transfer_files_of_adversarial_sets_from_other_weights_are_refused(tmp_path):
    eval_path, clean, transfer = write_run(tmp_path, ["x", "y"], weights={"y": "old"})
    with pytest.raises(ProvenanceMismatch, match="delete .*transfer_x.safetensors"):
        load_sat_inputs(eval_path, clean, transfer)
