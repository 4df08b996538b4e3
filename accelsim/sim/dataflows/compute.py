"""ComputeTrace: what the array does for one layer — cycles, MACs by fate, buffer accesses — and what
any tile of the layer costs (its FoldSchedule).

The dense path is closed-form (the timing model's formulas); mask-aware paths plug in beside it.

A tile is a block of the dense plan's folds (whole folds along rows and columns, the last one
ragged) and a slice of length ``tt`` of its time dim T.  What it costs, on a timing model with
stalls (``tile_cycles``; the mapper sums the same over a tiling with ``tiling_cycles``):

* regular datapath (``FoldSchedule.regular``: a dense GEMM of compressed dims Sr', Sc', T'): the
  tile is the smaller dense GEMM of its share of them, ``group_cycles`` of
  (ceil(sr * Sr'/Sr), ceil(sc * Sc'/Sc), ceil(tt * T'/T)) -- the RTL formula on the tile;
* irregular (skip) datapath: sum over the tile's folds of share * ``fold_cycles`` at
  ceil(fold_t * tt / T), plus, if any fold has work, the dense schedule's fill and drain for the
  tile's shape, ``fill_drain_cycles`` (sr, sc, ceil(t_ref * tt / T)).

For the whole layer as one tile both are exactly the layer's ``compute_cycles`` (an irregular
layer's is computed so; SCALE-Sim's adds its last-cycle-index convention, and is never tiled).
Cutting a dense GEMM's tiles again never makes it cheaper: every tile pays its own fill and drain,
and a time slice shorter than the array's rows still takes a whole fold slot per fold.  The
operand held in the PEs is loaded once per time slice (outputs: drained, and read back for all but
the first): ``tiled_accesses``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from accelsim.sim.dataflows.base import plan_folds
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.traces import ComputeTrace, FoldSchedule, LayerMapping
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer


def dense_compute(layer: Layer, hw: HardwareConfig, timing: TimingModel) -> ComputeTrace:
    """Every MAC slot of the GEMM is issued; the timing model gives the cycles."""
    pe = hw.pe_array
    plan = plan_folds(pe.dataflow, pe.rows, pe.cols, layer.m, layer.n, layer.k)
    acc = timing.sram_accesses(plan, layer.m, layer.n, layer.k)
    g = layer.groups
    return ComputeTrace(
        plan=plan,
        compute_cycles=timing.layer_cycles(plan, g),
        macs_dense=layer.macs,
        macs_issued=layer.macs,
        macs_gated=0,
        macs_skipped=0,
        load_imbalance=1.0,
        sram_reads={"inputs": g * acc.inputs_reads, "weights": g * acc.weights_reads,
                    "outputs": g * acc.outputs_reads},
        sram_writes={"outputs": g * acc.outputs_writes},
        schedule=FoldSchedule(timing, plan, regular=plan),
    )


def _scaled(ext, dense: int, compressed: int):
    """ceil(ext * compressed / dense): a tile's share of a compressed dim."""
    return -(-np.asarray(ext, np.int64) * compressed // max(dense, 1))


def _prefix(grid: np.ndarray) -> np.ndarray:
    """[g, fc, fr] -> 2-D prefix sums [g, fc + 1, fr + 1]."""
    out = np.zeros((grid.shape[0], grid.shape[1] + 1, grid.shape[2] + 1))
    out[:, 1:, 1:] = grid.cumsum(1).cumsum(2)
    return out


def _fold_grid(s: FoldSchedule, tt: int) -> np.ndarray:
    """[g, col fold, row fold] cycles of every fold streaming its share of a time slice of length tt."""
    p = s.plan
    t = -(-s.fold_t * tt // max(p.t, 1))
    cyc = s.timing.fold_cycles_at(p, p.sr, p.sc, t).astype(np.float64)
    if s.fold_share is not None:
        cyc = cyc * s.fold_share
    return cyc.reshape(-1, p.col_folds, p.row_folds)


def _work_grid(s: FoldSchedule) -> np.ndarray:
    work = s.fold_t > 0 if s.fold_share is None else (s.fold_t > 0) & (s.fold_share > 0)
    return work.reshape(-1, s.plan.col_folds, s.plan.row_folds)


def tile_cycles(s: FoldSchedule, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray],
                tt: np.ndarray) -> np.ndarray:
    """Cycles of each tile, [groups, tiles] (one row when every group costs the same).  ``rows`` and
    ``cols`` are (first element, extent) of each tile along the array's rows and columns dims, ``tt``
    its length along the time dim (module docstring)."""
    p, timing = s.plan, s.timing
    (r_start, sr), (c_start, sc) = rows, cols
    tt = np.asarray(tt, np.int64)
    if s.regular is not None:
        q = s.regular
        return timing.group_cycles_at(q, _scaled(sr, p.sr, q.sr), _scaled(sc, p.sc, q.sc),
                                      _scaled(tt, p.t, q.t))[None, :].astype(np.float64)
    r0, r1 = r_start // p.rows, -(-(r_start + sr) // p.rows)
    c0, c1 = c_start // p.cols, -(-(c_start + sc) // p.cols)

    def block(pre: np.ndarray, sel) -> np.ndarray:
        a, b, c, d = c1[sel], r1[sel], c0[sel], r0[sel]
        return pre[:, a, b] - pre[:, c, b] - pre[:, a, d] + pre[:, c, d]

    out = np.zeros((s.fold_t.shape[0], len(tt)))
    for length in np.unique(tt):
        sel = tt == length
        out[:, sel] = block(_prefix(_fold_grid(s, int(length))), sel)
    has_work = block(_prefix(_work_grid(s)), slice(None)) > 0
    return out + has_work * timing.fill_drain_cycles(p, sr, sc, _scaled(tt, p.t, s.t_ref))


def _blocks_with_work(pre: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[pair, last column block?, last row block?]: blocks of ``a`` row folds x ``b`` column folds
    (one pair per entry) holding work, over all groups; ``pre`` the prefix sums of the work grid.
    Every block of every pair in one vectorised pass."""
    fc, fr = pre.shape[1] - 1, pre.shape[2] - 1
    ncb, nrb = -(-fc // b), -(-fr // a)
    pair = np.repeat(np.arange(len(a)), ncb * nrb)
    q = np.arange(len(pair)) - np.repeat(np.cumsum(ncb * nrb) - ncb * nrb, ncb * nrb)
    j, lr = q // nrb[pair], q % nrb[pair]
    c0, r0 = j * b[pair], lr * a[pair]
    c1, r1 = np.minimum(c0 + b[pair], fc), np.minimum(r0 + a[pair], fr)
    has = (pre[:, c1, r1] - pre[:, c0, r1] - pre[:, c1, r0] + pre[:, c0, r0] > 0).sum(axis=0)
    slot = pair * 4 + (j == ncb[pair] - 1) * 2 + (lr == nrb[pair] - 1)
    return np.bincount(slot, weights=has, minlength=4 * len(a)).reshape(len(a), 2, 2)


def edges(extent: int, tile: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(tile length, how many tiles of it)]: the full tiles and the ragged last one."""
    full = extent // tile
    rem = extent - full * tile
    return [(tile, full), (np.maximum(rem, 1), (rem > 0).astype(np.int64))]


def tiling_cycles(s: FoldSchedule, groups: int, sr: np.ndarray, sc: np.ndarray, tt: np.ndarray) -> np.ndarray:
    """Compute cycles of a whole layer (all groups) tiled by tiles of ``sr`` x ``sc`` x ``tt`` along
    the rows, columns and time dims, for arrays of tilings: the sum of ``tile_cycles`` over the tiles,
    in closed form (the per-fold sum depends only on the time slice: a full and a ragged one)."""
    p, timing = s.plan, s.timing
    sr, sc, tt = (np.asarray(x, np.int64) for x in (sr, sc, tt))
    total = np.zeros(sr.shape)
    if s.regular is not None:
        q = s.regular
        for er, nr in edges(p.sr, sr):
            for ec, nc in edges(p.sc, sc):
                for et, nt in edges(p.t, tt):
                    cyc = timing.group_cycles_at(q, _scaled(er, p.sr, q.sr), _scaled(ec, p.sc, q.sc),
                                                 _scaled(et, p.t, q.t))
                    total += nr * nc * nt * cyc
        return groups * total
    # per-fold slots: one sum over the folds per distinct slice length, all lengths in one pass
    lengths = np.unique(np.concatenate([e for e, n in edges(p.t, tt)]))
    fold_t = -(-s.fold_t[None] * lengths[:, None, None] // max(p.t, 1))
    cyc = timing.fold_cycles_at(p, p.sr, p.sc, fold_t).astype(np.float64)
    if s.fold_share is not None:
        cyc = cyc * s.fold_share[None]
    slots = dict(zip(lengths.tolist(), cyc.reshape(len(lengths), -1).sum(axis=1).tolist(), strict=True))
    # tiles with work, by (last along rows?, last along cols?), per distinct (row folds, col folds)
    kr, kc = -(-sr // p.rows), -(-sc // p.cols)
    keys, where = np.unique(kr * (p.col_folds + 1) + kc, return_inverse=True)  # distinct (kr, kc) pairs
    counts = _blocks_with_work(_prefix(_work_grid(s)), keys // (p.col_folds + 1),
                               keys % (p.col_folds + 1))[where.ravel()]
    n_r, n_c = -(-p.sr // sr), -(-p.sc // sc)
    ext_r, ext_c = (sr, p.sr - (n_r - 1) * sr), (sc, p.sc - (n_c - 1) * sc)
    corners = list(itertools.product((0, 1), (0, 1)))
    slices = edges(p.t, tt)
    # every (time edge, last row block?, last column block?) tile shape in one vectorised call
    fill_drain = timing.fill_drain_cycles(
        p, np.stack([ext_r[lr] for _ in slices for lr, lc in corners]),
        np.stack([ext_c[lc] for _ in slices for lr, lc in corners]),
        np.stack([_scaled(et, p.t, s.t_ref) for et, _ in slices for _c in corners]),
    ).reshape(len(slices), len(corners), -1)
    for i, (et, nt) in enumerate(slices):
        per_slice = np.array([slots[t] for t in et.tolist()])
        for j, (lr, lc) in enumerate(corners):
            per_slice = per_slice + counts[:, lc, lr] * fill_drain[i, j]
        total += nt * per_slice
    return total


def tiled_accesses(compute: ComputeTrace, time_tiles) -> tuple[dict, dict]:
    """(sram_reads, sram_writes) when the layer runs in ``time_tiles`` slices of its time dim: the
    operand held in the PEs is loaded once per slice; held outputs are drained once per slice and
    read back for every slice after the first."""
    reads, writes = dict(compute.sram_reads), dict(compute.sram_writes)
    held = compute.plan.flow.stationary
    if held in writes:
        reads[held] = reads.get(held, 0) + writes[held] * (time_tiles - 1)
        writes[held] = writes[held] * time_tiles
    else:
        reads[held] = reads[held] * time_tiles
    return reads, writes


def time_tiles(compute: ComputeTrace, mapping: LayerMapping) -> int:
    """Slices of the time dim the array runs one group in: its innermost tier's tiles."""
    return -(-compute.plan.t // mapping.array_tile[compute.plan.flow.time_dim])


def tiled_compute(compute: ComputeTrace, mapping: LayerMapping, compute_cycles: int) -> ComputeTrace:
    """The trace of the layer as the mapping's tiles run it: their cycles (summed by the memory model),
    the reloads of the held operand (a trace without a FoldSchedule keeps its own accesses)."""
    if compute.schedule is None:
        return replace(compute, compute_cycles=int(compute_cycles))
    reads, writes = tiled_accesses(compute, time_tiles(compute, mapping))
    return replace(compute, compute_cycles=int(compute_cycles), sram_reads=reads, sram_writes=writes)
