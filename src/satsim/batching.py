"""Batched work that halves its batch size when the GPU runs out of memory.

Each model job starts from the configured batch size and settles on the largest one that fits
that model, so one setting serves a zoo whose models differ 20-fold in memory per image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TextIO, TypeVar

import torch
from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger(__name__)


def map_batches(
    work: Callable[[int, int], T],
    n_items: int,
    batch_size: int,
    progress: TextIO | None = None,
    desc: str = "batches",
) -> list[T]:
    """``[work(start, stop) for consecutive slices of n_items]``, halving the slice on a CUDA
    out-of-memory error and retrying it. ``work`` must give the same result for an item whatever
    slice it is in (per-item randomness, sum-reduced losses).

    Raises:
        torch.OutOfMemoryError: if even one item does not fit.
    """
    results: list[T] = []
    start, size = 0, max(1, int(batch_size))
    with tqdm(
        total=n_items,
        desc=desc,
        unit="img",
        file=progress,
        disable=progress is None,
        mininterval=5.0,
    ) as bar:
        while start < n_items:
            stop = min(n_items, start + size)
            try:
                results.append(work(start, stop))
            except torch.OutOfMemoryError:
                if size == 1:
                    raise
                out_of_memory = True
            else:
                out_of_memory = False
            if out_of_memory:
                # Outside the except block, so the failed batch's tensors are already freed.
                torch.cuda.empty_cache()
                size //= 2
                log.warning("%s: out of GPU memory; batch size lowered to %d", desc, size)
                continue
            bar.update(stop - start)
            start = stop
    return results
