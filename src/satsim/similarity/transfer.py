"""Transfer: one target model classifies the adversarial sets made on other (source) models.

Each (source, target) evaluation is stored on its own with what made it (the target's weights,
the source set's provenance and content hash, the precision), so adding a model to a finished run
evaluates only the new pairs: a target job reuses every stored pair whose key still matches.
Adversarial images are read in batch-sized slices, so memory does not grow with the set size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn

from satsim.compute.batching import BatchSize
from satsim.models.predict import predict_classes
from satsim.workflow.artifacts import (
    load_tensors,
    open_rows,
    read_provenance,
    read_tensor,
    save_tensors,
)


def pair_key(
    target: Mapping[str, Any],
    target_weights_sha256: str,
    source_record: Mapping[str, Any],
    precision: str,
) -> dict[str, Any]:
    """Everything a pair's predictions depend on: the target (its description: preprocessing,
    kwargs, a factory's code hash; see ``ModelSpec.identity``) and weights, and the source record
    (the adversarial file's provenance: the source's weights hash, the data hash, the attack
    settings and the hash of the adversarial images themselves)."""
    source = {field: value for field, value in source_record.items() if field != "versions"}
    return {
        "target": dict(target),
        "target_weights_sha256": target_weights_sha256,
        "source": source,
        "precision": precision,
    }


@dataclass
class PairResult:
    """The target's predicted classes on one source's adversarial set (``index`` into the eval
    set, ``pred`` the classes), and whether they were ``computed`` now or ``reused``."""

    source: str
    index: torch.Tensor
    pred: torch.Tensor
    status: str


def evaluate_pair(
    model: nn.Module,
    adversarial_path: str | os.PathLike,
    batch_size: int | BatchSize,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    desc: str = "transfer",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(index, predicted classes) of ``model`` on one adversarial file, read slice by slice."""
    images = open_rows(adversarial_path, "images")
    pred = predict_classes(model, images, batch_size, device, progress, desc)
    return read_tensor(adversarial_path, "index"), pred


def transfer_pairs(
    model: nn.Module,
    target: Mapping[str, Any],
    target_weights_sha256: str,
    adversarial: Mapping[str, str | os.PathLike],
    pair_dir: str | os.PathLike,
    precision: str,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
    on_pair: Callable[[PairResult], None] | None = None,
) -> dict[str, PairResult]:
    """Evaluate ``model`` (the target) on every source's adversarial set, reusing stored pairs.

    Args:
        target: the target's identity (``ModelSpec.identity()``), part of each pair's key.
        adversarial: source model name -> its adversarial file (``images``, ``index``).
        pair_dir: where this target's pair files live (``<source>.safetensors``); a stored pair
            is reused only when its key (:func:`pair_key`) equals the current one.
        on_pair: called after each pair, e.g. to log ``computed`` or ``reused``.
    """
    pair_dir = Path(pair_dir)
    results = {}
    shared_batch = BatchSize(batch_size)  # settled once for this target, not once per source
    for source, path in adversarial.items():
        key = pair_key(target, target_weights_sha256, read_provenance(path), precision)
        stored = pair_dir / f"{source}.safetensors"
        reused = _stored_pair(stored, key)
        if reused is not None:
            result = PairResult(source, reused["index"], reused["pred"], "reused")
        else:
            index, pred = evaluate_pair(model, path, shared_batch, device, progress, desc=source)
            save_tensors(stored, {"index": index, "pred": pred}, {"kind": "pair", "key": key})
            result = PairResult(source, index, pred, "computed")
        results[source] = result
        if on_pair is not None:
            on_pair(result)
    return results


def _stored_pair(path: Path, key: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The stored pair's tensors if ``path`` holds one made with ``key``; None otherwise (a
    missing, foreign or unreadable file is simply recomputed)."""
    if not path.exists():
        return None
    try:
        tensors, record = load_tensors(path)
    except ValueError:
        return None
    if record.get("key") != key or set(tensors) != {"index", "pred"}:
        return None
    return tensors
