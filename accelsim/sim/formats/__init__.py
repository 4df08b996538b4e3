"""Sparse formats: how nonzeros and their indices are stored (``accelsim list formats``).

Each format is one module registering a ``SparseFormat`` in ``SPARSE_FORMATS``; the storage of a
layer's operands in its hardware's formats is ``accelsim.sim.storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats import block, campfire, nm, nm_flex, rle, simple, window  # noqa: F401  (registers them)
from accelsim.sim.formats.base import Geometry, SparseFormat, as_fibers
from accelsim.spec.config import config_keys

__all__ = ["SPARSE_FORMATS", "Geometry", "SparseFormat", "as_fibers", "get_format"]


def get_format(name: str, options: Mapping[str, Any] | None = None) -> SparseFormat:
    """Format ``name`` built from the config keys it declares (other ``options`` are not its own:
    ``OperandSparsity.options`` may also hold a datapath's keys)."""
    cls = SPARSE_FORMATS.get(name)
    return cls(**{k: v for k, v in (options or {}).items() if k in config_keys(cls)})
