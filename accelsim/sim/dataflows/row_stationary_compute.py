"""row_stationary_compute(): the ComputeTrace of one layer on a row-stationary array
(``dataflow: row_stationary``, spec/pe_array.py), from the passes of row_stationary.py.

A layer becomes Eyeriss's conv problem per group: a conv its own shape (the ifmap padded); any other
layer (linear, matmul) a 1 x 1 conv on a 1 x 1 map with its GEMM rows as images.  The scratchpads
are the per-PE memory levels holding each operand (``precision``-bit words; psums at
``accumulator`` bits).  The mapper (``choose``) takes the config's ``mapping_objective``:
``cycles``, ``energy`` or ``edp`` (``dram``: the least DRAM traffic, then energy), the energy from
the config's table: the ``shortlist`` of array mappings with the best estimates is counted exactly,
each with the global-buffer blocking that moves the fewest DRAM bytes (row_stationary_memory.py)
and the filter reuse it allows, and the best of them kept (ties: fewer cycles); a mapping whose
pass does not fit the buffer is passed over (the list goes further when none of it fits).

What the trace carries:

* cycles: the passes' (row_stationary.py); every MAC slot is issued, zero ifmaps are gated (with
  ``sparsity.inputs.skip: gate``: the expected zero share, ``activation_density``), no time saved;
* buffer accesses (the global buffer: ``hw.array_level``): ifmaps, filters and psums read, psums
  written, as the passes move them;
* ``array_actions``: the scratchpad accesses (``rf_access`` at each scratchpad, a gated MAC's filter
  read and psum update not done) and the NoC hops, which sim/actions.py takes instead of its
  GEMM-dataflow estimate;
* ``plan``: the weight-stationary row of the dims table with a pass's share of K (q*r channels x
  R x S) on the rows and of N (p*t filters) on the columns, so the mapper's global-buffer tiles
  (which set the DRAM traffic) are whole passes; output pixels stream, as in a pass.

No per-tile cycles (``schedule`` is None): the memory model spreads the layer's over the passes.
Notes: the mapping (sets, passes, PEs) and what gating saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accelsim.errors import SimulationError
from accelsim.sim.dataflows.base import plan_folds
from accelsim.sim.dataflows.row_stationary import (
    ConvProblem,
    RSArray,
    RSCosts,
    RSCounts,
    RSMapping,
    array_energy,
    counts,
    shortlist,
)
from accelsim.sim.dataflows.row_stationary_memory import GlbBlocking, blocking, glb_mapping, stored_ratio
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.energy import load_energy_table
from accelsim.sim.storage import storage_of
from accelsim.sim.traces import Action, ComputeTrace, LayerMapping, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig, MemoryLevel
from accelsim.workload.layer import Layer

OBJECTIVE = {"cycles": "cycles", "energy": "energy", "edp": "edp", "dram": "energy"}  # of the shortlist
SPADS = ("inputs", "weights", "outputs")
SHORTLIST, FALLBACK = 32, 4096  # mappings counted exactly: the best estimates, more if none fits


@dataclass(frozen=True)
class RowStationaryTrace(ComputeTrace):
    """A ComputeTrace whose scratchpad accesses and NoC hops are counted by the dataflow itself, and
    whose global-buffer blocking (row_stationary_memory.py) sets the DRAM traffic."""

    array_actions: tuple[Action, ...] = field(default=())
    glb_mapping: LayerMapping | None = None
    blocking: GlbBlocking | None = None
    passes: int = 0


def conv_problem(layer: Layer) -> ConvProblem:
    """One group of ``layer`` in Eyeriss's notation (module docstring)."""
    c = layer.conv
    if c is None or layer.kind not in ("conv", "depthwise"):
        return ConvProblem(n=layer.m, c=layer.k, m=layer.n, r=1, s=1, e=1, f=1, h=1, w=1)
    return ConvProblem(n=c.batch, c=c.in_channels // c.groups, m=c.out_channels // c.groups,
                       r=c.kernel_h, s=c.kernel_w, e=c.out_h, f=c.out_w, u=c.stride_h, u_w=c.stride_w,
                       h=c.in_h + 2 * c.pad_h, w=c.in_w + 2 * c.pad_w)


def scratchpads(hw: HardwareConfig) -> dict[str, MemoryLevel]:
    """The innermost per-PE level holding each operand."""
    out = {}
    for op in SPADS:
        level = next((lv for lv in hw.memories if lv.per_pe and op in lv.holds), None)
        if level is None:
            raise SimulationError(f"{hw.name}: a row-stationary array needs a per-PE scratchpad holding {op}")
        out[op] = level
    return out


def rs_array(hw: HardwareConfig) -> RSArray:
    pe, spads = hw.pe_array, scratchpads(hw)
    words = {op: spads[op].size_bytes * 8 // (pe.accumulator_bits if op == "outputs" else pe.precision_bits)
             for op in SPADS}
    return RSArray(pe.rows, pe.cols, words["inputs"], words["weights"], words["outputs"])


def rs_costs(hw: HardwareConfig) -> RSCosts:
    """pJ per word of each access the mapper weighs, from ``hw``'s energy table."""
    table, pe, spads = load_energy_table(hw.energy_table), hw.pe_array, scratchpads(hw)
    bits, acc = pe.precision_bits, pe.accumulator_bits
    glb = hw.array_level("inputs")
    cap = glb.size_bytes if glb is not None else None
    rf = tuple(table.energy_pj("rf_access", 1, acc if op == "outputs" else bits, spads[op].size_bytes)
               for op in SPADS)
    stored = sum(8 * lv.size_bytes * (pe.rows * pe.cols if lv.per_pe else 1) for lv in hw.memories)
    static = table.energy_pj("pe_static", pe.rows * pe.cols) + table.energy_pj("buffer_static", 1, stored)
    return RSCosts(mac=table.energy_pj("mac", 1), glb=table.energy_pj("buffer_read", 1, bits, cap),
                   noc=table.energy_pj("noc", 1, bits), rf=rf, static_per_cycle=static,
                   dram=table.energy_pj("dram_read", 1, bits))


def choose(prob: ConvProblem, hw: HardwareConfig, storage: dict[str, StorageBreakdown]
           ) -> tuple[RSMapping, GlbBlocking, RSCounts]:
    """The array mapping and buffer blocking by the config's objective (module docstring)."""
    pe, costs, level = hw.pe_array, rs_costs(hw), hw.buffer_for("outputs")
    ratio = stored_ratio(storage)
    words = level.size_bytes * 8 / pe.precision_bits
    objective = hw.mapping_objective
    best = None
    for size in (SHORTLIST, FALLBACK):  # further down the list only if no pass of the first fits
        for mp in shortlist(prob, rs_array(hw), costs, OBJECTIVE[objective], size):
            try:
                blk = blocking(prob, mp, words, pe.accumulator_bits / pe.precision_bits, ratio,
                               2 if level.double_buffered else 1)
            except SimulationError:
                continue
            n = counts(prob, mp, blk.reuse(mp))
            dram = sum(blk.dram_words[op] * ratio[op] for op in blk.dram_words)
            energy = array_energy(n, costs) + costs.dram * dram
            primary = {"cycles": (n.cycles, energy), "energy": (energy,), "edp": (energy * n.cycles,),
                       "dram": (dram, energy)}[objective]
            key = (*primary, n.cycles, mp.e, mp.p, mp.q, mp.r, mp.t)
            if best is None or key < best[0]:
                best = (key, mp, blk, n)
        if best is not None:
            break
    if best is None:
        raise SimulationError(f"no row-stationary pass of {prob} fits the global buffer {level.name!r}"
                              f" ({level.size_bytes:,} B) with its psums and slices; enlarge it")
    return best[1], best[2], best[3]


def row_stationary_compute(layer: Layer, hw: HardwareConfig, timing: TimingModel | None = None,
                           storage: dict[str, StorageBreakdown] | None = None) -> RowStationaryTrace:
    """The trace of ``layer`` on ``hw``'s row-stationary array (module docstring); ``timing`` and
    ``storage``: the layer's ``storage_of`` (its stored sizes set the DRAM bytes)."""
    pe, g = hw.pe_array, layer.groups
    prob = conv_problem(layer)
    storage = storage if storage is not None else storage_of(layer, hw)
    mp, blk, n = choose(prob, hw, storage)
    mapping = glb_mapping(prob, mp, blk, hw, g, (layer.m, layer.n, layer.k), storage)
    macs = g * n.macs
    if macs != layer.macs:
        raise SimulationError(f"layer {layer.name!r}: its conv shape gives {macs:,} MACs, its GEMM view"
                              f" {layer.macs:,}; the row-stationary model needs them equal")
    zero = 1.0 - float(layer.activation_density) if hw.sparsity.inputs.skip == "gate" else 0.0
    gated = round(macs * zero)
    spads, bits, acc = scratchpads(hw), pe.precision_bits, pe.accumulator_bits
    # a gated MAC reads no filter weight and leaves its psum alone (Eyeriss's zero buffer)
    spad_r = {op: g * v for op, v in n.spad_reads.items()}
    spad_w = {op: g * v for op, v in n.spad_writes.items()}
    spad_r["weights"] -= gated
    spad_r["outputs"] -= gated
    spad_w["outputs"] -= gated
    actions = [Action(spads[op].name, "rf_access", spad_r[op] + spad_w[op], acc if op == "outputs" else bits)
               for op in SPADS]
    actions += [Action("noc", "noc", g * (n.hops["inputs"] + n.hops["weights"]), bits),
                Action("noc", "noc", g * n.hops["outputs"], acc)]
    k_pass = mp.q * mp.r * mp.chunk_rows * prob.s
    plan = plan_folds("ws", min(k_pass, layer.k), min(mp.p * mp.t, layer.n), layer.m, layer.n, layer.k)
    notes = [mp.describe() + f"; {n.cycles * g:,} cycles, {macs / (n.cycles * g * pe.rows * pe.cols):.0%}"
             " of the array's MAC slots"]
    if gated:
        notes.append(f"zero ifmaps gated: {gated:,} MACs ({zero:.0%}), with their filter reads and psum"
                     " updates; no cycle saved")
    return RowStationaryTrace(
        plan=plan, compute_cycles=int(g * n.cycles), macs_dense=layer.macs, macs_issued=layer.macs,
        macs_gated=int(gated), macs_skipped=0, load_imbalance=1.0,
        sram_reads={op: g * v for op, v in n.glb_reads.items()},
        sram_writes={"outputs": g * n.glb_writes["outputs"]}, notes=tuple(notes),
        array_actions=tuple(actions), glb_mapping=mapping, blocking=blk, passes=g * mp.passes)
