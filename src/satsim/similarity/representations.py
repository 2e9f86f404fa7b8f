"""Per-model quantities behind the similarity measures of :mod:`satsim.similarity.measures`:
logits with penultimate features (one forward pass), and packed input-gradient signs.

Both read canonical uint8 images (N, 3, H, W) through a model that takes [0, 1] images (a
:class:`satsim.models.wrapper.CanonicalModel`), in batches that halve on a GPU out-of-memory error
(:func:`satsim.compute.batching.map_batches`), like :func:`satsim.models.predict.predict_logits`.
The model is in eval mode; gradients are taken with respect to the input only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from satsim.compute.batching import BatchSize, map_batches
from satsim.compute.feeding import DeviceBatches, RowSource, evaluation_memory_format, unit_float
from satsim.models.predict import prepare_for_evaluation
from satsim.models.wrapper import freeze
from satsim.workflow.artifacts import ImageSet, load_tensors
from satsim.workflow.provenance import check_agreement, check_weights

_FLOAT16_MAX = float(torch.finfo(torch.float16).max)


def classifier_layer(model: nn.Module) -> nn.Module:
    """The final classification layer of ``model`` (or of ``model.model``, the network a
    :class:`~satsim.models.wrapper.CanonicalModel` wraps).

    A timm model's ``get_classifier()`` when it returns a module with parameters; otherwise the
    last ``nn.Linear`` in ``model.modules()`` (registration order, which is forward order for an
    ``nn.Sequential`` and for the usual ``__init__`` that defines the head last). Models whose
    ``get_classifier()`` is a tuple (timm's distilled DeiT: two heads) fall back to the last
    Linear, i.e. the distillation head.
    """
    for candidate in (getattr(model, "model", None), model):
        get_classifier = getattr(candidate, "get_classifier", None)
        if isinstance(candidate, nn.Module) and callable(get_classifier):
            head = get_classifier()
            if isinstance(head, nn.Module) and any(True for _ in head.parameters()):
                return head
    linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{type(model).__name__} has no get_classifier() with parameters and no nn.Linear: "
            "cannot find its classifier layer"
        )
    return linears[-1]


def _prepare(model: nn.Module, device: torch.device) -> torch.memory_format:
    memory_format = evaluation_memory_format(model, device)
    freeze(model).to(device)
    if memory_format != torch.contiguous_format:
        model.to(memory_format=memory_format)
    return memory_format


@torch.no_grad()
def logits_and_features(
    model: nn.Module,
    images_u8: RowSource,
    batch_size: int | BatchSize = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and penultimate features of canonical uint8 images (N, 3, H, W), one forward pass
    per batch.

    The features are the input of :func:`classifier_layer`, captured by a forward pre-hook
    (flattened to (B, D) when it is not 2-D, e.g. a 1 x 1 conv classifier's (B, D, 1, 1)).

    Returns:
        ``(logits, features)`` on the CPU: logits (N, C) float32, bit for bit what
        :func:`~satsim.models.predict.predict_logits` gives; features (N, D) float16 (half the
        bytes; ValueError if a value overflows float16's range, |x| > 65504).
    """
    device = torch.device(device)
    # predict_logits' set-up, so that the logits equal its own bit for bit.
    memory_format = prepare_for_evaluation(model, device)
    head = classifier_layer(model)
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, args: tuple) -> None:
        captured.append(args[0])

    batches = DeviceBatches(images_u8, device)

    def run(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        captured.clear()
        x = unit_float(batches(start, stop)).contiguous(memory_format=memory_format)
        logits = model(x).float()
        if len(captured) != 1:
            raise RuntimeError(
                f"the classifier layer {type(head).__name__} ran {len(captured)} times in one "
                "forward pass; expected once"
            )
        features = captured.pop()
        if features.dim() != 2:
            features = features.flatten(1)
        if features.shape[0] != stop - start:
            raise RuntimeError(
                f"the classifier's input has {features.shape[0]} rows for {stop - start} images"
            )
        return logits, features.to(torch.float16)

    handle = head.register_forward_pre_hook(capture)
    try:
        outputs = map_batches(run, len(images_u8), batch_size, progress, "features")
    finally:
        handle.remove()
    if not outputs:
        return torch.empty((0, 0)), torch.empty((0, 0), dtype=torch.float16)
    logits = torch.cat([out[0] for out in outputs]).cpu()
    features = torch.cat([out[1] for out in outputs]).cpu()
    if bool(torch.isinf(features).any()):
        raise ValueError(f"penultimate features exceed the float16 range (|x| > {_FLOAT16_MAX:g})")
    return logits, features


def _pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """``np.packbits(bits, axis=1)`` (big-endian bit order, zero padding) on the tensor's device,
    so that only an eighth of the bytes travels back."""
    n_rows, n_bits = bits.shape
    pad = (-n_bits) % 8
    if pad:
        bits = F.pad(bits, (0, pad))
    place = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.int32, device=bits.device)
    grouped = bits.reshape(n_rows, -1, 8).to(torch.int32)
    return (grouped * place).sum(dim=2).to(torch.uint8)


def input_gradient_signs(
    model: nn.Module,
    images_u8: RowSource,
    labels: torch.Tensor | np.ndarray,
    batch_size: int | BatchSize = 256,
    device: torch.device | str = "cpu",
    progress: TextIO | None = None,
) -> torch.Tensor:
    """Packed signs of the input gradient of the cross-entropy loss, per image.

    For each canonical image x in [0, 1] (the space adversarial images live in) and its true
    label y: g = d CE(model(x), y) / d x, taken with respect to the INPUT only (``x`` requires
    grad; the weights are frozen, so no parameter's ``.grad`` is touched). The bits are
    ``g > 0`` over the flattened (3, H, W) positions (zero and negative share bit 0), packed like
    ``np.packbits(bits, axis=1)``: big-endian within each byte, zero-padded to whole bytes.
    The loss is summed over a batch, so an image's gradient does not depend on its batch.

    Storage per model: n_images x 3 x H x W / 8 bytes. 256 images at 256 x 256 are
    256 * 3 * 256 * 256 / 8 = 6,291,456 bytes = 6.3 MB, well inside a 50 MB per-model bound (which
    would allow ~2,000 such images); 69 models take 434 MB.

    Returns:
        (N, ceil(3 H W / 8)) uint8 tensor on the CPU (``.numpy()`` gives np.packbits' array).
    """
    device = torch.device(device)
    memory_format = _prepare(model, device)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if labels.shape != (len(images_u8),):
        raise ValueError(f"labels have shape {tuple(labels.shape)}, expected ({len(images_u8)},)")
    batches = DeviceBatches(images_u8, device)

    def signs_of(start: int, stop: int) -> torch.Tensor:
        x = unit_float(batches(start, stop)).contiguous(memory_format=memory_format)
        x.requires_grad_(True)
        y = labels[start:stop].to(device)
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)
        return _pack_bits((grad > 0).flatten(1))

    outputs = map_batches(signs_of, len(images_u8), batch_size, progress, "gradient signs")
    if not outputs:
        return torch.empty((0, 0), dtype=torch.uint8)
    return torch.cat(outputs).cpu()


@dataclass
class Representations:
    """What the similarity measures read, per model, from a run's files: clean predictions
    (N,), penultimate features (N, D) float16, packed gradient signs (n, bytes) at the first n
    eval images, and ``n_positions`` = 3 H W real bits per image."""

    labels: np.ndarray
    clean_pred: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    signs: dict[str, np.ndarray]
    n_positions: int


def load_representations(
    eval_path: str | os.PathLike,
    clean: Mapping[str, str | os.PathLike],
    features: Mapping[str, str | os.PathLike],
    gradients: Mapping[str, str | os.PathLike],
) -> Representations:
    """Read every model's clean predictions, features and gradient signs (model -> path, in the
    run's order), refusing files made from other weights than the model's clean predictions or
    from another eval set, and gradient files taken at different images."""
    data = ImageSet(eval_path)
    records: dict[str, dict[str, Any]] = {str(eval_path): data.record}
    clean_pred, feature_arrays, signs, index, n_positions = {}, {}, {}, None, None
    for model in clean:
        tensors, record = load_tensors(clean[model])
        records[str(clean[model])] = record
        clean_pred[model] = tensors["pred"].numpy()
        for kind, path in (("features", features[model]), ("gradients", gradients[model])):
            loaded, records[str(path)] = load_tensors(path)
            check_weights(str(path), records[str(path)], record["weights_sha256"])
            if kind == "features":
                feature_arrays[model] = loaded["features"].numpy()
                continue
            signs[model] = loaded["signs"].numpy()
            if index is None:
                index, n_positions = loaded["index"], int(records[str(path)]["n_positions"])
            elif not torch.equal(index, loaded["index"]):
                first = gradients[next(iter(clean))]
                raise ValueError(
                    f"{path} holds gradient signs of other images than {first}; rerun the "
                    "input_gradients jobs with one similarity.gradient_images"
                )
    check_agreement(records, ["data_sha256"])
    return Representations(data.labels.numpy(), clean_pred, feature_arrays, signs, n_positions or 0)


__all__ = [
    "Representations",
    "classifier_layer",
    "input_gradient_signs",
    "load_representations",
    "logits_and_features",
]
