"""The weight formats of the Campfire arrays (rtl_ref/ws_window_array.v, ws_channel_array.v): what
their compressed filters hold, and how many array rows (kept slots) a mask takes on them.

Both arrays are weight-stationary arrays whose rows take the kept slots of equal-length compressed
filters, so a layer runs as the dense schedule of K' = ``array_rows`` reduction rows
(sim/dataflows/sparse.py, the "rows" datapath).  Each PE muxes its operand out of a row bus
``bus_lanes`` activations wide; ``select_action`` is the energy action that prices the bus and mux
per issued MAC and lane (sim/actions.py, energy tables).

A fiber is one filter over K = R*S*C in (r, s, c) order, channel fastest; a window W[f, c, :, :] is
its R*S entries at stride C (``Geometry``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, Geometry, SparseFormat, as_fibers, clog2
from accelsim.spec.config import config_key, positive_int


def _windows(fibers: np.ndarray, geometry: Geometry) -> np.ndarray:
    """bool [F, R*S, C] view of the fibers."""
    f, length = fibers.shape
    rs = geometry.window
    c = geometry.channels or length // rs
    if rs * c != length:
        raise ValueError(f"fiber length {length} is not window {rs} x channels {c}")
    return as_fibers(fibers).reshape(f, rs, c).astype(bool)


@SPARSE_FORMATS.register("window_nm")
@dataclass(frozen=True)
class WindowNM(SparseFormat):
    """m of R*S per window on a window_bus-wide row bus, positional index per kept weight

    The window array's format (rtl_ref/ws_window_array.v).  A window wider than the bus is cut into
    ceil(R*S / window_bus) sub-windows of window_bus positions; m = the most nonzeros any
    sub-window of the tensor holds, and every sub-window takes m array rows (fewer nonzeros: explicit
    zeros).  Stored: min(m, sub-window size) values per sub-window, each with its position inside the
    sub-window, ceil(log2 min(window_bus, R*S)) bits (positional: each PE muxes with its own index and
    needs no unranking decoder; 4 bits per kept weight of a 3x3 window).  A 1x1 kernel or a linear
    layer is a window of one weight: stored dense, no index.
    """

    window_bus: int = config_key(9, positive_int)
    select_action: ClassVar[str] = "window_select"

    @property
    def bus_lanes(self) -> int:
        return self.window_bus

    def _counts(self, fibers: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
        """(nonzeros [F, J, C] per sub-window, sub-window sizes [J])."""
        w = _windows(fibers, geometry)
        rs, bus = w.shape[1], self.window_bus
        starts = np.arange(0, rs, bus)
        counts = np.add.reduceat(w.astype(np.int64), starts, axis=1) if w.size else np.zeros(
            (w.shape[0], len(starts), w.shape[2]), np.int64)
        return counts, np.minimum(bus, rs - starts)

    def array_rows(self, fibers: np.ndarray, geometry: Geometry) -> int:
        """K' of the window array: m * ceil(R*S / window_bus) * C."""
        counts, sizes = self._counts(fibers, geometry)
        m = int(counts.max()) if counts.size else 0
        return m * len(sizes) * counts.shape[2]

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        counts, sizes = self._counts(fibers, geometry)
        m = int(counts.max()) if counts.size else 0
        f, _, c = counts.shape
        slots = f * c * int(np.minimum(m, sizes).sum())
        meta = slots * clog2(min(self.window_bus, geometry.window))
        return slots * value_bits, meta, slots - int(counts.sum())


def channel_block_rows(nonempty: np.ndarray, gather: int) -> np.ndarray:
    """Window rows per block of ``gather`` channels in equal-length compressed filters: the most
    nonempty windows any filter has in the block.  ``nonempty``: bool [F, C]."""
    f, c = nonempty.shape
    starts = np.arange(0, c, gather)
    if f == 0 or c == 0:
        return np.zeros(len(starts), np.int64)
    return np.add.reduceat(nonempty.astype(np.int64), starts, axis=1).max(axis=0)


@SPARSE_FORMATS.register("channel_gather")
@dataclass(frozen=True)
class ChannelGather(SparseFormat):
    """equal-length compressed filters of whole windows, channel index per kept window (gather)

    The channel array's format (rtl_ref/ws_channel_array.v).  Channels are cut into blocks of
    gather_width (the row bus carries one block at one position); every filter holds, per block, as
    many windows as the filter with the most nonempty windows there (fewer: zero windows), each
    window whole (R*S values).  Index: per kept window its channel inside the block,
    ceil(log2 min(gather_width, C)) bits, plus a row table of the block of each window row,
    ceil(log2 blocks) bits, shared by all filters.  On a 1x1 kernel or a linear layer a window is one
    weight: row-balanced element sparsity.
    """

    gather_width: int = config_key(16, positive_int)
    select_action: ClassVar[str] = "channel_gather"

    @property
    def bus_lanes(self) -> int:
        return self.gather_width

    def _rows(self, fibers: np.ndarray, geometry: Geometry) -> np.ndarray:
        return channel_block_rows(_windows(fibers, geometry).any(axis=1), self.gather_width)

    def array_rows(self, fibers: np.ndarray, geometry: Geometry) -> int:
        """K' of the channel array: R*S * sum over blocks of the window rows."""
        return geometry.window * int(self._rows(fibers, geometry).sum())

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        f, length = fibers.shape
        rows = self._rows(fibers, geometry)
        windows = int(rows.sum())
        c = length // geometry.window
        slots = f * windows * geometry.window
        meta = f * windows * clog2(min(self.gather_width, c)) + windows * clog2(len(rows))
        return slots * value_bits, meta, slots - int(np.count_nonzero(fibers))
