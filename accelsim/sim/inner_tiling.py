"""choose_inner(): the tiles of the on-chip tiers below the DRAM-facing one, and the traffic between tiers.

An operand's tiers are the shared levels holding it, outermost first (``HardwareConfig.levels_for``):
tier 0 is the level DRAM fills (``mapping.choose_mapping`` tiles it), tier 1 the next level in, and so
on; the array reads the innermost.  An operand with fewer levels than another has no tile at the
deeper tiers: it bypasses them (the array reads it from its own innermost level).  A level may be
one operand's tier 0 and another's tier 1; it holds both tiles.

Tier t's tiles divide tier t-1's (whole folds along the array's dims; any divisor in time), so the
tiles the array runs are a uniform tiling of the layer: the compute is exactly ``tiling_cycles`` of
the innermost tile, and the held operand is reloaded once per innermost time slice.

The loop nest is every tier's three loops, outermost tier first.  Traffic into tier t, per operand,
is the classic loop-nest rule of ``mapping.evaluate`` over the nest of tiers 0..t: a loop the operand
does not depend on repeats its fetches when some loop it depends on, with more than one trip, runs
inside it (later in the same tier or in a deeper one up to t).  Inputs move the distinct ifmap
elements of their tier-t tiles (halo included); weights and data move with their index metadata.
Outputs: each visit of an output element after the first reads its partial sum back down, and every
visit writes it back up: at the accumulator's width, the last visit at the output's stored width.

The search is greedy, tier by tier, outermost first (the tier above is fixed): every tiling from a
candidate set per dim (divisors of the tier above's tile) in every loop order, in one numpy pass.
The tiles must fit each level of this tier beside what the outer tiers already keep there.  The best
has the least estimated cycles (the innermost tiles' compute, or a level's ports if slower), then the
fewest bytes moved between tiers, then the fewest tiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelsim.errors import SimulationError
from accelsim.sim.energy import EnergyTable
from accelsim.sim.mapping import (
    DIMS,
    INSIDE,
    LOOP_ORDERS,
    OPERANDS,
    RELEVANT,
    TileModel,
    add_loads,
    array_bytes,
    candidates,
    estimated_compute,
    port_cycles,
    single_pass,
)
from accelsim.sim.traces import ComputeTrace, InnerTier, LayerMapping
from accelsim.spec.hardware import HardwareConfig, MemoryLevel
from accelsim.workload.layer import Layer

_KEYS = ("read_data_bytes", "read_metadata_bytes", "write_data_bytes", "write_metadata_bytes")


def level_at(hw: HardwareConfig, op: str, tier: int) -> MemoryLevel | None:
    chain = hw.levels_for(op)
    return chain[tier] if tier < len(chain) else None


def choose_inner(layer: Layer, hw: HardwareConfig, compute: ComputeTrace, model: TileModel,
                 mapping: LayerMapping, *, table: EnergyTable | None = None) -> tuple[InnerTier, ...]:
    """Every tier below the DRAM-facing one, outermost first (none when each operand has one level)."""
    n_tiers = max(len(hw.levels_for(op)) for op in OPERANDS)
    tiles = [{"m": mapping.tile_m, "n": mapping.tile_n, "k": mapping.tile_k}]
    orders = [tuple(mapping.loop_order)]
    held = dict(mapping.buffer_bytes)
    out: list[InnerTier] = []
    for t in range(1, n_tiers):
        tier = _search(layer, hw, compute, model, t, tiles, orders, held, out, mapping, table)
        out.append(tier)
        tiles.append({"m": tier.tile_m, "n": tier.tile_n, "k": tier.tile_k})
        orders.append(tier.loop_order)
        held = dict(tier.buffer_bytes)
    return tuple(out)


def _divisor_candidates(prev: int, extent: int, step: int) -> np.ndarray:
    """Tiles along one dim that divide the tier above's ``prev`` (whole ``step``s), or any tiling when
    ``prev`` covers the whole extent."""
    if prev >= extent:
        return candidates(extent, step)
    folds = prev // step
    small = [f for f in range(1, int(folds**0.5) + 1) if folds % f == 0]
    return np.array(sorted({f * step for f in small} | {folds // f * step for f in small}), dtype=np.int64)


def _trips(model: TileModel, tiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trips of each tier's loops: tier 0 over the layer, tier s over tier s-1's tile."""
    out = []
    for s, tile in enumerate(tiles):
        outer = {d: getattr(model, d) for d in DIMS} if s == 0 else tiles[s - 1]
        out.append({d: -(-np.minimum(outer[d], getattr(model, d)) // tile[d]) for d in DIMS})
    return out


def boundary_elements(model: TileModel, tiles: list[dict[str, Any]], orders: list[tuple[str, ...]],
                      tier: int) -> dict[str, Any]:
    """Per operand, elements moved into tier ``tier`` in one group: inputs and weights fetched
    (``<op>``), output visits (``outputs``: every visit writes the element back up).  The last entry
    of ``tiles`` may hold arrays of candidate tilings and ``orders[tier]`` may be None: every loop
    order at once ([order, tiling] arrays)."""
    trips = _trips(model, tiles[: tier + 1])
    many = [{d: np.asarray(trips[s][d]) > 1 for d in DIMS} for s in range(tier + 1)]
    shape = np.shape(tiles[tier]["m"])
    t = {d: np.asarray(tiles[tier][d], np.int64) for d in DIMS}
    elements = {"inputs": single_pass(model, t["m"], t["n"], t["k"])["in_elems"],
                "weights": float(model.k * model.n), "outputs": float(model.m * model.n)}
    out = {}
    for op, rel in RELEVANT.items():
        x = next(d for d in DIMS if d not in rel)
        factor: Any = np.ones(shape)
        for s in range(tier + 1):
            deeper: Any = False
            for s2 in range(s + 1, tier + 1):
                for d in rel:
                    deeper = deeper | many[s2][d]
            if s == tier and orders[s] is None:  # every loop order of this tier
                stack = np.stack([np.broadcast_to(many[s][d], shape) for d in DIMS]).reshape(3, -1)
                inside = (INSIDE[op].astype(np.int64) @ stack > 0).reshape((len(LOOP_ORDERS), *shape))
            else:
                order = orders[s]
                inside = False
                for d in rel:
                    if order.index(d) > order.index(x):
                        inside = inside | many[s][d]
            factor = factor * np.where(inside | deeper, trips[s][x], 1)
        out[op] = elements[op] * factor
    return out


def boundary_bytes(model: TileModel, elements: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Bytes of one group crossing a boundary per operand: ``down`` toward the array (fills, partial
    sums read back) and ``up`` (outputs written back), data and metadata apart."""
    mn = float(model.m * model.n)
    visits = elements["outputs"]
    zero = np.zeros(np.shape(visits))
    out = {op: {"down_data": elements[op] * model.data_bpe[op],
                "down_meta": elements[op] * model.meta_bpe[op], "up_data": zero, "up_meta": zero}
           for op in ("inputs", "weights")}
    out["outputs"] = {"down_data": (visits - mn) * model.psum_bpe, "down_meta": zero,
                      "up_data": (visits - mn) * model.psum_bpe + mn * model.data_bpe["outputs"],
                      "up_meta": zero + mn * model.meta_bpe["outputs"]}
    return out


def _by_level(hw: HardwareConfig, tier: int, moved: dict[str, dict[str, Any]], groups: int
              ) -> dict[str, dict[str, dict[str, Any]]]:
    """MemoryTraffic.by_level entries of one boundary: the upper level reads what goes down and writes
    what comes up; the lower level the reverse."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for op, b in moved.items():
        upper, lower = level_at(hw, op, tier - 1), level_at(hw, op, tier)
        if upper is None or lower is None:
            continue
        down, up = (b["down_data"], b["down_meta"]), (b["up_data"], b["up_meta"])
        for level, (read, write) in ((upper, (down, up)), (lower, (up, down))):
            entry = out.setdefault(level.name, {}).setdefault(op, dict.fromkeys(_KEYS, 0.0))
            entry["read_data_bytes"] = entry["read_data_bytes"] + groups * read[0]
            entry["read_metadata_bytes"] = entry["read_metadata_bytes"] + groups * read[1]
            entry["write_data_bytes"] = entry["write_data_bytes"] + groups * write[0]
            entry["write_metadata_bytes"] = entry["write_metadata_bytes"] + groups * write[1]
    return out


def port_loads(hw: HardwareConfig, tier: int, by_level: dict[str, dict[str, dict[str, Any]]]
               ) -> dict[str, list[Any]]:
    """[read, write] bytes a boundary puts on each level's ports: the upper level's always; the lower
    level's only when it is not double-buffered (else the transfer uses the other bank)."""
    loads: dict[str, list[Any]] = {}
    for name, ops in by_level.items():
        level = hw.memory(name)
        for op, e in ops.items():
            upper = level_at(hw, op, tier - 1)
            if (upper is None or upper.name != name) and level.double_buffered:
                continue
            loads = add_loads(loads, {name: [e["read_data_bytes"] + e["read_metadata_bytes"],
                                             e["write_data_bytes"] + e["write_metadata_bytes"]]})
    return loads


def _search(layer: Layer, hw: HardwareConfig, compute: ComputeTrace, model: TileModel, tier: int,
            tiles: list[dict[str, Any]], orders: list[tuple[str, ...]], held: dict[str, int],
            done: list[InnerTier], mapping: LayerMapping, table: EnergyTable | None) -> InnerTier:
    prev = tiles[-1]
    axes = [_divisor_candidates(int(prev[d]), getattr(model, d), model.steps[d]) for d in DIMS]
    tm, tn, tk = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    partial = model.partial(tk, -(-model.k // tk))
    tile_b = model.tile_bytes(tm, tn, tk, partial)
    ops_here = {op: lv for op in OPERANDS if (lv := level_at(hw, op, tier)) is not None}
    fits = np.ones(tm.shape, bool)
    need: dict[str, Any] = {}
    for op, level in ops_here.items():  # what the outer tiers keep in the level stays; add this tier's
        copies = 2 if level.double_buffered else 1
        need[level.name] = need.get(level.name, held.get(level.name, 0)) + copies * np.ceil(tile_b[op])
    for name, b in need.items():
        fits &= b <= hw.memory(name).size_bytes
    if not fits.any():
        parts = [f"{name!r} ({hw.memory(name).size_bytes} B) needs {int(np.min(b))} B"
                 for name, b in need.items() if np.min(b) > hw.memory(name).size_bytes]
        raise SimulationError(f"layer {layer.name!r}: no tier-{tier} tile fits: " + "; ".join(parts)
                              + " for the smallest tile beside the outer tiers' tiles. Enlarge the level,"
                              " or turn off its double buffering")
    idx = np.flatnonzero(fits)
    tm, tn, tk = tm[idx], tn[idx], tk[idx]
    tile_b = {op: b[idx] for op, b in tile_b.items()}
    cand = {"m": tm, "n": tn, "k": tk}
    g = model.groups
    moved = boundary_bytes(model, boundary_elements(model, [*tiles, cand], [*orders, None], tier))
    by_level = _by_level(hw, tier, moved, g)
    loads = add_loads(port_loads(hw, tier, by_level),  # and the outer inner tiers' transfers, fixed
                      *(port_loads(hw, t.tier, t.traffic) for t in done))
    flow = compute.plan.flow
    time_tiles = -(-getattr(model, flow.time_dim) // cand[flow.time_dim])
    loads = add_loads(loads, array_bytes(hw, compute, model, time_tiles))
    busy = np.broadcast_to(estimated_compute(compute, model, tm, tn, tk), tm.shape)
    est = busy + np.zeros((len(LOOP_ORDERS), len(tm)))
    for cycles in port_cycles(hw, loads).values():
        est = np.maximum(est, cycles)
    total = sum(v for b in moved.values() for v in b.values())
    total = np.broadcast_to(total, est.shape)
    energy = _energy(hw, tier, moved, table) if table is not None else total
    objective = mapping.objective
    primary = {"cycles": est, "dram": total, "energy": energy, "edp": energy * est}[objective]
    n_tiles = np.broadcast_to(-(-model.m // tm) * -(-model.n // tn) * -(-model.k // tk), est.shape)
    order_idx = np.broadcast_to(np.arange(len(LOOP_ORDERS))[:, None], est.shape)
    best = int(np.lexsort(tuple(a.ravel() for a in (order_idx, n_tiles, np.round(total, 6),
                                                     np.round(primary, 6))))[0])
    o, i = divmod(best, len(tm))
    chosen = {op: float(tile_b[op][i]) for op in ops_here}
    occupancy = dict(held)
    for op, level in ops_here.items():
        occupancy[level.name] = occupancy.get(level.name, 0) + (2 if level.double_buffered else 1) * int(
            np.ceil(chosen[op]))
    traffic = {name: {op: {k: int(np.ceil(np.broadcast_to(v, est.shape)[o, i])) for k, v in e.items()}
                      for op, e in ops.items()} for name, ops in by_level.items()}
    return InnerTier(tier=tier, levels={op: lv.name for op, lv in ops_here.items()},
                     loop_order=LOOP_ORDERS[o], tile_m=int(tm[i]), tile_n=int(tn[i]), tile_k=int(tk[i]),
                     tile_bytes={op: int(np.ceil(b)) for op, b in chosen.items()}, buffer_bytes=occupancy,
                     traffic=traffic, candidates=int(est.size))


def _energy(hw: HardwareConfig, tier: int, moved: dict[str, dict[str, Any]], table: EnergyTable) -> Any:
    """pJ of one group's transfers across the boundary: a read at one level and a write at the other."""
    total: Any = 0.0
    for op, b in moved.items():
        upper, lower = level_at(hw, op, tier - 1), level_at(hw, op, tier)
        if upper is None or lower is None:
            continue
        down = b["down_data"] + b["down_meta"]
        up = b["up_data"] + b["up_meta"]
        for src, dst, nbytes in ((upper, lower, down), (lower, upper, up)):
            pj = 8 * (table.cost("buffer_read").pj_per_bit(src.size_bytes)
                      + table.cost("buffer_write").pj_per_bit(dst.size_bytes))
            total = total + pj * nbytes
    return total
