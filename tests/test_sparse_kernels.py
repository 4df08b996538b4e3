"""Mask-aware compute: the kernels against loop references, and sparse_compute's invariants
(dense mask = dense cycles on every datapath and dataflow, all-zero = nothing issued, more density
never fewer cycles, a hand-worked imbalance)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.dataflows import DATAFLOWS, TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute, tiling_cycles
from accelsim.sim.dataflows.kernels import block_rows_any, chunk_max_sum, chunk_union, fiber_sums, group_any
from accelsim.sim.dataflows.sparse import choose_datapath, pattern_kind, sparse_compute
from accelsim.spec.hardware import OperandSparsity, PEArray, SparseSupport, load_hardware
from accelsim.workload.layer import ConvShape, Layer

ACCELSIM = TIMING_MODELS.get("accelsim")


def whole_layer(trace, layer) -> int:
    """The schedule's cycles for the layer as one tile."""
    p = trace.schedule.plan
    return int(round(tiling_cycles(trace.schedule, layer.groups, [p.sr], [p.sc], [p.t])[0]))

# ---------------------------------------------------------------- numpy references


def ref_fiber_sums(mask):
    return mask.sum(axis=2, dtype=np.int64), mask.sum(axis=1, dtype=np.int64)


def ref_group_any(mask, gid, n_groups):
    g, n, _ = mask.shape
    out = np.zeros((g, n, n_groups), np.uint8)
    for q in range(n_groups):
        out[:, :, q] = mask[:, :, gid == q].any(axis=2)
    return out


def ref_block_rows_any(mask, br):
    out = np.zeros_like(mask)
    for n0 in range(0, mask.shape[1], br):
        out[:, n0:n0 + br, :] = mask[:, n0:n0 + br, :].any(axis=1, keepdims=True)
    return out


def ref_chunk_max_sum(work, width):
    chunks = [work[:, j:j + width] for j in range(0, work.shape[1], width)]
    return np.stack([c.max(axis=1) for c in chunks], 1), np.stack([c.sum(axis=1) for c in chunks], 1)


def ref_chunk_union(issued, sizes, width):
    chunks = [issued[:, j:j + width, :].any(axis=1) for j in range(0, issued.shape[1], width)]
    return np.stack([c @ sizes for c in chunks], 1)


def test_kernels_agree_with_numpy_references():
    rng = np.random.default_rng(0)
    for _ in range(25):
        g, n, k = (int(x) for x in rng.integers(1, [4, 20, 40]))
        mask = (rng.random((g, n, k)) < rng.random()).astype(np.uint8)
        for got, want in zip(fiber_sums(mask), ref_fiber_sums(mask), strict=True):
            assert np.array_equal(got, want)
        q = int(rng.integers(1, k + 1))
        for gid in (rng.integers(0, q, k), np.arange(k) % q, np.arange(k) * q // k):  # any, windows, blocks
            gid = gid.astype(np.int64)
            assert np.array_equal(group_any(mask, gid, q), ref_group_any(mask, gid, q))
        br = int(rng.integers(1, 6))
        assert np.array_equal(block_rows_any(mask, br), ref_block_rows_any(mask, br))
        work = rng.integers(0, 50, (g, n)).astype(np.int64)
        width = int(rng.integers(1, 8))
        for got, want in zip(chunk_max_sum(work, width), ref_chunk_max_sum(work, width), strict=True):
            assert np.array_equal(got, want)
        sizes = rng.integers(1, 5, q).astype(np.int64)
        issued = group_any(mask, gid, q)
        assert np.array_equal(chunk_union(issued, sizes, width), ref_chunk_union(issued, sizes, width))


# ---------------------------------------------------------------- layers and configs


def linear_layer(mask: np.ndarray, m: int = 12, **kw) -> Layer:
    """A linear layer from a [N, K] mask (filters x reduction)."""
    n, k = mask.shape
    return Layer("fc", "linear", m=m, n=n, k=k, weight_mask=np.asarray(mask, bool), **kw)


def conv_layer(mask: np.ndarray, **kw) -> Layer:
    out_ch, cin, kh, kw_ = mask.shape
    shape = ConvShape(batch=1, in_channels=cin, out_channels=out_ch, in_h=6, in_w=6, out_h=6, out_w=6,
                      kernel_h=kh, kernel_w=kw_, pad_h=kh // 2, pad_w=kw_ // 2)
    return Layer("conv", "conv", m=36, n=out_ch, k=cin * kh * kw_, weight_mask=mask, conv=shape, **kw)


def hw_variant(name: str, dataflow: str, rows: int = 8, cols: int = 8, timing: str = "accelsim"):
    hw = load_hardware(name)
    return replace(hw, timing=timing, pe_array=replace(hw.pe_array, dataflow=dataflow, rows=rows, cols=cols))


SPARSE_HW = ("sparse_pe", "nm_tensor_core", "unstructured_skip", "zero_gated")
LABELS = ("dense", "unstructured", "window", "channel", "combined", "kernel", "vector", "block4x4", "nm2:4",
          "filter", "input_channel")


def every_datapath():
    """(hw, label) pairs that reach every datapath: skip arrays at each granularity, N:M, gated."""
    exploits = ("window", "channel", "combined", "kernel", "vector", "block", "filter", "input_channel")
    skip_all = OperandSparsity(format="bitmask", skip="skip", exploits=exploits)
    out = [(name, label) for name in SPARSE_HW for label in ("unstructured", "window", "block4x4")]
    out += [(skip_all, label) for label in LABELS]
    return out


def with_weights(hw_or_name, dataflow, **kw):
    if isinstance(hw_or_name, str):
        return hw_variant(hw_or_name, dataflow, **kw)
    hw = hw_variant("dense_ws", dataflow, **kw)
    return replace(hw, sparsity=SparseSupport(weights=hw_or_name))


# ---------------------------------------------------------------- invariants


@pytest.mark.parametrize("hw_ref,label", every_datapath())
@pytest.mark.parametrize("dataflow", DATAFLOWS.names())
@pytest.mark.parametrize("timing", ["accelsim", "scalesim"])
def test_dense_mask_gives_dense_cycles(hw_ref, label, dataflow, timing):
    hw = with_weights(hw_ref, dataflow, rows=4, cols=8, timing=timing)
    tm = TIMING_MODELS.get(timing)
    layer = conv_layer(np.ones((20, 6, 3, 3), bool), pattern=label)
    got, want = sparse_compute(layer, hw, tm), dense_compute(layer, hw, tm)
    assert got.compute_cycles == want.compute_cycles
    assert got.macs_dense == want.macs_dense == layer.macs
    assert got.macs_issued == layer.macs and got.macs_gated == 0 and got.load_imbalance == 1.0
    assert got.sram_reads == want.sram_reads and got.sram_writes == want.sram_writes
    assert got.plan == want.plan == got.schedule.plan
    assert whole_layer(got, layer) == whole_layer(want, layer)  # and so does the layer as one tile


@pytest.mark.parametrize("dataflow", DATAFLOWS.names())
def test_dense_when_nothing_is_skipped_is_exactly_dense_compute(dataflow):
    hw = hw_variant("dense_ws", dataflow)
    rng = np.random.default_rng(2)
    layer = linear_layer(rng.random((10, 30)) < 0.3, pattern="unstructured")
    assert sparse_compute(layer, hw, ACCELSIM) == dense_compute(layer, hw, ACCELSIM)


@pytest.mark.parametrize("hw_ref,label", [(h, lab) for h, lab in every_datapath() if h != "nm_tensor_core"
                                          and h != "zero_gated" and lab not in ("dense",)])
@pytest.mark.parametrize("dataflow", DATAFLOWS.names())
def test_all_zero_mask_issues_nothing_on_skip_arrays(hw_ref, label, dataflow):
    hw = with_weights(hw_ref, dataflow)
    layer = conv_layer(np.zeros((12, 4, 3, 3), bool), pattern=label)
    t = sparse_compute(layer, hw, ACCELSIM)
    if choose_datapath(layer, hw, None, False)[0] in ("gate", "dense"):
        pytest.skip(f"{label} is not exploited here: runs dense (gated)")
    assert t.macs_issued == 0 and t.macs_skipped == layer.macs and t.compute_cycles == 0


def test_all_zero_mask_on_the_nm_core_issues_only_padding_slots():
    hw = hw_variant("nm_tensor_core", "os")
    layer = conv_layer(np.zeros((8, 8, 1, 1), bool), pattern="nm2:4")
    t = sparse_compute(layer, hw, ACCELSIM)
    assert t.macs_issued == layer.macs // 2 == t.macs_gated  # the core always fills its N slots


def test_zero_gated_gates_zero_weights_and_expected_zero_inputs():
    rng = np.random.default_rng(3)
    mask = rng.random((16, 40)) < 0.3
    layer = linear_layer(mask, activation_density=0.4, activation_density_source="test")
    hw = hw_variant("zero_gated", "ws")
    t, d = sparse_compute(layer, hw, ACCELSIM), dense_compute(layer, hw, ACCELSIM)
    assert t.compute_cycles == d.compute_cycles and t.macs_issued == layer.macs
    zero_w = layer.m * int((~mask).sum())
    assert t.macs_gated == zero_w + round((layer.macs - zero_w) * 0.6)
    assert any("expected count" in n for n in t.notes)


def test_nm_core_compresses_k_and_refuses_a_broken_mask():
    mask = np.tile(np.array([1, 1, 0, 0], bool), (16, 8))  # 16 filters, K = 32, exactly 2:4
    hw = hw_variant("nm_tensor_core", "ws")
    t = sparse_compute(linear_layer(mask, pattern="nm2:4"), hw, ACCELSIM)
    half = dense_compute(linear_layer(mask[:, :16]), hw, ACCELSIM)  # K' = 16
    assert t.compute_cycles == half.compute_cycles and t.macs_issued == t.macs_dense // 2
    broken = mask.copy()
    broken[0, 2] = True
    t = sparse_compute(linear_layer(broken, pattern="unstructured"), hw, ACCELSIM)
    assert t.compute_cycles == dense_compute(linear_layer(broken), hw, ACCELSIM).compute_cycles
    assert t.notes == ("mask is not 2:4 along C (a group of 4 holds 3 nonzeros): ran dense",)
    assert t.macs_gated == 0


def test_unexploited_pattern_runs_dense_gated_with_a_note():
    hw = with_weights(OperandSparsity(format="bitmask", skip="skip", exploits=("window",)), "os")
    rng = np.random.default_rng(4)
    layer = conv_layer(rng.random((8, 4, 3, 3)) < 0.3, pattern="block4x4")
    t = sparse_compute(layer, hw, ACCELSIM)
    assert t.compute_cycles == dense_compute(layer, hw, ACCELSIM).compute_cycles
    assert "not exploited" in t.notes[0] and t.macs_gated == layer.m * int((~layer.weight_mask).sum())


def test_pattern_kind_and_granularities():
    assert [pattern_kind(x) for x in ("nm2:4", "nm:4", "block8x8", "window", "")] == [
        "nm", "nm", "block", "window", "dense"]


def test_hand_worked_imbalance_on_a_2x2_array():
    """Two filters over K = 4: filter 0 has 3 nonzeros (k = 0, 1, 2), filter 1 has one (k = 3); M = 2.

    SCALE-Sim timing (every fold pays its fill and drain: os t + R + C - 2, ws/is 2R + C + t - 2;
    the layer total is the last cycle's index, count - 1)."""
    mask = np.array([[1, 1, 1, 0], [0, 0, 0, 1]], bool)
    layer = linear_layer(mask, m=2, pattern="unstructured")
    scalesim = TIMING_MODELS.get("scalesim")
    # os: a PE column works through its filter's nonzeros: T' = max(3, 1) = 3 (dense: K = 4)
    t = sparse_compute(layer, hw_variant("sparse_pe", "os", 2, 2, "scalesim"), scalesim)
    assert t.compute_cycles == (3 + 2 + 2 - 2) - 1 == 4
    assert t.load_imbalance == 3 * 2 / (3 + 1) == 1.5  # the slowest column x 2 columns / total work
    assert (t.macs_issued, t.macs_skipped, t.macs_gated) == (8, 8, 0)
    # ws: filter 0's 3 weights packed down its column need 2 row folds of 2 -> nothing saved
    t = sparse_compute(layer, hw_variant("sparse_pe", "ws", 2, 2, "scalesim"), scalesim)
    assert t.compute_cycles == 2 * (2 * 2 + 2 + 2 - 2) - 1 == 11 and t.load_imbalance == 1.5
    # is: each K row is needed by exactly one filter: T' = 1 in both row folds (dense: N = 2)
    t = sparse_compute(layer, hw_variant("sparse_pe", "is", 2, 2, "scalesim"), scalesim)
    assert t.compute_cycles == 2 * (2 * 2 + 2 + 1 - 2) - 1 == 9 and t.load_imbalance == 1.0
    # accelsim (pipelined folds, a slot of max(T', R) each, fill and drain once): os saves one slot
    # cycle; in is the slot cannot drop below R = 2, so the shorter T' saves nothing
    for df, saved in (("os", 4 - 3), ("ws", 0), ("is", 0)):
        hw = hw_variant("sparse_pe", df, 2, 2)
        dense = dense_compute(layer, hw, ACCELSIM).compute_cycles
        assert sparse_compute(layer, hw, ACCELSIM).compute_cycles == dense - saved


def test_structured_granularities_count_whole_groups():
    # window: every 3x3 window keeps exactly 3 -> K' = 3 C per filter; os time 3 * C = 12 in each of
    # the 5 row folds (M = 36 on 8 rows); SCALE-Sim timing: fold = t + R + C - 2, total - 1
    scalesim = TIMING_MODELS.get("scalesim")
    mask = np.zeros((4, 4, 3, 3), bool)
    mask[:, :, 0, :] = True
    hw = hw_variant("sparse_pe", "os", 8, 8, "scalesim")
    t = sparse_compute(conv_layer(mask, pattern="window"), hw, scalesim)
    assert t.compute_cycles == 5 * (12 + 8 + 8 - 2) - 1 and t.load_imbalance == 1.0
    # channel: filter 0 keeps 2 whole windows, the others 1: T' = 2 * 9, imbalance 18*4/(18+9*3)
    mask = np.zeros((4, 4, 3, 3), bool)
    mask[:, 0, 1, 1] = True
    mask[0, 1, 0, 0] = True
    t = sparse_compute(conv_layer(mask, pattern="channel"), hw, scalesim)
    assert t.compute_cycles == 5 * (18 + 8 + 8 - 2) - 1
    assert t.load_imbalance == pytest.approx(18 * 4 / (18 + 9 * 3))
    assert t.macs_gated == 36 * (18 + 27 - 5)  # zeros inside the kept windows are padding


def test_macs_and_tiles_are_consistent():
    rng = np.random.default_rng(6)
    for hw_ref, label in every_datapath():
        for df in DATAFLOWS.names():
            hw = with_weights(hw_ref, df, rows=4, cols=4)
            layer = conv_layer(rng.random((10, 4, 3, 3)) < 0.4, pattern=label, activation_density=0.5)
            t = sparse_compute(layer, hw, ACCELSIM)
            assert t.macs_issued + t.macs_skipped == t.macs_dense
            assert 0 <= t.macs_gated <= t.macs_issued
            assert t.load_imbalance >= 1.0
            assert whole_layer(t, layer) == t.compute_cycles  # the layer as one tile


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(range(len(every_datapath()))),
       st.sampled_from(DATAFLOWS.names()), st.floats(0.0, 0.9), st.integers(1, 30))
def test_more_nonzeros_never_fewer_cycles(seed, which, dataflow, density, extra):
    rng = np.random.default_rng(seed)
    hw_ref, label = every_datapath()[which]
    hw = with_weights(hw_ref, dataflow, rows=4, cols=4)
    mask = rng.random((9, 8, 3, 3)) < density
    more = mask.copy()
    flat = more.reshape(-1)
    flat[rng.choice(flat.size, size=extra, replace=False)] = True
    a = sparse_compute(conv_layer(mask, pattern=label, activation_density=0.5), hw, ACCELSIM)
    b = sparse_compute(conv_layer(more, pattern=label, activation_density=0.5), hw, ACCELSIM)
    assert b.compute_cycles >= a.compute_cycles
    assert b.macs_issued >= a.macs_issued


def test_grouped_layers_sum_over_groups():
    rng = np.random.default_rng(8)
    mask = rng.random((8, 1, 3, 3)) < 0.5  # depthwise: 8 groups of one filter, K = 9
    shape = ConvShape(batch=1, in_channels=8, out_channels=8, in_h=6, in_w=6, out_h=6, out_w=6, kernel_h=3,
                      kernel_w=3, pad_h=1, pad_w=1, groups=8)
    layer = Layer("dw", "depthwise", m=36, n=1, k=9, groups=8, weight_mask=mask, conv=shape,
                  pattern="unstructured")
    hw = hw_variant("sparse_pe", "os", 4, 4, "scalesim")
    t = sparse_compute(layer, hw, TIMING_MODELS.get("scalesim"))
    per_group = mask.reshape(8, 9).sum(axis=1)  # each group: T' = its filter's nonzeros, 9 row folds
    # SCALE-Sim runs a depthwise layer as one layer per channel, each reporting count - 1
    assert t.compute_cycles == sum((int(w) + 4 + 4 - 2) * 9 - 1 for w in per_group if w)
    assert t.macs_issued == 36 * int(mask.sum())


def test_pe_array_type_is_unchanged():
    assert isinstance(load_hardware("sparse_pe").pe_array, PEArray)


def test_a_skip_datapath_cannot_skip_zeros_its_format_cannot_locate():
    """Format window stores a 1x1 conv dense with no index: its zeros are gated, not skipped."""
    sparsity = OperandSparsity(format="window", skip="skip", exploits=("window", "unstructured"))
    hw = with_weights(sparsity, "ws")
    rng = np.random.default_rng(5)
    one_by_one = conv_layer(rng.random((8, 16, 1, 1)) < 0.3, pattern="unstructured")
    t = sparse_compute(one_by_one, hw, ACCELSIM)
    zeros = int((~one_by_one.weight_mask).sum())
    assert t.macs_issued == one_by_one.macs and t.macs_gated == one_by_one.m * zeros
    assert t.compute_cycles == dense_compute(one_by_one, hw, ACCELSIM).compute_cycles
    assert "no index" in t.notes[0]
    window = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0], bool).reshape(1, 1, 3, 3)
    three = conv_layer(np.tile(window, (8, 4, 1, 1)), pattern="window")
    assert sparse_compute(three, hw, ACCELSIM).macs_issued < three.macs  # a window index: skipped
