"""What every per-model rule loads first: the device, the eval images and the job's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from satsim.compute.runtime import (
    configure_numerics,
    describe_numerics,
    select_device,
    with_precision,
)
from satsim.models.registry import ModelSpec
from satsim.models.weights import load_model
from satsim.similarity.transfer import SatInputs, load_sat_inputs
from satsim.workflow.artifacts import ImageSet
from satsim.workflow.atomic import read_json
from satsim.workflow.provenance import check_card_data, make_record


@dataclass(frozen=True)
class ExecutionSettings:
    """How a job runs, not what it computes: never a rerun trigger (not in ``params``)."""

    device: str
    batch_size: int  # clean and transfer evaluation
    attack_batch_size: int
    tf32: bool  # recorded in every file's numerics; mixing files warns (see provenance)


def execution_settings(smk: Any) -> ExecutionSettings:
    compute, attack = smk.config["compute"], smk.config.get("attack") or {}
    return ExecutionSettings(
        device=compute["device"],
        batch_size=int(compute["batch_size"]),
        attack_batch_size=int(attack.get("batch_size", compute["batch_size"])),
        tf32=bool(compute.get("tf32", False)),
    )


def job_device(smk: Any) -> torch.device:
    """The job's device (a free GPU of its own on a multi-GPU machine), with the config's TF32
    choice applied."""
    settings = execution_settings(smk)
    configure_numerics(settings.tf32)
    return select_device(settings.device)


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

    @property
    def numerics(self) -> dict[str, Any]:
        return describe_numerics(self.device, self.precision)

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The provenance record of a file this job writes: what made it, plus ``fields``."""
        return make_record(
            kind=kind,
            model=self.spec.name,
            weights_sha256=self.weights_sha256,
            data_sha256=self.data.data_sha256,
            precision=self.precision,
            numerics=self.numerics,
            **fields,
        )


def load_model_job(smk: Any) -> ModelJob:
    """From a Snakemake job with ``input.eval``, ``input.weights``, ``input.card`` and
    ``params.spec`` / ``params.autocast``; the device is an execution setting, read from the
    config (``compute.device``) so that changing it never reruns a finished job."""
    device = job_device(smk)
    data = ImageSet(smk.input.eval)
    check_card_data(smk.input.card, read_json(smk.input.card), smk.input.eval, data.data_sha256)
    spec = ModelSpec.from_description(smk.params.spec)
    model, sha = load_model(spec, smk.input.weights, data.num_classes, smk.input.card)
    precision = smk.params.autocast
    return ModelJob(device, data, spec, with_precision(model, precision, device), sha, precision)


def load_job_sat_inputs(smk: Any) -> SatInputs:
    """What the SAT matrix is made of, for a Snakemake job with ``input.eval``, per-model
    ``input.clean`` and ``input.transfer`` in the order of ``params.models``
    (:func:`satsim.similarity.transfer.load_sat_inputs`, with its checks); the jobs of an
    adaptive run (``params.partial``) read the pairs it measured."""
    models = smk.params.models
    return load_sat_inputs(
        smk.input.eval,
        clean=dict(zip(models, smk.input.clean, strict=True)),
        transfer=dict(zip(models, smk.input.transfer, strict=True)),
        partial=bool(getattr(smk.params, "partial", False)),
    )
