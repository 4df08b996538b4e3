"""sparse_compute(): cycles, MACs and buffer accesses of one layer on a sparse datapath, from the
real weight mask.  The dims table is dataflows/base.py's; every rule below follows from where a
dataflow puts N (the filters, one weight fiber each) and K (the reduction the mask compresses).

Which datapath (decided from ``hw.sparsity.weights`` and the layer's ``pattern`` label):

=========================  =====================================================================
weights config             datapath
=========================  =====================================================================
skip: none                 dense array.  With inputs skip: none too this is exactly dense_compute.
skip: gate                 zero-gated array (Eyeriss): dense cycles exactly; MACs whose weight is
                           zero are issued but gated (cheaper, no cycle saved).
format: nm, skip: skip     N:M tensor core (A100): every M-wide group along K takes N slots, so K
                           shrinks to ceil(K/M)*N in a regular schedule.  A mask with more than N
                           nonzeros in some group does not fit: the layer runs dense (not gated)
                           with the note "mask is not 2:4 along C ...: ran dense".
array_rows format,         arrays of equal-length compressed filters (formats/campfire.py:
skip: skip                 window_nm, channel_gather; formats/nm_flex.py): K shrinks to the
                           format's ``array_rows`` (window: m * ceil(R*S / bus) * C; channel: R*S *
                           the window rows of its channel blocks; flexible N:M: the layer's N *
                           ceil(K / M)) in a regular schedule, for every mask (a dense one too: the
                           rows are what the RTL runs).  Inputs are read as dense (each row bus
                           reads its window, block or group once per step).
skip: skip, other format   skip array.  The pattern label picks the granularity if it is in
                           ``exploits``: window (m slots per nonempty R*S window, m = the most
                           nonzeros any window holds), channel / kernel (R*S slots per nonempty
                           window), vector (S per nonempty kernel row), block (b_c slots per
                           nonempty b_r x b_c block of the hardware's ``block``), combined (window
                           and channel), filter / input_channel (the layer compacted to its
                           nonzero filters / reduction rows: a smaller dense GEMM), unstructured
                           (one slot per nonzero).  A pattern not exploited falls back to
                           unstructured if that is exploited, else runs dense with its zeros gated
                           and a note.  A mask with zeros but the label "dense" (a user's model
                           without a recipe) counts as unstructured.  A layer whose weights the
                           format stores with no index (``window`` on a 1x1 conv) cannot have
                           its zeros located: it runs dense, zeros gated, with a note.
=========================  =====================================================================

A dense mask gives exactly the dense cycles on every datapath.  Irregular schedules, by where N
and K sit (a unit is the PEs of one filter, or in the last case of one K position; work = issued
weight slots):

* N spatial, K in time (os): a fold's time T' = the slowest filter's work (its slots along K).
* N and K spatial (ws): each filter's slots are packed along the K axis; a fold of filters needs
  ceil(max work / PEs along K) K folds, each streaming M; the shorter filters' PEs idle.  Folds
  not needed take 0 cycles.
* N in time, K spatial (is): a fold's time T' = the slowest K position's work (filters needing it).

Fill and drain.  Regular datapaths (dense, gated, N:M, compacted) are a dense schedule of
compressed dims: ``timing.layer_cycles`` of that FoldPlan (the model's own fill, drain and fold
overlap), so a dense mask is exact by construction.  Irregular schedules: every fold that has work
costs ``timing.fold_cycles`` of the plan with its T' as the time dim (its steady-state slot;
SCALE-Sim: T' + its own fill and drain), a fold with no work is dropped, and each group that runs
pays the dense schedule's fill and drain once more: ``group_cycles - folds * fold_cycles`` of the
dense plan (0 for SCALE-Sim, whose folds never overlap; with M in time, the streamed M it really
runs).
That term does not depend on the mask, so cycles never fall when nonzeros are added, and a mask
whose every fold keeps the dense T' costs exactly the dense cycles.  ``plan`` of the trace is
always the dense plan of the layer (the mapper tiles the layer's own dims); its ``schedule``
(FoldSchedule) says what a tile costs (dataflows/compute.py): a regular datapath's compressed
plan, or an irregular one's T' per dense fold of each group (column fold outer, dropped folds 0;
with M in time a fold of packed filters is spread evenly over the dense K folds of its filters).

MACs: issued = slots x the streamed rows (issued + skipped = dense); a slot holding a stored zero
(window/block padding, a zero in a gated array) is issued and gated.  Inputs (activations, only a
density known): ``skip: gate`` gates the expected (1 - d) share of the issued nonzero-weight MACs;
``skip: skip`` issues the expected d share and shortens each PE's streamed work to ceil(d * work)
when inputs stream (a zero stationary input only idles its PE); notes say it is an expectation.
``load_imbalance`` = sum over folds of (slowest unit x units) / total work (1.0 when balanced).
Output writes and partial-sum reads: as dense when outputs are stationary; else one write per
(K fold run, filter) and a read back for all but a filter's first.  Buffer reads: weights x (stored
data / dense data); inputs x (reduction positions some filter of the fold needs / K) x (stored /
dense activations for a compressed input format).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.dataflows import kernels
from accelsim.sim.dataflows.base import FoldPlan, plan_folds
from accelsim.sim.dataflows.compute import dense_compute, tile_cycles
from accelsim.sim.dataflows.input_skip import step_fraction, steps_kept
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.dataflows.two_sided import im2col
from accelsim.sim.dataflows.two_sided_kernels import fold_slowest, intersection_counts, pack_bits
from accelsim.sim.formats import Geometry, get_format
from accelsim.sim.storage import storage_of, weight_fibers, weight_geometry
from accelsim.sim.traces import ComputeTrace, FoldSchedule, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.recipe import PatternSpec
from accelsim.workload.layer import Layer

_GRANULARITY = {"unstructured": "element", "window": "window", "combined": "window", "channel": "channel",
                "kernel": "channel", "vector": "vector", "block": "block", "filter": "compact",
                "input_channel": "compact"}
_REGULAR = ("dense", "gate", "nm", "compact", "rows")
_LOCATED = ("element", "window", "channel", "vector", "block")  # skip granularities that need an index


def pattern_kind(label: PatternSpec | str) -> str:
    """'nm2:4' -> 'nm', 'block4x4' -> 'block', '' -> 'dense', anything else as written."""
    return PatternSpec.parse(label or "dense").kind


def choose_datapath(layer: Layer, hw: HardwareConfig, fit_problem: str | None,
                    mask_dense: bool) -> tuple[str, str | None]:
    """(granularity, note): dense / gate / nm / element / window / channel / vector / block / compact."""
    s = hw.sparsity.weights
    if s.skip == "none":
        return "dense", None
    if s.skip == "gate":
        return "gate", None
    if hasattr(SPARSE_FORMATS.get(s.format), "array_rows"):  # its own schedule, dense masks included
        return "rows", None
    if layer.weight_mask is None or mask_dense:
        return "dense", None
    if s.format == "nm":
        return ("nm", None) if fit_problem is None else ("dense", f"{fit_problem}: ran dense")
    kind = pattern_kind(layer.pattern)
    if kind == "dense":  # zeros but no pattern label (a user's model, exact zeros): no known structure
        kind = "unstructured"
    ex = set(s.exploits)
    usable = kind in ex or (kind == "combined" and {"window", "channel"} <= ex) or (
        kind == "kernel" and "channel" in ex)
    if usable and kind in _GRANULARITY:
        return _GRANULARITY[kind], None
    if "unstructured" in ex:
        return "element", None
    return "gate", (f"pattern {str(layer.pattern)!r} is not exploited by this datapath (exploits "
                    f"{', '.join(s.exploits)}): ran dense, zero weights gated")


@dataclass(frozen=True)
class _Work:
    """Issued weight slots of one layer: per filter (``cols`` [g, N]) and per reduction position
    (``rows`` [g, K]); ``issued`` [g, N, Q] / ``sizes`` [Q] say which reduction positions a filter
    needs (for the input reads); ``dims`` (K', N') instead for regular schedules."""

    cols: np.ndarray | None = None
    rows: np.ndarray | None = None
    issued: np.ndarray | None = None
    sizes: np.ndarray | None = None
    dims: tuple[int, int] | None = None


def _work(gran: str, mask: np.ndarray | None, shape: tuple[int, int, int], layer: Layer,
          hw: HardwareConfig) -> _Work:
    """``mask``: uint8 [g, N, K] (filters as fibers), None for the granularities that need only its
    ``shape`` (dense, gate, nm)."""
    g, n, k = shape
    if gran in ("dense", "gate"):
        return _Work(dims=(k, n))
    if gran == "nm":
        keep, m = hw.sparsity.weights.nm
        return _Work(dims=(-(-k // m) * keep, n))
    if gran == "rows":  # an array of equal-length compressed filters (formats/campfire.py)
        fmt = get_format(hw.sparsity.weights.format, hw.sparsity.weights.options)
        return _Work(dims=(fmt.array_rows(mask.reshape(g * n, k), Geometry(*weight_geometry(layer))), n))
    if gran == "compact":
        rows_kept = int(np.count_nonzero(mask.any(axis=1), axis=1).max())
        cols_kept = int(np.count_nonzero(mask.any(axis=2), axis=1).max())
        return _Work(dims=(rows_kept, cols_kept))
    if gran == "element":
        cols, rows = kernels.fiber_sums(mask)
        return _Work(cols=cols, rows=rows, issued=mask, sizes=np.ones(k, np.int64))
    rs, c = weight_geometry(layer)
    kidx = np.arange(k, dtype=np.int64)
    if gran in ("window", "channel"):
        gid, sizes = kidx % c, np.full(c, rs, np.int64)
    elif gran == "vector":
        s_w = layer.conv.kernel_w if layer.conv is not None else 1
        gid, sizes = (kidx // (s_w * c)) * c + kidx % c, np.full(k // s_w, s_w, np.int64)
    else:  # block: b_r filters x b_c reduction positions
        br, bc = hw.sparsity.weights.block
        mask = kernels.block_rows_any(mask, br)
        gid = kidx // bc
        sizes = np.minimum(bc, k - np.arange(0, k, bc, dtype=np.int64))
    anyq = kernels.group_any(mask, gid, len(sizes))
    if gran == "window":  # m slots per nonempty window; a PE row in `is` sees the kept positions
        m = int(mask.reshape(g, n, rs, c).sum(axis=2, dtype=np.int64).max())
        cols, rows = kernels.fiber_sums(anyq)
        rows = kernels.fiber_sums(mask)[1]
        return _Work(cols=cols * m, rows=rows, issued=mask, sizes=np.ones(k, np.int64))
    cols = anyq @ sizes  # [g, N]
    rows = kernels.fiber_sums(anyq)[1][:, gid]
    return _Work(cols=cols, rows=rows, issued=anyq, sizes=sizes)


def _widths(total: int, width: int) -> np.ndarray:
    return np.minimum(width, total - np.arange(0, total, width, dtype=np.int64))


def sparse_compute(layer: Layer, hw: HardwareConfig, timing: TimingModel,
                   storage: dict[str, StorageBreakdown] | None = None) -> ComputeTrace:
    """The ComputeTrace of ``layer`` on ``hw`` with its real mask (see the module docstring);
    ``storage`` is the layer's ``storage_of`` (the simulator hands it in; made here if absent)."""
    w_sp, in_sp = hw.sparsity.weights, hw.sparsity.inputs
    if w_sp.skip == "none" and in_sp.skip == "none":
        return dense_compute(layer, hw, timing)
    pe = hw.pe_array
    g, m, n, k = layer.groups, layer.m, layer.n, layer.k
    nnz = g * n * k if layer.weight_mask is None else layer.weight_nonzeros
    storage = storage if storage is not None else storage_of(layer, hw)
    w_store, ins = storage["weights"], storage["inputs"]
    gran, note = choose_datapath(layer, hw, w_store.fit_problem, nnz == g * n * k)
    if gran in _LOCATED and not w_store.metadata_bits and w_store.data_bits >= w_store.dense_bits:
        # every weight stored, zeros too, and no index: nothing tells the datapath where the zeros are
        gran, note = "gate", (f"format {w_sp.format} stores this layer's weights with no index, so the"
                              " datapath cannot locate their zeros: ran dense, zero weights gated")
    notes = [note] if note else []
    # the mask's positions, where the schedule depends on them (a bit-packed mask is unpacked only then)
    mask = None if gran in ("dense", "gate", "nm") else weight_fibers(layer).reshape(g, n, k)
    work = _work(gran, mask, (g, n, k), layer, hw)
    d = float(layer.activation_density)
    plan = plan_folds(pe.dataflow, pe.rows, pe.cols, m, n, k)
    skip_in, k_in_time = in_sp.skip == "skip", plan.flow.time_dim == "k"
    lockstep_rows = min(plan.width("k"), k) if not k_in_time else 1
    if not skip_in or not plan.flow.streams("inputs"):  # a zero stationary input only idles its PE
        def stream(steps):
            return np.asarray(steps, np.int64)
    else:  # input_skip.py: the slowest PE's queue (K in time), else whole zero vectors
        def stream(steps):
            return steps_kept(steps, d, k_in_time=k_in_time, pes=pe.rows * pe.cols, rows=lockstep_rows)
    # the share of weight-slot steps issued: all; a PE's nonzero inputs; or the steps kept in lockstep
    f_issue = 1.0 if not skip_in else d if k_in_time or not plan.flow.streams("inputs") else step_fraction(
        d, lockstep_rows)
    acc = timing.sram_accesses(plan, m, n, k)
    w_ratio = w_store.data_bits / w_store.dense_bits if w_store.dense_bits else 1.0
    in_ratio = ins.data_bits / ins.dense_bits if in_sp.format != "dense" and ins.dense_bits else 1.0
    weights_reads = g * acc.weights_reads * w_ratio
    imbalance, exact = 1.0, None
    if gran in _REGULAR:
        kc, nc = work.dims
        cplan = plan_folds(pe.dataflow, pe.rows, pe.cols, m, nc, kc)
        cplan = replace(cplan, t=int(stream(cplan.t)))
        cacc = timing.sram_accesses(cplan, m, nc, kc)
        empty = min(cplan.sr, cplan.sc, cplan.t) <= 0
        cycles = 0 if empty else timing.layer_cycles(cplan, g)
        schedule = FoldSchedule(timing, plan, regular=cplan)
        slots = g * kc * nc
        inputs_reads = g * cacc.inputs_reads * (k / kc if gran in ("nm", "rows") and kc else 1.0)
        if gran == "compact":
            weights_reads = g * cacc.weights_reads
        out_w, out_r = g * cacc.outputs_writes, g * cacc.outputs_reads
    else:
        exact = _exact_queues(layer, mask, plan) if skip_in and k_in_time and gran == "element" else None
        cycles, schedule, imbalance, slots, inputs_reads, out_w, out_r = _irregular(
            work, plan, acc, timing, layer, stream, None if exact is None else exact[0])
    zero_slots = slots - nnz if gran != "dense" else 0
    issued = round(slots * m * f_issue) if exact is None else exact[1]
    gated = round(zero_slots * m * f_issue) if exact is None else 0
    if skip_in and f_issue > d:  # kept lockstep steps still carry zero inputs: gated
        gated += round((slots - zero_slots) * m * (f_issue - d))
    if in_sp.skip == "gate":
        gated += round((issued - gated) * (1.0 - d))
    if d < 1.0 and in_sp.skip == "gate":
        notes.append(f"zero inputs gated by the expected count (activation density {d:.3f}, "
                     f"{layer.activation_density_source})")
    elif skip_in and exact is not None:
        notes.append("zero inputs skipped exactly: each PE drains its own nonzero pairs, measured on the"
                     f" recorded input mask ({layer.activation_density_source}); a fold lasts its slowest PE")
    elif d < 1.0 and skip_in:
        how = ("the slowest PE's queue, expected over independent zeros" if k_in_time
               else "inputs held in the PEs: no time saved, their zero MACs not issued"
               if not plan.flow.streams("inputs")
               else f"only all-zero vectors of {lockstep_rows} inputs skipped in lockstep (expected"
                    f" {1 - f_issue:.1%} of steps), the other zero inputs gated")
        notes.append(f"zero inputs skipped by expectation (activation density {d:.3f}, "
                     f"{layer.activation_density_source}): {how}")
    return ComputeTrace(
        plan=plan, compute_cycles=int(cycles), macs_dense=layer.macs, macs_issued=int(issued),
        macs_gated=int(gated), macs_skipped=int(layer.macs - issued), load_imbalance=float(imbalance),
        sram_reads={"inputs": round(inputs_reads * in_ratio), "weights": round(weights_reads),
                    "outputs": int(out_r)},
        sram_writes={"outputs": int(out_w)}, notes=tuple(notes), schedule=schedule)


def _fold_grid(plan: FoldPlan, values: np.ndarray, axis: str) -> np.ndarray:
    """[g, folds of ``axis``] values -> [g, every fold] (column fold outer), the same along the other axis."""
    if axis == "cols":
        return np.repeat(values, plan.row_folds, axis=1)
    return np.tile(values, (1, plan.col_folds))


def _exact_queues(layer: Layer, mask: np.ndarray, plan: FoldPlan) -> tuple[np.ndarray, int] | None:
    """K in time with per-PE queues and a recorded input mask: ([g, folds] the slowest PE's nonzero
    pairs in each fold, the total nonzero pairs) from popcounts (two_sided_kernels), or None."""
    if layer.input_mask is None:
        return None
    a = im2col(layer, np.asarray(layer.input_mask, bool))  # [g, M, K]
    fold_t, total = [], 0
    for gi in range(layer.groups):
        work = intersection_counts(pack_bits(a[gi]), pack_bits(mask[gi].astype(bool)))  # [M, N]
        total += int(work.sum())
        fold_t.append(fold_slowest(work if plan.flow.rows_dim == "m" else work.T, plan.rows, plan.cols))
    return np.stack(fold_t), total


def _irregular(work: _Work, plan: FoldPlan, acc, timing: TimingModel, layer: Layer, stream,
               exact_fold_t: np.ndarray | None = None):
    """Per-fold schedule of a skip array: (cycles, FoldSchedule, imbalance, slots, input reads,
    output writes, psum reads).  The three cases are where N and K sit (module docstring)."""
    g, m, n, k = layer.groups, layer.m, layer.n, layer.k
    flow, fk = plan.flow, plan.folds_of("k")
    n_width = max(n, 1) if flow.time_dim == "n" else plan.width("n")  # filters side by side
    if flow.time_dim == "n":  # a unit is a reduction position (the PEs along K)
        units, width = work.rows, plan.width("k")
    else:  # a unit is a filter
        units, width = work.cols, n_width
    mx, sm = kernels.chunk_max_sum(np.ascontiguousarray(units, dtype=np.int64), width)
    total = int(sm.sum())
    imbalance = float((mx * _widths(units.shape[1], width)).sum()) / total if total else 1.0
    slots = total
    t_ref, share = plan.t, None
    need = None  # [g, N folds]: K folds each fold of filters runs (none when K is in time)
    if flow.time_dim == "k":
        fold_t = _fold_grid(plan, stream(mx), flow.axis("n")) if exact_fold_t is None else exact_fold_t
    elif flow.time_dim == "m":  # a fold of filters runs `need` K folds, spread over its dense K folds
        need = -(-mx // plan.width("k"))
        t_ref = int(stream(m))
        spread = np.broadcast_to((need / fk)[:, :, None], (g, need.shape[1], fk))  # [g, N fold, K fold]
        share = (spread if flow.axis("n") == "cols" else spread.transpose(0, 2, 1)).reshape(g, plan.folds)
        fold_t = np.where(share > 0, t_ref, 0)
    else:
        fold_t = _fold_grid(plan, mx, flow.axis("k"))  # inputs held: no time saved
        need = np.count_nonzero(mx, axis=1)[:, None]  # every filter runs each K fold with work
    schedule = FoldSchedule(timing, plan, fold_t=np.asarray(fold_t, np.int64), fold_share=share, t_ref=t_ref)
    # the layer as one tile: the fold slots plus the dense schedule's fill and drain per group that runs
    whole = tile_cycles(schedule, (np.zeros(1, np.int64), np.array([plan.sr])),
                        (np.zeros(1, np.int64), np.array([plan.sc])), np.array([plan.t]))[:, 0]
    runs = int(np.count_nonzero(whole))
    # and the model's layer-level convention (SCALE-Sim: a last-cycle index per group), per group run
    convention = timing.layer_cycles(plan, g) - g * timing.group_cycles(plan)
    cycles = round(whole.sum()) + round(convention * runs / g)
    union = kernels.chunk_union(work.issued, work.sizes, n_width).sum()  # K positions per N fold
    inputs_reads = g * acc.inputs_reads * union / (g * k * plan.folds_of("n")) if k else 0
    if need is None:  # outputs stationary: written once, never read back
        return cycles, schedule, imbalance, slots, inputs_reads, g * acc.outputs_writes, g * acc.outputs_reads
    # one output write per executed (K fold, filter) pair; all but a filter's first read back
    executed = int((need * _widths(n, n_width)[None, :]).sum())
    first = int(((need > 0) * _widths(n, n_width)[None, :]).sum())
    out_w = acc.outputs_writes * executed / (fk * n) if fk * n else 0
    out_r = m * (executed - first) if acc.outputs_reads else 0
    return cycles, schedule, imbalance, slots, inputs_reads, round(out_w), out_r
