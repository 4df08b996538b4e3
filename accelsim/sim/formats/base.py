"""What a sparse format is: a rule that turns a mask of fibers into payload, index and padding bits,
and the declaration of what it needs from a hardware config and what it allows there.

Vocabulary (reference/sparsity.md section 4): a **fiber** is one row of the operand's matrix view;
a format compresses every fiber of a bool mask ``fibers[F, L]`` (F fibers of length L).  Weights
are viewed as their filters: F = output channels, L = K = (C / groups) * R * S in (r, s, c) order,
input channel fastest (``Layer.gemm_weight_mask`` transposed), so an N:M group of M consecutive
entries runs along C and a window W[f, c, :, :] is the R*S entries of one c at stride C.

A format is a frozen dataclass whose fields are its config keys (``config_key(default, parser)``:
``run_bits`` of rle, ``nm`` of nm, ...); the loader accepts those keys, and only those, under
``sparsity.<operand>`` when the format is chosen, and builds the format from them.  Every format
answers ``bits(fibers, value_bits, geometry) -> (data_bits, metadata_bits, padding_values)``: data =
stored values (nonzeros plus any explicit zeros the format must store), metadata = index bits,
padding_values = the explicit zeros among the stored values.  Formats that can be sized from a
nonzero count alone (dense, bitmask, csr, coo, rle) also answer ``expected_bits(n_fibers, length,
nnz, value_bits)`` and can store activations, whose mask is not known (``stores_activations``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelsim.spec.config import config_key, positive_int

Bits = tuple[int, int, int]  # (data_bits, metadata_bits, padding_values)


@dataclass(frozen=True)
class Geometry:
    """How a fiber is laid out: ``window`` = R*S (1 for a linear layer or an activation fiber) and
    ``channels`` = C per group; a fiber of length L = window * channels is (r, s, c), c fastest
    (channels 0: the whole fiber is one channel run, channels = L)."""

    window: int = 1
    channels: int = 0


def clog2(x: int) -> int:
    """ceil(log2(x)) for x >= 1 (0 for x <= 1)."""
    return (int(x) - 1).bit_length() if x > 1 else 0


def pointer_bits(nnz: int) -> int:
    """ceil(log2(nnz + 1)): a pointer able to say 0..nnz."""
    return int(nnz).bit_length()


def n_choose_k_bits(n: int, k: int) -> int:
    """ceil(log2(C(n, k))): the minimal (combinatorial) index of which k of n positions are kept."""
    return clog2(math.comb(n, k))


@dataclass(frozen=True)
class SparseFormat:
    """Base of every format; subclasses (named by their registration) implement ``bits`` and declare
    their config keys as fields, what they let a datapath exploit and whether they can store activations."""

    name: ClassVar[str] = ""
    general: ClassVar[bool] = True  # can store any mask (False: a mask may not fit, see fit_problem)
    stores_activations: ClassVar[bool] = False  # sized from a nonzero count alone (expected_bits)
    # the patterns a datapath can skip with this format: None = any pattern no other format claims,
    # () = none (the format keeps no positions), names = only these, and no other format can
    exploitable: ClassVar[tuple[str, ...] | None] = None
    takes_packed: ClassVar[bool] = False  # fit_problem and bits read PackedFibers (see packs)

    def packs(self, length: int) -> bool:
        """Whether fibers of ``length`` positions may be handed over as PackedFibers."""
        return self.takes_packed

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        """``expected_bits`` at the mask's real nonzero count (formats sized by the count alone)."""
        f, length = fibers.shape
        return self.expected_bits(f, length, nonzeros(fibers), value_bits)

    def fit_problem(self, fibers: np.ndarray, geometry: Geometry) -> str | None:
        """Why this mask cannot be stored in the format (None: it can)."""
        return None

    def expected_bits(self, n_fibers: int, length: int, nnz: float, value_bits: int) -> Bits:
        """Bits from a nonzero count alone (zeros i.i.d.); only formats that store activations know how."""
        raise NotImplementedError(f"format {self.name!r} needs the real mask")


@dataclass(frozen=True)
class Indexed(SparseFormat):
    """A format with coordinate fields: ``index_bits`` (None = minimal) is the width of each; a width
    smaller than a fiber needs is raised to what it needs (an index must address every position)."""

    index_bits: int | None = config_key(None, positive_int)

    def coord_bits(self, span: int) -> int:
        """Bits of one coordinate addressing ``span`` positions."""
        return max(clog2(span), self.index_bits or 0)


@dataclass(frozen=True)
class PackedFibers:
    """Fibers [F, L] as bits, never unpacked: ``bits`` is np.packbits of the C-ordered [F, L] 0/1 matrix
    (a 7B model's masks stay bit-packed: storage.weight_storage hands these to a format whose
    ``packs(L)`` says it reads them)."""

    bits: np.ndarray
    shape: tuple[int, int]
    nonzeros: int

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def nonzeros(fibers) -> int:
    """Nonzero positions of fibers, unpacked or PackedFibers."""
    return fibers.nonzeros if isinstance(fibers, PackedFibers) else int(np.count_nonzero(fibers))


def as_fibers(fibers: np.ndarray) -> np.ndarray:
    """A C-contiguous uint8 [F, L] view of a bool mask (no copy when it already is one)."""
    a = np.asarray(fibers)
    if a.ndim != 2:
        raise ValueError(f"fibers must be 2-D [F, L], got shape {a.shape}")
    if a.dtype == np.bool_:
        a = np.ascontiguousarray(a).view(np.uint8)
    elif a.dtype != np.uint8:
        a = (a != 0).view(np.uint8)
    return np.ascontiguousarray(a)
