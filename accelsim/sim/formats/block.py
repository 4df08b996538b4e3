"""Block-sparse rows (BSR): nonempty b_r x b_c blocks stored whole, with block coordinates."""

from __future__ import annotations

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, FormatParams, SparseFormat, as_fibers, kernels, pointer_bits


@SPARSE_FORMATS.register("block")
class Block(SparseFormat):
    """BSR: nonempty b_r x b_c blocks stored whole; a block-column index each + block-row pointers

    Blocks tile the [F, L] view: b_r fibers (filters) by b_c consecutive positions along the fiber
    (``block: b_r x b_c``).  Metadata = nnz_blocks * ceil(log2(L / b_c)) + (F / b_r + 1) *
    ceil(log2(nnz_blocks + 1)); data = every in-bounds value of a stored block (its zeros are
    padding values).  Edge blocks are cut at the border, not padded.
    """

    name = "block"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        br, bc = params.block
        f, length = fibers.shape
        blocks, values = kernels().block_counts(as_fibers(fibers), br, bc)
        blocks, values = int(blocks), int(values)
        meta = blocks * params.coord_bits(-(-length // bc)) + (-(-f // br) + 1) * pointer_bits(blocks)
        return values * value_bits, meta, values - int(np.count_nonzero(fibers))
