"""sparten_compute(): SparTen's bitmask inner join (Gondimalla et al., MICRO 2019) on the real weight
mask and the layer's input activation mask (two_sided.input_mask).

Each compute unit (CU) of the rows x cols grid computes one output: the sparse dot product of an
input fiber A[m, :] (the im2col view, K in (r, s, c) order) and a filter W[:, n], both stored as
bitmasks with their nonzeros, ``chunk`` positions at a time.  Per chunk it ANDs the two bitmasks,
prefix-sums each to find the matching values, and does one MAC per match, one match per cycle;
a chunk with no match still takes its cycle (the AND and the empty test):

    CU cycles = sum over chunks of max(1, |nz(A[m] chunk) & nz(W[n] chunk)|)       (exact, popcount)

A row of CUs (a cluster) shares one broadcast input fiber, each CU with its own filter (the ``os``
row: M on rows, N on columns, K in time).  A fold of rows x cols outputs lasts its slowest CU, and
folds run one after another (the sum over folds of their slowest CU; load_imbalance = that over the
sum of the folds' mean CU).  Greedy balancing (``balance: greedy``, SparTen's software variant GB-S)
sorts the filters by their nonzeros before they are dealt to the columns, so each fold's CUs hold
filters of similar density and finish together; ``none`` keeps the model's order.  (SparTen's
hybrid GB-H balances at finer grain in hardware: not modelled.)
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dataflows.base import plan_folds
from accelsim.sim.dataflows.two_sided import DatapathTrace, im2col, input_mask
from accelsim.sim.dataflows.two_sided_kernels import fold_slowest, pack_bits
from accelsim.sim.traces import Action, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.pe_array import InnerJoinPEArray
from accelsim.workload.layer import Layer


def chunk_join_cycles(a: np.ndarray, w: np.ndarray, chunk: int, block: int = 256) -> np.ndarray:
    """int64 [M, N]: sum over chunks of max(1, matches) for every (input fiber, filter) pair.
    ``a`` bool [M, K], ``w`` bool [K, N]."""
    m, k = a.shape
    n = w.shape[1]
    chunks = max(1, -(-k // chunk))
    pad = chunks * chunk
    a_p = np.zeros((m, pad), bool)
    a_p[:, :k] = a
    w_p = np.zeros((n, pad), bool)
    w_p[:, :k] = w.T
    words = -(-chunk // 64)
    a_words = pack_bits(a_p.reshape(m * chunks, chunk)).reshape(m, chunks, words)
    w_words = pack_bits(w_p.reshape(n * chunks, chunk)).reshape(n, chunks, words)
    out = np.empty((m, n), np.int64)
    for i in range(0, m, block):
        both = a_words[i:i + block, None] & w_words[None]  # [b, N, chunks, words]
        matches = np.bitwise_count(both).sum(axis=3, dtype=np.int64)
        out[i:i + block] = np.maximum(matches, 1).sum(axis=2)
    return out


def balanced_order(w: np.ndarray, balance: str) -> np.ndarray:
    """The order the filters (columns of ``w`` bool [K, N]) are dealt to the CUs."""
    if balance == "greedy":
        return np.argsort(-w.sum(axis=0), kind="stable")
    return np.arange(w.shape[1])


def sparten_compute(layer: Layer, hw: HardwareConfig, timing=None,
                    storage: dict[str, StorageBreakdown] | None = None) -> DatapathTrace:
    """The DatapathTrace of ``layer`` on ``hw``'s inner-join CUs (module docstring)."""
    pe: InnerJoinPEArray = hw.pe_array
    w_skip, in_skip = hw.sparsity.weights.skip, hw.sparsity.inputs.skip
    mask, synthetic = input_mask(layer)
    a_all = im2col(layer, mask)
    w_all = layer.gemm_weight_mask()  # [g, K, N]
    cycles, mean_sum, useful, issued, joins = 0, 0.0, 0, 0, 0
    for a, w in zip(a_all, w_all, strict=True):
        a_eff = a if in_skip == "skip" else np.ones_like(a)
        w_eff = w if w_skip == "skip" else np.ones_like(w)
        w_eff = w_eff[:, balanced_order(w_eff, pe.balance)]
        work = chunk_join_cycles(a_eff, w_eff, pe.chunk)  # [M, N]: rows M, cols N (the os row)
        slow = fold_slowest(work, pe.rows, pe.cols)
        cycles += int(slow.sum())
        mean_sum += float(work.sum()) / (pe.rows * pe.cols)
        issued += int((a_eff.astype(np.int64).sum(axis=0) * w_eff.sum(axis=1)).sum())
        useful += int((a.astype(np.int64).sum(axis=0) * w.sum(axis=1)).sum())
        joins += a.shape[0] * w.shape[1] * max(1, -(-a.shape[1] // pe.chunk))
    gated = issued - useful if "gate" in (w_skip, in_skip) else 0
    nonzero = issued - gated
    plan = plan_folds(pe.dataflow, pe.rows, pe.cols, layer.m, layer.n, layer.k)
    g = layer.groups
    a_words = int(a_all.sum()) if in_skip == "skip" else a_all.size
    w_words = int(w_all.sum()) if w_skip == "skip" else w_all.size
    reads = {"inputs": a_words * plan.col_folds, "weights": w_words * plan.row_folds, "outputs": 0}
    bits, acc = pe.precision_bits, pe.accumulator_bits
    used_rows, used_cols = plan.sr / plan.row_folds, plan.sc / plan.col_folds
    held = next((lv.name for lv in hw.memories if lv.per_pe and "outputs" in lv.holds), None)
    hops = round(reads["inputs"] * used_cols + reads["weights"] * used_rows)  # broadcast along rows / columns
    actions = [Action("noc", "noc", hops, bits), Action("pe_array", "pipeline_reg", hops, bits),
               Action("sparse_logic", "intersection", joins),
               Action(held, "rf_access", 2 * nonzero, acc) if held
               else Action("pe_array", "pipeline_reg", nonzero, acc)]
    notes = [f"SparTen: {pe.rows}x{pe.cols} CUs, {pe.chunk}-position chunks, {joins:,} chunk joins; filters"
             f" {'sorted by density (greedy balancing)' if pe.balance == 'greedy' else 'in model order'};"
             f" slowest CU {cycles / max(mean_sum, 1e-9):.2f}x the mean"]
    if synthetic:
        notes.append(synthetic)
    return DatapathTrace(
        plan=plan, compute_cycles=cycles, macs_dense=layer.macs, macs_issued=issued, macs_gated=gated,
        macs_skipped=layer.macs - issued, load_imbalance=cycles / mean_sum if mean_sum else 1.0,
        sram_reads=reads, sram_writes={"outputs": layer.m * layer.n * g}, notes=tuple(notes),
        datapath_actions=tuple(actions))
