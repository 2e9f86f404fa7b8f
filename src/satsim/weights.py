"""Model weights on disk: safetensors state dicts (never pickles) plus a JSON card.

The card (``<model>.json`` beside ``<model>.safetensors``) records the model spec, the sha256 of
the weights file and, for trained models, the test accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from satsim.atomic import atomic_path, read_json, sha256_file, write_json
from satsim.registry import ModelSpec
from satsim.wrapper import CanonicalModel


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> str:
    """Atomically save the state dict as safetensors; returns the file's sha256."""
    from safetensors.torch import save_file

    state = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()
    }
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    return sha256_file(path)


def write_card(
    path: str | os.PathLike, spec: ModelSpec, weights_sha256: str, **fields: Any
) -> None:
    write_json(path, {"model": spec.describe(), "weights_sha256": weights_sha256, **fields})


def load_model(
    spec: ModelSpec,
    weights_path: str | os.PathLike,
    num_classes: int,
    card_path: str | os.PathLike | None = None,
) -> tuple[CanonicalModel, str]:
    """Build ``spec``, load its safetensors weights, wrap it for canonical images.

    Returns the wrapped model (eval mode) and the weights file's sha256. If a card is given, the
    file's hash must match the one recorded there.
    """
    weights_path = Path(weights_path)
    sha = sha256_file(weights_path)
    if card_path is not None:
        recorded = read_json(card_path).get("weights_sha256")
        if recorded != sha:
            raise ValueError(
                f"{weights_path} has sha256 {sha} but {card_path} records {recorded}: the weights "
                "file changed after it was made. Delete both and rerun to rebuild them."
            )
    model = spec.build(num_classes)
    try:
        model.load_state_dict(load_file(str(weights_path)), strict=True)
    except RuntimeError as error:
        raise ValueError(
            f"{weights_path} does not fit model {spec.name!r} ({spec.architecture}): {error}"
        ) from error
    return spec.wrap(model).eval(), sha


def fetch_pretrained(spec: ModelSpec, num_classes: int, path: str | os.PathLike) -> str:
    """Download ``spec``'s pretrained weights through timm and store them as safetensors.

    Needs the network (or a warm Hugging Face cache with ``HF_HUB_OFFLINE=1``). Returns the sha256.
    """
    try:
        model = spec.build(num_classes, pretrained=True)
    except Exception as error:
        raise RuntimeError(
            f"could not fetch pretrained weights for model {spec.name!r} "
            f"({spec.architecture}): {error}. Check the network (or HF_HUB_OFFLINE and the "
            "Hugging Face cache) and the pretrained tag in the registry."
        ) from error
    return save_weights(model, path)
