"""Flexible N:M (VEGETA-style): groups of M along a fiber, N chosen per layer from the mask.

The format of a flexible N:M engine (rtl_ref/ws_nm_array.v): one M-wide mux per PE, and the layer's
own N slots per group.  Its array runs every mask on ``array_rows`` = N * ceil(K / M) rows (the
"rows" datapath of sim/dataflows/sparse.py), N the smallest supported count (a power of two up to M,
or M) that holds the fullest group of the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats import kernels
from accelsim.sim.formats.base import Bits, Geometry, SparseFormat, as_fibers, clog2
from accelsim.spec.config import config_key, positive_int


@SPARSE_FORMATS.register("nm_flex")
@dataclass(frozen=True)
class NMFlex(SparseFormat):
    """N:M with the layer's own N (1, 2, 4 of 4: VEGETA), positional index per kept weight

    Groups are nm_group consecutive positions of a fiber (along C for weights), aligned to its
    start.  N = the smallest of the supported counts (the powers of two up to nm_group, and
    nm_group itself) that holds the fullest group of the layer's mask.  Stored: min(N, group size)
    values per group, each with its ceil(log2 nm_group)-bit position; N itself is one setting per
    layer (not counted).
    """

    nm_group: int = config_key(4, positive_int)

    @property
    def bus_lanes(self) -> int:
        """The positions the engine's mux picks a kept weight's activation from: a group."""
        return self.nm_group

    exploitable = ("nmflex",)

    def supported(self) -> tuple[int, ...]:
        m = self.nm_group
        return tuple(sorted({1 << i for i in range(m.bit_length()) if 1 << i <= m} | {m}))

    def layer_n(self, fibers: np.ndarray) -> int:
        """The N the layer runs at (0 for an empty mask)."""
        most = int(kernels.group_max(as_fibers(fibers), self.nm_group)) if fibers.size else 0
        return next((n for n in self.supported() if n >= most), self.nm_group) if most else 0

    def array_rows(self, fibers: np.ndarray, geometry: Geometry) -> int:
        """K' of the engine: N * ceil(K / nm_group)."""
        return self.layer_n(fibers) * -(-fibers.shape[1] // self.nm_group)

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        f, length = fibers.shape
        n, m = self.layer_n(fibers), self.nm_group
        sizes = np.minimum(m, length - np.arange(0, length, m))
        slots = f * int(np.minimum(n, sizes).sum())
        return slots * value_bits, slots * clog2(m), slots - int(np.count_nonzero(fibers))
