"""The simpy memory model: closed forms, bounds, traffic bookkeeping, SCALE-Sim mode, wiring."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.registry import DATAFLOWS
from accelsim.sim import memory
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute
from accelsim.sim.mapping import LOOP_ORDERS, choose_mapping, estimated_compute, evaluate, tile_model
from accelsim.sim.memory import Schedule, build_schedule, run_pipeline, simulate_memory, stall_free_memory
from accelsim.sim.simulator import simulate
from accelsim.sim.storage import storage_of
from accelsim.spec.hardware import hardware_from_dict, load_hardware
from accelsim.workload.layer import ConvShape, Layer, Workload, conv_gemm


def schedule(loads, computes, writes, *, slots=2, out_slots=2, new_output=None, psum=None) -> Schedule:
    n = len(computes)
    return Schedule(np.asarray(loads, float), np.full(n, slots), np.arange(n) - slots,
                    np.zeros(n, bool) if psum is None else
                    np.asarray(psum, bool), np.asarray(computes, float),
                    np.ones(n, bool) if new_output is None else np.asarray(new_output, bool),
                    np.asarray(writes, float), out_slots, {})


def uniform(n, b, c, w_end, **kw) -> Schedule:
    """n tiles of b bytes and c cycles, one output tile written (w_end bytes) after the last."""
    new_output = [True] + [False] * (n - 1)
    return schedule([b] * n, [c] * n, [0] * (n - 1) + [w_end], new_output=new_output, **kw)


@pytest.mark.parametrize("c", [10.0, 64.0, 100.0, 400.0])
def test_double_buffered_overlap_closed_form(c):
    # period max(c, b/bw) once the first load is in: b/bw + (n-1) max(c, b/bw) + c + w/bw
    n, b, bw, w = 20, 1024.0, 16.0, 512.0
    total, transfers = run_pipeline(uniform(n, b, c, w), bw, 0)
    assert total == pytest.approx(b / bw + (n - 1) * max(c, b / bw) + c + w / bw)
    assert transfers == n + 1


def test_compute_bound_hides_latency_and_transfers():
    n, b, bw, lat, c, w = 30, 640.0, 32.0, 50, 200.0, 64.0  # latency + b/bw = 70 <= c
    total, _ = run_pipeline(uniform(n, b, c, w), bw, lat)
    assert total == pytest.approx(lat + b / bw + n * c + w / bw)  # only the first load and last write show


def test_bandwidth_bound_is_bytes_over_bandwidth():
    n, b, bw, c, w = 25, 4096.0, 8.0, 10.0, 256.0
    total, _ = run_pipeline(uniform(n, b, c, w), bw, 0)
    assert total == pytest.approx(n * b / bw + c + w / bw)


def test_single_buffer_serialises_load_and_compute():
    n, b, bw, lat, c, w = 12, 800.0, 16.0, 30, 90.0, 100.0
    total, _ = run_pipeline(uniform(n, b, c, w, slots=1), bw, lat)
    assert total == pytest.approx(n * (b / bw + lat + c) + w / bw)


def test_resident_tiles_cost_no_transfer():
    s = schedule([1000, 0, 0, 0], [50, 50, 50, 50], [0, 0, 0, 160], new_output=[True, False, False, False])
    total, transfers = run_pipeline(s, 10.0, 5)
    assert transfers == 2 and total == pytest.approx(100 + 5 + 200 + 16)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 600), st.integers(0, 3000), st.booleans(),
                          st.booleans()), min_size=1, max_size=40),
       st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.sampled_from([1.0, 4.0, 16.0, 64.0]),
       st.sampled_from([0, 7, 100]))
def test_total_between_overlap_and_serial_bounds(tiles, slots, out_slots, bw, lat):
    loads = [t[0] for t in tiles]
    computes = [t[1] for t in tiles]
    new_output = [True] + [t[3] for t in tiles[1:]]
    last = [new_output[i + 1] for i in range(len(tiles) - 1)] + [True]
    writes = [t[2] if last[i] else 0 for i, t in enumerate(tiles)]
    psum = [new_output[i] and tiles[i][4] and i > 0 for i in range(len(tiles))]
    s = schedule(loads, computes, writes, slots=slots, out_slots=out_slots, new_output=new_output, psum=psum)
    total, _ = run_pipeline(s, bw, lat)
    moved = sum(loads) + sum(writes)
    n_loads = sum(1 for b in loads if b > 0)
    lower = max(sum(computes), moved / bw)
    upper = sum(computes) + moved / bw + lat * n_loads
    assert lower - 1e-6 <= total <= upper + 1e-6


def _conv(name="c", batch=1, cin=16, cout=32, h=14, k=3, stride=1, pad=1, groups=1) -> Layer:
    out = (h + 2 * pad - k) // stride + 1
    shape = ConvShape(batch, cin, cout, h, h, out, out, k, k, stride, stride, pad, pad, groups=groups)
    m, n, kk = conv_gemm(shape)
    mask = np.ones((cout, cin // groups, k, k), bool)
    kind = "depthwise" if groups > 1 and groups == cin else "conv"
    return Layer(name, kind, m, n, kk, groups=groups, weight_mask=mask, conv=shape)


def _hw(dataflow="ws", rows=8, cols=8, sizes=("4 KiB", "4 KiB", "4 KiB"), shared=None, bw="8 B/cycle",
        latency="20 cycles", double=True, timing="accelsim"):
    if shared:
        memories = [{"name": "glb", "size": shared, "double_buffered": double}]
    else:
        memories = [{"name": f"{op}_buf", "size": s, "holds": [op], "double_buffered": double}
                    for op, s in zip(("inputs", "weights", "outputs"), sizes, strict=True)]
    raw = {"version": 1, "name": "t", "clock": "1 GHz", "timing": timing,
           "pe_array": {"rows": rows, "cols": cols, "dataflow": dataflow},
           "memories": memories, "dram": {"bandwidth": bw, "latency": latency}}
    return hardware_from_dict(raw, "test")


def _run(layer, hw):
    compute = dense_compute(layer, hw, TIMING_MODELS.get(hw.timing))
    storage = storage_of(layer, hw)
    model = tile_model(layer, hw, compute, storage)
    mapping = choose_mapping(layer, hw, compute, model)
    return compute, storage, mapping, simulate_memory(hw, layer, compute, model, mapping)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(DATAFLOWS.names()), st.integers(1, 3), st.sampled_from([1, 3]), st.integers(4, 24),
       st.integers(1, 40), st.integers(1, 40), st.sampled_from(range(len(LOOP_ORDERS))),
       st.integers(1, 4), st.integers(1, 4), st.integers(1, 64))
def test_schedule_bytes_equal_the_closed_form(df, stride, k, h, cin, cout, oi, fm, fn, tm):
    layer = _conv(cin=cin, cout=cout, h=h, k=k, stride=stride, pad=k // 2)
    hw = _hw(dataflow=df)
    compute = dense_compute(layer, hw, TIMING_MODELS.get("accelsim"))
    model = tile_model(layer, hw, compute, storage_of(layer, hw))
    tiles = {d: min(getattr(layer, d), f * model.steps[d]) for d, f in (("m", fm), ("n", fn), ("k", fm + fn))}
    tiles[model.time_dim] = min(getattr(layer, model.time_dim), tm)
    order = LOOP_ORDERS[oi]
    mapping = dataclasses.replace(
        choose_mapping(layer, _hw(dataflow=df, sizes=("1 MiB",) * 3), compute, model),
        loop_order=order, tile_m=tiles["m"], tile_n=tiles["n"], tile_k=tiles["k"],
        tiles_m=-(-layer.m // tiles["m"]), tiles_n=-(-layer.n // tiles["n"]),
        tiles_k=-(-layer.k // tiles["k"]))
    sched = build_schedule(model, mapping, hw, compute)
    closed = evaluate(model, *(np.array([tiles[d]]) for d in "mnk"), order)
    for key, value in closed.items():
        assert sched.totals[key] == pytest.approx(float(value[0]), rel=1e-9, abs=1e-6), key
    # the tiles' cycles: what the mapper sums in closed form, never less than the untiled layer
    busy = estimated_compute(compute, model, *(np.array([tiles[d]]) for d in "mnk"))[0]
    assert sched.compute_cycles.sum() == pytest.approx(busy)
    assert busy >= compute.compute_cycles
    assert sched.tiles == mapping.tiles


def test_layer_total_is_compute_plus_measured_stall_and_traffic_matches_mapping():
    layer = _conv(cin=64, cout=64, h=28)
    hw = _hw(bw="2 B/cycle")  # starved: stalls must show
    compute, _, mapping, trace = _run(layer, hw)
    assert trace.total_cycles == trace.compute_cycles + trace.stall_cycles
    assert trace.compute_cycles >= compute.compute_cycles  # each tile pays its own fill and drain
    assert trace.stall_cycles > 0
    assert abs(trace.dram_read_bytes - mapping.dram_read_bytes) <= 8
    assert abs(trace.dram_write_bytes - mapping.dram_write_bytes) <= 8
    bytes_moved = trace.dram_read_bytes + trace.dram_write_bytes
    assert trace.total_cycles >= bytes_moved / hw.dram.bandwidth_bytes_per_cycle - 1


def test_ample_bandwidth_means_almost_no_stall():
    layer = _conv(cin=64, cout=64, h=28)
    _, _, _, trace = _run(layer, _hw(bw="4096 B/cycle", latency="1 cycles", sizes=("64 KiB",) * 3))
    assert trace.stall_cycles <= 0.02 * trace.total_cycles


def test_traffic_by_level_keeps_data_and_metadata_apart():
    layer = _conv(cin=32, cout=32, h=14)
    hw = _hw()
    _, storage, _, trace = _run(layer, hw)
    d = trace.by_level["dram"]
    assert d["weights"]["read_metadata_bytes"] == 0
    assert d["weights"]["read_data_bytes"] >= storage["weights"].data_bits // 8
    assert trace.dram_read_bytes == sum(t["read_data_bytes"] + t["read_metadata_bytes"] for t in d.values())
    assert trace.by_level["weights_buf"]["weights"]["write_data_bytes"] == d["weights"]["read_data_bytes"]
    assert trace.by_level["outputs_buf"]["outputs"]["read_data_bytes"] == d["outputs"]["write_data_bytes"]
    assert trace.traffic is trace.by_level


def test_scalesim_mode_never_stalls():
    layer = _conv(cin=64, cout=64, h=28)
    hw = _hw(bw="1 B/cycle", timing="scalesim")
    assert not TIMING_MODELS.get("scalesim").models_stalls
    compute, _, mapping, _ = _run(layer, hw)
    trace = stall_free_memory(hw, compute, tile_model(layer, hw, compute, storage_of(layer, hw)), mapping)
    assert trace.stall_cycles == 0 and trace.total_cycles == compute.compute_cycles
    assert trace.dram_read_bytes == mapping.dram_read_bytes
    report = simulate(hw, Workload("one", (layer,)))  # the simulator picks the stall-free model
    assert report.stall_cycles == 0
    assert report.layers[0].dram_read_bytes == trace.dram_read_bytes


def test_scalesim_cycles_unchanged_through_simulate():
    hw = load_hardware("dense_ws", {"timing": "scalesim"})
    wl = Workload("w", (_conv(cin=16, cout=32, h=20), _conv("d", cin=8, cout=8, h=12, groups=8)))
    report = simulate(hw, wl)
    timing = TIMING_MODELS.get("scalesim")
    for layer, lr in zip(wl.layers, report.layers, strict=True):
        assert lr.stall_cycles == 0
        assert lr.total_cycles == dense_compute(layer, hw, timing).compute_cycles


def test_default_model_reports_stalls_and_mapping():
    hw = load_hardware("dense_ws", {"dram.bandwidth": "1 GB/s"})
    report = simulate(hw, Workload("w", (_conv(cin=64, cout=128, h=28),)))
    lr = report.layers[0]
    assert lr.stall_cycles > 0 and lr.total_cycles == lr.compute_cycles + lr.stall_cycles
    assert lr.mapping.loop_order in LOOP_ORDERS
    assert min(lr.mapping.tile_m, lr.mapping.tile_n, lr.mapping.tile_k) >= 1


def test_groups_run_one_after_another():
    layer = _conv("dw", cin=32, cout=32, h=14, groups=32)
    compute, _, mapping, trace = _run(layer, _hw())
    assert trace.tiles == mapping.tiles * 32
    assert trace.total_cycles == trace.compute_cycles + trace.stall_cycles
    assert trace.compute_cycles == compute.compute_cycles  # one tile per group: the untiled cycles


def test_many_tiles_are_coarsened_keeping_bytes(monkeypatch):
    layer = _conv(cin=64, cout=64, h=28)
    hw = _hw(bw="4 B/cycle")
    _, _, _, fine = _run(layer, hw)
    monkeypatch.setattr(memory, "MAX_TILES", max(1, fine.tiles // 7))
    _, _, _, coarse = _run(layer, hw)
    assert coarse.coarsening > 1 and coarse.transfers < fine.transfers
    assert (coarse.dram_read_bytes, coarse.dram_write_bytes) == (fine.dram_read_bytes, fine.dram_write_bytes)
    assert coarse.total_cycles >= (coarse.dram_read_bytes + coarse.dram_write_bytes) / 4 - 1


def test_a_slot_frees_when_the_last_tile_using_its_operand_tile_has_computed():
    changed = np.array([True, False, False, True, False, True, True])
    assert memory._slot_wait(changed, 2).tolist() == [-1, -1, -1, -1, -1, 2, 4]
    assert memory._slot_wait(changed, 1).tolist() == [-1, -1, -1, 2, -1, 4, 5]


def test_absurdly_many_tiles_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(memory, "MAX_SCHEDULE", 3)
    with pytest.raises(memory.SimulationError, match="too small for a tile-level model"):
        _run(_conv(cin=64, cout=64, h=28), _hw())


# ------------------------------------------------------- knobs that act: level bandwidth, DRAM channels

def _sparse_gemm(density=0.29, size=256, seed=0) -> Workload:
    mask = np.random.default_rng(seed).random((size, size)) < density
    layer = Layer("fc", "linear", size, size, size, weight_mask=mask, pattern="unstructured")
    return Workload("gemm", (layer,))


def test_a_slower_input_buffer_makes_an_irregular_sparse_schedule_slower():
    """Each column of a skip array follows its own compressed K, so the array reads ~80 input words
    per cycle into 32 rows: an input buffer that delivers fewer words per cycle is the bound."""
    wl = _sparse_gemm()
    free = simulate(load_hardware("sparse_pe"), wl).layers[0]
    words_per_cycle = free.sram_reads["inputs"] / free.compute_cycles
    assert words_per_cycle > 64
    totals = []
    for bw in (128, 32, 16):
        layer = simulate(load_hardware("sparse_pe", {"memories.ifmap_sram.bandwidth": f"{bw} B/cycle"}),
                         wl).layers[0]
        assert layer.sram_reads["inputs"] == free.sram_reads["inputs"]  # the array reads the same ...
        totals.append(layer.total_cycles)  # ... but waits for its operands
        need = free.sram_reads["inputs"] / bw  # int8 words, the activations are dense (no metadata)
        assert layer.total_cycles >= need
        if need > free.total_cycles:
            assert layer.bound == "ifmap_sram bandwidth"
    assert totals[0] < totals[1] < totals[2]


def _with(hw, **changes):
    return hardware_from_dict({**hw.raw, **changes}, "t")


@pytest.mark.parametrize("df", DATAFLOWS.names())
def test_a_dense_systolic_array_never_waits_for_its_edge_bandwidth(df):
    """A dense array reads at most one input word per row and one weight word per column per cycle
    (inputs enter at one edge, weights at the other): buffers of that bandwidth never slow it."""
    layer = _conv(cin=64, cout=64, h=14)
    hw = _hw(dataflow=df, sizes=("256 KiB",) * 3, bw="64 B/cycle")
    edge = hw.pe_array.rows + hw.pe_array.cols  # words per cycle the array can take in, int8
    limited = _with(hw, memories=[{**m, "bandwidth": f"{edge} B/cycle"} for m in hw.raw["memories"]])
    a, b = simulate(hw, Workload("one", (layer,))), simulate(limited, Workload("one", (layer,)))
    assert b.total_cycles == a.total_cycles
    feed = b.layers[0].memory.delivery_cycles
    assert feed and all(c <= b.layers[0].compute_cycles for c in feed.values())


def test_dram_channels_multiply_the_bandwidth():
    layer = _conv(cin=64, cout=128, h=28)
    hw = _hw(bw="2 B/cycle")
    one = simulate(hw, Workload("one", (layer,))).layers[0]
    two = simulate(_with(hw, dram={**hw.raw["dram"], "bandwidth": "1 B/cycle", "channels": 2}),
                   Workload("one", (layer,))).layers[0]
    four = simulate(_with(hw, dram={**hw.raw["dram"], "bandwidth": "1 B/cycle", "channels": 4}),
                    Workload("one", (layer,))).layers[0]
    assert two.total_cycles == one.total_cycles  # 2 channels x 1 B/cycle = one 2 B/cycle pipe
    assert four.total_cycles < two.total_cycles and one.bound == "dram bandwidth"


def test_no_on_chip_buffer_is_an_error_not_a_silent_default():
    from accelsim.errors import ConfigError

    raw = {"version": 1, "name": "t", "pe_array": {"rows": 4, "cols": 4}, "memories": []}
    with pytest.raises(ConfigError, match="memories: an empty list"):
        hardware_from_dict(raw, "t.yaml")
    with pytest.raises(ConfigError, match="memories: required key is missing"):
        hardware_from_dict({k: v for k, v in raw.items() if k != "memories"}, "t.yaml")


def test_a_trace_without_a_fold_schedule_splits_its_cycles_by_folds():
    """A datapath with cycles of its own (a flexible array) gives no FoldSchedule: its tiles share its
    compute cycles by the folds and time they cover, and the layer keeps exactly those cycles."""
    layer = _conv(cin=64, cout=64, h=28)
    hw = _hw()
    compute, storage, _, _ = _run(layer, hw)
    bare = dataclasses.replace(compute, schedule=None, compute_cycles=123_457)
    model = tile_model(layer, hw, bare, storage)
    mapping = choose_mapping(layer, hw, bare, model)
    assert mapping.tiles > 1
    sched = build_schedule(model, mapping, hw, bare)
    assert sched.compute_cycles.sum() == pytest.approx(123_457)
    assert simulate_memory(hw, layer, bare, model, mapping).compute_cycles == 123_457


# ---------------------------------------------------------------- activations kept on chip between layers

def test_tpu_like_keeps_activations_on_chip_when_they_fit():
    """24 MiB of unified buffer holds every ResNet-18 activation: only the image is read and only the
    logits are written; weights still stream from DRAM.  The switch off moves them all through DRAM."""
    from accelsim.workload.load import load_workload

    wl = load_workload("resnet18")
    on = simulate(load_hardware("tpu_like"), wl)
    off = simulate(load_hardware("tpu_like", {"keep_activations": False}), wl)
    assert on.hardware.keep_activations and not off.hardware.keep_activations
    last = on.layers[-1]

    def input_reads(layer):
        t = layer.memory.by_level["dram"]["inputs"]
        return t["read_data_bytes"] + t["read_metadata_bytes"]

    assert input_reads(on.layers[0]) >= on.layers[0].storage["inputs"].total_bits // 8  # the image
    assert all(input_reads(layer) == 0 for layer in on.layers[1:])
    assert sum(layer.dram_write_bytes for layer in on.layers[:-1]) == 0
    assert last.dram_write_bytes == -(-last.storage["outputs"].total_bits // 8)
    assert all("input read from chip" in layer.notes for layer in on.layers[1:])
    assert off.totals()["dram_write_bytes"] > 1e6 and on.total_cycles < off.total_cycles


def test_activations_that_do_not_fit_go_through_dram():
    from accelsim.workload.load import load_workload

    wl = load_workload("resnet18")
    small = simulate(load_hardware("tpu_like", {"memories.unified_buffer.size": "256 KiB"}), wl)
    note = "output kept on chip for the layers that read it"
    kept = [layer for layer in small.layers if note in layer.notes]
    assert 0 < len(kept) < len(small.layers) - 1  # the large early activations (>= 784 KiB) cannot stay
    for layer in small.layers[:-1]:
        assert (layer.dram_write_bytes == 0) == (note in layer.notes)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 4096), st.floats(1, 500), st.floats(0, 2048)), min_size=1,
                max_size=30), st.sampled_from([1, 2]))
def test_a_remembered_pipeline_is_the_pipeline(tiles, slots):
    """pipeline_result reuses the run of an identical schedule (repeated decoder layers) and no other."""
    loads, computes, writes = (list(v) for v in zip(*tiles, strict=True))
    s = schedule(loads, computes, writes, slots=slots)
    assert memory.pipeline_result(s, 16.0, 100) == run_pipeline(s, 16.0, 100)
    assert memory.pipeline_result(s, 16.0, 100) == run_pipeline(s, 16.0, 100)  # served from the memo
    assert memory.pipeline_result(s, 8.0, 100) == run_pipeline(s, 8.0, 100)  # another bandwidth: its own
    longer = dataclasses.replace(s, compute_cycles=s.compute_cycles + 1.0)
    assert memory.pipeline_result(longer, 16.0, 100) == run_pipeline(longer, 16.0, 100)
