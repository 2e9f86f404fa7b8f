"""Atomic file writes and file hashes (no torch: usable by every rule, including analysis).

Write to a temporary name beside the target, then rename: an interrupted job never leaves a file
that looks finished.
"""

from __future__ import annotations

import contextlib
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
        yield tmp_path
        # Writers that stage files privately (safetensors: 0600) would pass that on; give the
        # output the usual permissions (0666 - umask).
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
