"""two_sided_stage(): the compute stage of an array whose PEs are a two-sided datapath, or None."""

from __future__ import annotations

from collections.abc import Callable

from accelsim.sim.dataflows.scnn import scnn_compute
from accelsim.sim.dataflows.sparten import sparten_compute
from accelsim.sim.traces import ComputeTrace
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.pe_array import CartesianPEArray, InnerJoinPEArray


def two_sided_stage(hw: HardwareConfig) -> Callable[..., ComputeTrace] | None:
    """SCNN's Cartesian-product datapath for ``pe_array.cartesian``, SparTen's inner join for
    ``pe_array.inner_join``; None for any other array."""
    if isinstance(hw.pe_array, CartesianPEArray):
        return scnn_compute
    if isinstance(hw.pe_array, InnerJoinPEArray):
        return sparten_compute
    return None
