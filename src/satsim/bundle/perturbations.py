"""Adversarial sets as perturbations: ``adversarial - clean`` in pixel levels, packed and
compressed, so that a bundle carries no eval-set pixels and is several times smaller.

An L-inf attack of epsilon levels leaves each sub-pixel one of ``2 epsilon + 1`` values
(three at the paper's 1/255). The values are shifted to ``0 .. 2 epsilon``, packed as base-L
digits (as many per byte as fit: five at L = 3, two at L <= 16) and compressed with LZMA. Chosen
by measurement (benchmarks/bundle_size.py): on the demo's sets LZMA on the int8 values is 3 %
smaller at 1/255 (1.19 vs 1.22 bits per sub-pixel) and equal at 40/255, while on perturbations
without structure the packing keeps the chosen one at the base-L bound (1.60 bits at 1/255)
where int8 + LZMA takes 1.72; zlib and bz2 were 6 to 20 % larger.
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
    def wide(self) -> bool:
        """More levels than a byte holds (epsilon >= 128): one little-endian uint16 each."""
        return self.levels > 256

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


# Values per compressed chunk: a multiple of every packing's digits per byte (1, 2, 3 or 5), so
# only the last chunk is padded; bounds the temporaries of a 0.8 GB adversarial set.
CHUNK_VALUES = 30 * 2**17


def _pack(values: np.ndarray, packing: Packing) -> bytes:
    """``values`` (0 .. levels - 1) as bytes: base-L digits, or uint16 when wide."""
    if packing.wide:
        return values.astype("<u2").tobytes()
    padded = np.zeros(-(-values.size // packing.digits) * packing.digits, dtype=np.uint16)
    padded[: values.size] = values
    grouped = padded.reshape(-1, packing.digits)
    packed = np.zeros(len(grouped), dtype=np.uint16)
    for position in range(packing.digits):
        packed = packed * packing.levels + grouped[:, position]
    return packed.astype(np.uint8).tobytes()


def _unpack(raw: bytes, packing: Packing) -> np.ndarray:
    if packing.wide:
        return np.frombuffer(raw, dtype="<u2").astype(np.uint16)
    packed = np.frombuffer(raw, dtype=np.uint8).astype(np.uint16)
    grouped = np.empty((len(packed), packing.digits), dtype=np.uint16)
    for position in reversed(range(packing.digits)):
        grouped[:, position] = packed % packing.levels
        packed = packed // packing.levels
    return grouped.reshape(-1)


def encode(delta: np.ndarray, epsilon: int, preset: int = 6) -> bytes:
    """Pack ``delta`` (integers in ``-epsilon .. epsilon``) and compress it, a chunk at a time."""
    packing = Packing(epsilon)
    flat = delta.reshape(-1)
    compressor = lzma.LZMACompressor(preset=preset)
    parts = []
    for start in range(0, flat.size, CHUNK_VALUES):
        values = flat[start : start + CHUNK_VALUES].astype(np.int16) + epsilon
        if values.size and (int(values.min()) < 0 or int(values.max()) >= packing.levels):
            raise PerturbationError(f"a perturbation exceeds the budget of {epsilon} levels")
        parts.append(compressor.compress(_pack(values.astype(np.uint16), packing)))
    parts.append(compressor.flush())
    return b"".join(parts)


def decode(blob: bytes, shape: tuple[int, ...], epsilon: int) -> np.ndarray:
    """Inverse of :func:`encode`: the int16 perturbation of ``shape``."""
    packing = Packing(epsilon)
    count = int(np.prod(shape))
    chunk_bytes = 2 * CHUNK_VALUES if packing.wide else CHUNK_VALUES // packing.digits
    decompressor = lzma.LZMADecompressor()
    delta = np.empty(count, dtype=np.int16)
    filled, excess, pending = 0, 0, blob
    try:
        while filled < count:
            raw = decompressor.decompress(pending, max_length=chunk_bytes)
            pending = b""
            if not raw:
                break
            values = _unpack(raw, packing)
            taken = min(len(values), count - filled)
            delta[filled : filled + taken] = values[:taken].astype(np.int16) - epsilon
            filled, excess = filled + taken, excess + len(values) - taken
        rest = b"" if decompressor.eof else decompressor.decompress(b"")
    except (lzma.LZMAError, EOFError) as error:
        raise PerturbationError(f"the perturbation bytes do not decompress ({error})") from error
    padding = 0 if packing.wide else packing.digits - 1  # the last byte's unused digits
    leftover = rest or decompressor.unused_data or not decompressor.eof
    if filled < count or excess > padding or leftover:
        raise PerturbationError(
            f"the perturbation bytes do not hold the {count} values of shape {tuple(shape)}"
        )
    return delta.reshape(shape)


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
