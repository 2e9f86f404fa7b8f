"""Transfer: target models classify the adversarial sets made on other (source) models.

:func:`transfer_predictions` does it in memory: every model on every source's adversarial images,
ready for :func:`satsim.similarity.sat.sat_matrix`. The workflow's transfer jobs go through
:func:`transfer_pairs` instead, one target per job, with the same per-pair evaluation
(:func:`pair_evaluator`) and two additions:

- Each (source, target) evaluation is stored on its own with what made it (the target's weights,
  the source set's provenance and content hash, the precision), so adding a model to a finished
  run evaluates only the new pairs: a target job reuses every stored pair whose key still matches.
- Adversarial images are read in batch-sized slices, so memory does not grow with the set size.

:func:`check_transfer_inputs`, :func:`save_transfer` and :func:`load_sat_inputs` are the file
side: what a transfer job refuses to mix, what it writes, and how the SAT stage reads it back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import nn

from satsim.compute.batching import BatchSize
from satsim.compute.feeding import RowSource
from satsim.models.predict import predict_classes
from satsim.workflow.artifacts import (
    ImageSet,
    load_tensors,
    open_rows,
    read_provenance,
    read_tensor,
    save_tensors,
)
from satsim.workflow.atomic import read_json
from satsim.workflow.provenance import (
    MUST_AGREE,
    check_agreement,
    check_transfer_sources,
    check_weights,
    make_record,
)


def pair_evaluator(
    model: nn.Module,
    batch_size: int,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> Callable[[str, RowSource], torch.Tensor]:
    """``evaluate(label, adversarial_images)``: the target ``model``'s predicted classes (M,)
    int64 on one source's uint8 adversarial images (M, 3, H, W), in memory or read slice by
    slice (``artifacts.open_rows``); batched, without gradients, on ``device``. The batch size
    starts at ``batch_size``, halves on a GPU out-of-memory error, and what one source settled
    on is where the target's next source starts."""
    shared_batch = BatchSize(batch_size)

    def evaluate(label: str, adversarial_images: RowSource) -> torch.Tensor:
        return predict_classes(model, adversarial_images, shared_batch, device, progress, label)

    return evaluate


def transfer_predictions(
    models: Mapping[str, nn.Module],
    adversarial: Mapping[str, RowSource],
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> dict[tuple[str, str], torch.Tensor]:
    """Every model (target) on every source's adversarial images, in memory.

    Args:
        models: target name -> model reading canonical [0, 1] images (e.g. ``CanonicalModel``).
        adversarial: source name -> its adversarial images, uint8 (M_s, 3, H, W), e.g.
            ``pgd_attack(...).images``. Sources are usually the same models.
        batch_size: the starting batch size of each target (see :func:`pair_evaluator`).

    Returns:
        (source, target) -> the target's predicted classes (M_s,) int64 on the CPU, aligned with
        the source's adversarial images: the ``transfer_pred`` of
        :func:`satsim.similarity.sat.sat_matrix`.
    """
    predictions = {}
    for target, model in models.items():
        evaluate = pair_evaluator(model, batch_size, device, progress)
        for source, images in adversarial.items():
            predictions[(source, target)] = evaluate(f"{source} -> {target}", images)
    return predictions


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
    """Evaluate ``model`` (the target) on every source's adversarial file, reusing stored pairs.

    Args:
        target: the target's identity (``ModelSpec.identity()``), part of each pair's key.
        adversarial: source model name -> its adversarial file (``images``, ``index``).
        pair_dir: where this target's pair files live (``<source>.safetensors``); a stored pair
            is reused only when its key (:func:`pair_key`) equals the current one.
        on_pair: called after each pair, e.g. to log ``computed`` or ``reused``.
    """
    pair_dir = Path(pair_dir)
    results = {}
    evaluate = pair_evaluator(model, batch_size, device, progress)
    for source, path in adversarial.items():
        key = pair_key(target, target_weights_sha256, read_provenance(path), precision)
        stored = pair_dir / f"{source}.safetensors"
        reused = _stored_pair(stored, key)
        if reused is not None:
            result = PairResult(source, reused["index"], reused["pred"], "reused")
        else:
            pred = evaluate(source, open_rows(path, "images"))  # memory: one batch, not the set
            index = read_tensor(path, "index")
            save_tensors(stored, {"index": index, "pred": pred}, {"kind": "pair", "key": key})
            result = PairResult(source, index, pred, "computed")
        results[source] = result
        if on_pair is not None:
            on_pair(result)
    return results


def _stored_pair(path: Path, key: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The stored pair's tensors if ``path`` holds one made with ``key``; None otherwise (a
    missing, foreign or unreadable file is recomputed, the last two with a line in the log)."""
    import logging  # here, not at the top: this function is the only one that logs

    log = logging.getLogger(__name__)
    if not path.exists():
        return None
    try:
        tensors, record = load_tensors(path)
    except ValueError as error:
        # A corrupt pair is never used; the log says why it is recomputed.
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        said = first if str(path) in first else f"{path}: {first}"
        log.warning("stored pair unreadable or corrupt, recomputing it: %s", said)
        return None
    if set(tensors) != {"index", "pred"}:
        log.warning(
            "stored pair %s holds %s, not a pair's tensors: recomputing it", path, sorted(tensors)
        )
        return None
    if record.get("key") != key:
        log.info("stored pair %s was made from other inputs: recomputing it", path)
        return None
    return tensors


def check_transfer_inputs(
    data: ImageSet,
    clean_path: str | os.PathLike,
    weights_sha256: str,
    adversarial: Mapping[str, str | os.PathLike],
    source_cards: Mapping[str, str | os.PathLike],
) -> dict[str, dict[str, Any]]:
    """Refuse to mix runs before a transfer job evaluates anything: one data subset, one attack
    and one precision across the eval set, the target's clean predictions and every source's
    adversarial file; the clean file made from the target's weights (``weights_sha256``) and
    each adversarial file from its source's weights now (its card, ``source_cards``).

    Returns:
        source -> the provenance record of its adversarial file.

    Raises:
        ProvenanceMismatch: naming the files that disagree.
    """
    clean_record = read_provenance(clean_path)
    check_weights(str(clean_path), clean_record, weights_sha256)
    records = {str(data.path): data.record, str(clean_path): clean_record}
    records |= {str(path): read_provenance(path) for path in adversarial.values()}
    check_agreement(records, MUST_AGREE)
    for source, path in adversarial.items():
        source_weights = read_json(source_cards[source])["weights_sha256"]
        check_weights(str(path), records[str(path)], source_weights)
    return {source: records[str(path)] for source, path in adversarial.items()}


def save_transfer(
    path: str | os.PathLike,
    pairs: Mapping[str, PairResult],
    source_records: Mapping[str, Mapping[str, Any]],
    *,
    model: str,
    weights_sha256: str,
    data_sha256: str,
    precision: str,
    numerics: Mapping[str, Any],
) -> None:
    """A target's transfer file: ``pred/<source>`` and ``index/<source>`` per source (read back
    by :func:`load_sat_inputs`), recording the target (``model``, its weights), the data, the
    attack and each source's weights (from ``source_records``, see
    :func:`check_transfer_inputs`), the precision and the numerics."""
    tensors = {}
    for source, pair in pairs.items():
        tensors[f"pred/{source}"] = pair.pred
        tensors[f"index/{source}"] = pair.index
    record = make_record(
        kind="transfer",
        model=model,
        weights_sha256=weights_sha256,
        data_sha256=data_sha256,
        attack=next(iter(source_records.values()))["attack"],
        precision=precision,
        numerics=dict(numerics),
        sources={source: record["weights_sha256"] for source, record in source_records.items()},
    )
    save_tensors(path, tensors, record)


@dataclass
class SatInputs:
    """What :func:`satsim.similarity.sat.sat_matrix` takes, read from a run's files: the eval
    ``labels`` (N,), per model its ``clean_pred`` (N,), per source its ``adv_index`` (M_s,),
    per (source, target) the ``transfer_pred`` (M_s,); ``models`` in the run's order."""

    models: list[str]
    labels: np.ndarray
    clean_pred: dict[str, np.ndarray]
    adv_index: dict[str, np.ndarray]
    transfer_pred: dict[tuple[str, str], np.ndarray]


def load_sat_inputs(
    eval_path: str | os.PathLike,
    clean: Mapping[str, str | os.PathLike],
    transfer: Mapping[str, str | os.PathLike],
    partial: bool = False,
) -> SatInputs:
    """Read every model's clean predictions and transfer file (model -> path, in the run's
    order). Each transfer file must hold every model as a source unless ``partial`` (an
    adaptive run): then ``transfer_pred`` has the pairs the files hold. Refuses files that do
    not belong together: a transfer file made from other weights than the model's clean
    predictions, two transfer files that saw different adversarial sets of one source, inputs
    of different runs (data, attack, precision; see :data:`satsim.workflow.provenance.MUST_AGREE`),
    or adversarial sets made from weights a source no longer has."""
    models = list(clean)
    data = ImageSet(eval_path)
    records = {str(eval_path): data.record}
    clean_pred, transfer_pred, adv_index = {}, {}, {}
    first_transfer = str(transfer[models[0]]) if models else ""
    for model in models:
        clean_path, transfer_path = str(clean[model]), str(transfer[model])
        clean_tensors, records[clean_path] = load_tensors(clean_path)
        tensors, records[transfer_path] = load_tensors(transfer_path)
        check_weights(transfer_path, records[transfer_path], records[clean_path]["weights_sha256"])
        clean_pred[model] = clean_tensors["pred"].numpy()
        for source in models:
            if f"pred/{source}" not in tensors:
                if partial:
                    continue
                raise ValueError(
                    f"{transfer_path} holds no predictions on the adversarial set of {source!r}; "
                    "rerun its transfer job"
                )
            transfer_pred[(source, model)] = tensors[f"pred/{source}"].numpy()
            index = adv_index.setdefault(source, tensors[f"index/{source}"].numpy())
            if not np.array_equal(index, tensors[f"index/{source}"].numpy()):
                raise ValueError(
                    f"{transfer_path} was made from another adversarial set of {source!r} than "
                    f"{first_transfer}; rerun the transfer jobs"
                )
    check_agreement(records, MUST_AGREE)
    weights_of = {model: records[str(clean[model])]["weights_sha256"] for model in models}
    for model in models:
        check_transfer_sources(str(transfer[model]), records[str(transfer[model])], weights_of)
    return SatInputs(models, data.labels.numpy(), clean_pred, adv_index, transfer_pred)
