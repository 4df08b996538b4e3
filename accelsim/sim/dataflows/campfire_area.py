"""Area of one PE, from the yosys cell counts of the rtl_ref PEs (rtl_ref/expected/cells.json,
made by rtl_ref/cells.py; tests/test_campfire.py re-derives every number here from that file).

Scaling (45 nm): a generic logic cell is 419 um^2 / 1059, the area Horowitz (ISSCC 2014; reference
energy_and_designs.md section 1 cites its energies) gives an 8-bit multiply + 32-bit add (282 + 137
um^2) over the yosys logic cells of that operation (rtl_ref/mac_cal.v); a flip-flop is 4.522 / 0.798
of that (Nangate 45 nm open cell library DFF_X1 / NAND2_X1, a generic gate taken as one NAND2).

Known PEs: the dense arrays' (``os_pe`` when outputs are stationary, else ``ws_pe``), the N:4
weight-stationary PE (``ws_sparse_pe``: 2:4, and the flexible N:4 engine, whose PE is the same), and
the Campfire arrays' window / channel PEs: the dense WS PE plus a per-lane cost of their row bus and
mux, fitted through 0 over the synthesized widths (window 4/9/16/25, channel 4/8/16/32 lanes; within
4 % of the measured PE at 8 lanes and more, 20 % at 4).  Any other datapath has no RTL behind it: None.
"""

from __future__ import annotations

from accelsim.registry import DATAFLOWS
from accelsim.sim.formats import get_format
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.pe_array import FlexiblePEArray

MAC_LOGIC_CELLS = 1059  # rtl_ref/mac_cal.v
UM2_PER_LOGIC_CELL = (282.0 + 137.0) / MAC_LOGIC_CELLS
UM2_PER_FLIP_FLOP = UM2_PER_LOGIC_CELL * 4.522 / 0.798
PE_CELLS = {"os_pe": (1076, 118), "ws_pe": (1059, 58), "ws_sparse_pe": (1146, 86)}  # (logic, flip-flops)
LANE_UM2 = {"window_select": 24.98, "channel_gather": 24.67}  # per 8-bit lane of the row bus + mux


def cells_um2(logic: int, flip_flops: int) -> float:
    return logic * UM2_PER_LOGIC_CELL + flip_flops * UM2_PER_FLIP_FLOP


def pe_area(hw: HardwareConfig) -> tuple[float, str] | None:
    """(um^2 of one PE, which RTL PE it is) or None when no rtl_ref PE models ``hw``'s datapath."""
    if isinstance(hw.pe_array, FlexiblePEArray) or hw.sparsity.inputs.skip != "none":
        return None
    w = hw.sparsity.weights
    outputs_held = DATAFLOWS.get(hw.pe_array.dataflow).outputs_stationary
    if w.skip == "none":
        return (cells_um2(*PE_CELLS["os_pe"]), "dense OS PE") if outputs_held else (
            cells_um2(*PE_CELLS["ws_pe"]), "dense WS PE")
    if w.skip != "skip" or outputs_held:
        return None
    fmt = get_format(w.format, w.options)
    if hasattr(fmt, "select_action"):
        return (cells_um2(*PE_CELLS["ws_pe"]) + fmt.bus_lanes * LANE_UM2[fmt.select_action],
                f"{fmt.select_action} PE, {fmt.bus_lanes} lanes")
    if w.format == "nm" and tuple(w.nm) == (2, 4) or w.format == "nm_flex" and w.nm_group == 4:
        return cells_um2(*PE_CELLS["ws_sparse_pe"]), "N:4 WS PE (4:1 mux)"
    return None
