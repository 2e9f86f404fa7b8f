"""What every per-model rule loads first: the device, the eval images and the job's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from satsim.artifacts import ImageSet
from satsim.registry import ModelSpec
from satsim.runtime import select_device, with_precision
from satsim.weights import load_model


@dataclass
class ModelJob:
    """One rule's model: ``model`` reads canonical images (under bf16 autocast if ``precision``
    is ``bf16``); ``weights_sha256`` is its file's."""

    device: torch.device
    data: ImageSet
    spec: ModelSpec
    model: torch.nn.Module
    weights_sha256: str
    precision: str


def load_model_job(smk: Any) -> ModelJob:
    """From a Snakemake job with ``input.eval``, ``input.weights``, ``input.card`` and
    ``params.spec`` / ``params.device`` / ``params.autocast``."""
    device = select_device(smk.params.device)
    data = ImageSet(smk.input.eval)
    spec = ModelSpec.from_description(smk.params.spec)
    model, sha = load_model(spec, smk.input.weights, data.num_classes, smk.input.card)
    precision = smk.params.autocast
    return ModelJob(device, data, spec, with_precision(model, precision, device), sha, precision)
