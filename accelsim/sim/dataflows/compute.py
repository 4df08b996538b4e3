"""ComputeTrace: what the array does for one layer — cycles, MACs by fate, buffer accesses.

The dense path is closed-form (the timing model's formulas); mask-aware paths plug in beside it.
"""

from __future__ import annotations

from accelsim.sim.dataflows.base import plan_folds
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.traces import ComputeTrace
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer


def dense_compute(layer: Layer, hw: HardwareConfig, timing: TimingModel) -> ComputeTrace:
    """Every MAC slot of the GEMM is issued; the timing model gives the cycles."""
    pe = hw.pe_array
    plan = plan_folds(pe.dataflow, pe.rows, pe.cols, layer.m, layer.n, layer.k)
    acc = timing.sram_accesses(plan, layer.m, layer.n, layer.k)
    g = layer.groups
    fold = timing.fold_cycles(plan)
    first = timing.group_cycles(plan) - (plan.folds - 1) * fold  # fill and drain ride on the first fold
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
        tile_cycles=(first,) + (fold,) * (plan.folds - 1),
    )
