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
MUST_AGREE = ("data_sha256", "attack")


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
    items = list(records.items())
    if not items:
        return
    first_path, first = items[0]
    for path, record in items[1:]:
        for field in fields:
            if field in first and field in record and first[field] != record[field]:
                raise ProvenanceMismatch(
                    f"{first_path} and {path} disagree on '{field}' "
                    f"({first[field]!r} vs {record[field]!r}): they come from different runs. "
                    "Delete the stale file(s) and rerun so that every input is made by the same "
                    "config."
                )
        if first.get("versions") != record.get("versions"):
            warnings.warn(
                f"{first_path} and {path} were made with different library versions "
                f"({first.get('versions')} vs {record.get('versions')})",
                stacklevel=2,
            )


def check_weights(path: str, record: Mapping[str, Any], weights_sha256: str) -> None:
    """Refuse an artefact that was made from other weights than the ones in use now."""
    recorded = record.get("weights_sha256")
    if recorded != weights_sha256:
        raise ProvenanceMismatch(
            f"{path} was made from weights with sha256 {recorded}, but the model's weights file "
            f"now has sha256 {weights_sha256}. Delete {path} and rerun to rebuild it."
        )
