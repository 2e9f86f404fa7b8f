"""Adversarial sets as perturbations: ``adversarial - clean`` in pixel levels, packed and
compressed, so that a bundle carries no eval-set pixels and is several times smaller.

An L-inf attack of epsilon levels leaves each sub-pixel one of ``2 epsilon + 1`` values
(three at the paper's 1/255). The values are shifted to ``0 .. 2 epsilon``, packed as base-L
digits (as many per byte as fit: five at L = 3, two at L <= 16) and compressed with LZMA, which
measured smallest on the demo's sets at both budgets (benchmarks/bundle_size.py).
"""

from __future__ import annotations

import lzma
from dataclasses import dataclass

import numpy as np

ENCODING = "base-levels-lzma"


class PerturbationError(ValueError):
    """A perturbation exceeds its budget, or its bytes do not decode to the recorded shape."""


@dataclass(frozen=True)
class Packing:
    """How sub-pixel offsets in ``-epsilon .. epsilon`` are packed: ``levels`` values,
    ``digits`` of them per byte."""

    epsilon: int

    @property
    def levels(self) -> int:
        return 2 * self.epsilon + 1

    @property
    def digits(self) -> int:
        digits = 1
        while self.levels ** (digits + 1) <= 256:
            digits += 1
        return digits


def perturbation(adversarial: np.ndarray, clean: np.ndarray, epsilon: int) -> np.ndarray:
    """``adversarial - clean`` as int16 pixel levels, checked to lie within the budget."""
    delta = adversarial.astype(np.int16) - clean.astype(np.int16)
    largest = int(np.abs(delta).max(initial=0))
    if largest > epsilon:
        raise PerturbationError(
            f"a perturbation of {largest} levels exceeds the attack's budget of {epsilon}: the "
            "adversarial set was not made from these clean images with this attack"
        )
    return delta


def encode(delta: np.ndarray, epsilon: int, preset: int = 6) -> bytes:
    """Pack ``delta`` (integers in ``-epsilon .. epsilon``) and compress it."""
    packing = Packing(epsilon)
    values = (delta.astype(np.int16).reshape(-1) + epsilon).astype(np.uint16)
    if values.size and int(values.max()) >= packing.levels:
        raise PerturbationError(f"a perturbation exceeds the budget of {epsilon} levels")
    padded = np.zeros(-(-values.size // packing.digits) * packing.digits, dtype=np.uint16)
    padded[: values.size] = values
    grouped = padded.reshape(-1, packing.digits)
    packed = np.zeros(len(grouped), dtype=np.uint16)
    for position in range(packing.digits):
        packed = packed * packing.levels + grouped[:, position]
    return lzma.compress(packed.astype(np.uint8).tobytes(), preset=preset)


def decode(blob: bytes, shape: tuple[int, ...], epsilon: int) -> np.ndarray:
    """Inverse of :func:`encode`: the int16 perturbation of ``shape``."""
    packing = Packing(epsilon)
    count = int(np.prod(shape))
    try:
        packed = np.frombuffer(lzma.decompress(blob), dtype=np.uint8).astype(np.uint16)
    except lzma.LZMAError as error:
        raise PerturbationError(f"the perturbation bytes do not decompress ({error})") from error
    if len(packed) != -(-count // packing.digits):
        raise PerturbationError(
            f"the perturbation bytes hold {len(packed) * packing.digits} values, not the "
            f"{count} of shape {tuple(shape)}"
        )
    grouped = np.empty((len(packed), packing.digits), dtype=np.uint16)
    for position in reversed(range(packing.digits)):
        grouped[:, position] = packed % packing.levels
        packed = packed // packing.levels
    values = grouped.reshape(-1)[:count].astype(np.int16) - epsilon
    return values.reshape(shape)


def apply(clean: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The adversarial images: ``clean + delta`` as uint8, refusing values off the pixel range
    (a perturbation meant for other clean images)."""
    adversarial = clean.astype(np.int16) + delta
    if adversarial.size and (adversarial.min() < 0 or adversarial.max() > 255):
        raise PerturbationError(
            "clean + perturbation leaves the 0..255 pixel range: these are not the clean images "
            "the perturbation was made from"
        )
    return adversarial.astype(np.uint8)
