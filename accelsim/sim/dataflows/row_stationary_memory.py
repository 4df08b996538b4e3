"""The global-buffer blocking of a row-stationary layer and its DRAM traffic (Eyeriss v1's).

Eyeriss keeps the psums of a block of the ofmap in its global buffer while every channel pass adds
to them, and streams ifmaps and filters through it: a block is ``m_glb`` filters (whole filter
passes, p*t each) x ``n_glb`` images x ``rows_glb`` ofmap rows (whole strips, e each) x all F
columns.  For each block, filter pass by filter pass and channel pass by channel pass, the filters
of the pass (p*t x q*r x R x S) come from DRAM through the buffer into the scratchpads, where they
stay while the block's images and strips stream past them (``reuse`` passes), and the ifmap slice
(q*r channels of the block's images and rows, halo included) comes from DRAM into the buffer (read
by every filter pass of the block); both are staged twice over where the buffer is
``double_buffered`` (the next loads while the array works), else once.  When the last channel
pass is done the block's ofmap is written to DRAM.  So, per group,

    DRAM reads   ifmaps: every ifmap element of the layer once per filter block (ceil(M / m_glb));
                 filters: every weight once per image-and-row block
    DRAM writes  the ofmap once (no psum ever leaves the chip)
    buffer       m_glb * n_glb * rows_glb * F psums (accumulator bits)
                 + (2 or 1) x (ifmap slice + a pass's filters) <= the buffer (the level holding outputs)

The blocking with the fewest DRAM bytes is kept (ties: fewer blocks).  Bytes are the stored words:
ifmaps in the config's input format (run-length coded: its data + metadata per dense bit), weights
and ofmaps as the storage model gives them (accelsim stores outputs dense: Eyeriss run-length codes
them on their way out too).

The memory model is accelsim's (sim/memory.py ``run_pipeline``, simpy): one tile per channel pass
of a block, its slices loaded behind the previous pass (with two slots; with one, after it), the
block's ofmap written after
its last pass, a new block waiting for the previous one's ofmap to leave (one psum area); the
layer's compute cycles are spread evenly over its passes.  A global buffer with a bandwidth that
cannot serve the array and the transfers in the compute time stretches it (as sim/memory.py does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.errors import SimulationError
from accelsim.sim.dataflows.row_stationary import ConvProblem, RSMapping
from accelsim.sim.memory import MAX_TILES, Schedule, coarsen, pipeline_result
from accelsim.sim.traces import LayerMapping, MemoryTrace, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig

OPS = ("inputs", "weights", "outputs")


@dataclass(frozen=True)
class GlbBlocking:
    m_glb: int
    n_glb: int
    rows_glb: int
    filter_blocks: int
    image_blocks: int
    row_blocks: int
    psum_words: int
    slice_words: int  # one ifmap slice + one pass's filters
    dram_words: dict[str, float]  # per group, dense words moved (before the stored-size ratio)

    @property
    def blocks(self) -> int:
        return self.filter_blocks * self.image_blocks * self.row_blocks

    def reuse(self, mp: RSMapping) -> int:
        """Passes that keep a pass's filters in the scratchpads: the block's images x strips."""
        return self.n_glb * _ceil(self.rows_glb, mp.e)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _in_rows(prob: ConvProblem, rows: int) -> int:
    return prob.ifmap_rows(rows, prob.r)


def ifmap_words(prob: ConvProblem, rows_glb: int) -> int:
    """ifmap words of one image over all channels read by the row blocks of ``rows_glb`` ofmap rows."""
    full, rest = divmod(prob.e, rows_glb)
    rows = full * _in_rows(prob, rows_glb) + (_in_rows(prob, rest) if rest else 0)
    return prob.c * rows * prob.row_span


def blocking(prob: ConvProblem, mp: RSMapping, buffer_words: float, psum_scale: float,
             ratio: dict[str, float], copies: int = 2) -> GlbBlocking:
    """The blocking with the fewest DRAM bytes whose psums and slices fit ``buffer_words`` (module doc)."""
    pt, qr, weights = mp.p * mp.t, mp.q * mp.r, prob.m * prob.c * prob.r * prob.s
    best = None
    for m_glb in sorted({min(prob.m, pt * k) for k in range(1, _ceil(prob.m, pt) + 1)}):
        for rows in sorted({min(prob.e, mp.e * k) for k in range(1, _ceil(prob.e, mp.e) + 1)}):
            for n_glb in range(1, prob.n + 1):
                psums = m_glb * n_glb * rows * prob.f
                slices = qr * n_glb * _in_rows(prob, rows) * prob.row_span + pt * qr * prob.r * prob.s
                if psums * psum_scale + copies * slices > buffer_words:
                    break
                fb, nb, rb = _ceil(prob.m, m_glb), _ceil(prob.n, n_glb), _ceil(prob.e, rows)
                words = {"inputs": fb * prob.n * ifmap_words(prob, rows), "weights": nb * rb * weights,
                         "outputs": prob.n * prob.m * prob.e * prob.f}
                cost = sum(words[op] * ratio[op] for op in OPS)
                key = (cost, fb * nb * rb)
                if best is None or key < best[0]:
                    best = (key, GlbBlocking(m_glb, n_glb, rows, fb, nb, rb, psums, slices, words))
    if best is None:
        need = pt * mp.e * prob.f * psum_scale + copies * (qr * _in_rows(prob, mp.e) * prob.row_span
                                                      + pt * qr * prob.r * prob.s)
        raise SimulationError(f"the psums and slices of one row-stationary pass need {need:,.0f} words of the"
                              f" global buffer, which holds {buffer_words:,.0f}; enlarge it")
    return best[1]


def glb_mapping(prob: ConvProblem, mp: RSMapping, blk: GlbBlocking, hw: HardwareConfig, groups: int,
                gemm: tuple[int, int, int], storage: dict[str, StorageBreakdown]) -> LayerMapping:
    """The layer's blocking as a LayerMapping (GEMM tiles: M = images x rows x F, N = filters,
    K = a channel pass's q*r x R x S; channel passes innermost), for the report and the residency plan."""
    pe, level = hw.pe_array, hw.buffer_for("outputs")
    bits = pe.precision_bits
    m, n, k = gemm
    tile_m = min(m, blk.n_glb * blk.rows_glb * prob.f) if prob.e * prob.f > 1 else min(m, blk.n_glb)
    tile_k = min(k, mp.q * mp.r * prob.r * prob.s)
    reads, writes = dram_bytes(blk, storage, bits, groups)
    word = bits / 8
    tiles = {"inputs": blk.slice_words * word, "weights": blk.m_glb * tile_k * word,
             "outputs": blk.psum_words * pe.accumulator_bits / 8}
    return LayerMapping(
        dataflow="row_stationary", loop_order=("m", "n", "k"), tile_m=tile_m, tile_n=blk.m_glb, tile_k=tile_k,
        tiles_m=blk.image_blocks * blk.row_blocks, tiles_n=blk.filter_blocks, tiles_k=mp.channel_passes,
        groups=groups, objective=hw.mapping_objective,
        tile_bytes={op: int(np.ceil(b)) for op, b in tiles.items()},
        buffer_bytes={level.name: int(np.ceil(blk.psum_words * pe.accumulator_bits / 8
                                              + _copies(level) * blk.slice_words * word))},
        dram_read_bytes=int(reads), dram_write_bytes=int(writes), estimated_cycles=0,
        candidates=1, notes=(f"global buffer holds the psums of {blk.m_glb} filters x {blk.n_glb} images x"
                             f" {blk.rows_glb} ofmap rows; ifmaps read {blk.filter_blocks}x, filters"
                             f" {blk.image_blocks * blk.row_blocks}x from DRAM",))


def _copies(level) -> int:
    return 2 if level.double_buffered else 1


def stored_ratio(storage: dict[str, StorageBreakdown]) -> dict[str, float]:
    """Stored bits (data + metadata) per dense bit of each operand."""
    return {op: (s.total_bits / s.dense_bits if s.dense_bits else 1.0) for op, s in storage.items()}


def dram_bytes(blk: GlbBlocking, storage: dict[str, StorageBreakdown], bits: int, groups: int,
               inputs_on_chip: bool = False, output_kept: bool = False) -> tuple[float, float]:
    ratio = stored_ratio(storage)
    b = {op: groups * blk.dram_words[op] * bits / 8 * ratio[op] for op in OPS}
    return (0.0 if inputs_on_chip else b["inputs"]) + b["weights"], 0.0 if output_kept else b["outputs"]


def _split(total_bytes: float, storage: StorageBreakdown) -> tuple[int, int]:
    """(data, metadata) bytes of ``total_bytes`` stored."""
    meta = total_bytes * (storage.metadata_bits / storage.total_bits if storage.total_bits else 0.0)
    return int(np.ceil(total_bytes - meta)), int(np.ceil(meta))


def row_stationary_memory(hw: HardwareConfig, compute, storage: dict[str, StorageBreakdown], *,
                          inputs_on_chip: bool = False, output_kept: bool = False) -> MemoryTrace:
    """DRAM traffic and stalls of a row-stationary layer (module docstring); ``compute``: its
    RowStationaryTrace (which carries the blocking)."""
    blk, mapping, bits = compute.blocking, compute.glb_mapping, hw.pe_array.precision_bits
    g = mapping.groups
    ratio = stored_ratio(storage)
    word = {op: bits / 8 * ratio[op] for op in OPS}
    per_op = {op: g * blk.dram_words[op] * word[op] for op in OPS}
    if inputs_on_chip:
        per_op["inputs"] = 0.0
    if output_kept:
        per_op["outputs"] = 0.0
    dram = {op: dict.fromkeys(("read_data_bytes", "read_metadata_bytes", "write_data_bytes",
                               "write_metadata_bytes"), 0) for op in OPS}
    for op in ("inputs", "weights"):
        dram[op]["read_data_bytes"], dram[op]["read_metadata_bytes"] = _split(per_op[op], storage[op])
    dram["outputs"]["write_data_bytes"], dram["outputs"]["write_metadata_bytes"] = _split(
        per_op["outputs"], storage["outputs"])
    level = hw.buffer_for("outputs")
    by_level = {"dram": dram, level.name: {op: {"read_data_bytes": e["write_data_bytes"],
                                               "read_metadata_bytes": e["write_metadata_bytes"],
                                               "write_data_bytes": e["read_data_bytes"],
                                               "write_metadata_bytes": e["read_metadata_bytes"]}
                                          for op, e in dram.items()}}
    reads = sum(e["read_data_bytes"] + e["read_metadata_bytes"] for e in dram.values())
    writes = sum(e["write_data_bytes"] + e["write_metadata_bytes"] for e in dram.values())
    busy = float(compute.compute_cycles)
    need = {}
    if level.limits_bandwidth:  # the array's accesses and the DRAM fills and drains share its ports
        word_b = bits / 8
        need[level.name] = float(level.port_cycles(sum(compute.sram_reads.values()) * word_b + writes,
                                                   sum(compute.sram_writes.values()) * word_b + reads))
    stretched = max(busy, *need.values()) if need else busy
    sched = _schedule(blk, g, compute.passes, stretched, per_op, _copies(level))
    factor = -(-sched.tiles // MAX_TILES)
    bw = hw.dram.total_bandwidth_bytes_per_cycle
    end, transfers = pipeline_result(coarsen(sched, factor), bw, hw.dram.latency_cycles)
    stall = max(0, int(round(end - busy)))
    limits = {"compute": busy, **{f"{name} bandwidth": c for name, c in need.items()},
              "dram bandwidth": (reads + writes) / bw}
    return MemoryTrace(reads, writes, stall_cycles=stall, by_level=by_level, total_cycles=int(busy) + stall,
                       compute_cycles=int(busy), tiles=sched.tiles, transfers=transfers, coarsening=factor,
                       model="simpy (row-stationary passes)", bound=max(limits, key=limits.get),
                       delivery_cycles={k: int(np.ceil(v)) for k, v in need.items()})


def _schedule(blk: GlbBlocking, groups: int, passes: int, cycles: float, per_op: dict[str, float],
              slots: int) -> Schedule:
    """One tile per channel pass of each block (all groups), loads behind the previous pass, the
    block's ofmap written after its last pass."""
    blocks = groups * blk.blocks
    per_block = max(1, passes // max(1, blocks))
    n = blocks * per_block
    first = np.zeros(n, bool)
    first[::per_block] = True
    last = np.append(first[1:], True)
    load = np.full(n, (per_op["inputs"] + per_op["weights"]) / n)
    write = np.where(last, per_op["outputs"] / blocks, 0.0)
    idx = np.arange(n)
    return Schedule(load_bytes=load, load_slots=np.full(n, slots, np.int64), wait_for=idx - slots,
                    psum_read=np.zeros(n, bool), compute_cycles=np.full(n, cycles / n), new_output=first,
                    write_bytes=write, out_slots=1, totals={})
