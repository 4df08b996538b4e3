"""Run-length encoding with r-bit runs (EIE's relative index, Eyeriss's RLC)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats import kernels
from accelsim.sim.formats.base import Bits, Geometry, SparseFormat, as_fibers
from accelsim.spec.config import config_key, positive_int


@SPARSE_FORMATS.register("rle")
@dataclass(frozen=True)
class RLE(SparseFormat):
    """(run, value) entries with r-bit runs; a gap longer than 2^r - 1 costs padding zeros

    The fibers are encoded back to back as one stream in fiber order (runs carry across fiber
    boundaries), so no fiber pointers are needed; zeros after the last nonzero are implied by the
    known shape.  Entries = nonzeros + padding; metadata = entries * r (``run_bits``); data =
    entries * w (each padding entry stores an explicit zero value).  Padding is counted on the real
    mask: floor(z / 2^r) entries for a gap of z zeros.
    """

    run_bits: int = config_key(4, positive_int)

    stores_activations = True

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        nnz, pad = kernels.rle_counts(as_fibers(fibers).ravel(), self.run_bits)
        entries = int(nnz) + int(pad)
        return entries * value_bits, entries * self.run_bits, int(pad)

    def expected_bits(self, n_fibers, length, nnz, value_bits) -> Bits:
        """i.i.d. zeros: entries = n / (1 - (1 - d)^(2^r)) (geometric gaps), padding = entries - n."""
        size = n_fibers * length
        n = round(nnz)
        if n == 0 or size == 0:
            return 0, 0, 0
        d = n / size
        q = (1.0 - d) ** (1 << self.run_bits)
        pad = round(n / (1.0 - q)) - n if q < 1.0 else 0
        entries = n + pad
        return entries * value_bits, entries * self.run_bits, pad
