"""PackedMask: a large bool mask kept as bits in memory (one byte per eight elements).

A Llama-2-7B-shaped model has 6.7 G weights: as numpy bools its masks alone would take 6.7 GB, as
bits 0.84 GB.  ``Layer`` keeps every mask above ``PACK_ABOVE_ELEMENTS`` elements packed; a consumer
that needs the elements calls ``np.asarray(mask)`` (``__array__`` unpacks, one layer at a time), and
the counts that need no unpacking (``count_nonzero``) work on the bits.

``bits`` is exactly ``np.packbits(mask, axis=None)`` of the C-ordered mask (big-endian bit order,
the last byte zero-padded), the form the workload cache stores, so a cached mask is used as read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PACK_ABOVE_ELEMENTS = 1 << 22  # 4 Mi elements: 4 MB as bools; no layer of the CNN zoo is that large


@dataclass(frozen=True, eq=False)
class PackedMask:
    bits: np.ndarray  # uint8 [ceil(size / 8)], read-only
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = tuple(int(v) for v in self.shape)
        bits = np.asarray(self.bits)
        if bits.dtype != np.uint8 or bits.ndim != 1 or bits.size != -(-int(np.prod(shape)) // 8):
            raise ValueError(f"PackedMask: {bits.dtype} bits of shape {bits.shape} do not hold a mask of "
                             f"shape {shape}")
        bits = bits.view()  # a read-only view: the caller's array stays as it was
        bits.flags.writeable = False
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "shape", shape)

    @classmethod
    def pack(cls, mask: np.ndarray) -> PackedMask:
        mask = np.asarray(mask, dtype=bool)
        return cls(np.packbits(mask, axis=None), mask.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(bool)

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes)

    def count_nonzero(self) -> int:
        """The number of true elements (the padding bits are zero), counted once."""
        found = self.__dict__.get("_nonzeros")
        if found is None:
            found = int(np.bitwise_count(self.bits).sum(dtype=np.int64))
            object.__setattr__(self, "_nonzeros", found)
        return found

    def all(self) -> bool:
        return self.count_nonzero() == self.size

    def any(self) -> bool:
        return self.count_nonzero() > 0

    def unpack(self) -> np.ndarray:
        """The mask as a read-only bool array of ``shape``."""
        out = np.unpackbits(self.bits, count=self.size).view(bool).reshape(self.shape)
        out.flags.writeable = False
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        if copy is False:
            raise ValueError("a PackedMask cannot be viewed as an array without unpacking it (a copy)")
        out = self.unpack()
        return out if dtype is None or np.dtype(dtype) == out.dtype else out.astype(dtype)


def maybe_packed(mask: np.ndarray | PackedMask | None) -> np.ndarray | PackedMask | None:
    """``mask`` packed when it has more than PACK_ABOVE_ELEMENTS elements, else as given."""
    if mask is None or isinstance(mask, PackedMask) or np.size(mask) <= PACK_ABOVE_ELEMENTS:
        return mask
    return PackedMask.pack(mask)


def packed_bits(mask: np.ndarray | PackedMask) -> np.ndarray:
    """``np.packbits(mask, axis=None)`` without unpacking a PackedMask."""
    return mask.bits if isinstance(mask, PackedMask) else np.packbits(np.asarray(mask, dtype=bool), axis=None)
