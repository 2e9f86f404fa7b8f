"""Reading and writing per-model artefacts: atomic, hashed, with provenance inside the file.

Every tensor artefact is a safetensors file whose header carries a JSON provenance record under
the key ``satsim``. Nothing is ever pickled, so loading never executes code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from satsim.workflow.atomic import atomic_path

PROVENANCE_KEY = "satsim"
# The provenance field holding the hash of a file's tensors (names, dtypes, shapes and bytes): a
# consumer that caches work on a file keys it by this, not by the file's path or time.
CONTENT_KEY = "tensors_sha256"


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], provenance: dict[str, Any]
) -> None:
    """Atomically save ``tensors`` with ``provenance`` (JSON-serialisable) in the file header."""
    contiguous = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    record = {**provenance, CONTENT_KEY: content_sha256(contiguous)}
    metadata = {PROVENANCE_KEY: json.dumps(record, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(contiguous, str(tmp), metadata=metadata)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load all tensors and the provenance record of a file written by :func:`save_tensors`,
    checking the tensors against the content hash in its header."""

    def read_all(handle: Any) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata() or {}

    tensors, header = _open(path, read_all)
    record = json.loads(header.get(PROVENANCE_KEY, "{}"))
    check_content(path, record, content_sha256(tensors))
    return tensors, record


class ContentMismatch(ValueError):
    """A file's tensors no longer hash to what its header recorded: changed after writing."""


def check_content(path: str | os.PathLike, record: dict[str, Any], actual_sha256: str) -> None:
    """Refuse a file whose tensors do not hash to its recorded :data:`CONTENT_KEY` (files from
    before the key existed are not checked)."""
    expected = record.get(CONTENT_KEY)
    if expected is not None and expected != actual_sha256:
        raise ContentMismatch(
            f"{path}: its contents changed after it was written (the tensors no longer match "
            f"the hash in its header); delete it and rerun the rule that makes it"
        )


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance record of a satsim safetensors file, without loading its tensors."""
    return json.loads(_open(path, lambda handle: handle.metadata() or {}).get(PROVENANCE_KEY, "{}"))


def read_tensor(path: str | os.PathLike, name: str) -> torch.Tensor:
    """One tensor of a satsim safetensors file, without loading the others."""
    return _open(path, lambda handle: handle.get_tensor(name))


def _open(path: str | os.PathLike, read: Any) -> Any:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return read(handle)
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(
            f"{path}: not a readable safetensors file ({error}); delete it and rerun the rule "
            "that makes it"
        ) from error


def sha256_tensors(*tensors: torch.Tensor) -> str:
    """Hash of the raw bytes (and shapes) of tensors: identifies a data subset independent of
    the file it is stored in."""
    digest = hashlib.sha256()
    for tensor in tensors:
        _update_digest(digest, tensor)
    return digest.hexdigest()


def content_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Hash of named tensors (in name order): what :data:`CONTENT_KEY` records."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode() + b"\0")
        _update_digest(digest, tensors[name])
    return digest.hexdigest()


def _update_digest(digest: Any, tensor: torch.Tensor) -> None:
    array = tensor.detach().cpu().contiguous().numpy()
    digest.update(str((array.dtype.str, array.shape)).encode())
    digest.update(array.reshape(-1).view(np.uint8))  # the bytes, without a copy


# safetensors dtype codes -> torch dtypes (the format's spec, for reading rows without mmap).
_SAFETENSORS_DTYPES = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}


class RowSlices:
    """Rows of one tensor in a safetensors file, read on demand: ``len()`` and ``[start:stop]``
    (a tensor) without loading the rest.

    Rows are read with plain positioned reads, not a memory map: pages of a mapped file count
    towards the process's resident memory once touched, so a mapped 0.8 GB adversarial set would
    still cost 0.8 GB by the end of the job. Here a batch costs one batch."""

    def __init__(self, path: str | os.PathLike, name: str) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            (header_bytes,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_bytes))
        if name not in header:
            raise KeyError(f"{self.path}: has no tensor {name!r}")
        entry = header[name]
        if entry["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"tensor {name!r} has the unsupported dtype {entry['dtype']}")
        self.dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
        self.shape = tuple(entry["shape"])
        begin, end = entry["data_offsets"]
        self._offset = 8 + header_bytes + begin
        item_bytes = torch.empty((), dtype=self.dtype).element_size()
        self._row_bytes = math.prod(self.shape[1:]) * item_bytes
        # A damaged header or a truncated file is found here, not halfway through a job.
        if end - begin != math.prod(self.shape) * item_bytes:
            raise ValueError(f"tensor {name!r}: its byte range does not match its shape")
        if self.path.stat().st_size < 8 + header_bytes + end:
            raise ValueError("truncated")
        self._content = _SequentialContentCheck(self.path, header, name)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> torch.Tensor:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("RowSlices reads contiguous row ranges only, e.g. [start:stop]")
        start, stop, _ = rows.indices(len(self))
        count = max(0, stop - start)
        buffer = bytearray(count * self._row_bytes)
        view, done = memoryview(buffer), 0
        with open(self.path, "rb", buffering=0) as handle:
            handle.seek(self._offset + start * self._row_bytes)
            while done < len(buffer):  # a network filesystem may return fewer bytes per read
                got = handle.readinto(view[done:])
                if not got:
                    raise ValueError(
                        f"{self.path}: truncated; delete it and rerun the rule that makes it"
                    )
                done += got
        self._content.rows_read(start, stop, buffer, self._row_bytes, len(self))
        if count == 0:
            return torch.empty((0, *self.shape[1:]), dtype=self.dtype)
        return torch.frombuffer(buffer, dtype=self.dtype).reshape(count, *self.shape[1:])


class _SequentialContentCheck:
    """The content hash of a file whose one big tensor is read in row slices, built as the rows
    go by (the other tensors are small and read whole): when the last row has been read in order,
    the file is checked against its header without a second pass over its bytes. Rows read again
    (a batch retried after an out-of-memory halving) are not hashed twice."""

    def __init__(self, path: Path, header: dict[str, Any], name: str) -> None:
        self.path, self.name = path, name
        self.record = json.loads((header.get("__metadata__") or {}).get(PROVENANCE_KEY, "{}"))
        self.names = sorted(key for key in header if key != "__metadata__")
        self.next_row = 0
        self.digest: Any = None
        if CONTENT_KEY in self.record:
            self.digest = hashlib.sha256()
            self._hash_others(before=True)
            entry = header[name]
            dtype = torch.empty((), dtype=_SAFETENSORS_DTYPES[entry["dtype"]]).numpy().dtype
            self.digest.update(name.encode() + b"\0")
            self.digest.update(str((dtype.str, tuple(entry["shape"]))).encode())

    def rows_read(
        self, start: int, stop: int, buffer: bytearray, row_bytes: int, rows: int
    ) -> None:
        if self.digest is None or stop <= self.next_row:
            return
        if start > self.next_row:  # rows skipped: this pass cannot check the file
            self.digest = None
            return
        self.digest.update(memoryview(buffer)[(self.next_row - start) * row_bytes :])
        self.next_row = stop
        if self.next_row == rows:
            self._hash_others(before=False)
            check_content(self.path, self.record, self.digest.hexdigest())
            self.digest = None

    def _hash_others(self, before: bool) -> None:
        others = [n for n in self.names if (n < self.name) == before and n != self.name]
        for other in others:
            self.digest.update(other.encode() + b"\0")
            _update_digest(self.digest, read_tensor(self.path, other))


def open_rows(path: str | os.PathLike, name: str) -> RowSlices:
    """The tensor ``name`` of a satsim file, readable in row slices (see :class:`RowSlices`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        return RowSlices(path, name)
    except (OSError, ValueError, KeyError, struct.error) as error:
        raise ValueError(
            f"{path}: cannot read the tensor {name!r} ({error}); delete the file and rerun the "
            "rule that makes it"
        ) from error


class ImageSet:
    """A canonical image set on disk: ``images`` (N, 3, H, W) uint8, ``labels`` (N,) int64,
    ``ids`` (N,) int64 stable image ids, and its provenance ``record``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.record = read_provenance(path)
        self.labels = read_tensor(path, "labels")
        self.ids = read_tensor(path, "ids")
        self._images: torch.Tensor | None = None

    @property
    def images(self) -> torch.Tensor:
        """All images, loaded on first use (a transfer job needs only the labels)."""
        if self._images is None:
            tensors, _ = load_tensors(self.path)  # checks every tensor against the header
            self._images = tensors["images"]
        return self._images

    @property
    def num_classes(self) -> int:
        return int(self.record["num_classes"])

    @property
    def data_sha256(self) -> str:
        return self.record["data_sha256"]
