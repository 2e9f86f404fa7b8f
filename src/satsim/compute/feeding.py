"""Getting uint8 image batches to the device without stalling it.

Images travel as uint8 (a quarter of float32's bytes) and become floats on the device. On CUDA
each batch is copied from pinned memory without blocking the host, and the next batch's copy
runs on a side stream while the current batch computes. On the CPU the slices are used as they
are, so CPU results do not change.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class RowSource(Protocol):
    """A uint8 image tensor, or anything sliced like one (e.g. ``artifacts.open_rows``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, rows: slice) -> torch.Tensor: ...


def unit_float(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 pixel levels -> float32 in [0, 1], on the images' own device."""
    return images_u8.to(torch.float32) / 255.0


def has_convolutions(model: nn.Module) -> bool:
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


# Benchmarks switch this off to measure what channels-last buys (model_costs.py --contiguous).
USE_CHANNELS_LAST = True


def preferred_memory_format(model: nn.Module) -> torch.memory_format:
    """Channels-last for convolutional models: oneDNN and cuDNN run their convolutions faster in
    that layout (measured 7-15 % per PGD step on CPU, see benchmarks/); attack and evaluation
    both use it."""
    if USE_CHANNELS_LAST and has_convolutions(model):
        return torch.channels_last
    return torch.contiguous_format


def evaluation_memory_format(model: nn.Module, device: torch.device) -> torch.memory_format:
    """The attack's format on a GPU. On the CPU evaluation stays contiguous, as its files were
    first made: channels-last moves the last bits of CPU logits (no demo prediction changed)."""
    if device.type == "cpu":
        return torch.contiguous_format
    return preferred_memory_format(model)


class DeviceBatches:
    """``batches(start, stop)``: rows ``start:stop`` of ``source`` as uint8 on ``device``.

    Call it for consecutive slices (as :func:`satsim.compute.batching.map_batches` does): on
    CUDA the slice after the one returned is already on its way. A slice other than the expected one
    (after an out-of-memory halving) is simply copied then.
    """

    def __init__(self, source: RowSource, device: torch.device | str) -> None:
        self.source = source
        self.device = torch.device(device)
        self._side_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self._ahead: tuple[int, int, torch.Tensor] | None = None

    def __call__(self, start: int, stop: int) -> torch.Tensor:
        if self._side_stream is None:
            return self.source[start:stop].to(self.device)
        current = torch.cuda.current_stream(self.device)
        if self._ahead is not None and self._ahead[:2] == (start, stop):
            batch = self._ahead[2]
            current.wait_stream(self._side_stream)
            batch.record_stream(current)  # allocated on the side stream, used on this one
        else:
            batch = self._upload(start, stop)
        self._ahead = None
        following = min(len(self.source), stop + (stop - start))
        if stop < following:
            with torch.cuda.stream(self._side_stream):
                self._ahead = (stop, following, self._upload(stop, following))
        return batch

    def _upload(self, start: int, stop: int) -> torch.Tensor:
        return self.source[start:stop].pin_memory().to(self.device, non_blocking=True)
