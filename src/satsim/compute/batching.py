"""Batched work that halves its batch size when the GPU runs out of memory.

Each model job starts from the configured batch size and settles on the largest one that fits
that model, so one setting serves a zoo whose models differ 20-fold in memory per image. A
:class:`BatchSize` shared by several calls (a transfer job's sources) keeps what was settled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TextIO, TypeVar

import torch
from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger(__name__)

# cuBLAS and cuDNN report a failed allocation as a plain RuntimeError with one of these codes.
_ALLOCATION_FAILURES = (
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_ENOUGH_WORKSPACE",
)


def is_out_of_memory(error: BaseException) -> bool:
    """A GPU allocation failure: torch's out-of-memory error (``torch.cuda.OutOfMemoryError``,
    present in every torch >= 1.13; ``torch.OutOfMemoryError`` is the same class from 2.5) or a
    cuBLAS/cuDNN allocation failure."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(
        code in str(error) for code in _ALLOCATION_FAILURES
    )


class BatchSize:
    """A batch size that only shrinks: pass one object to every :func:`map_batches` call of a job
    so that the size settled on for one input is where the next starts."""

    def __init__(self, size: int) -> None:
        self.value = max(1, int(size))

    def halve(self) -> int:
        self.value = max(1, self.value // 2)
        return self.value


def map_batches(
    work: Callable[[int, int], T],
    n_items: int,
    batch_size: int | BatchSize,
    progress: TextIO | None = None,
    desc: str = "batches",
) -> list[T]:
    """``[work(start, stop) for consecutive slices of n_items]``, halving the slice on a CUDA
    out-of-memory error (see :func:`is_out_of_memory`) and retrying it. ``work`` must give the
    same result for an item whatever slice it is in (per-item randomness, sum-reduced losses).

    Raises:
        the allocation error, if even one item does not fit.
    """
    results: list[T] = []
    size = batch_size if isinstance(batch_size, BatchSize) else BatchSize(batch_size)
    start = 0
    with tqdm(
        total=n_items,
        desc=desc,
        unit="img",
        file=progress,
        disable=progress is None,
        mininterval=5.0,
    ) as bar:
        while start < n_items:
            stop = min(n_items, start + size.value)
            try:
                results.append(work(start, stop))
            except (torch.cuda.OutOfMemoryError, RuntimeError) as error:
                if not is_out_of_memory(error) or size.value == 1:
                    raise
                out_of_memory = True
            else:
                out_of_memory = False
            if out_of_memory:
                # Outside the except block, so the failed batch's tensors are already freed.
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                log.warning("%s: out of GPU memory; batch size lowered to %d", desc, size.halve())
                continue
            bar.update(stop - start)
            start = stop
    return results
