"""What every per-model rule loads first: the device, the eval images and the job's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from satsim.artifacts import ImageSet
from satsim.registry import ModelSpec
from satsim.runtime import select_device, with_precision
from satsim.weights import load_model


@dataclass(frozen=True)
class ExecutionSettings:
    """How a job runs, not what it computes: never a rerun trigger (not in ``params``)."""

    device: str
    batch_size: int  # clean and transfer evaluation
    attack_batch_size: int


def execution_settings(smk: Any) -> ExecutionSettings:
    compute, attack = smk.config["compute"], smk.config.get("attack") or {}
    return ExecutionSettings(
        device=compute["device"],
        batch_size=int(compute["batch_size"]),
        attack_batch_size=int(attack.get("batch_size", compute["batch_size"])),
    )


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
    ``params.spec`` / ``params.autocast``; the device is an execution setting, read from the
    config (``compute.device``) so that changing it never reruns a finished job."""
    device = select_device(execution_settings(smk).device)
    data = ImageSet(smk.input.eval)
    spec = ModelSpec.from_description(smk.params.spec)
    model, sha = load_model(spec, smk.input.weights, data.num_classes, smk.input.card)
    precision = smk.params.autocast
    return ModelJob(device, data, spec, with_precision(model, precision, device), sha, precision)
