"""Reading and writing per-model artefacts: atomic, hashed, with provenance inside the file.

Every tensor artefact is a safetensors file whose header carries a JSON provenance record under
the key ``satsim``. Nothing is ever pickled, so loading never executes code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from satsim.atomic import atomic_path

PROVENANCE_KEY = "satsim"


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], provenance: dict[str, Any]
) -> None:
    """Atomically save ``tensors`` with ``provenance`` (JSON-serialisable) in the file header."""
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    metadata = {PROVENANCE_KEY: json.dumps(provenance, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(contiguous, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load all tensors and the provenance record of a file written by :func:`save_tensors`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            header = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(
            f"{path}: not a readable safetensors file ({error}); delete it and rerun the rule "
            "that makes it"
        ) from error
    return tensors, json.loads(header.get(PROVENANCE_KEY, "{}"))


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record of a satsim safetensors file, without loading its tensors."""
    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata() or {}
    return json.loads(header.get(PROVENANCE_KEY, "{}"))


def sha256_tensors(*tensors: torch.Tensor) -> str:
    """Hash of the raw bytes (and shapes) of tensors: identifies a data subset independent of
    the file it is stored in."""
    digest = hashlib.sha256()
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class ImageSet:
    """A canonical image set on disk: ``images`` (N, 3, H, W) uint8, ``labels`` (N,) int64,
    ``ids`` (N,) int64 stable image ids, and its provenance ``record``."""

    def __init__(self, path: str | os.PathLike) -> None:
        tensors, self.record = load_tensors(path)
        self.path = Path(path)
        self.images = tensors["images"]
        self.labels = tensors["labels"]
        self.ids = tensors["ids"]

    @property
    def num_classes(self) -> int:
        return int(self.record["num_classes"])

    @property
    def data_sha256(self) -> str:
        return self.record["data_sha256"]
