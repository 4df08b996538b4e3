"""flexible_compute(): the ComputeTrace of one layer on a flexible array (``pe_array.multipliers``,
spec/pe_array.py), timed by its distribution and reduction networks (flexible.py).

The controller follows from ``sparsity.weights.skip``:

* ``skip``: SIGMA's sparse GEMM, group by group: A = the weights as [N filters x K] (the layer's
  real mask; stationary), B = the activations [K x M] (streamed).  STONNE sends every element of B
  a stationary nonzero needs, zero or not, so B's zeros change its buffer reads (with a compressed
  input format: x stored / dense, from the expected density), never the cycles;
* ``none`` or ``gate``: MAERI's dense GEMM on (M, N, K) with ``pe_array.tile``: A = the
  activations, B = the weights; every group takes the same cycles.

Cycles: the runs' cycles summed over the groups.  MACs issued = stationary values x M (SIGMA: the
weights' nonzeros; MAERI: every MAC); with weights skip: gate those of a zero weight are gated, with
inputs skip: gate the expected zero-input share of the rest.  Buffer reads: weights = their stored
words (a stationary operand is read once); inputs = the streamed reads x stored / dense;
outputs = the partial sums read back (SIGMA's folded rows); writes = the results written.
``plan`` is the dense plan of the array's weight-stationary row with K on ``multipliers`` and N on 1
(SIGMA) or K on T_K and N on T_N (MAERI's tile): it aligns the mapping's tiles and prices the NoC
hops (sim/actions.py).  No per-fold cycles: the memory model spreads the layer's evenly over its
folds.  Notes: the controller, its reconfigurations, the packages the distribution network
delivered (multicast copies among them), and the network (or the stream itself) that bounded most
cycles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from accelsim.sim.dataflows.base import DATAFLOWS, plan_folds
from accelsim.sim.dataflows.flexible import FlexibleArray, GemmTile, maeri_dense_gemm, sigma_sparse_gemm
from accelsim.sim.dataflows.row_stationary_compute import row_stationary_compute
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.dataflows.two_sided_stage import two_sided_stage
from accelsim.sim.storage import storage_of, weight_fibers
from accelsim.sim.traces import ComputeTrace, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.pe_array import FlexiblePEArray, RowStationaryPEArray
from accelsim.workload.layer import Layer


def compute_stage(hw: HardwareConfig) -> Callable[..., ComputeTrace]:
    """The compute stage of ``hw``'s array: flexible_compute for a flexible array, row_stationary_compute
    for a row-stationary one, a two-sided datapath's own (SCNN, SparTen), else sparse_compute."""
    if isinstance(hw.pe_array, RowStationaryPEArray):
        return row_stationary_compute
    own = two_sided_stage(hw)
    if own is not None:
        return own
    return flexible_compute if isinstance(hw.pe_array, FlexiblePEArray) else sparse_compute


def flexible_compute(layer: Layer, hw: HardwareConfig, timing: TimingModel | None = None,
                     storage: dict[str, StorageBreakdown] | None = None) -> ComputeTrace:
    """The ComputeTrace of ``layer`` on ``hw``'s flexible array (module docstring); ``timing`` is not
    used (the networks give the cycles), ``storage`` is the layer's ``storage_of``."""
    pe, w_sp, in_sp = hw.pe_array, hw.sparsity.weights, hw.sparsity.inputs
    g, m, n, k = layer.groups, layer.m, layer.n, layer.k
    array = FlexibleArray(pe.multipliers, pe.distribution_ports, pe.reduction_ports)
    storage = storage if storage is not None else storage_of(layer, hw)
    mask = weight_fibers(layer).reshape(g, n, k)
    if w_sp.skip == "skip":
        controller, widths = "SIGMA", (pe.multipliers, 1)
        stream = np.ones((k, m), bool)
        runs = [sigma_sparse_gemm(a, stream, array) for a in mask]
    else:
        controller, widths = "MAERI", (pe.tile[2], pe.tile[1])
        runs = [maeri_dense_gemm(m, n, k, array, GemmTile(*pe.tile))] * g
    stationary = sum(r.sram_reads["stationary"] for r in runs)
    issued = stationary * m
    gated = (stationary - int(np.count_nonzero(mask))) * m if w_sp.skip == "gate" else 0
    if in_sp.skip == "gate":
        gated += round((issued - gated) * (1.0 - float(layer.activation_density)))
    w_store, ins = storage["weights"], storage["inputs"]
    w_ratio = w_store.data_bits / w_store.dense_bits if w_store.dense_bits else 1.0
    in_ratio = ins.data_bits / ins.dense_bits if in_sp.format != "dense" and ins.dense_bits else 1.0
    cycles = sum(r.cycles for r in runs)
    bound = {net: sum(r.bound_cycles[net] for r in runs) for net in runs[0].bound_cycles}
    top = max(bound, key=bound.get)
    delivered = sum(r.packages_delivered for r in runs)
    copies = delivered - sum(r.packages_issued for r in runs)
    configs = sum(r.reconfigurations for r in runs)
    note = (f"{controller} on {pe.multipliers} multipliers: configured {configs:,}x,"
            f" {delivered:,} packages delivered by {pe.distribution_ports} distribution ports ({copies:,}"
            f" multicast copies); {top} bound {bound[top] / max(cycles, 1):.0%} of the cycles")
    rows, cols = widths if DATAFLOWS.get(pe.dataflow).axis("k") == "rows" else widths[::-1]
    return ComputeTrace(
        plan=plan_folds(pe.dataflow, rows, cols, m, n, k), compute_cycles=int(cycles),
        macs_dense=layer.macs, macs_issued=int(issued), macs_gated=int(gated),
        macs_skipped=int(layer.macs - issued), load_imbalance=1.0,
        sram_reads={"inputs": round(sum(r.sram_reads["streamed"] for r in runs) * in_ratio),
                    "weights": round(g * k * n * w_ratio),
                    "outputs": sum(r.sram_reads["psums"] for r in runs)},
        sram_writes={"outputs": sum(r.sram_writes for r in runs)}, notes=(note,))
