"""Run-length encoding with r-bit runs (EIE's relative index, Eyeriss's RLC)."""

from __future__ import annotations

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, FormatParams, SparseFormat, as_fibers, kernels


@SPARSE_FORMATS.register("rle")
class RLE(SparseFormat):
    """(run, value) entries with r-bit runs; a gap longer than 2^r - 1 costs padding zeros

    The fibers are encoded back to back as one stream in fiber order (runs carry across fiber
    boundaries), so no fiber pointers are needed; zeros after the last nonzero are implied by the
    known shape.  Entries = nonzeros + padding; metadata = entries * r; data = entries * w (each
    padding entry stores an explicit zero value).  Padding is counted on the real mask:
    floor(z / 2^r) entries for a gap of z zeros.
    """

    name = "rle"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        nnz, pad = kernels().rle_counts(as_fibers(fibers).ravel(), params.run_bits)
        entries = int(nnz) + int(pad)
        return entries * value_bits, entries * params.run_bits, int(pad)

    def expected_bits(self, n_fibers, length, nnz, value_bits, params) -> Bits:
        """i.i.d. zeros: entries = n / (1 - (1 - d)^(2^r)) (geometric gaps), padding = entries - n."""
        size = n_fibers * length
        n = round(nnz)
        if n == 0 or size == 0:
            return 0, 0, 0
        d = n / size
        q = (1.0 - d) ** (1 << params.run_bits)
        pad = round(n / (1.0 - q)) - n if q < 1.0 else 0
        entries = n + pad
        return entries * value_bits, entries * params.run_bits, pad
