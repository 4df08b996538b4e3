"""count_actions(): the only place action counts are made.  Energy = counts x the energy table.

What one layer counts (``flow`` is its dataflow's row of dataflows/base.py; moves as in rtl_ref/):

* compute: nonzero MACs, gated MAC slots;
* registers: per nonzero MAC the operand the PEs hold (``flow.stationary``) is read from the per-PE
  level holding it (``rf_access``, priced at that level's size); outputs held: the sum is read and
  written there (2 accesses of ``accumulator`` bits).  With no such level the held value sits in a
  pipeline register, latched once on arrival (its hop below), and a held sum is latched once per MAC
  (``pipeline_reg``).  Every NoC hop lands in a pipeline register: one ``pipeline_reg`` per hop;
* NoC (``noc``, one hop = one copy delivered to one PE): a streamed operand (``flow.streams``) read
  from its buffer is passed PE to PE across the axis of the dim it does not index, one hop per PE it
  reaches (the mean used width of that axis: a multicast costs a copy per PE); a held operand is
  shifted down the columns to its row on preload, and held sums drain down the columns the same
  way, (used rows + 1) / 2 hops each; a flowing partial sum takes one hop per PE along K for each
  output write (``accumulator`` bits; sums read back go to the column's collector, no hop);
* buffers: array reads and writes per operand (``precision``-bit words) at the innermost shared
  level holding it, index metadata read with its data in proportion metadata/data bits; every
  transfer between tiers (DRAM and each level, ``MemoryTraffic.by_level``) is a read at the level it
  leaves and a write at the level it enters, data and metadata alike;
* sparse logic: every word read with index metadata is decoded (``index_decode``), and every output
  written in a compressed format encoded (one ``index_decode``: the same run counter); every issued MAC
  passes the operand selector of a datapath where one operand skips (``operand_select``, once per
  lane of the bus its mux picks from: ``select_lanes``), or the intersection unit where both skip
  (``intersection``); on a Campfire array (a weight format with a
  ``select_action``, formats/campfire.py) instead its row bus and mux, one action per issued MAC
  and bus lane (``window_select``, ``channel_gather``: priced from the RTL's cell counts);
* static: every PE (``pe_static``) and every bit of on-chip storage (``buffer_static``; a per-PE
  level once per PE) for every cycle of the layer, stalls included: compute + stall cycles;
* DRAM bytes read and written.

A two-sided datapath (``DatapathTrace``, sim/dataflows/two_sided.py: SCNN, SparTen) counts its own
register-file, NoC and sparse-logic actions; they replace the generic array's held-operand accesses,
hops and selectors above.
"""

from __future__ import annotations

from accelsim.sim.dataflows.base import OPERAND_DIMS, FoldPlan
from accelsim.sim.formats import get_format
from accelsim.sim.traces import Action, ComputeTrace, MemoryTraffic, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig, MemoryLevel
from accelsim.spec.pe_array import FlexiblePEArray


def count_actions(hw: HardwareConfig, compute: ComputeTrace, traffic: MemoryTraffic,
                  storage: dict[str, StorageBreakdown]) -> list[Action]:
    """Every action of one layer (the module docstring says what is counted and how)."""
    pe = hw.pe_array
    bits, pes = pe.precision_bits, pe.rows * pe.cols
    reads, writes = compute.sram_reads, compute.sram_writes
    nonzero = compute.macs_issued - compute.macs_gated
    cycles = compute.compute_cycles + traffic.stall_cycles
    acts = [Action("pe_array", "mac", nonzero), Action("pe_array", "gated_mac", compute.macs_gated),
            Action("pe_array", "pe_static", cycles * pes)]

    own = getattr(compute, "datapath_actions", None)  # a datapath counting its own (two_sided.py)
    if own is None:  # a dataflow that counts its own register-file and NoC traffic (row stationary) gives it
        acts += getattr(compute, "array_actions", None) or _registers_and_noc(hw, compute)

    for op, n in reads.items():
        level = hw.array_level(op)
        if level is None or n == 0:
            continue
        acts.append(Action(level.name, "buffer_read", n, bits))
        s = storage.get(op)
        if s is not None and s.metadata_bits and s.data_bits:
            acts.append(Action(level.name, "metadata_read", n, s.metadata_bits / (s.data_bits / bits)))
            acts.append(Action("sparse_logic", "index_decode", n))
    for op, n in writes.items():
        level = hw.array_level(op)
        if level is not None and n:
            acts.append(Action(level.name, "buffer_write", n, bits))
    out = storage.get("outputs")
    if out is not None and out.format != "dense":  # each output encoded once on its way out
        acts.append(Action("sparse_logic", "index_decode", out.dense_bits // bits))
    skipping = [op for op in ("weights", "inputs") if getattr(hw.sparsity, op).skip == "skip"]
    w_fmt = get_format(hw.sparsity.weights.format, hw.sparsity.weights.options)
    if own is not None:
        acts.extend(own)
    elif skipping == ["weights"] and hasattr(w_fmt, "select_action"):  # a Campfire array's row bus and mux
        acts.append(Action("sparse_logic", w_fmt.select_action, compute.macs_issued * w_fmt.bus_lanes))
    elif len(skipping) == 2:
        acts.append(Action("sparse_logic", "intersection", compute.macs_issued))
    elif skipping:
        lanes = select_lanes(hw, skipping[0])
        acts.append(Action("sparse_logic", "operand_select", compute.macs_issued * lanes))

    for level, ops in traffic.by_level.items():
        if level == "dram":
            continue
        fill = sum(t.get("write_data_bytes", 0) + t.get("write_metadata_bytes", 0) for t in ops.values())
        drain = sum(t.get("read_data_bytes", 0) + t.get("read_metadata_bytes", 0) for t in ops.values())
        if fill:
            acts.append(Action(level, "buffer_write", fill, 8))
        if drain:
            acts.append(Action(level, "buffer_read", drain, 8))
    for level in hw.memories:
        stored_bits = 8 * level.size_bytes * (pes if level.per_pe else 1)
        acts.append(Action(level.name, "buffer_static", cycles, stored_bits))
    acts.append(Action("dram", "dram_read", traffic.dram_read_bytes, 8))
    acts.append(Action("dram", "dram_write", traffic.dram_write_bytes, 8))
    return acts


def select_lanes(hw: HardwareConfig, skipping: str) -> int:
    """Bus lanes of the mux that picks the partner operand of each issued MAC on a one-sided skip
    datapath: a format that fixes its group (N:M: ``bus_lanes`` = M) picks among its positions; a
    skip array among the words its partner's bus carries per cycle (the array-side level's read port
    in words; without a port, one word per PE row); a flexible array's networks deliver the partner
    itself (one lane)."""
    s = getattr(hw.sparsity, skipping)
    if isinstance(hw.pe_array, FlexiblePEArray):
        return 1
    lanes = getattr(get_format(s.format, s.options), "bus_lanes", None)  # a format that fixes its group
    if lanes:
        return int(lanes)
    level = hw.array_level("inputs" if skipping == "weights" else "weights")
    port = None if level is None else level.read_bandwidth_bytes_per_cycle or level.bandwidth_bytes_per_cycle
    if port:
        return max(1, int(port // (hw.pe_array.precision_bits / 8)))
    return hw.pe_array.rows


def _per_pe_level(hw: HardwareConfig, operand: str) -> MemoryLevel | None:
    """The innermost per-PE level (register file) holding ``operand``."""
    return next((lv for lv in hw.memories if lv.per_pe and operand in lv.holds), None)


def _unindexed(operand: str) -> str:
    """The dim ``operand`` does not index: a streamed operand is passed along its axis."""
    return next(d for d in "mnk" if d not in OPERAND_DIMS[operand])


def _mean_used(plan: FoldPlan, dim: str) -> float:
    """PEs a fold uses, on average, along the array axis holding ``dim`` (a spatial dim)."""
    size = plan.sr if plan.flow.axis(dim) == "rows" else plan.sc
    return size / plan.folds_of(dim)


def _registers_and_noc(hw: HardwareConfig, compute: ComputeTrace) -> list[Action]:
    """Register-file reads and NoC hops of a GEMM dataflow's row (the module docstring)."""
    pe = hw.pe_array
    bits, acc_bits = pe.precision_bits, pe.accumulator_bits
    plan, flow = compute.plan, compute.plan.flow
    reads, writes = compute.sram_reads, compute.sram_writes
    nonzero = compute.macs_issued - compute.macs_gated
    acts = []
    held = _per_pe_level(hw, flow.stationary)
    if flow.outputs_stationary:
        acts.append(Action(held.name, "rf_access", 2 * nonzero, acc_bits) if held
                    else Action("pe_array", "pipeline_reg", nonzero, acc_bits))
    elif held:
        acts.append(Action(held.name, "rf_access", nonzero, bits))

    down_columns = (plan.sr / plan.row_folds + 1) / 2
    hops = [(reads.get(op, 0) * (_mean_used(plan, _unindexed(op)) if flow.streams(op) else down_columns),
             bits) for op in ("inputs", "weights")]
    out_hops = down_columns if flow.outputs_stationary else _mean_used(plan, "k")
    hops.append((writes.get("outputs", 0) * out_hops, acc_bits))
    for count, hop_bits in hops:
        acts.append(Action("noc", "noc", round(count), hop_bits))
        acts.append(Action("pe_array", "pipeline_reg", round(count), hop_bits))
    return acts
