"""Which GPU a job runs on: one job per GPU on a multi-GPU machine.

Snakemake runs each GPU job in its own process; nothing tells a job which GPU is free. A job
therefore takes a free GPU itself: it holds an exclusive ``flock`` on a lock file per device for
its whole life (the kernel releases it when the process ends, killed or not). With one visible
GPU, e.g. inside a Slurm allocation that already restricts ``CUDA_VISIBLE_DEVICES``, the job
simply uses ``cuda:0``. More jobs than GPUs (``--resources gpu`` above the GPU count) share
GPUs evenly instead of waiting.

Nothing here imports torch: the Snakefile counts GPUs with it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "SATSIM_GPU_LOCK_DIR"
_MAX_JOBS_PER_GPU = 64
_held_locks: list[int] = []  # open descriptors: a lock lives as long as the process


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """The identities of the GPUs a process started with ``env`` sees, in CUDA's order:
    ``CUDA_VISIBLE_DEVICES``'s entries when it is set (indices or UUIDs), else the indices that
    ``nvidia-smi --list-gpus`` reports; none when neither says anything."""
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        gpus = []
        for entry in (part.strip() for part in listed.split(",")):
            if not entry or entry.startswith("-"):
                break  # CUDA ignores everything from the first invalid entry on (e.g. -1)
            gpus.append(entry)
        return gpus
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return []
    try:
        listing = subprocess.run(
            [nvidia_smi, "--list-gpus"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, _ in enumerate(line for line in listing.splitlines() if line.strip())]


def default_gpu_limit(device: str, gpus: list[str]) -> int | None:
    """How many GPU jobs a local run starts at once when ``--resources gpu`` is not given: one
    per visible GPU, one for a pinned ``cuda:N``, no limit for CPU runs or without a GPU (then
    ``auto`` jobs run on the CPU and ``--cores`` bounds them)."""
    if device == "cpu" or not gpus:
        return None
    return 1 if device.startswith("cuda:") else len(gpus)


def lock_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the per-GPU lock files live: node-local (flock over NFS is unreliable) and shared by
    every run and user on the machine, since they all share its GPUs."""
    env = os.environ if env is None else env
    return Path(env.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "satsim-gpu-locks")


def claim_gpu(gpu_names: list[str], directory: Path | None = None) -> int:
    """Index (into ``gpu_names``) of a GPU no other job holds, locked for this process's life.

    Tries every GPU for its first job slot, then every GPU for a second slot, and so on, so that
    with more jobs than GPUs each GPU carries about the same number.
    """
    if len(gpu_names) == 1:
        return 0
    directory = lock_dir() if directory is None else directory
    problem = _lock_dir_problem(directory)
    if problem:
        _warn_unlocked(directory, problem, gpu_names[0])
        return 0
    for slot in range(_MAX_JOBS_PER_GPU):
        for index, name in enumerate(gpu_names):
            path = directory / f"gpu-{_safe(name)}.{slot}.lock"
            if _try_lock(path):
                if slot > 0:
                    log.warning(
                        "all %d GPUs are taken: sharing GPU %s with %d other job(s); lower "
                        "--resources gpu to give each job a GPU of its own",
                        len(gpu_names),
                        name,
                        slot,
                    )
                log.info(
                    "using GPU %s (%d of %d visible), lock %s", name, index, len(gpu_names), path
                )
                return index
    _warn_unlocked(directory, "no lock file in it could be locked", gpu_names[0])
    return 0


def _lock_dir_problem(directory: Path) -> str:
    """Why ``directory`` cannot hold the GPU locks ("" when it can): it cannot be made, is not
    a folder, or this user cannot create files in it."""
    if directory.exists() and not directory.is_dir():
        return "it is a file, not a folder"
    try:
        _make_shared_dir(directory)
    except OSError as error:
        return f"it cannot be created: {error.strerror or error}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "this user cannot create files in it"
    return ""


def _warn_unlocked(directory: Path, problem: str, gpu: str) -> None:
    """Say, in the job's log and on the terminal, that this job runs without a GPU lock."""
    message = (
        f"GPU lock folder {directory} cannot be used ({problem}): this job runs on GPU {gpu} "
        "without a lock, so other jobs may share that GPU (slower, or out of memory). Set "
        f"{LOCK_DIR_ENV} to a node-local folder that every job on this machine can write "
        f"(default {lock_dir({})}) and rerun"
    )
    log.warning(message)
    # A job's stderr is its log file; the terminal is the process's original stderr.
    if sys.__stderr__ is not None:
        print(f"warning: {message}", file=sys.__stderr__, flush=True)


def _try_lock(path: Path) -> bool:
    # Read-only, so that a file another user created can still be locked; created only when
    # missing, since O_CREAT on another user's file in a sticky folder fails where Linux protects
    # such files (fs.protected_regular, systemd's default).
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:  # another job created it just now
            return _try_lock(path)
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return False
    _held_locks.append(descriptor)
    return True


def release_gpus() -> None:
    """Give back every GPU this process holds (the process's end does the same)."""
    while _held_locks:
        with contextlib.suppress(OSError):
            os.close(_held_locks.pop())


def _make_shared_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        directory.chmod(0o1777)  # every user's jobs share the machine's GPUs (sticky, like /tmp)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
