"""choose_mapping(): tile sizes and loop order of one layer, chosen so the tiles fit the buffers.

A tile is a block of the GEMM (tile_m x tile_n x tile_k, per group).  Along the two dimensions the
dataflow puts on the array (rows, cols) a tile is a whole number of folds; along the time dimension
it is any length.  Three tile loops run in ``loop_order`` (outermost first).  One tile of each
operand is resident; an operand is re-fetched from DRAM whenever a loop it depends on moves, so it
is reused across the loops inside its innermost relevant loop (the classic loop-nest model):

    inputs (M x K)   re-read tiles_n times unless every M/K loop with more than one trip is outside N
    weights (K x N)  re-read tiles_m times unless every K/N loop with more than one trip is outside M
    outputs (M x N)  written once, unless K is split and an M/N loop runs inside the K loop: then
                     each output tile is visited tiles_k times, and all but the last visit spill
                     partial sums (accumulator width) that the next visit reads back

Bytes use the operand's real footprint: ``storage[op].total_bits / dense_bits`` (data + metadata)
per element.  An input tile of a convolution holds the ifmap window it touches (halo included), not
its im2col copy; for a tile that holds only part of K, the im2col duplication it can remove grows
linearly from none (one kernel position) to all of it (all of K).  A tile fits when, for every
on-chip buffer (``hw.buffer_for(op)``; one shared level or one per operand), the tiles it holds fit,
twice over where the level is ``double_buffered``.  Outputs sit in the buffer at accumulator width
while partial sums are still being added, else at their stored width.

The search tries every loop order with every tile size from a small candidate set per dimension
(powers of two and near-even splits of the fold count: a few thousand points) in one numpy pass, and
keeps the best by the objective: estimated ``cycles`` by default, or ``dram`` bytes, ``energy``
(DRAM plus the buffer fills and drains it causes, from the hardware's energy table) or ``edp``,
taken from the ``objective`` argument or a ``mapping_objective`` attribute of the hardware config.
Ties go to the fewer DRAM bytes, then the lower estimated cycles, then fewer tiles.  The compute
cycles are those of the tiles themselves (``dataflows/compute.py``: each tile pays its own fill and
drain, a short time slice a whole fold slot per fold), and the buffers must deliver the array's
reads, the held operand reloaded once per time slice (``delivery_cycles``).  The cycle estimate is
the memory model's steady state (``accelsim.sim.memory``) in closed form: with double buffering a
tile's load overlaps the previous tile's compute but pays its DRAM latency, so

    cycles ~ max(compute, bytes / bandwidth, (compute + tiles * latency + bytes / bandwidth) / 2)
             + first load + last write-back

(without double buffering everything adds up), which keeps tiles from getting so small that
latency shows.  A timing model that does not stall (``TimingModel.models_stalls``) keeps its
untiled cycles whatever the tiling: its cycles (objective ``cycles``, and the delay of ``edp``) are
those, so the DRAM bytes decide, then the estimate.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from accelsim.errors import SimulationError
from accelsim.registry import TIMING_MODELS
from accelsim.sim.dataflows.base import DATAFLOWS
from accelsim.sim.dataflows.compute import edges, tiled_accesses, tiling_cycles
from accelsim.sim.energy import EnergyTable
from accelsim.sim.traces import ComputeTrace, LayerMapping, StorageBreakdown
from accelsim.spec.hardware import MAPPING_OBJECTIVES, HardwareConfig, MemoryLevel
from accelsim.units import format_size
from accelsim.workload.layer import Layer

DIMS = ("m", "n", "k")
LOOP_ORDERS: tuple[tuple[str, str, str], ...] = tuple(itertools.permutations(DIMS))  # type: ignore[assignment]
OBJECTIVES = MAPPING_OBJECTIVES
RELEVANT = {"inputs": ("m", "k"), "weights": ("k", "n"), "outputs": ("m", "n")}
OPERANDS = ("inputs", "weights", "outputs")


@dataclass(frozen=True)
class TileModel:
    """Bytes of the tiles of one layer; shared by the search and the memory model."""

    m: int
    n: int
    k: int
    groups: int
    steps: dict[str, int]  # alignment per dim: R or C along the array, 1 in time
    rows_dim: str
    time_dim: str
    data_bpe: dict[str, float]  # bytes per stored element (inputs: per ifmap element), data
    meta_bpe: dict[str, float]  # ... and index metadata
    psum_bpe: float
    channels: int  # K entries of one kernel position (input channels per group)
    conv: tuple[int, ...] | None  # (out_h, out_w, in_h, in_w, kh_eff, kw_eff, stride_h, stride_w)

    def input_elements(self, tm: np.ndarray, tk: np.ndarray) -> np.ndarray:
        """Distinct stored input elements an input tile of tm x tk (GEMM view) touches."""
        tm = np.asarray(tm, dtype=np.float64)
        tk = np.asarray(tk, dtype=np.float64)
        im2col = tm * tk
        if self.conv is None or self.k <= self.channels:
            return im2col
        out_h, out_w, in_h, in_w, kh, kw, sh, sw = self.conv
        cols_out = np.minimum(tm, out_w)
        rows_out = np.ceil(tm / out_w)
        images = np.maximum(1.0, tm / (out_h * out_w))
        cols_in = np.minimum(in_w, (cols_out - 1) * sw + kw)
        rows_in = np.minimum(in_h, (np.minimum(rows_out, out_h) - 1) * sh + kh)
        window = self.channels * cols_in * rows_in * images  # all of K for these outputs
        dup_full = np.maximum(1.0, tm * self.k / window)
        frac = np.clip((tk - self.channels) / (self.k - self.channels), 0.0, 1.0)
        return im2col / (1.0 + (dup_full - 1.0) * frac)

    def bpe(self, op: str) -> float:
        return self.data_bpe[op] + self.meta_bpe[op]

    def partial(self, tk: np.ndarray, tiles_k: np.ndarray) -> np.ndarray:
        """True where partial sums of an output tile wait in the buffer (K split across folds or tiles)."""
        if self.time_dim == "k":  # os: sums stay in the PEs while K streams
            return np.asarray(tiles_k) > 1
        return (np.asarray(tiles_k) > 1) | (np.asarray(tk) > self.steps["k"])

    def tile_bytes(self, tm, tn, tk, partial) -> dict[str, np.ndarray]:
        out_bpe = np.where(partial, self.psum_bpe, self.bpe("outputs"))
        return {"inputs": self.input_elements(tm, tk) * self.bpe("inputs"),
                "weights": np.asarray(tk, np.float64) * tn * self.bpe("weights"),
                "outputs": np.asarray(tm, np.float64) * tn * out_bpe}


def tile_model(layer: Layer, hw: HardwareConfig, compute: ComputeTrace,
               storage: dict[str, StorageBreakdown]) -> TileModel:
    plan = compute.plan
    df = DATAFLOWS.get(plan.dataflow)
    steps = {df.rows_dim: plan.rows, df.cols_dim: plan.cols, df.time_dim: 1}
    bits = hw.pe_array.precision_bits
    g = layer.groups
    elements = {"inputs": None, "weights": g * layer.k * layer.n, "outputs": g * layer.m * layer.n}
    data_bpe, meta_bpe = {}, {}
    for op in OPERANDS:
        s = storage.get(op)
        n_el = s.dense_bits / bits if s is not None and s.dense_bits else elements[op]
        if s is None or not s.dense_bits or not n_el:
            data_bpe[op], meta_bpe[op] = bits / 8, 0.0
        else:
            data_bpe[op], meta_bpe[op] = s.data_bits / 8 / n_el, s.metadata_bits / 8 / n_el
    c = layer.conv
    conv = None
    channels = layer.k
    if c is not None and layer.kind in ("conv", "depthwise"):
        channels = max(1, c.in_channels // c.groups)
        kh = c.dilation_h * (c.kernel_h - 1) + 1
        kw = c.dilation_w * (c.kernel_w - 1) + 1
        conv = (c.out_h, c.out_w, c.in_h, c.in_w, kh, kw, c.stride_h, c.stride_w)
    return TileModel(layer.m, layer.n, layer.k, g, steps, df.rows_dim, df.time_dim, data_bpe, meta_bpe,
                     hw.pe_array.accumulator_bits / 8, channels, conv)


def array_bytes(hw: HardwareConfig, compute: ComputeTrace, model: TileModel,
                time_tiles: Any = 1) -> dict[str, list[Any]]:
    """[read bytes, write bytes] of the array's own accesses at each level it reads (the innermost
    shared level holding the operand) when the layer runs in ``time_tiles`` slices of its time dim
    (``tiled_accesses``; an array of tilings gives arrays): ``precision``-bit words plus the index
    metadata read with them."""
    word_bytes = hw.pe_array.precision_bits / 8
    reads, writes = (tiled_accesses(compute, time_tiles) if compute.schedule is not None
                     else (compute.sram_reads, compute.sram_writes))
    out: dict[str, list[Any]] = {}
    for op in OPERANDS:
        level = hw.array_level(op)
        if level is None:
            continue
        scale = word_bytes * (1 + (model.meta_bpe[op] / model.data_bpe[op] if model.data_bpe[op] else 0.0))
        rw = out.setdefault(level.name, [0.0, 0.0])
        rw[0] = rw[0] + reads.get(op, 0) * scale
        rw[1] = rw[1] + writes.get(op, 0) * scale
    return out


def port_cycles(hw: HardwareConfig, loads: dict[str, list[Any]]) -> dict[str, Any]:
    """Cycles each level with a bandwidth needs for its [read, write] bytes (``MemoryLevel.port_cycles``);
    levels without one are not limits."""
    return {name: hw.memory(name).port_cycles(r, w) for name, (r, w) in loads.items()
            if hw.memory(name).limits_bandwidth}


def add_loads(*parts: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """[read, write] bytes per level, summed over ``parts`` (a new dict; arrays broadcast)."""
    out: dict[str, list[Any]] = {}
    for part in parts:
        for name, (r, w) in part.items():
            rw = out.get(name, (0.0, 0.0))
            out[name] = [rw[0] + r, rw[1] + w]
    return out


def delivery_cycles(hw: HardwareConfig, compute: ComputeTrace, model: TileModel, time_tiles: Any = 1,
                    extra: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """Cycles each on-chip level with a bandwidth needs to serve the array (``array_bytes``) and the
    transfers between tiers that use its ports (``extra``: [read, write] bytes per level)."""
    return port_cycles(hw, add_loads(array_bytes(hw, compute, model, time_tiles), extra or {}))


def candidates(extent: int, step: int) -> np.ndarray:
    """Tile sizes along one dim: powers of two and near-even splits of its folds (``step`` each)."""
    folds = -(-extent // step)
    counts = {folds} | {-(-folds // j) for j in range(1, 9)}
    p = 1
    while p < folds:
        counts.add(p)
        p *= 2
    return np.array(sorted({min(extent, f * step) for f in counts}), dtype=np.int64)


def single_pass(model: TileModel, tm: np.ndarray, tn: np.ndarray, tk: np.ndarray) -> dict[str, np.ndarray]:
    """What does not depend on the loop order: trips per dim and input elements of one pass over M x K."""
    in_elems = sum(ca * cb * model.input_elements(a, b)
                   for a, ca in edges(model.m, tm) for b, cb in edges(model.k, tk))
    return {"m": -(-model.m // tm), "n": -(-model.n // tn), "k": -(-model.k // tk), "in_elems": in_elems}


def _inside(op: str) -> np.ndarray:
    """[loop order, dim]: True where ``dim`` is relevant to ``op`` and runs inside op's irrelevant loop."""
    rel = RELEVANT[op]
    irr = next(d for d in DIMS if d not in rel)
    return np.array([[d in rel and order.index(d) > order.index(irr) for d in DIMS] for order in LOOP_ORDERS])


INSIDE = {op: _inside(op) for op in RELEVANT}


def evaluate(model: TileModel, tm: np.ndarray, tn: np.ndarray, tk: np.ndarray,
             order: tuple[str, ...] | None = None, base: dict[str, np.ndarray] | None = None
             ) -> dict[str, np.ndarray]:
    """Closed-form DRAM bytes of one group, per operand, data and metadata apart (vectorised): for
    ``order``, or for every one of ``LOOP_ORDERS`` at once ([order, tiling] arrays) when it is None.
    An operand is re-fetched when a loop relevant to it, inside its irrelevant loop, has > 1 trip."""
    trips = base if base is not None else single_pass(model, tm, tn, tk)
    many = np.stack([np.asarray(trips[d]) > 1 for d in DIMS]).reshape(3, -1)  # [dim, tiling]
    rows = slice(None) if order is None else LOOP_ORDERS.index(tuple(order))
    moves = {op: (INSIDE[op][rows].astype(np.int64) @ many > 0).reshape(
        (-1, *np.shape(tm)) if order is None else np.shape(tm)) for op in RELEVANT}
    in_elems = trips["in_elems"]
    f_in = np.where(moves["inputs"], trips["n"], 1)
    f_w = np.where(moves["weights"], trips["m"], 1)
    spills = np.where(moves["outputs"], trips["k"] - 1, 0)
    w_elems = float(model.k * model.n)
    o_elems = float(model.m * model.n)
    return {
        "inputs_read_data": in_elems * f_in * model.data_bpe["inputs"],
        "inputs_read_meta": in_elems * f_in * model.meta_bpe["inputs"],
        "weights_read_data": w_elems * f_w * model.data_bpe["weights"],
        "weights_read_meta": w_elems * f_w * model.meta_bpe["weights"],
        "outputs_read_data": spills * o_elems * model.psum_bpe,
        "outputs_write_data": o_elems * model.data_bpe["outputs"] + spills * o_elems * model.psum_bpe,
        "outputs_write_meta": np.full(np.shape(spills), o_elems * model.meta_bpe["outputs"]),
    }


def buffer_needs(hw: HardwareConfig, tiles: dict[str, np.ndarray]) -> dict[str, tuple[MemoryLevel, Any]]:
    """Bytes each buffer level needs for these tiles (doubled where double-buffered)."""
    need: dict[str, tuple[MemoryLevel, Any]] = {}
    for op, b in tiles.items():
        level = hw.buffer_for(op)
        if level is None:
            continue
        copies = 2 if level.double_buffered else 1
        prev = need.get(level.name, (level, 0.0))[1]
        need[level.name] = (level, prev + copies * np.ceil(b))
    return need


def estimated_compute(compute: ComputeTrace, model: TileModel, tm, tn, tk) -> np.ndarray:
    """Compute cycles of the layer (all groups) under each tiling: what its tiles cost on a timing
    model with stalls (``dataflows/compute.py``); else the untiled cycles, whatever the tiling."""
    s = compute.schedule
    if s is None or not s.timing.models_stalls:
        return np.full(np.shape(tm), float(compute.compute_cycles))
    tile = {"m": tm, "n": tn, "k": tk}
    flow = s.plan.flow
    return tiling_cycles(s, model.groups, tile[flow.rows_dim], tile[flow.cols_dim], tile[flow.time_dim])


def choose_mapping(layer: Layer, hw: HardwareConfig, compute: ComputeTrace, model: TileModel,
                   objective: str | None = None, *, table: EnergyTable | None = None) -> LayerMapping:
    """The tiling with the least estimated cycles (or ``objective``) whose tiles fit every buffer."""
    objective = objective or getattr(hw, "mapping_objective", None) or "cycles"
    if objective not in OBJECTIVES:
        raise SimulationError(f"mapping objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    axes = [candidates(getattr(model, d), model.steps[d]) for d in DIMS]
    tm, tn, tk = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    trips = {"m": -(-model.m // tm), "n": -(-model.n // tn), "k": -(-model.k // tk)}
    partial = model.partial(tk, trips["k"])
    tiles = model.tile_bytes(tm, tn, tk, partial)
    need = buffer_needs(hw, tiles)
    fits = np.ones(tm.shape, bool)
    for level, bytes_needed in need.values():
        fits &= bytes_needed <= level.size_bytes
    if not fits.any():
        raise _no_fit(layer, need, tiles)
    idx = np.flatnonzero(fits)
    tm, tn, tk, partial = tm[idx], tn[idx], tk[idx], partial[idx]
    tiles = {op: b[idx] for op, b in tiles.items()}
    base = single_pass(model, tm, tn, tk)
    n_tiles = base["m"] * base["n"] * base["k"]
    g = model.groups
    stalls = TIMING_MODELS.get(hw.timing).models_stalls
    busy = estimated_compute(compute, model, tm, tn, tk)
    feed = delivery_cycles(hw, compute, model, base[model.time_dim] if stalls else 1)
    compute_total = functools.reduce(np.maximum, feed.values(), busy)
    bw, lat = hw.dram.total_bandwidth_bytes_per_cycle, hw.dram.latency_cycles
    double = all(lv.double_buffered for lv, _ in need.values())
    pj_per_byte = None
    if objective in ("energy", "edp"):
        if table is None:
            raise SimulationError(f"mapping objective {objective!r} needs the energy table (table=...)")
        pj_per_byte = _pj_per_byte(hw, table)
    ev = evaluate(model, tm, tn, tk, None, base)  # [order, tiling]
    reads = g * sum(v for key, v in ev.items() if "_read_" in key)
    writes = g * sum(v for key, v in ev.items() if "_write_" in key)
    energy = (np.zeros(reads.shape) if pj_per_byte is None
              else g * sum(pj_per_byte[key] * v for key, v in ev.items()))
    nt = np.broadcast_to(g * n_tiles, reads.shape)
    first = tiles["inputs"] + tiles["weights"]
    last = tm * tn * model.bpe("outputs")
    xfer = (reads + writes) / bw
    if double:
        est = np.maximum.reduce([np.broadcast_to(compute_total, xfer.shape), xfer,
                                 (compute_total + nt * lat + xfer) / 2])
        est = est + lat + first / bw + last / bw
    else:
        est = compute_total + nt * lat + xfer + last / bw
    order_idx = np.broadcast_to(np.arange(len(LOOP_ORDERS))[:, None], reads.shape).ravel()
    reads, writes, est, nt, energy = (a.ravel() for a in (reads, writes, est, nt, energy))
    rep = len(LOOP_ORDERS)
    tm_a, tn_a, tk_a = np.tile(tm, rep), np.tile(tn, rep), np.tile(tk, rep)
    cycles = est if stalls else np.full(est.shape, float(compute.compute_cycles))  # what the run will report
    primary = {"dram": reads + writes, "cycles": cycles, "energy": energy, "edp": energy * cycles}[objective]
    best = int(np.lexsort((order_idx, nt, est, np.round(reads + writes, 6), np.round(primary, 6)))[0])
    order = LOOP_ORDERS[int(order_idx[best])]
    i = best % len(tm)
    chosen = {"inputs": tiles["inputs"][i], "weights": tiles["weights"][i], "outputs": tiles["outputs"][i]}
    used = buffer_needs(hw, chosen)
    t_m, t_n, t_k = int(tm_a[best]), int(tn_a[best]), int(tk_a[best])
    return LayerMapping(
        dataflow=compute.plan.dataflow, loop_order=order, tile_m=t_m, tile_n=t_n, tile_k=t_k,
        tiles_m=-(-model.m // t_m), tiles_n=-(-model.n // t_n), tiles_k=-(-model.k // t_k), groups=g,
        objective=objective, tile_bytes={op: int(np.ceil(b)) for op, b in chosen.items()},
        buffer_bytes={name: int(b) for name, (_, b) in used.items()},
        dram_read_bytes=int(np.ceil(reads[best])), dram_write_bytes=int(np.ceil(writes[best])),
        estimated_cycles=int(np.ceil(est[best])), candidates=int(len(reads)),
        notes=(f"outputs held at {model.psum_bpe * 8:g}-bit partial sums",) if bool(partial[i]) else (),
    )


def _pj_per_byte(hw: HardwareConfig, table: EnergyTable) -> dict[str, float]:
    """pJ per byte crossing the DRAM interface, by evaluate() key: DRAM plus the buffer fill or drain."""
    out = {}
    for op in OPERANDS:
        level = hw.buffer_for(op)
        cap = level.size_bytes if level is not None else None
        for way, dram, buf in (("read", "dram_read", "buffer_write"), ("write", "dram_write", "buffer_read")):
            pj = 8 * (table.cost(dram).pj_per_bit() + table.cost(buf).pj_per_bit(cap))
            out[f"{op}_{way}_data"] = out[f"{op}_{way}_meta"] = pj
    return out


def _kib(n_bytes: float) -> str:
    return f"{n_bytes / 1024:.1f} KiB" if n_bytes >= 1024 else f"{int(n_bytes)} B"


def _no_fit(layer: Layer, need: dict[str, tuple[MemoryLevel, Any]],
            tiles: dict[str, np.ndarray]) -> SimulationError:
    """Name each buffer that no tile fits, with what its smallest tile needs."""
    parts = []
    for name, (level, b) in need.items():
        best = int(np.argmin(b))
        if b[best] > level.size_bytes:
            parts.append(_need_text(name, level, int(b[best]), tiles, best))
    if not parts:  # each buffer alone could be served, never all at once
        best = int(np.argmin(sum(tiles.values())))
        parts = [_need_text(name, level, int(b[best]), tiles, best) for name, (level, b) in need.items()
                 if b[best] > level.size_bytes]
    return SimulationError(f"layer {layer.name!r} cannot be tiled: " + "; ".join(parts)
                           + ". Enlarge the buffer, or turn off its double buffering")


def _need_text(name: str, level: MemoryLevel, size_needed: int, tiles: dict[str, np.ndarray], i: int) -> str:
    held = ", ".join(f"{op} {_kib(float(tiles[op][i]))}" for op in OPERANDS if op in level.holds)
    copies = " x2 (double-buffered)" if level.double_buffered else ""
    exact = f" ({size_needed} B)" if size_needed >= 1024 else ""
    return (f"buffer {name!r} ({format_size(level.size_bytes)}) needs {_kib(size_needed)}{exact}"
            f" for the smallest tile ({held}{copies})")
