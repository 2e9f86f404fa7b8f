"""What made a file: one record format for every per-model artefact, and the checks that stop a
stage from mixing inputs of different runs."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import timm
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
        "timm": timm.__version__,
        "numpy": np.__version__,
    }


def make_record(**fields: Any) -> dict[str, Any]:
    """A provenance record: the given fields plus the library versions in use."""
    return {**fields, "versions": library_versions()}


def check_agreement(records: Mapping[str, Mapping[str, Any]], fields: Iterable[str]) -> None:
    """Raise :class:`ProvenanceMismatch` naming two files whose ``fields`` differ.

    ``records`` maps a file path to its provenance record. Fields that a record lacks are not
    compared. Differing library versions only warn: results stay comparable, but say so.
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
    versions = [
        (path, record["versions"]) for path, record in records.items() if "versions" in record
    ]
    for path, value in versions[1:]:
        if value != versions[0][1]:
            warnings.warn(
                f"{versions[0][0]} and {path} were made with different library versions "
                f"({versions[0][1]} vs {value})",
                stacklevel=2,
            )
            break


def check_weights(path: str, record: Mapping[str, Any], weights_sha256: str) -> None:
    """Refuse an artefact that was made from other weights than the ones in use now."""
    recorded = record.get("weights_sha256")
    if recorded != weights_sha256:
        raise ProvenanceMismatch(
            f"{path} was made from weights with sha256 {recorded}, but the model's weights file "
            f"now has sha256 {weights_sha256}. Delete {path} and rerun to rebuild it."
        )
