"""One GPU per job: which device a job takes, tested on the CPU with the count of visible GPUs
faked at the edge (``gpu_count``) and real ``flock`` locks held by real processes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from workflow_helpers import TINY_CONFIG, copy_run, snakemake

from satsim.compute.gpus import LOCK_DIR_ENV, default_gpu_limit, release_gpus, visible_gpus
from satsim.compute.runtime import select_device

# A job that takes one of N GPUs (argv) as select_device does, prints the device, and holds it
# until stdin closes. It skips torch's import (seconds) by calling satsim.compute.gpus directly.
_JOB = textwrap.dedent(
    """
    import sys
    from satsim.compute.gpus import claim_gpu, visible_gpus
    names = visible_gpus() or [str(i) for i in range(int(sys.argv[1]))]
    print(f"cuda:{claim_gpu(names)}", flush=True)
    sys.stdin.read()
    """
)


def _start_job(
    lock_dir: Path, env_extra: dict[str, str] | None = None, gpus: int = 4
) -> subprocess.Popen:
    env = {"PATH": "/usr/bin:/bin", LOCK_DIR_ENV: str(lock_dir), **(env_extra or {})}
    return subprocess.Popen(
        [sys.executable, "-c", _JOB, str(gpus)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _device_of(job: subprocess.Popen) -> str:
    return job.stdout.readline().strip()


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    directory = tmp_path / "locks"
    monkeypatch.setenv(LOCK_DIR_ENV, str(directory))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield directory
    release_gpus()


def test_concurrent_jobs_take_different_gpus_then_share_evenly(lock_dir):
    jobs = [_start_job(lock_dir) for _ in range(4)]
    try:
        first_four = sorted(_device_of(job) for job in jobs)
        assert first_four == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
        # A fifth job (--resources gpu above the GPU count) shares rather than waits.
        jobs.append(_start_job(lock_dir))
        assert _device_of(jobs[-1]) in first_four
    finally:
        for job in jobs:
            job.communicate("")


def test_a_finished_job_gives_its_gpu_back(lock_dir):
    holders = [_start_job(lock_dir) for _ in range(4)]
    devices = {_device_of(job): job for job in holders}
    devices.pop("cuda:2").communicate("")  # the job on GPU 2 ends (the kernel drops its lock)
    newcomer = _start_job(lock_dir)
    try:
        assert _device_of(newcomer) == "cuda:2"
    finally:
        for job in [*devices.values(), newcomer]:
            job.communicate("")


def test_a_killed_job_gives_its_gpu_back(lock_dir):
    victim = _start_job(lock_dir)
    assert _device_of(victim) == "cuda:0"
    victim.kill()
    victim.wait()
    newcomer = _start_job(lock_dir)
    try:
        assert _device_of(newcomer) == "cuda:0"
    finally:
        newcomer.communicate("")


def test_locks_name_the_physical_gpus_so_runs_with_different_visible_sets_agree(lock_dir):
    # Two runs see GPUs 2,3 and 3,2: a job of the second run must not take physical GPU 3.
    holder = _start_job(lock_dir, {"CUDA_VISIBLE_DEVICES": "2,3"}, gpus=2)
    try:
        assert _device_of(holder) == "cuda:0"  # physical GPU 2
        other = _start_job(lock_dir, {"CUDA_VISIBLE_DEVICES": "3,2"}, gpus=2)
        assert _device_of(other) == "cuda:0"  # physical GPU 3, the free one
        other.communicate("")
        assert sorted(path.name for path in lock_dir.iterdir()) == [
            "gpu-2.0.lock",
            "gpu-3.0.lock",
        ]
    finally:
        holder.communicate("")


def test_select_device_takes_a_free_gpu_and_keeps_it(lock_dir):
    assert select_device("auto", gpu_count=2) == torch.device("cuda", 0)
    assert select_device("cuda", gpu_count=2) == torch.device("cuda", 1)
    release_gpus()
    assert select_device("auto", gpu_count=2) == torch.device("cuda", 0)


def test_one_visible_gpu_is_cuda_0_without_a_lock(lock_dir, monkeypatch):
    # Inside a Slurm allocation CUDA_VISIBLE_DEVICES holds the job's own GPU.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    assert select_device("auto", gpu_count=1) == torch.device("cuda", 0)
    assert select_device("cuda", gpu_count=1) == torch.device("cuda", 0)
    assert not lock_dir.exists()


def test_explicit_choices_are_kept_and_impossible_ones_refused(lock_dir):
    assert select_device("cpu", gpu_count=4) == torch.device("cpu")
    assert select_device("cuda:3", gpu_count=4) == torch.device("cuda", 3)
    assert select_device("auto", gpu_count=0) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA GPU is visible"):
        select_device("cuda", gpu_count=0)
    with pytest.raises(RuntimeError, match="'cuda:4' but only 4 GPU"):
        select_device("cuda:4", gpu_count=4)


def test_visible_gpus_follow_cuda_visible_devices():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1,3"}) == ["0", "1", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-ab12,GPU-cd34"}) == ["GPU-ab12", "GPU-cd34"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # CUDA stops at -1
    assert visible_gpus({"PATH": "/nonexistent"}) == []  # no nvidia-smi: no GPU


def _provided_gpus(run: subprocess.CompletedProcess) -> str | None:
    """The ``gpu`` limit in the scheduler's "Provided resources:" line (Snakemake 9 prints a
    registered resource as ``Resource("gpu", 3)``, a command-line one as ``3``)."""
    found = re.search(
        r'Provided resources:.*\bgpu=(?:Resource\("gpu", )?(\d+)', run.stdout + run.stderr
    )
    return found.group(1) if found else None


def test_default_gpu_limit_is_one_job_per_visible_gpu():
    assert default_gpu_limit("auto", ["0", "1", "2"]) == 3
    assert default_gpu_limit("cuda", ["0", "1"]) == 2
    assert default_gpu_limit("cuda:1", ["0", "1", "2"]) == 1  # every job on one GPU
    assert default_gpu_limit("cpu", ["0", "1"]) is None  # CPU runs claim no GPU
    assert default_gpu_limit("auto", []) is None  # no GPU: auto jobs run on the CPU


@pytest.mark.parametrize(
    ("resources", "expected"),
    [([], "3"), (["--resources", "gpu=6"], "6")],  # the visible GPUs; the user's limit wins
)
def test_the_workflow_applies_the_default_gpu_limit(
    tiny_run, tmp_path, monkeypatch, resources, expected
):
    run_dir = copy_run(tiny_run, tmp_path / "run")
    # CUDA_VISIBLE_DEVICES fakes three GPUs for the Snakefile's count. A real (not dry) run
    # prints the scheduler's limits; only the target rule all, which runs no code, is forced,
    # so no job needs a GPU (or starts Python).
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    run = snakemake(
        run_dir,
        "--configfile",
        str(TINY_CONFIG),
        "--config",
        "compute={device: auto, batch_size: 500}",
        "--forcerun",
        "all",
        "--until",
        "all",
        *resources,
    )
    assert run.returncode == 0, run.stderr
    assert _provided_gpus(run) == expected


def test_lock_files_are_shared_across_users(lock_dir):
    select_device("auto", gpu_count=2)
    assert lock_dir.stat().st_mode & 0o1777 == 0o1777
