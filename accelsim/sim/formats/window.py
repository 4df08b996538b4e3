"""Window (m of R*S inside every kernel window) and channel (whole windows) formats.

A window is W[f, c, :, :]: the R*S positions of one input channel c in a fiber laid out
(r, s, c) with c fastest (``Geometry.window`` = R*S, ``channels`` = C).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, Geometry, Indexed, SparseFormat, n_choose_k_bits
from accelsim.sim.formats.nm import ENCODINGS
from accelsim.spec.config import choice, config_key


def window_counts(fibers: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Nonzeros per window: int [F, C]."""
    f, length = fibers.shape
    rs = geometry.window
    c = geometry.channels or length // rs
    if rs * c != length:
        raise ValueError(f"fiber length {length} is not window {rs} x channels {c}")
    return np.asarray(fibers, dtype=bool).reshape(f, rs, c).sum(axis=1, dtype=np.int64)


@SPARSE_FORMATS.register("window")
@dataclass(frozen=True)
class Window(Indexed):
    """fixed-size windows: m values per R*S window + its index, combinatorial or positional

    m = the most nonzeros any window of the tensor holds (a window-pruned tensor keeps exactly m
    everywhere; windows with fewer store explicit zeros).  Index per window:
    ceil(log2 C(R*S, m)) bits (``nm_encoding: minimal``; 3 of 9 -> 7 bits) or m * ceil(log2 R*S)
    (``positional``).  On a 1x1 kernel or a linear layer a window is one weight: m = 1 and the
    tensor is stored dense with no index.
    """

    nm_encoding: str = config_key("positional", choice(*ENCODINGS))

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        counts = window_counts(fibers, geometry)
        m = int(counts.max()) if counts.size else 0
        windows = int(counts.size)
        rs = geometry.window
        if self.nm_encoding == "minimal":
            meta = windows * n_choose_k_bits(rs, m)
        else:
            meta = windows * m * self.coord_bits(rs)
        slots = windows * m
        return slots * value_bits, meta, slots - int(counts.sum())


@SPARSE_FORMATS.register("channel")
@dataclass(frozen=True)
class Channel(SparseFormat):
    """one presence bit per window W[f, c, :, :]; nonempty windows stored whole (R*S values)

    The tensor keeps its shape (a filter-pruned, physically smaller tensor would need no index and
    is simply a smaller dense layer).  On a 1x1 kernel or a linear layer this is a bitmask.
    """

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        counts = window_counts(fibers, geometry)
        kept = int(np.count_nonzero(counts))
        values = kept * geometry.window
        return values * value_bits, int(counts.size), values - int(counts.sum())
