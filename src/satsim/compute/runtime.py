"""Device choice, numeric precision, threads and determinism."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from satsim.compute.gpus import claim_gpu, visible_gpus


def select_device(preference: str = "auto", gpu_count: int | None = None) -> torch.device:
    """The device this process computes on.

    ``auto`` is CUDA when a GPU is visible, else the CPU; ``cuda`` without a GPU is an error;
    ``cuda:N`` pins that GPU. With ``auto`` or ``cuda`` and several visible GPUs, the process
    takes one that no other job holds (see :mod:`satsim.compute.gpus`) and keeps it until it exits.
    ``gpu_count`` replaces ``torch.cuda.device_count()`` (tests fake a multi-GPU machine).
    """
    if preference == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if gpu_count is None else gpu_count
    if count == 0:
        if preference == "auto":
            return torch.device("cpu")
        raise RuntimeError(
            f"compute.device is {preference!r} but no CUDA GPU is visible; set it to 'auto' or "
            "'cpu'"
        )
    if preference.startswith("cuda:"):
        if int(preference.partition(":")[2]) >= count:
            raise RuntimeError(
                f"compute.device is {preference!r} but only {count} GPU(s) are visible; use "
                "'auto' to take any free GPU"
            )
        return torch.device(preference)
    names = visible_gpus()
    if len(names) != count:  # e.g. CUDA_VISIBLE_DEVICES unset and no nvidia-smi: use indices
        names = [str(index) for index in range(count)]
    device = torch.device("cuda", claim_gpu(names))
    if gpu_count is None:  # a real GPU: calls without a device argument go to it, not GPU 0
        torch.cuda.set_device(device)
    return device


def make_deterministic(seed: int, threads: int | None = None) -> None:
    """Seed every generator and ask torch for deterministic kernels: same seed, same bytes on
    the same machine (CPU). On a GPU, cuBLAS needs a fixed workspace for that; kernels with no
    deterministic CUDA version (the backward passes of antialiased resizing and adaptive
    pooling) still run, with a warning in the log: GPU attacks are not bit-reproducible."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def configure_numerics(tf32: bool) -> None:
    """TensorFloat-32 for float32 matmuls and convolutions on NVIDIA GPUs, on or off for both:
    torch's own defaults differ between the two (convolutions on, matmuls off). No effect on
    CPUs."""
    torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    torch.backends.cudnn.allow_tf32 = bool(tf32)


def describe_numerics(device: torch.device | str, autocast: str) -> dict[str, Any]:
    """What decides a file's floating-point results besides its inputs: the device (type and
    model), autocast, TF32 and deterministic kernels. Recorded in every computed artefact."""
    device = torch.device(device)
    on_gpu = device.type == "cuda"
    return {
        "device_type": device.type,
        "device_name": torch.cuda.get_device_name(device) if on_gpu else cpu_name(),
        "autocast": autocast,
        "tf32": on_gpu and torch.backends.cuda.matmul.allow_tf32,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }


def cpu_name() -> str:
    """The CPU model (CPU types can differ in the last bits of float results)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


PRECISIONS = ("none", "bf16")


class Autocast(nn.Module):
    """Run ``model`` under bfloat16 autocast on ``device_type``; logits come back as float32.

    Gradients with respect to the (float32) input still flow, so attacks work unchanged.
    """

    def __init__(self, model: nn.Module, device_type: str) -> None:
        super().__init__()
        self.model = model
        self.device_type = device_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.model(x).float()


def with_precision(model: nn.Module, autocast: str, device: torch.device) -> nn.Module:
    """``model`` as is for ``none``, wrapped in :class:`Autocast` for ``bf16``."""
    if autocast not in PRECISIONS:
        raise ValueError(f"compute.autocast must be one of {PRECISIONS}, got {autocast!r}")
    return model if autocast == "none" else Autocast(model, torch.device(device).type)
