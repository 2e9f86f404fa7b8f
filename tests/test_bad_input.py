"""Bad files, one table: each case writes a broken or foreign file, reads it the way a job does,
and checks the FIRST line of the error: it names the file and says what to do. (Config mistakes
have their own table in test_validation.py, the released matrix its own in
test_released_checks.py; the workflow-level cases are in test_trust.py.)"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from satsim.models.factory import build_model, canonical_model
from satsim.models.registry import ModelSpec
from satsim.models.training import StaleCheckpoint, TrainSettings, train_classifier
from satsim.models.weights import load_model, read_state_dict
from satsim.workflow.artifacts import load_tensors, open_rows, save_tensors
from satsim.workflow.atomic import write_json
from satsim.workflow.provenance import (
    MUST_AGREE,
    check_agreement,
    check_card_data,
    check_transfer_sources,
)

SPEC = ModelSpec("tiny", "resnet10t", 32, (0.5,) * 3, (0.5,) * 3, {"channels": [4, 8, 8, 8]})


def _artefact(path: Path) -> Path:
    images = torch.zeros((8, 3, 4, 4), dtype=torch.uint8)
    save_tensors(path, {"images": images, "index": torch.arange(8)}, {"kind": "adversarial"})
    return path


class _RunsCode:
    """A pickle that would run code when loaded unsafely (it would create ``marker``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def truncated_artefact(tmp: Path) -> tuple[Callable, list[str]]:
    path = _artefact(tmp / "adversarial.safetensors")
    path.write_bytes(path.read_bytes()[:200])
    return lambda: load_tensors(path), [
        f"{path}: not a readable safetensors",
        "delete it and rerun",
    ]


def pickle_named_safetensors(tmp: Path) -> tuple[Callable, list[str]]:
    path = tmp / "clean.safetensors"
    path.write_bytes(pickle.dumps({"logits": [1, 2, 3]}))
    return lambda: load_tensors(path), [
        f"{path}: not a readable safetensors",
        "delete it and rerun",
    ]


def artefact_changed_in_place(tmp: Path) -> tuple[Callable, list[str]]:
    path = _artefact(tmp / "transfer.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    return lambda: load_tensors(path), [f"{path}: its contents changed", "delete it and rerun"]


def missing_artefact(tmp: Path) -> tuple[Callable, list[str]]:
    path = tmp / "clean.safetensors"
    return lambda: load_tensors(path), [f"{path}: file not found"]


def truncated_rows(tmp: Path) -> tuple[Callable, list[str]]:
    path = _artefact(tmp / "adversarial.safetensors")
    path.write_bytes(path.read_bytes()[:-40])
    expected = [f"{path}: cannot read the tensor 'images'", "delete the file and rerun"]
    return lambda: open_rows(path, "images"), expected


def pickle_named_safetensors_weights(tmp: Path) -> tuple[Callable, list[str]]:
    path = tmp / "resnet50.safetensors"
    path.write_bytes(pickle.dumps(_RunsCode(tmp / "ran")))
    return lambda: read_state_dict(path), [f"{path}: not a readable safetensors", "pickle renamed"]


def checkpoint_that_runs_code(tmp: Path) -> tuple[Callable, list[str]]:
    path = tmp / "resnet50.pth"
    torch.save({"state_dict": _RunsCode(tmp / "ran")}, path)

    def read() -> None:
        try:
            read_state_dict(path)
        finally:
            assert not (tmp / "ran").exists(), "loading ran code from the file"

    return read, [f"{path}: not a safetensors file or a PyTorch checkpoint of plain tensors"]


def weights_changed_after_the_card(tmp: Path) -> tuple[Callable, list[str]]:
    weights, card = tmp / "tiny.safetensors", tmp / "tiny.json"
    model = build_model(SPEC, 10)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    write_json(card, {"weights_sha256": "0" * 64})
    expected = [f"{weights} has sha256", f"but {card} records", "Delete both and rerun"]
    return lambda: load_model(SPEC, weights, 10, card), expected


def card_from_another_split(tmp: Path) -> tuple[Callable, list[str]]:
    card = str(tmp / "gmlp.json")
    read = lambda: check_card_data(card, {"eval_data_sha256": "a" * 64}, "eval.st", "b" * 64)  # noqa: E731
    return read, [f"{card} was tested on another evaluation set", "Delete the card"]


def transfer_from_other_weights(tmp: Path) -> tuple[Callable, list[str]]:
    path = str(tmp / "transfer" / "pit.safetensors")
    record = {"sources": {"gmlp": "a" * 64}}
    read = lambda: check_transfer_sources(path, record, {"gmlp": "b" * 64})  # noqa: E731
    return read, [f"{path} evaluated adversarial images made on 'gmlp'", f"delete {path}"]


def files_of_two_runs(tmp: Path) -> tuple[Callable, list[str]]:
    records = {
        "a.safetensors": {"attack": {"steps": 10}},
        "b.safetensors": {"attack": {"steps": 2}},
    }
    expected = ["a.safetensors and b.safetensors disagree on 'attack'", "Delete the stale file"]
    return lambda: check_agreement(records, MUST_AGREE), expected


def _checkpoint_case(tmp: Path, content: Callable[[Path], None]) -> Callable:
    checkpoint = tmp / "student.pt"
    content(checkpoint)
    settings = TrainSettings(epochs=1, batch_size=8, lr=1e-3, weight_decay=0.0)

    def read() -> None:
        from satsim.models.training import load_training_state

        model = canonical_model(SPEC, build_model(SPEC, 10))
        optimizer = torch.optim.AdamW(model.parameters())
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        key = {"training": settings.describe()}
        load_training_state(checkpoint, model, optimizer, schedule, torch.Generator(), key)

    return read


def checkpoint_from_other_settings(tmp: Path) -> tuple[Callable, list[str]]:
    def earlier_run(path: Path) -> None:
        old = TrainSettings(epochs=2, batch_size=8, lr=2e-3, weight_decay=0.0)
        images, labels = torch.zeros((8, 3, 32, 32), dtype=torch.uint8), torch.zeros(8).long()
        model = canonical_model(SPEC, build_model(SPEC, 10))
        train_classifier(model, images, labels, old, 0, checkpoint=path, stop_after=1)

    return _checkpoint_case(tmp, earlier_run), ["made with other settings (", "in the checkpoint"]


def unreadable_checkpoint(tmp: Path) -> tuple[Callable, list[str]]:
    return _checkpoint_case(tmp, lambda p: p.write_bytes(b"\x80\x04garbage")), ["unreadable ("]


CASES = {
    "a truncated artefact": truncated_artefact,
    "a pickle named .safetensors": pickle_named_safetensors,
    "an artefact changed in place": artefact_changed_in_place,
    "a missing artefact": missing_artefact,
    "an adversarial set cut short": truncated_rows,
    "a pickle named .safetensors as weights": pickle_named_safetensors_weights,
    "a checkpoint whose pickle runs code": checkpoint_that_runs_code,
    "weights changed after their card": weights_changed_after_the_card,
    "a model card from another split": card_from_another_split,
    "a transfer file from other weights": transfer_from_other_weights,
    "files of two runs": files_of_two_runs,
    "a checkpoint from other settings": checkpoint_from_other_settings,
    "an unreadable checkpoint": unreadable_checkpoint,
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_file_stops_with_a_first_line_that_names_it_and_the_fix(tmp_path, case):
    read, expected = CASES[case](tmp_path)
    with pytest.raises(Exception) as error:
        read()
    first_line = str(error.value).strip().splitlines()[0]
    for fragment in expected:
        assert fragment in first_line, f"{case}: {first_line!r}"
    assert "weights_only=False" not in str(error.value)  # never suggest running a file's code
    if isinstance(error.value, StaleCheckpoint):
        return  # a stale checkpoint is discarded with a log line, not shown as an error
    assert type(error.value).__name__ != "SafetensorError"  # the library's own, pathless error
