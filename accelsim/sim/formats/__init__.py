"""Sparse formats: how nonzeros and their indices are stored (``accelsim list formats``).

Each format is one module registering a ``SparseFormat`` in ``SPARSE_FORMATS``; the storage of a
layer's operands in its hardware's formats is ``accelsim.sim.storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import accelsim.sim.formats.block  # noqa: F401  (the imports register the formats)
import accelsim.sim.formats.nm  # noqa: F401
import accelsim.sim.formats.rle  # noqa: F401
import accelsim.sim.formats.simple  # noqa: F401
import accelsim.sim.formats.window  # noqa: F401
from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Geometry, Indexed, SparseFormat, as_fibers, clog2
from accelsim.spec.config import config_keys

__all__ = ["SPARSE_FORMATS", "Geometry", "Indexed", "SparseFormat", "as_fibers", "clog2", "get_format"]


def get_format(name: str, options: Mapping[str, Any] | None = None) -> SparseFormat:
    """Format ``name`` built from the config keys it declares (other ``options`` are not its own:
    ``OperandSparsity.options`` may also hold a datapath's keys)."""
    cls = SPARSE_FORMATS.get(name)
    return cls(**{k: v for k, v in (options or {}).items() if k in config_keys(cls)})
