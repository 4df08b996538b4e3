"""The memory model: tile transfers between DRAM and the buffers overlapped with compute (simpy).

One simpy environment per layer, one event per tile transfer, never per word.  The tiles are the
mapping's (``accelsim.sim.mapping``), in its loop order, for each GEMM group in turn.  Assumptions:

* DRAM is one pipe of ``dram.bandwidth`` (the total over its interleaved channels: a tile is
  striped across all of them) shared first-come first-served by loads and write-backs.  A
  transfer holds the pipe for bytes / bandwidth cycles; a load's data arrives ``dram.latency``
  cycles after its last byte left (requests are pipelined, so latency is paid per transfer but
  overlaps other transfers).  A write-back frees its buffer slot when its last byte has left.
* Before tile i computes, everything it needs that is not already resident (the operand tiles
  that changed since tile i-1, and partial sums spilled by an earlier visit) arrives in one
  transfer.  Its load may start once the buffer slot it fills is free: a level holds one tile of
  an operand, or two where it is ``double_buffered``, so the slot frees when the last tile using
  the operand tile one (or two) loads back has computed -- with two slots the load overlaps the
  compute of every tile that reuses the current operand tile.  Loads are issued in tile order.
* Outputs: when the output tile changes, the finished tile (or its partial sums) is written back
  behind the compute; a new output tile needs a free output slot (the one two output tiles back
  written out if double-buffered, else the previous one).
* A tile's compute cycles are what the dataflow's timing says for its size
  (``dataflows/compute.py``, ``tile_cycles``: its own fill and drain, its folds' slots, mask-aware
  on a sparse datapath); the layer's compute cycles are their sum over all tiles and groups.  (A
  trace without a FoldSchedule, a flexible array's, splits its ``compute_cycles`` in proportion.)
* Stalls are measured: ``stall = end of the last write-back - compute cycles``; they include the
  first load and the last write-back, which nothing can overlap.
* More than ``MAX_TILES`` tiles in a layer (all groups): runs of ``coarsening`` consecutive tiles
  are merged into one (one load, one compute step, one write-back), which keeps every byte and
  cycle and coarsens only the overlap (``MemoryTrace.coarsening`` says by how much).  More than
  ``MAX_SCHEDULE`` tiles means buffers too small to model by tiles: a SimulationError says so.

With ``timing: scalesim`` the simulator runs ``stall_free_memory`` instead: SCALE-Sim's CALC mode
never stalls, so stalls are 0 and cycles are the compute cycles; the DRAM traffic is the mapping's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import simpy

from accelsim.errors import SimulationError
from accelsim.sim.dataflows.compute import tile_cycles, time_tiles
from accelsim.sim.inner_tiling import port_loads
from accelsim.sim.mapping import OPERANDS, TileModel, add_loads, delivery_cycles, evaluate
from accelsim.sim.traces import ComputeTrace, LayerMapping, MemoryTrace
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer

MAX_TILES = 4096
MAX_SCHEDULE = 4_000_000  # tiles of one layer; beyond this the buffers are unreasonably small


@dataclass(frozen=True)
class Schedule:
    """Per tile, in execution order: what is loaded before it, its compute, what is written after it."""

    load_bytes: np.ndarray  # float bytes read from DRAM before the tile (0: all resident)
    load_slots: np.ndarray  # 2: the load may overlap the previous tile's compute; 1: it may not
    wait_for: np.ndarray  # the tile whose compute frees the buffer slots this load fills (-1: none)
    psum_read: np.ndarray  # bool: the load includes spilled partial sums (needs an output slot)
    compute_cycles: np.ndarray  # float
    new_output: np.ndarray  # bool: the tile starts a new output tile
    write_bytes: np.ndarray  # float bytes written back after the tile (at the end of an output tile)
    out_slots: int
    totals: dict[str, float]  # evaluate() keys: bytes per operand, direction, data/metadata

    @property
    def tiles(self) -> int:
        return len(self.compute_cycles)


def build_schedule(model: TileModel, mapping: LayerMapping, hw: HardwareConfig,
                   compute: ComputeTrace, groups: int = 1, *, inputs_on_chip: bool = False,
                   output_kept: bool = False) -> Schedule:
    """The tiles of ``groups`` groups in loop order, with their transfers and compute cycles.
    ``inputs_on_chip``: the input is already on chip (no DRAM reads of it); ``output_kept``: the
    finished output stays on chip (no DRAM write of it; partial-sum spills still go)."""
    order = mapping.loop_order
    tile = {"m": mapping.tile_m, "n": mapping.tile_n, "k": mapping.tile_k}
    extent = {"m": model.m, "n": model.n, "k": model.k}
    trips = {"m": mapping.tiles_m, "n": mapping.tiles_n, "k": mapping.tiles_k}
    grid = np.indices([trips[d] for d in order]).reshape(3, -1)
    idx = {d: grid[order.index(d)] for d in "mnk"}
    ext = {d: np.minimum(tile[d], extent[d] - idx[d] * tile[d]) for d in "mnk"}
    n = grid.shape[1]

    def changed(dims: tuple[str, ...]) -> np.ndarray:
        c = np.zeros(n, bool)
        c[0] = True
        for d in dims:
            c[1:] |= idx[d][1:] != idx[d][:-1]
        return c

    ch_in, ch_w, new_out = changed(("m", "k")), changed(("k", "n")), changed(("m", "n"))
    in_el = np.where(ch_in, model.input_elements(ext["m"], ext["k"]), 0.0)
    w_el = np.where(ch_w, ext["k"] * ext["n"], 0).astype(np.float64)
    out_el = (ext["m"] * ext["n"]).astype(np.float64)
    psum_read = new_out & (idx["k"] > 0)
    last_of_out = np.append(new_out[1:], True)
    final = idx["k"] == trips["k"] - 1
    spill_el = np.where(last_of_out & ~final, out_el, 0.0)
    final_el = np.where(last_of_out & final & (not output_kept), out_el, 0.0)
    if inputs_on_chip:
        in_el = np.zeros(n)
    psum_el = np.where(psum_read, out_el, 0.0)
    totals = {
        "inputs_read_data": in_el.sum() * model.data_bpe["inputs"],
        "inputs_read_meta": in_el.sum() * model.meta_bpe["inputs"],
        "weights_read_data": w_el.sum() * model.data_bpe["weights"],
        "weights_read_meta": w_el.sum() * model.meta_bpe["weights"],
        "outputs_read_data": psum_el.sum() * model.psum_bpe,
        "outputs_write_data": final_el.sum() * model.data_bpe["outputs"] + spill_el.sum() * model.psum_bpe,
        "outputs_write_meta": final_el.sum() * model.meta_bpe["outputs"],
    }
    load = in_el * model.bpe("inputs") + w_el * model.bpe("weights") + psum_el * model.psum_bpe
    write = final_el * model.bpe("outputs") + spill_el * model.psum_bpe

    df = compute.plan.flow
    start = {d: idx[d] * tile[d] for d in "mnk"}
    if compute.schedule is not None:  # what each tile costs, per group: the sum of the array's tiles in it
        sub, owner = _array_tiles(start, ext, mapping.array_tile)
        per_sub = tile_cycles(compute.schedule, (sub[0][df.rows_dim], sub[1][df.rows_dim]),
                              (sub[0][df.cols_dim], sub[1][df.cols_dim]), sub[1][df.time_dim])
        per_group = per_sub if owner is None else np.add.reduceat(per_sub, owner, axis=1)
        cycles = (per_group.mean(axis=0) if groups == 1 else np.broadcast_to(per_group, (groups, n))).ravel()
    else:
        cycles = np.tile(_folds_share(compute, mapping, start, ext, extent[df.time_dim]), groups)
    if groups > 1:  # groups run one after another, nothing shared between them
        load, psum_read, new_out, write, ch_in, ch_w = (
            np.tile(a, groups) for a in (load, psum_read, new_out, write, ch_in, ch_w))
        totals = {k: v * groups for k, v in totals.items()}
    slots = {op: (2 if lv.double_buffered else 1) for op in OPERANDS if (lv := hw.buffer_for(op)) is not None}
    wait_in, wait_w = _slot_wait(ch_in, slots.get("inputs", 2)), _slot_wait(ch_w, slots.get("weights", 2))
    load_slots = np.full(len(load), 2, np.int64)
    load_slots = np.where(ch_in, np.minimum(load_slots, slots.get("inputs", 2)), load_slots)
    load_slots = np.where(ch_w, np.minimum(load_slots, slots.get("weights", 2)), load_slots)
    out_lv = hw.buffer_for("outputs")
    return Schedule(load, load_slots, np.maximum(wait_in, wait_w), psum_read, cycles, new_out, write,
                    2 if out_lv is None or out_lv.double_buffered else 1, totals)


def _array_tiles(start: dict, ext: dict, inner: dict[str, int]):
    """((start, extent) per dim of every tile the array runs, the index where each outer tile's run of
    them begins, or None when the array runs the outer tiles themselves)."""
    counts = {d: -(-ext[d] // inner[d]) for d in "mnk"}
    if all(np.all(counts[d] == 1) for d in "mnk"):
        return (start, ext), None
    per = counts["m"] * counts["n"] * counts["k"]
    if per.sum() > MAX_SCHEDULE:
        raise SimulationError(f"{int(per.sum()):,} innermost tiles: the inner buffers are too small for a"
                              " tile-level model; give them more room")
    owner = np.repeat(np.arange(len(per)), per)
    q = np.arange(len(owner)) - np.repeat(np.cumsum(per) - per, per)
    j = {"m": q // (counts["n"] * counts["k"])[owner], "n": (q // counts["k"][owner]) % counts["n"][owner],
         "k": q % counts["k"][owner]}
    s = {d: start[d][owner] + j[d] * inner[d] for d in "mnk"}
    e = {d: np.minimum(inner[d], start[d][owner] + ext[d][owner] - s[d]) for d in "mnk"}
    return (s, e), np.cumsum(per) - per


def _folds_share(compute: ComputeTrace, mapping: LayerMapping, start: dict, ext: dict, time_extent: int):
    """A trace without a FoldSchedule: each tile takes the share of ``compute.compute_cycles`` of the
    folds it covers times its share of the time dim."""
    plan, df = compute.plan, compute.plan.flow
    r, c = df.rows_dim, df.cols_dim
    folds = ((-(-(start[r] + ext[r]) // plan.rows) - start[r] // plan.rows)
             * (-(-(start[c] + ext[c]) // plan.cols) - start[c] // plan.cols))
    cycles = folds * ext[df.time_dim] / max(1, time_extent)
    return cycles * (compute.compute_cycles / max(1, mapping.groups) / cycles.sum())


def _slot_wait(changed: np.ndarray, slots: int) -> np.ndarray:
    """For each tile that loads a new tile of this operand: the last tile using the tile ``slots``
    loads back (its compute frees the slot), or -1."""
    gen = np.cumsum(changed) - 1
    last_of_gen = np.flatnonzero(np.append(changed[1:], True))
    need = gen - slots
    return np.where(changed & (need >= 0), last_of_gen[np.maximum(need, 0)], -1)


def coarsen(s: Schedule, factor: int) -> Schedule:
    """Merge runs of ``factor`` tiles: sums of bytes and cycles, each run its own output tile."""
    if factor <= 1:
        return s
    starts = np.arange(0, s.tiles, factor)
    slots = np.minimum.reduceat(s.load_slots, starts)
    return Schedule(np.add.reduceat(s.load_bytes, starts), slots, np.arange(len(starts)) - slots,
                    np.logical_or.reduceat(s.psum_read, starts), np.add.reduceat(s.compute_cycles, starts),
                    np.ones(len(starts), bool), np.add.reduceat(s.write_bytes, starts), s.out_slots, s.totals)


_PIPELINES: dict[bytes, tuple[float, int]] = {}
_PIPELINES_KEPT = 1024


def pipeline_result(s: Schedule, bandwidth_bytes_per_cycle: float,
                    latency_cycles: float) -> tuple[float, int]:
    """``run_pipeline``, remembered by the schedule's content: the layers of a model that repeat a
    block (a decoder's 32 layers, ResNet's stages) give identical schedules, simulated once per process."""
    h = hashlib.blake2b(digest_size=20)
    for a in (s.load_bytes, s.load_slots, s.wait_for, s.psum_read, s.compute_cycles, s.new_output,
              s.write_bytes):
        h.update(np.ascontiguousarray(a).view(np.uint8))
        h.update(str(a.dtype).encode())
    h.update(repr((s.out_slots, float(bandwidth_bytes_per_cycle), float(latency_cycles))).encode())
    key = h.digest()
    found = _PIPELINES.get(key)
    if found is None:
        found = run_pipeline(s, bandwidth_bytes_per_cycle, latency_cycles)
        if len(_PIPELINES) >= _PIPELINES_KEPT:
            _PIPELINES.pop(next(iter(_PIPELINES)))
        _PIPELINES[key] = found
    return found


def run_pipeline(s: Schedule, bandwidth_bytes_per_cycle: float, latency_cycles: float) -> tuple[float, int]:
    """Simulate the schedule; returns (cycles until the last write-back has left, transfers).

    Two processes: the array (computes tiles in order, hands finished output tiles to DRAM) and the
    loader (issues each tile's load once its buffer slot is free).  The DRAM pipe is first-come
    first-served, so a transfer's slot on it is known when it is requested: the requester books it
    (``pipe_free``) and records the time its data arrives (or leaves); a process creates an event
    only when it must wait for something not booked or computed yet.
    """
    env = simpy.Environment()
    bw, lat = float(bandwidth_bytes_per_cycle), float(latency_cycles)
    n = s.tiles
    load_b = s.load_bytes.tolist()
    wait_for = s.wait_for.tolist()
    psum = s.psum_read.tolist()
    comp = s.compute_cycles.tolist()
    new_out = s.new_output.tolist()
    write_b = s.write_bytes.tolist()
    gen = (np.cumsum(s.new_output) - 1).tolist()
    last_of_gen = np.append(s.new_output[1:], True).tolist()
    out_slots = s.out_slots
    arrive: list[float | None] = [None] * n  # when a tile's load arrives, once the loader has booked it
    leave: list[float | None] = [None] * (int(gen[-1]) + 1 if n else 0)  # when an output tile has left
    done = [False] * n  # the tile has computed (its buffer slots are free)
    waiting: dict[tuple[str, int], simpy.Event] = {}  # an event only where a process must wait
    state = {"pipe_free": 0.0, "transfers": 0}

    def book(nbytes: float) -> float:
        """Reserve the pipe for ``nbytes`` from now (or when it frees); the time the last byte leaves."""
        end = max(env.now, state["pipe_free"]) + nbytes / bw
        state["pipe_free"] = end
        state["transfers"] += 1
        return end

    def wait(kind: str, idx: int) -> simpy.Event:
        ev = waiting.get((kind, idx))
        if ev is None:
            ev = waiting[(kind, idx)] = env.event()
        return ev

    def publish(kind: str, idx: int, value: float | None) -> None:
        ev = waiting.pop((kind, idx), None)
        if ev is not None:
            ev.succeed(value)

    def loader():
        for i in range(n):
            if load_b[i] <= 0:
                continue
            j = wait_for[i]
            if j >= 0 and not done[j]:
                yield wait("computed", j)
            if psum[i] and gen[i] >= out_slots:
                g = gen[i] - out_slots
                ready = leave[g] if leave[g] is not None else (yield wait("written", g))
                if ready > env.now:
                    yield env.timeout(ready - env.now)
            arrive[i] = t = book(load_b[i]) + lat
            publish("loaded", i, t)

    def array():
        for i in range(n):
            if load_b[i] > 0:
                ready = arrive[i] if arrive[i] is not None else (yield wait("loaded", i))
                if ready > env.now:
                    yield env.timeout(ready - env.now)
            if new_out[i] and gen[i] >= out_slots:
                ready = leave[gen[i] - out_slots]  # booked by this process, earlier
                if ready > env.now:
                    yield env.timeout(ready - env.now)
            yield env.timeout(comp[i])
            done[i] = True
            publish("computed", i, None)
            if last_of_gen[i]:
                leave[gen[i]] = t = book(write_b[i]) if write_b[i] > 0 else env.now
                publish("written", gen[i], t)

    env.process(loader())
    env.process(array())
    env.run()
    return max(float(env.now), state["pipe_free"]), state["transfers"]


def _tier_port_loads(hw: HardwareConfig, by_level: dict[str, dict[str, dict[str, int]]],
                     mapping: LayerMapping) -> dict[str, list]:
    """[read, write] bytes the transfers between tiers put on each level's ports: a DRAM-facing level's
    fills and drains only when it is not double-buffered (else they use the other bank), and every
    inner boundary's (``inner_tiling.port_loads``)."""
    dram = [{level.name: [e["write_data_bytes"] + e["write_metadata_bytes"],  # DRAM reads are its writes
                          e["read_data_bytes"] + e["read_metadata_bytes"]]}
            for op, e in by_level["dram"].items()
            if (level := hw.buffer_for(op)) is not None and not level.double_buffered]
    return add_loads(*dram, *(port_loads(hw, tier.tier, tier.traffic) for tier in mapping.inner))


def _by_level(hw: HardwareConfig, totals: dict[str, float],
              mapping: LayerMapping | None = None) -> dict[str, dict[str, dict[str, int]]]:
    def b(key: str) -> int:
        return int(np.ceil(totals.get(key, 0.0)))

    dram: dict[str, dict[str, int]] = {}
    for op in OPERANDS:
        dram[op] = {"read_data_bytes": b(f"{op}_read_data"), "read_metadata_bytes": b(f"{op}_read_meta"),
                    "write_data_bytes": b(f"{op}_write_data"), "write_metadata_bytes": b(f"{op}_write_meta")}
    out: dict[str, dict[str, dict[str, int]]] = {"dram": dram}
    for op, t in dram.items():
        level = hw.buffer_for(op)
        if level is None:
            continue
        # a DRAM read fills (writes) the buffer, a DRAM write drains (reads) it
        out.setdefault(level.name, {})[op] = {
            "read_data_bytes": t["write_data_bytes"], "read_metadata_bytes": t["write_metadata_bytes"],
            "write_data_bytes": t["read_data_bytes"], "write_metadata_bytes": t["read_metadata_bytes"]}
    for tier in mapping.inner if mapping is not None else ():  # the transfers between on-chip tiers
        for name, ops in tier.traffic.items():
            for op, e in ops.items():
                entry = out.setdefault(name, {}).setdefault(op, dict.fromkeys(e, 0))
                for key, v in e.items():
                    entry[key] += v
    return out


def stall_free_memory(hw: HardwareConfig, compute: ComputeTrace, model: TileModel,
                      mapping: LayerMapping, *, inputs_on_chip: bool = False,
                      output_kept: bool = False) -> MemoryTrace:
    """The mapping's DRAM traffic with no stalls: SCALE-Sim's CALC mode (a timing model that does not
    model stalls, ``TimingModel.models_stalls``); the flags as in ``build_schedule``."""
    one = (np.array([mapping.tile_m]), np.array([mapping.tile_n]), np.array([mapping.tile_k]))
    ev = evaluate(model, *one, mapping.loop_order)
    totals = {k: float(v[0]) * mapping.groups for k, v in ev.items()}
    if inputs_on_chip:
        totals["inputs_read_data"] = totals["inputs_read_meta"] = 0.0
    if output_kept:
        final = model.m * model.n * mapping.groups
        totals["outputs_write_data"] -= final * model.data_bpe["outputs"]
        totals["outputs_write_meta"] = 0.0
    by_level = _by_level(hw, totals, mapping)
    return MemoryTrace(*_dram_totals(by_level), stall_cycles=0, by_level=by_level,
                       total_cycles=compute.compute_cycles, compute_cycles=compute.compute_cycles,
                       tiles=mapping.tiles * mapping.groups, model="stall-free (scalesim CALC)")


def simulate_memory(hw: HardwareConfig, layer: Layer, compute: ComputeTrace, model: TileModel,
                    mapping: LayerMapping, *, inputs_on_chip: bool = False,
                    output_kept: bool = False) -> MemoryTrace:
    """DRAM traffic and stalls of one layer under ``mapping`` (``model``: the mapping's TileModel)."""
    if mapping.tiles * mapping.groups > MAX_SCHEDULE:
        raise SimulationError(
            f"layer {layer.name!r} needs {mapping.tiles * mapping.groups:,} tiles (tile {mapping.tile_m} x"
            f" {mapping.tile_n} x {mapping.tile_k}): its buffers are too small for a tile-level model;"
            f" give them more room (buffer use {mapping.buffer_bytes})")
    sched = build_schedule(model, mapping, hw, compute, mapping.groups, inputs_on_chip=inputs_on_chip,
                           output_kept=output_kept)
    busy = float(sched.compute_cycles.sum())
    compute_cycles = int(round(busy))
    by_level = _by_level(hw, sched.totals, mapping)
    need = delivery_cycles(hw, compute, model, time_tiles(compute, mapping),
                           _tier_port_loads(hw, by_level, mapping))
    slowest = max(need.values(), default=0.0)
    if busy > 0 and slowest > busy:  # a buffer cannot feed the array as fast as it computes
        sched = replace(sched, compute_cycles=sched.compute_cycles * (slowest / busy))
    factor = -(-sched.tiles // MAX_TILES)
    coarse = coarsen(sched, factor)
    bw = hw.dram.total_bandwidth_bytes_per_cycle
    end, transfers = pipeline_result(coarse, bw, hw.dram.latency_cycles)
    stall = max(0, int(round(end - busy)))
    reads, writes = _dram_totals(by_level)
    limits = {"compute": busy, **{f"{name} bandwidth": c for name, c in need.items()},
              "dram bandwidth": (reads + writes) / bw}
    return MemoryTrace(reads, writes, stall_cycles=stall, by_level=by_level,
                       total_cycles=compute_cycles + stall, compute_cycles=compute_cycles,
                       tiles=sched.tiles, transfers=transfers, coarsening=factor,
                       bound=max(limits, key=limits.get),
                       delivery_cycles={k: int(np.ceil(v)) for k, v in need.items()})


def _dram_totals(by_level: dict[str, dict[str, dict[str, int]]]) -> tuple[int, int]:
    d = by_level["dram"]
    reads = sum(t["read_data_bytes"] + t["read_metadata_bytes"] for t in d.values())
    writes = sum(t["write_data_bytes"] + t["write_metadata_bytes"] for t in d.values())
    return reads, writes
