"""Dense timing models behind one interface: cycles and SRAM accesses of one GEMM group.

``scalesim`` reproduces SCALE-Sim v2 to the cycle, conventions included: every fold pays fill and
drain, nothing overlaps between folds, and "Total Cycles" is the 0-based index of the last cycle
(count - 1).  ``accelsim`` (the default) is the timing of the Verilog arrays in ``rtl_ref/``,
checked against them by tests; where it differs from SCALE-Sim is written next to its formula.
``stonne_mesh`` is STONNE's TPU-like output-stationary mesh (commit 22634b8), tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accelsim.registry import DATAFLOWS, TIMING_MODELS
from accelsim.sim.dataflows.base import FoldPlan


@dataclass(frozen=True)
class SramAccesses:
    """Word accesses of one GEMM group to the on-chip buffers, per operand."""

    inputs_reads: int
    weights_reads: int
    outputs_writes: int
    outputs_reads: int = 0


@dataclass(frozen=True)
class TimingModel:
    name: str
    description: str
    models_stalls: bool = True  # False: stall-free like SCALE-Sim's CALC mode (no memory model run)

    def fold_cycles(self, plan: FoldPlan) -> int:
        raise NotImplementedError

    def group_cycles(self, plan: FoldPlan) -> int:
        """Cycles of one GEMM group, all folds, counted (not indexed)."""
        raise NotImplementedError

    def layer_cycles(self, plan: FoldPlan, groups: int) -> int:
        """Cycles of a layer of ``groups`` identical GEMM groups run one after another."""
        return groups * self.group_cycles(plan)

    def sram_accesses(self, plan: FoldPlan, m: int, n: int, k: int) -> SramAccesses:
        raise NotImplementedError

    # Vectorised forms for costing tiles (``dataflows/compute.py``): ``plan`` with (Sr, Sc, T) set to
    # each entry of the broadcast arrays; 0 where one of them is 0 (an empty tile).  A model may
    # override them with closed forms; these call the scalar methods once per distinct tile shape.

    def fold_cycles_at(self, plan: FoldPlan, sr, sc, t) -> np.ndarray:
        return _per_shape(self.fold_cycles, plan, sr, sc, t)

    def group_cycles_at(self, plan: FoldPlan, sr, sc, t) -> np.ndarray:
        return _per_shape(self.group_cycles, plan, sr, sc, t)

    def fill_drain_cycles(self, plan: FoldPlan, sr, sc, t) -> np.ndarray:
        """What a tile of (Sr, Sc, T) costs beyond its folds' slots, paid once per tile:
        ``group_cycles - folds * fold_cycles``."""
        folds = -(-np.asarray(sr) // plan.rows) * -(-np.asarray(sc) // plan.cols)
        return self.group_cycles_at(plan, sr, sc, t) - folds * self.fold_cycles_at(plan, sr, sc, t)


def _per_shape(cycles, plan: FoldPlan, sr, sc, t) -> np.ndarray:
    sr, sc, t = np.broadcast_arrays(*(np.asarray(x, np.int64) for x in (sr, sc, t)))
    shapes, where = np.unique(np.stack([sr.ravel(), sc.ravel(), t.ravel()], 1), axis=0, return_inverse=True)
    per = [cycles(replace(plan, sr=a, sc=b, t=c)) if min(a, b, c) > 0 else 0 for a, b, c in shapes.tolist()]
    return np.asarray(per, np.int64)[where.ravel()].reshape(sr.shape)


def _scalesim_fold_cycles(plan: FoldPlan) -> int:
    r, c, t = plan.rows, plan.cols, plan.t
    if plan.flow.outputs_stationary:  # results drain through the array
        return t + r + c - 2
    return 2 * r + c + t - 2  # the stationary operand is loaded first


def _base_accesses(plan: FoldPlan, m: int, n: int, k: int) -> tuple[int, int, int]:
    """SCALE-Sim's counts: each operand once per fold of the dim it does not index (base.py)."""
    return m * k * plan.passes("inputs"), k * n * plan.passes("weights"), m * n * plan.passes("outputs")


@dataclass(frozen=True)
class ScaleSimTiming(TimingModel):
    def fold_cycles(self, plan: FoldPlan) -> int:
        return _scalesim_fold_cycles(plan)

    def group_cycles(self, plan: FoldPlan) -> int:
        return plan.folds * self.fold_cycles(plan)

    def layer_cycles(self, plan: FoldPlan, groups: int) -> int:
        # SCALE-Sim's "Total Cycles" is the index of the last cycle, one less than the count; a
        # depthwise layer runs as one SCALE-Sim layer per channel, each reporting its own index.
        return groups * (self.group_cycles(plan) - 1)

    def sram_accesses(self, plan: FoldPlan, m: int, n: int, k: int) -> SramAccesses:
        ins, wts, outs = _base_accesses(plan, m, n, k)
        if plan.flow.outputs_stationary:
            outs += plan.folds * (plan.rows + plan.cols)  # SCALE-Sim counts out-of-edge drain slots
        return SramAccesses(ins, wts, outs)

    def compute_fold_cycles(self, plan: FoldPlan) -> int:
        """The fold length SCALE-Sim's compute utilization divides by (not outputs stationary: C - 1
        more)."""
        r, c, t = plan.rows, plan.cols, plan.t
        return t + r + c - 2 if plan.flow.outputs_stationary else 2 * r + 2 * c + t - 3


def accelsim_total_cycles(dataflow: str, rows: int, cols: int, sr: int, sc: int, t: int) -> int:
    """Cycles of one GEMM group on the rtl_ref arrays, counted (rtl_ref/README.md has the design).

        P = max(T, R)                 fold slot: folds are pipelined back to back
        c_last = Sc - (col_folds - 1) * C
        W = c_last, or max(c_last, C - row_folds * P) when col_folds > 1   (the skew tail)
        outputs stationary (os):  F * P + 2R + W
        otherwise (ws, is):       (F - 1) * P + T + 2R + W

    Where it differs from SCALE-Sim: the next fold's weights load while the current fold streams
    (shadow weight registers; os: double-buffered accumulators drain while the next fold computes),
    so every fold after the first costs max(T, R) instead of a whole fill and drain; a count, not a
    last-cycle index; the tail is the columns actually used, not the padded array.
    """
    if min(rows, cols, sr, sc, t) < 1:
        raise ValueError(f"all of rows, cols, sr, sc, t must be >= 1, got {(rows, cols, sr, sc, t)}")
    return int(_accelsim_cycles(DATAFLOWS.get(dataflow).outputs_stationary, rows, cols, sr, sc, t))


def _accelsim_cycles(outputs_stationary: bool, rows: int, cols: int, sr, sc, t):
    """accelsim_total_cycles over arrays of (Sr, Sc, T), each >= 1."""
    row_folds, col_folds = -(-sr // rows), -(-sc // cols)
    folds = row_folds * col_folds
    period = np.maximum(t, rows)
    tail = sc - (col_folds - 1) * cols
    tail = np.where(col_folds > 1, np.maximum(tail, cols - row_folds * period), tail)
    if outputs_stationary:
        return folds * period + 2 * rows + tail
    return (folds - 1) * period + t + 2 * rows + tail


@dataclass(frozen=True)
class AccelsimTiming(TimingModel):
    def fold_cycles(self, plan: FoldPlan) -> int:
        """The steady-state cost of one more fold: its slot in the pipeline."""
        return max(plan.t, plan.rows)

    def group_cycles(self, plan: FoldPlan) -> int:
        return accelsim_total_cycles(plan.dataflow, plan.rows, plan.cols, plan.sr, plan.sc, plan.t)

    def fold_cycles_at(self, plan: FoldPlan, sr, sc, t) -> np.ndarray:
        sr, sc, t = np.broadcast_arrays(*(np.asarray(x, np.int64) for x in (sr, sc, t)))
        return np.where((sr > 0) & (sc > 0) & (t > 0), np.maximum(t, plan.rows), 0)

    def group_cycles_at(self, plan: FoldPlan, sr, sc, t) -> np.ndarray:
        sr, sc, t = np.broadcast_arrays(*(np.asarray(x, np.int64) for x in (sr, sc, t)))
        empty = (sr < 1) | (sc < 1) | (t < 1)
        one = np.ones_like(sr)
        full = _accelsim_cycles(plan.flow.outputs_stationary, plan.rows, plan.cols,
                                np.where(empty, one, sr), np.where(empty, one, sc), np.where(empty, one, t))
        return np.where(empty, 0, full)

    def sram_accesses(self, plan: FoldPlan, m: int, n: int, k: int) -> SramAccesses:
        ins, wts, outs = _base_accesses(plan, m, n, k)
        # Partial sums of all but the first fold of K are read back to be accumulated (none when K
        # is in time: the sums stay in the PEs).
        psum_reads = m * n * (plan.folds_of("k") - 1)
        return SramAccesses(ins, wts, outs, psum_reads)


@dataclass(frozen=True)
class StonneMeshTiming(TimingModel):
    """STONNE's TPU-like OS mesh (``-mn_type=OS_MESH -mem_ctrl=TPU_OS_DENSE``, commit 22634b8), exact.

    Tiles run M-outer, N-inner with no overlap; a tile on r x c PEs (the rows and columns it
    uses: the last tile of a dim uses what is left) costs

        T + r + c + 3 = 1 configuration cycle + T steps issued one per cycle + (r - 1) + (c - 1)
                        skew to the far PE + 4 (distribution hop, MAC, collection, SRAM write)

    so a GEMM costs folds * (T + 3) + col_folds * Sr + row_folds * Sc, which is
    ceil(M/R) * ceil(N/C) * (K + R + C + 3) when R divides M and C divides N.  It assumes the
    read ports feed every edge PE each cycle (dn_bw >= R + C).  STONNE's mesh is output
    stationary only; for a dataflow that preloads its stationary operand the tile pays r more
    cycles to shift it in (as in SCALE-Sim), an extrapolation no STONNE run checks.  No stalls are
    modelled: STONNE runs with every operand already in its global buffer.
    """

    def _tile(self, plan: FoldPlan, rows_used: int, cols_used: int) -> int:
        preload = 0 if plan.flow.outputs_stationary else rows_used
        return plan.t + rows_used + cols_used + 3 + preload

    def fold_cycles(self, plan: FoldPlan) -> int:
        """The last (smallest) tile; ``group_cycles`` adds what the others cost more."""
        return self._tile(plan, plan.sr - (plan.row_folds - 1) * plan.rows,
                          plan.sc - (plan.col_folds - 1) * plan.cols)

    def group_cycles(self, plan: FoldPlan) -> int:
        rows_per_tile = 1 if plan.flow.outputs_stationary else 2  # skew, and the preload if any
        return plan.folds * (plan.t + 3) + rows_per_tile * plan.col_folds * plan.sr + plan.row_folds * plan.sc

    def sram_accesses(self, plan: FoldPlan, m: int, n: int, k: int) -> SramAccesses:
        return SramAccesses(*_base_accesses(plan, m, n, k))  # every K step reads its r inputs and c weights


TIMING_MODELS.add("scalesim", ScaleSimTiming(
    "scalesim", "SCALE-Sim v2 to the cycle: per-fold fill and drain, Total Cycles = last-cycle index",
    models_stalls=False))
TIMING_MODELS.add("accelsim", AccelsimTiming(
    "accelsim", "the timing of the rtl_ref Verilog arrays, checked against Icarus Verilog"))
TIMING_MODELS.add("stonne_mesh", StonneMeshTiming(
    "stonne_mesh", "STONNE's TPU-like OS mesh (commit 22634b8) to the cycle: T + r + c + 3 a tile",
    models_stalls=False))
