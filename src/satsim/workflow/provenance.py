"""What made a file: one record format for every per-model artefact, and the checks that stop a
stage from mixing inputs of different runs."""

from __future__ import annotations

import importlib.metadata
import platform
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

import satsim

# Fields that must agree between the inputs of one stage; a mismatch means two runs were mixed.
MUST_AGREE = ("data_sha256", "attack", "precision")


class ProvenanceMismatch(ValueError):
    """Two inputs of one stage were made by different runs (different data, attack or weights)."""


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "satsim": satsim.__version__,
        "torch": torch.__version__,
        "timm": importlib.metadata.version("timm"),  # without importing it (3 s per job)
        "numpy": np.__version__,
    }


def make_record(**fields: Any) -> dict[str, Any]:
    """A provenance record: the given fields plus the library versions in use."""
    return {**fields, "versions": library_versions()}


def check_agreement(records: Mapping[str, Mapping[str, Any]], fields: Iterable[str]) -> None:
    """Raise :class:`ProvenanceMismatch` naming two files whose ``fields`` differ.

    ``records`` maps a file path to its provenance record. Fields that a record lacks are not
    compared. Differing library versions or numerics (CPU vs GPU, TF32) only warn: results stay
    comparable up to rounding, but say so. Autocast is refused: bf16 changes what an attack
    finds at the paper's budget (see docs/paper-run.md, "GPUs: precision and reproducibility").
    """
    for field in fields:
        having = [(path, record[field]) for path, record in records.items() if field in record]
        for path, value in having[1:]:
            first_path, first_value = having[0]
            if value != first_value:
                raise ProvenanceMismatch(
                    f"{first_path} and {path} disagree on '{field}' "
                    f"({first_value!r} vs {value!r}): they come from different runs. "
                    "Delete the stale file(s) and rerun so that every input is made by the same "
                    "config."
                )
    _warn_if_differ(records, "versions", "were made with different library versions")
    _warn_if_differ(
        records,
        "numerics",
        "were computed with different numerics (device, TF32 or deterministic kernels); their "
        "results agree up to floating-point rounding, not bit for bit. Rerun one of them with "
        "the other's compute settings for a bit-exact run",
    )


def _warn_if_differ(records: Mapping[str, Mapping[str, Any]], field: str, meaning: str) -> None:
    """One warning naming the first two files whose ``field`` differs (autocast aside: it is
    refused through ``precision``, see :data:`MUST_AGREE`)."""
    values = [
        (path, {k: v for k, v in record[field].items() if k != "autocast"})
        for path, record in records.items()
        if field in record
    ]
    for path, value in values[1:]:
        if value != values[0][1]:
            warnings.warn(
                f"{values[0][0]} and {path} {meaning} ({values[0][1]} vs {value})", stacklevel=3
            )
            return


def check_weights(path: str, record: Mapping[str, Any], weights_sha256: str) -> None:
    """Refuse an artefact that was made from other weights than the ones in use now."""
    recorded = record.get("weights_sha256")
    if recorded != weights_sha256:
        raise ProvenanceMismatch(
            f"{path} was made from weights with sha256 {recorded}, but the model's weights file "
            f"now has sha256 {weights_sha256}. Delete {path} and rerun to rebuild it."
        )


def check_card_data(
    card_path: str, card: Mapping[str, Any], eval_path: str, data_sha256: str
) -> None:
    """Refuse a trained model whose card names another evaluation set than the run's: a model
    from a run with another seed or data setting may have trained on images this run evaluates."""
    recorded = card.get("eval_data_sha256")
    if recorded is not None and recorded != data_sha256:
        raise ProvenanceMismatch(
            f"{card_path} was tested on another evaluation set (sha256 {recorded[:12]}...) than "
            f"{eval_path} ({data_sha256[:12]}...): a model from a run with another seed or data "
            "setting may have trained on this run's evaluation images. Delete the card and its "
            "weights and rerun to train the model for this run."
        )


def check_transfer_sources(
    transfer_path: str, record: Mapping[str, Any], weights_of: Mapping[str, str]
) -> None:
    """Refuse a transfer file whose adversarial sets came from other weights than the source
    models' now (``weights_of``: source model -> its weights sha256 in this run)."""
    for source, sha in (record.get("sources") or {}).items():
        if source in weights_of and weights_of[source] != sha:
            raise ProvenanceMismatch(
                f"{transfer_path} evaluated adversarial images made on {source!r} with weights "
                f"sha256 {sha[:12]}..., but {source!r} now has {weights_of[source][:12]}...: "
                f"delete {transfer_path} and rerun to evaluate the current sets."
            )
