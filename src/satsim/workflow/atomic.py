"""Atomic file writes and file hashes (no torch: usable by every rule, including analysis).

Write to a temporary name beside the target, then rename: an interrupted job never leaves a file
that looks finished.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    An interrupted job therefore never leaves a file that looks finished. The temporary file
    lives in a hidden folder of its own, ``.<name>.partial`` (where a writer's own temporary
    files land too, e.g. safetensors' ``.tmpXXXX``); a killed write leaves that folder, and the
    next write of ``path`` removes it first: one job writes one output at a time.
    """
    path = Path(path)
    staging = partial_dir(path)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tmp_path = staging / path.name
    try:
        try:
            yield tmp_path
        except Exception as error:
            if is_disk_full(error):
                raise DiskFull(path) from error
            raise
        # Writers that stage files privately (safetensors: 0600) would pass that on; give the
        # output the usual permissions (0666 - umask).
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class DiskFull(OSError):
    """The file system ran out of space (or quota) while writing an output; names the output."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path}: the disk is full (no space left on the device or quota exceeded) while "
            f"writing it; nothing half-written was kept. Free space where {path.parent} lives "
            f"(df -h {path.parent}) and rerun"
        )
        self.path = path  # not OSError's errno/filename: its str() would then drop the message


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says the disk or quota is full: an OSError's errno, or the text of a
    writer that wraps it (safetensors' ``IoError(... StorageFull ...)``)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return any(said in text for said in ("No space left on device", "StorageFull", "quota exceed"))


def partial_dir(path: str | os.PathLike) -> Path:
    """Where :func:`atomic_path` stages ``path`` while it is written."""
    path = Path(path)
    return path.parent / f".{path.name}.partial"


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write a text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, record: Any) -> None:
    """Atomically write ``record`` as indented, key-sorted JSON (byte-stable)."""
    write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (read in chunks, not whole into memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_csv(path: str | os.PathLike, frame: Any, **to_csv_kwargs: Any) -> None:
    """Atomically write a pandas DataFrame as CSV, floats at full precision (each value reads
    back as the same float64), so a downstream recomputation can agree exactly."""
    if "float_format" in to_csv_kwargs:
        raise TypeError("write_csv keeps every float at full precision; round for display only")
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **to_csv_kwargs)
