"""Block-sparse rows (BSR): nonempty b_r x b_c blocks stored whole, with block coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats import kernels
from accelsim.sim.formats.base import Bits, Geometry, Indexed, as_fibers, pointer_bits
from accelsim.spec.config import config_key, dims


@SPARSE_FORMATS.register("block")
@dataclass(frozen=True)
class Block(Indexed):
    """BSR: nonempty b_r x b_c blocks stored whole; a block-column index each + block-row pointers

    Blocks tile the [F, L] view: b_r fibers (filters) by b_c consecutive positions along the fiber
    (``block: b_r x b_c``).  Metadata = nnz_blocks * ceil(log2(L / b_c)) + (F / b_r + 1) *
    ceil(log2(nnz_blocks + 1)); data = every in-bounds value of a stored block (its zeros are
    padding values).  Edge blocks are cut at the border, not padded.
    """

    block: tuple[int, int] = config_key((4, 4), dims)

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        br, bc = self.block
        f, length = fibers.shape
        blocks, values = kernels.block_counts(as_fibers(fibers), br, bc)
        blocks, values = int(blocks), int(values)
        meta = blocks * self.coord_bits(-(-length // bc)) + (-(-f // br) + 1) * pointer_bits(blocks)
        return values * value_bits, meta, values - int(np.count_nonzero(fibers))
