"""Reading and writing per-model artefacts: atomic, hashed, with provenance inside the file.

Every tensor artefact is a safetensors file whose header carries a JSON provenance record under
the key ``satsim``. Nothing is ever pickled, so loading never executes code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

PROVENANCE_KEY = "satsim"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    An interrupted job therefore never leaves a file that looks finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write a text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, record: Any) -> None:
    """Atomically write ``record`` as indented, key-sorted JSON (byte-stable)."""
    write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


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


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tensors(*tensors: torch.Tensor) -> str:
    """Hash of the raw bytes (and shapes) of tensors: identifies a data subset independent of
    the file it is stored in."""
    digest = hashlib.sha256()
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_csv(path: str | os.PathLike, frame: Any, **to_csv_kwargs: Any) -> None:
    """Atomically write a pandas DataFrame as CSV."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **to_csv_kwargs)


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
