"""Dense timing models behind one interface: cycles and SRAM accesses of one GEMM group.

``scalesim`` reproduces SCALE-Sim v2 to the cycle, conventions included: every fold pays fill and
drain, nothing overlaps between folds, and "Total Cycles" is the 0-based index of the last cycle
(count - 1).  ``accelsim`` (the default) is the timing of the Verilog arrays in ``rtl_ref/``,
checked against them by tests; where it differs from SCALE-Sim is written next to its formula.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    row_folds, col_folds = -(-sr // rows), -(-sc // cols)
    folds = row_folds * col_folds
    period = max(t, rows)
    tail = sc - (col_folds - 1) * cols
    if col_folds > 1:
        tail = max(tail, cols - row_folds * period)
    if DATAFLOWS.get(dataflow).outputs_stationary:
        return folds * period + 2 * rows + tail
    return (folds - 1) * period + t + 2 * rows + tail


@dataclass(frozen=True)
class AccelsimTiming(TimingModel):
    def fold_cycles(self, plan: FoldPlan) -> int:
        """The steady-state cost of one more fold: its slot in the pipeline."""
        return max(plan.t, plan.rows)

    def group_cycles(self, plan: FoldPlan) -> int:
        return accelsim_total_cycles(plan.dataflow, plan.rows, plan.cols, plan.sr, plan.sc, plan.t)

    def sram_accesses(self, plan: FoldPlan, m: int, n: int, k: int) -> SramAccesses:
        ins, wts, outs = _base_accesses(plan, m, n, k)
        # Partial sums of all but the first fold of K are read back to be accumulated (none when K
        # is in time: the sums stay in the PEs).
        psum_reads = m * n * (plan.folds_of("k") - 1)
        return SramAccesses(ins, wts, outs, psum_reads)


TIMING_MODELS.add("scalesim", ScaleSimTiming(
    "scalesim", "SCALE-Sim v2 to the cycle: per-fold fill and drain, Total Cycles = last-cycle index",
    models_stalls=False))
TIMING_MODELS.add("accelsim", AccelsimTiming(
    "accelsim", "the timing of the rtl_ref Verilog arrays, checked against Icarus Verilog"))
