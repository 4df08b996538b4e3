"""What a tile costs (dataflows/compute.py): the RTL formula on each tile, worked by hand; the layer as
one tile is the untiled layer; more tiles never cost less; a sparse mask never costs more than dense;
the mapper, the memory model and the report agree on the chosen tiles' cycles."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.registry import DATAFLOWS, TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute, tile_cycles, tiled_compute, tiling_cycles
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.dataflows.timing import accelsim_total_cycles
from accelsim.sim.mapping import choose_mapping, estimated_compute, tile_model
from accelsim.sim.memory import build_schedule, simulate_memory
from accelsim.sim.simulator import simulate
from accelsim.sim.storage import storage_of
from accelsim.sim.traces import ComputeTrace
from accelsim.spec.hardware import OperandSparsity, SparseSupport, hardware_from_dict, load_hardware
from accelsim.workload.layer import ConvShape, Layer, Workload

SRAMS = ("ifmap_sram", "filter_sram", "ofmap_sram")
STALLING = [name for name in TIMING_MODELS.names() if TIMING_MODELS.get(name).models_stalls]
SKIP_ALL = OperandSparsity(format="bitmask", skip="skip", exploits=(
    "window", "channel", "combined", "kernel", "vector", "block", "filter", "input_channel", "unstructured"))
# (hardware, pattern label): every datapath, regular (dense, gated, N:M, compacted) and irregular
DATAPATHS = [("dense_ws", "unstructured"), ("zero_gated", "unstructured"), ("nm_tensor_core", "nm2:4"),
             ("sparse_pe", "window"), ("sparse_pe", "block4x4"), ("unstructured_skip", "unstructured"),
             (SKIP_ALL, "channel"), (SKIP_ALL, "vector"), (SKIP_ALL, "filter"), (SKIP_ALL, "input_channel")]


def hw_of(name, dataflow="ws", rows=32, cols=32, timing="accelsim", input_skip=False):
    base = "dense_ws" if isinstance(name, OperandSparsity) else name
    hw = load_hardware(base, {"pe_array.dataflow": dataflow, "pe_array.rows": rows, "pe_array.cols": cols,
                              "timing": timing})
    if isinstance(name, OperandSparsity):
        hw = replace(hw, sparsity=SparseSupport(weights=name))
    if input_skip:
        hw = replace(hw, sparsity=replace(hw.sparsity, inputs=replace(hw.sparsity.inputs, skip="skip")))
    return hw


def conv(mask: np.ndarray, groups: int = 1, h: int = 7, **kw) -> Layer:
    """A 3x3 conv (stride 1, same padding) from its [out, in / groups, 3, 3] weight mask."""
    cout, cin_g = mask.shape[:2]
    shape = ConvShape(batch=1, in_channels=cin_g * groups, out_channels=cout, in_h=h, in_w=h, out_h=h,
                      out_w=h, kernel_h=3, kernel_w=3, pad_h=1, pad_w=1, groups=groups)
    return Layer("cv", "conv", m=h * h, n=cout // groups, k=cin_g * 9, groups=groups, weight_mask=mask,
                 conv=shape, **kw)


def nm_mask(shape) -> np.ndarray:
    """Two kept of every four input channels (2:4 along C)."""
    return np.broadcast_to((np.arange(shape[1]) % 4 < 2)[None, :, None, None], shape).copy()


def whole(trace: ComputeTrace, groups: int) -> tuple[float, float]:
    """(sum of tile_cycles over one tile per group, tiling_cycles of the one-tile tiling)."""
    s = trace.schedule
    p = s.plan
    zero = np.array([0])
    one = tile_cycles(s, (zero, np.array([p.sr])), (zero, np.array([p.sc])), np.array([p.t]))
    per_tile = one.sum() * (groups if one.shape[0] == 1 else 1)
    return per_tile, float(tiling_cycles(s, groups, [p.sr], [p.sc], [p.t])[0])


# ---------------------------------------------------------------- worked by hand


def _forced(layer, hw, tm, tn, tk, order=("m", "n", "k")):
    """The compute trace, tile model and a mapping forced to tiles tm x tn x tk."""
    compute = dense_compute(layer, hw, TIMING_MODELS.get(hw.timing))
    model = tile_model(layer, hw, compute, storage_of(layer, hw))
    roomy = load_hardware("dense_ws", {f"memories.{b}.size": "16 MiB" for b in SRAMS})
    trips = {f"tiles_{d}": -(-getattr(layer, d) // t) for d, t in zip("mnk", (tm, tn, tk), strict=True)}
    mapping = replace(choose_mapping(layer, roomy, compute, model), loop_order=order, tile_m=tm, tile_n=tn,
                      tile_k=tk, **trips)
    return compute, model, mapping


def test_the_issue_layer_time_tiled_below_the_array_height():
    """ResNet-50 layer1.1.conv1 (1x1, 256 -> 64 channels at 56x56: M = 3136, N = 64, K = 256) on a 32x32
    WS array with its mapping forced to m = 8.  Rows take K (8 folds), columns N (2 folds): 16 folds.

    One tile streams T = 8 < R = 32 rows, so every fold takes a whole slot P = max(8, 32) = 32, and
    the tile pays the RTL formula (F - 1) * P + T + 2R + W with W = the 32 columns of the last fold:
    15 * 32 + 8 + 64 + 32 = 584 cycles.  392 tiles: 228,928 cycles.  Untiled (one tile of T = 3136):
    15 * 3136 + 3136 + 64 + 32 = 50,272."""
    shape = ConvShape(batch=1, in_channels=256, out_channels=64, in_h=56, in_w=56, out_h=56, out_w=56,
                      kernel_h=1, kernel_w=1)
    layer = Layer("layer1.1.conv1", "conv", m=3136, n=64, k=256, weight_mask=np.ones((64, 256, 1, 1), bool),
                  conv=shape)
    hw = hw_of("dense_ws")
    compute, model, mapping = _forced(layer, hw, 8, 64, 256)
    assert compute.compute_cycles == 15 * 3136 + 3136 + 64 + 32 == 50_272
    assert accelsim_total_cycles("ws", 32, 32, 256, 64, 8) == 15 * 32 + 8 + 64 + 32 == 584
    sched = build_schedule(model, mapping, hw, compute)
    assert sched.tiles == 392 and set(sched.compute_cycles.tolist()) == {584.0}
    trace = simulate_memory(hw, layer, compute, model, mapping)
    assert trace.compute_cycles == 392 * 584 == 228_928
    assert trace.total_cycles == 228_928 + trace.stall_cycles
    tiled = tiled_compute(compute, mapping, trace.compute_cycles)
    assert tiled.compute_cycles == 228_928
    assert tiled.sram_reads["weights"] == 256 * 64 * 392  # every weight fold reloaded per time tile
    assert tiled.sram_reads["inputs"] == compute.sram_reads["inputs"]  # streamed once, as untiled
    # the mapper, free to choose, does not take a time tile shorter than the array
    chosen = choose_mapping(layer, hw, compute, model)
    assert chosen.tile_m >= 32 and chosen.estimated_cycles < 228_928


def test_a_ragged_time_tile_and_a_split_reduction_by_hand():
    """M = 20, N = 8, K = 16 on an 8x8 WS array: 2 row folds (K), 1 column fold (N).

    Tiles m = 8: T = 8, 8, 4.  A tile: (2 - 1) * max(T, 8) + T + 2 * 8 + 8 (W = the 8 columns):
    40, 40, 36 = 116; untiled 20 + 20 + 16 + 8 = 64.  Tiles k = 8 (one row fold each) x m = 20:
    two tiles of 0 * 20 + 20 + 16 + 8 = 44 = 88."""
    layer = Layer("fc", "linear", m=20, n=8, k=16, weight_mask=np.ones((8, 16), bool))
    hw = hw_of("dense_ws", rows=8, cols=8)
    compute, model, mapping = _forced(layer, hw, 8, 8, 16)
    assert compute.compute_cycles == 64
    assert build_schedule(model, mapping, hw, compute).compute_cycles.tolist() == [40, 40, 36]
    compute, model, mapping = _forced(layer, hw, 20, 8, 8)
    assert build_schedule(model, mapping, hw, compute).compute_cycles.tolist() == [44, 44]
    assert tiling_cycles(compute.schedule, 1, [8, 16], [8, 8], [20, 8]).tolist() == [88, 116]


def test_outputs_stationary_drains_and_reads_back_per_reduction_slice():
    layer = Layer("fc", "linear", m=20, n=8, k=16, weight_mask=np.ones((8, 16), bool))
    hw = hw_of("dense_ws", dataflow="os", rows=8, cols=8)
    compute, model, mapping = _forced(layer, hw, 20, 8, 4)  # K in time, 4 slices
    tiled = tiled_compute(compute, mapping, 0)
    assert compute.sram_writes["outputs"] == 20 * 8 and compute.sram_reads["outputs"] == 0
    assert tiled.sram_writes["outputs"] == 4 * 20 * 8 and tiled.sram_reads["outputs"] == 3 * 20 * 8
    assert tiled.sram_reads["weights"] == compute.sram_reads["weights"]


# ---------------------------------------------------------------- invariants


@pytest.mark.parametrize("timing", STALLING)
@pytest.mark.parametrize("dataflow", DATAFLOWS.names())
@pytest.mark.parametrize("hw_name,label", DATAPATHS)
def test_the_layer_as_one_tile_is_the_untiled_layer(hw_name, label, dataflow, timing):
    rng = np.random.default_rng(11)
    for groups, skip, density in ((1, False, 1.0), (2, True, 0.6), (4, False, 1.0)):
        mask = rng.random((8 * groups, 6, 3, 3)) < 0.3
        if label == "nm2:4":
            mask = nm_mask(mask.shape)
        if label == "filter":
            mask[::3] = False
        layer = conv(mask, groups=groups, pattern=label, activation_density=density)
        hw = hw_of(hw_name, dataflow, 4, 4, timing, input_skip=skip)
        trace = sparse_compute(layer, hw, TIMING_MODELS.get(timing))
        per_tile, closed = whole(trace, groups)
        assert per_tile == pytest.approx(trace.compute_cycles, abs=1e-6), (groups, skip)
        assert closed == pytest.approx(trace.compute_cycles, abs=1e-6), (groups, skip)


def _tilings(p, rng, n=12):
    """Random tilings of a plan: whole folds along rows and columns, any time slice."""
    sr = np.minimum(p.sr, p.rows * rng.integers(1, p.row_folds + 1, n))
    sc = np.minimum(p.sc, p.cols * rng.integers(1, p.col_folds + 1, n))
    return sr, sc, rng.integers(1, p.t + 1, n)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DATAFLOWS.names()), st.integers(2, 9), st.integers(1, 80), st.integers(1, 80),
       st.integers(1, 80), st.integers(0, 2**31 - 1))
def test_more_tiles_never_fewer_cycles(dataflow, r, m, n, k, seed):
    """Cutting every tile of a tiling again (along any dims) never makes the GEMM cheaper: each tile
    pays its own fill and drain, and a shorter slice never takes less than its fold slot."""
    layer = Layer("fc", "linear", m=m, n=n, k=k, weight_mask=np.ones((n, k), bool))
    trace = dense_compute(layer, hw_of("dense_ws", dataflow, r, r), TIMING_MODELS.get("accelsim"))
    s, p, rng = trace.schedule, trace.plan, np.random.default_rng(seed)
    fine = (p.rows * rng.integers(1, p.row_folds + 1, 12), p.cols * rng.integers(1, p.col_folds + 1, 12),
            rng.integers(1, p.t + 1, 12))
    cuts = rng.integers(1, 4, (3, 12))
    coarse = [np.minimum(extent, f * j) for extent, f, j in zip((p.sr, p.sc, p.t), fine, cuts, strict=True)]
    fine = [np.minimum(extent, f) for extent, f in zip((p.sr, p.sc, p.t), fine, strict=True)]
    assert (tiling_cycles(s, 1, *fine) >= tiling_cycles(s, 1, *coarse)).all()
    assert (tiling_cycles(s, 1, *coarse) >= trace.compute_cycles).all()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DATAFLOWS.names()), st.sampled_from(range(len(DATAPATHS))), st.integers(2, 6),
       st.floats(0.05, 1.0), st.integers(0, 2**31 - 1))
def test_a_sparse_mask_never_costs_more_than_dense_under_any_tiling(dataflow, which, r, density, seed):
    """On a square array, tile by tile, a sparse datapath's cycles never exceed the dense array's."""
    hw_name, label = DATAPATHS[which]
    rng = np.random.default_rng(seed)
    mask = rng.random((12, 5, 3, 3)) < density
    if label == "nm2:4":
        mask = nm_mask(mask.shape)
    layer = conv(mask, pattern=label)
    hw = hw_of(hw_name, dataflow, r, r)
    tm = TIMING_MODELS.get("accelsim")
    sparse, dense = sparse_compute(layer, hw, tm), dense_compute(layer, hw, tm)
    sr, sc, tt = _tilings(dense.plan, rng)
    assert (tiling_cycles(sparse.schedule, 1, sr, sc, tt)
            <= tiling_cycles(dense.schedule, 1, sr, sc, tt) + 1e-6).all()


# ---------------------------------------------------------------- the mapper, the memory model, the report


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(DATAFLOWS.names()), st.integers(8, 64), st.integers(8, 96), st.integers(3, 20),
       st.sampled_from(["2 KiB", "8 KiB", "64 KiB"]), st.floats(0.2, 1.0), st.integers(0, 2**31 - 1))
def test_the_mapper_estimates_the_tiles_the_memory_model_runs(dataflow, cin, cout, h, size, density, seed):
    mask = np.random.default_rng(seed).random((cout, cin, 3, 3)) < density
    layer = conv(mask, h=h, pattern="unstructured")
    hw = load_hardware("sparse_pe", {"pe_array.dataflow": dataflow, "pe_array.rows": 8, "pe_array.cols": 8,
                                     **{f"memories.{b}.size": size for b in SRAMS}})
    storage = storage_of(layer, hw)
    compute = sparse_compute(layer, hw, TIMING_MODELS.get("accelsim"), storage)
    model = tile_model(layer, hw, compute, storage)
    try:
        by = {o: choose_mapping(layer, hw, compute, model, o) for o in ("dram", "cycles")}
    except Exception as err:  # no tile fits the smallest buffers
        assert "cannot be tiled" in str(err)
        return
    assert by["cycles"].estimated_cycles <= by["dram"].estimated_cycles
    mp = by["cycles"]
    busy = estimated_compute(compute, model, *(np.array([getattr(mp, f"tile_{d}")]) for d in "mnk"))[0]
    trace = simulate_memory(hw, layer, compute, model, mp)
    assert trace.compute_cycles == round(busy) >= compute.compute_cycles


def test_the_report_counts_the_chosen_tiles_and_scalesim_keeps_its_untiled_cycles():
    rng = np.random.default_rng(3)
    wl = Workload("w", (conv(rng.random((64, 32, 3, 3)) < 0.3, h=28, pattern="unstructured"),))
    report = simulate(load_hardware("sparse_pe"), wl).layers[0]
    mapping = report.to_dict()["mapping"]
    assert report.compute_cycles == mapping["memory"]["compute_cycles"]
    assert report.total_cycles == report.compute_cycles + report.stall_cycles
    assert mapping["objective"] == "cycles"
    raw = copy.deepcopy(load_hardware("sparse_pe").raw)
    del raw["memories"][1]["bandwidth"]  # a stall-free timing refuses a buffer bandwidth
    hw = hardware_from_dict({**raw, "timing": "scalesim"}, "sparse_pe_scalesim")
    scalesim = simulate(hw, wl).layers[0]
    untiled = sparse_compute(wl.layers[0], hw, TIMING_MODELS.get("scalesim"))
    assert scalesim.compute_cycles == untiled.compute_cycles
    # its cycles do not depend on the tiling: the tiles are those of the least DRAM traffic
    by_dram = hardware_from_dict({**raw, "timing": "scalesim", "mapping_objective": "dram"}, "by_dram")
    dram = simulate(by_dram, wl).layers[0]
    assert scalesim.to_dict()["mapping"]["tile"] == dram.to_dict()["mapping"]["tile"]
    assert scalesim.dram_read_bytes == dram.dram_read_bytes
