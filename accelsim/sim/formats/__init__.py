"""Sparse formats: how nonzeros and their indices are stored (``accelsim list formats``).

Each format is one module registering a ``SparseFormat`` in ``SPARSE_FORMATS``; the storage of a
layer's operands in its hardware's formats is ``accelsim.sim.storage``.
"""

from __future__ import annotations

import accelsim.sim.formats.block  # noqa: E402,F401  (the imports register the formats)
import accelsim.sim.formats.nm  # noqa: E402,F401
import accelsim.sim.formats.rle  # noqa: E402,F401
import accelsim.sim.formats.simple  # noqa: E402,F401
import accelsim.sim.formats.window  # noqa: E402,F401
from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import FormatParams, SparseFormat, as_fibers, clog2  # noqa: E402
from accelsim.spec.hardware import OperandSparsity  # noqa: E402

__all__ = ["SPARSE_FORMATS", "FormatParams", "SparseFormat", "as_fibers", "clog2", "format_params",
           "get_format"]


def get_format(name: str) -> SparseFormat:
    return SPARSE_FORMATS.get(name)()


def format_params(s: OperandSparsity, window: int = 1, channels: int = 0) -> FormatParams:
    return FormatParams(index_bits=s.index_bits, run_bits=s.run_bits, nm=s.nm, nm_encoding=s.nm_encoding,
                        block=s.block, window=window, channels=channels)
