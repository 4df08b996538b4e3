"""The contract of every dataflow x every timing model, parametrised over the registries (a new entry
is checked without editing this file), and a dataflow registered at run time running end to end."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.errors import ConfigError
from accelsim.registry import DATAFLOWS, TIMING_MODELS
from accelsim.sim.dataflows import Dataflow, plan_folds
from accelsim.sim.dataflows.compute import dense_compute
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.workload.layer import ConvShape, Layer, Workload

OPERANDS = {"inputs": "mk", "weights": "kn", "outputs": "mn"}
COMBOS = [(flow, model) for flow in DATAFLOWS.names() for model in TIMING_MODELS.names()]
dims = st.integers(1, 60)
sides = st.integers(2, 12)

# One dense fold (Sr <= R, Sc <= C) of ``groups`` GEMM groups, written out per timing model.
ONE_FOLD = {
    # every fold pays fill and drain; the total is the last cycle's index (count - 1), per group
    "scalesim": lambda drains, r, c, sr, sc, t, g: g * ((t + r + c - 2 if drains else 2 * r + c + t - 2) - 1),
    # rtl_ref: a fold slot, the 2R fill/drain and the columns used; results drain after a full slot
    "accelsim": lambda drains, r, c, sr, sc, t, g: g * ((max(t, r) if drains else t) + 2 * r + sc),
    # STONNE's mesh: the rows and columns used, skew and 3 pipeline cycles; a stationary preload of sr
    "stonne_mesh": lambda drains, r, c, sr, sc, t, g: g * (t + sr + sc + 3 + (0 if drains else sr)),
}


def hw_for(name: str, flow: str, model: str, rows: int = 4, cols: int = 4):
    hw = accelsim.load_hardware(name)
    return replace(hw, timing=model, pe_array=replace(hw.pe_array, dataflow=flow, rows=rows, cols=cols))


def gemm(flow: str, sr: int, sc: int, t: int) -> dict[str, int]:
    """(m, n, k) that put Sr, Sc, T on the flow's rows, columns and time."""
    f = DATAFLOWS.get(flow)
    return {f.rows_dim: sr, f.cols_dim: sc, f.time_dim: t}


def brute_force_reads(flow: str, r: int, c: int, m: int, n: int, k: int) -> dict[str, int]:
    """Walk the folds: each reads (outputs: writes) the slice of every operand it touches."""
    f, ext = DATAFLOWS.get(flow), {"m": m, "n": n, "k": k}

    def slices(dim: str, width: int) -> list[int]:
        return [min(width, ext[dim] - i) for i in range(0, ext[dim], width)]

    out = dict.fromkeys(OPERANDS, 0)
    for a in slices(f.rows_dim, r):
        for b in slices(f.cols_dim, c):
            fold = {f.rows_dim: a, f.cols_dim: b, f.time_dim: ext[f.time_dim]}
            for op, (d0, d1) in OPERANDS.items():
                out[op] += fold[d0] * fold[d1]
    return out


# ---------------------------------------------------------------- the row


@pytest.mark.parametrize("flow", DATAFLOWS.names())
def test_the_row_is_a_permutation_and_holds_its_stationary_operand(flow):
    f = DATAFLOWS.get(flow)
    assert sorted((f.rows_dim, f.cols_dim, f.time_dim)) == ["k", "m", "n"]
    held = [op for op, d in OPERANDS.items() if set(d) == {f.rows_dim, f.cols_dim}]
    assert held == [f.stationary]  # the one operand the time dim does not index
    assert f.spatial(m=2, n=3, k=5) == tuple({"m": 2, "n": 3, "k": 5}[d] for d in (f.rows_dim, f.cols_dim,
                                                                                     f.time_dim))


def test_a_row_that_contradicts_itself_is_refused():
    with pytest.raises(ConfigError, match="the PEs hold 'outputs'"):
        Dataflow("bad", rows_dim="m", cols_dim="n", time_dim="k", stationary="weights", description="")
    with pytest.raises(ConfigError, match="are not m, n, k"):
        Dataflow("bad", rows_dim="m", cols_dim="m", time_dim="k", stationary="outputs", description="")


# ---------------------------------------------------------------- dense timing


@pytest.mark.parametrize("flow,model", COMBOS)
@settings(max_examples=40, deadline=None)
@given(sides, sides, dims, dims, dims)
def test_cycles_grow_with_time(flow, model, r, c, m, n, k):
    tm, f = TIMING_MODELS.get(model), DATAFLOWS.get(flow)
    ext = {"m": m, "n": n, "k": k}
    base = tm.layer_cycles(plan_folds(flow, r, c, **ext), 1)
    for more, strictly in ((1, False), (r, True)):  # a fold slot is at least R long
        cycles = tm.layer_cycles(plan_folds(flow, r, c, **{**ext, f.time_dim: ext[f.time_dim] + more}), 1)
        assert cycles > base if strictly else cycles >= base


@pytest.mark.parametrize("flow", DATAFLOWS.names())
@settings(max_examples=60, deadline=None)
@given(sides, sides, dims, dims, dims)
def test_more_rows_or_cols_never_more_folds(flow, r, c, m, n, k):
    p = plan_folds(flow, r, c, m, n, k)
    assert plan_folds(flow, r + 1, c, m, n, k).folds <= p.folds
    assert plan_folds(flow, r, c + 1, m, n, k).folds <= p.folds
    assert p.row_folds * r >= p.sr > (p.row_folds - 1) * r and 0 < p.mapping_efficiency <= 1


@pytest.mark.parametrize("flow,model", COMBOS)
@settings(max_examples=40, deadline=None)
@given(sides, sides, st.integers(1, 40), st.integers(1, 40), st.integers(1, 40))
def test_buffer_accesses_against_a_walk_over_the_folds(flow, model, r, c, m, n, k):
    p = plan_folds(flow, r, c, m, n, k)
    acc = TIMING_MODELS.get(model).sram_accesses(p, m, n, k)
    want = brute_force_reads(flow, r, c, m, n, k)
    assert acc.inputs_reads == want["inputs"] >= m * k
    assert acc.weights_reads == want["weights"] >= k * n
    assert acc.outputs_writes in (want["outputs"], want["outputs"] + p.folds * (r + c))  # + drain slots
    assert want["outputs"] >= m * n
    d0, d1 = OPERANDS[DATAFLOWS.get(flow).stationary]
    assert want[DATAFLOWS.get(flow).stationary] == {"m": m, "n": n, "k": k}[d0] * {"m": m, "n": n, "k": k}[d1]
    # the last write of an output is never read back; sums held in the PEs never leave early
    assert 0 <= acc.outputs_reads <= want["outputs"] - m * n
    if DATAFLOWS.get(flow).time_dim == "k":
        assert acc.outputs_reads == 0


@pytest.mark.parametrize("flow,model", COMBOS)
@settings(max_examples=40, deadline=None)
@given(sides, sides, st.data(), st.integers(1, 300), st.integers(1, 3))
def test_a_gemm_in_one_fold_takes_the_closed_form(flow, model, r, c, data, t, groups):
    assert model in ONE_FOLD, f"write the one-fold closed form of timing model {model!r} in ONE_FOLD"
    sr, sc = data.draw(st.integers(1, r)), data.draw(st.integers(1, c))
    p = plan_folds(flow, r, c, **gemm(flow, sr, sc, t))
    assert (p.sr, p.sc, p.t, p.folds) == (sr, sc, t, 1)
    drains = DATAFLOWS.get(flow).stationary == "outputs"
    want = ONE_FOLD[model](drains, r, c, sr, sc, t, groups)
    assert TIMING_MODELS.get(model).layer_cycles(p, groups) == want


# ---------------------------------------------------------------- sparse schedules


def _layers(mask_of):
    """A linear and a conv layer whose weight masks come from ``mask_of(shape)``."""
    conv = ConvShape(batch=1, in_channels=4, out_channels=10, in_h=5, in_w=5, out_h=5, out_w=5,
                     kernel_h=3, kernel_w=3, pad_h=1, pad_w=1)
    return [("unstructured", Layer("fc", "linear", 9, 11, 26, weight_mask=mask_of((11, 26)))),
            ("block4x4", Layer("fc", "linear", 9, 11, 26, weight_mask=mask_of((11, 26)))),
            ("window", Layer("cv", "conv", 25, 10, 36, weight_mask=mask_of((10, 4, 3, 3)), conv=conv)),
            ("channel", Layer("cv", "conv", 25, 10, 36, weight_mask=mask_of((10, 4, 3, 3)), conv=conv))]


@pytest.mark.parametrize("flow,model", COMBOS)
@pytest.mark.parametrize("hw_name", ["sparse_pe", "unstructured_skip", "zero_gated", "nm_tensor_core"])
def test_an_all_ones_mask_is_the_dense_schedule(flow, model, hw_name):
    hw, tm = hw_for(hw_name, flow, model), TIMING_MODELS.get(model)
    for label, layer in _layers(lambda shape: np.ones(shape, bool)):
        got, want = sparse_compute(replace(layer, pattern=label), hw, tm), dense_compute(layer, hw, tm)
        assert (got.plan, got.compute_cycles, got.sram_reads, got.sram_writes) == (
            want.plan, want.compute_cycles, want.sram_reads, want.sram_writes)
        assert (got.macs_issued, got.macs_gated, got.load_imbalance) == (layer.macs, 0, 1.0)


@pytest.mark.parametrize("flow,model", COMBOS)
def test_a_sparse_mask_never_costs_more_than_dense(flow, model):
    hw, tm = hw_for("sparse_pe", flow, model), TIMING_MODELS.get(model)
    rng = np.random.default_rng(4)
    for label, layer in _layers(lambda shape: rng.random(shape) < 0.35):
        got, dense = sparse_compute(replace(layer, pattern=label), hw, tm), dense_compute(layer, hw, tm)
        assert 0 < got.compute_cycles <= dense.compute_cycles
        assert got.macs_issued + got.macs_skipped == layer.macs and got.load_imbalance >= 1.0
        for op in ("inputs", "weights"):
            assert got.sram_reads[op] <= dense.sram_reads[op]


@pytest.mark.parametrize("flow,model", COMBOS)
def test_zero_inputs_shorten_time_only_where_inputs_stream(flow, model):
    """Skipped zero activations shorten the streamed work; a zero stationary input only idles its PE."""
    tm, streams = TIMING_MODELS.get(model), DATAFLOWS.get(flow).streams("inputs")
    mask = np.random.default_rng(2).random((12, 64)) < 0.5
    for hw_name, label in (("unstructured_skip", "unstructured"), ("nm_tensor_core", "nm2:4")):
        hw = hw_for(hw_name, flow, model, 2, 2)
        hw = replace(hw, sparsity=replace(hw.sparsity, inputs=replace(hw.sparsity.inputs, skip="skip")))
        if label == "nm2:4":
            mask = np.tile(np.array([1, 1, 0, 0], bool), (12, 16))
        full, sparse = (sparse_compute(Layer("fc", "linear", 40, 12, 64, weight_mask=mask, pattern=label,
                                             activation_density=d), hw, tm).compute_cycles
                        for d in (1.0, 0.4))
        assert sparse < full if streams else sparse == full, (hw_name, sparse, full)


@pytest.fixture
def transposed():
    """Every dataflow with rows and columns swapped, registered for the test only."""
    names = {}
    for flow in DATAFLOWS.names():
        f = DATAFLOWS.get(flow)
        names[flow] = f"{flow}_transposed"
        DATAFLOWS.add(names[flow], replace(f, name=names[flow], rows_dim=f.cols_dim, cols_dim=f.rows_dim))
    yield names
    for name in names.values():
        DATAFLOWS.remove(name)


@pytest.mark.parametrize("rows,cols", [(3, 3), (3, 5)])
def test_a_transposed_row_runs_the_same_sparse_schedule(transposed, rows, cols):
    """A dataflow with rows and columns swapped, on the array with rows and columns swapped, gives
    each dim the same PEs: the same work, imbalance and buffer accesses, and on a square array (where
    SCALE-Sim's folds cost the same on either axis) the same cycles.  This checks that each sparse
    rule reads the axis off the row."""
    tm = TIMING_MODELS.get("scalesim")
    rng = np.random.default_rng(9)
    for flow, flipped in transposed.items():
        for hw_name in ("sparse_pe", "unstructured_skip", "nm_tensor_core"):
            for label, layer in _layers(lambda shape: rng.random(shape) < 0.3):
                layer = replace(layer, pattern=label, activation_density=0.6)
                a = sparse_compute(layer, hw_for(hw_name, flow, "scalesim", rows, cols), tm)
                b = sparse_compute(layer, hw_for(hw_name, flipped, "scalesim", cols, rows), tm)
                assert (b.plan.row_folds, b.plan.col_folds) == (a.plan.col_folds, a.plan.row_folds)
                assert (b.macs_issued, b.macs_gated, b.sram_reads, b.sram_writes) == (
                    a.macs_issued, a.macs_gated, a.sram_reads, a.sram_writes), (flow, label)
                assert b.load_imbalance == pytest.approx(a.load_imbalance)
                if rows == cols:
                    assert b.compute_cycles == a.compute_cycles, (flow, label)
                sa, sb = a.schedule, b.schedule
                if sa.regular is not None:  # a regular datapath: the compressed plan, transposed
                    assert (sb.regular.sr, sb.regular.sc, sb.regular.t) == (
                        sa.regular.sc, sa.regular.sr, sa.regular.t)
                    continue
                for x, y in ((sa.fold_t, sb.fold_t), (sa.fold_share, sb.fold_share)):
                    if x is None:
                        assert y is None
                        continue
                    y = y.reshape(-1, b.plan.col_folds, b.plan.row_folds).transpose(0, 2, 1)
                    np.testing.assert_allclose(y.reshape(x.shape), x)  # fold (i, j) is fold (j, i)


# ---------------------------------------------------------------- a dataflow added at run time


@pytest.fixture
def tos():
    """Transposed output stationary: filters on the rows, output pixels on the columns, K in time."""
    DATAFLOWS.add("tos", Dataflow(name="tos", rows_dim="n", cols_dim="m", time_dim="k", stationary="outputs",
                                  description="transposed output stationary"))
    yield "tos"
    DATAFLOWS.remove("tos")


GEMMS = [(30, 20, 40), (50, 12, 70), (7, 45, 9)]  # (m, n, k)


@pytest.mark.parametrize("model", TIMING_MODELS.names())
def test_a_dataflow_registered_at_run_time_runs_end_to_end(tos, model):
    """tos on (m, n, k) is os on (n, m, k): the same cycles; inputs and weights reads swap."""
    hw = hw_for("dense_os", tos, model, rows=8, cols=6)
    mine = accelsim.simulate(hw, Workload("w", tuple(Layer(f"l{i}", "linear", m, n, k)
                                                      for i, (m, n, k) in enumerate(GEMMS))))
    ref = accelsim.simulate(replace(hw, pe_array=replace(hw.pe_array, dataflow="os")),
                            Workload("w", tuple(Layer(f"l{i}", "linear", n, m, k)
                                                for i, (m, n, k) in enumerate(GEMMS))))
    for a, b in zip(mine.layers, ref.layers, strict=True):
        assert (a.row_folds, a.col_folds, a.compute_cycles) == (b.row_folds, b.col_folds, b.compute_cycles)
        assert (a.sram_reads["inputs"], a.sram_reads["weights"]) == (b.sram_reads["weights"],
                                                                     b.sram_reads["inputs"])
        assert a.sram_writes == b.sram_writes and a.total_cycles >= a.compute_cycles
    assert mine.layers[0].row_folds == 3 and mine.layers[0].col_folds == 5  # N = 20 on 8 rows, M = 30 on 6


def test_a_sparse_mask_runs_on_a_dataflow_registered_at_run_time(tos):
    """Filters on the rows, K in time: a row fold of filters takes its slowest filter's nonzeros."""
    rng = np.random.default_rng(5)
    mask = rng.random((20, 40)) < 0.3
    mask[8:16] = False  # the second fold of filters has no work: dropped
    m, r, c = 30, 8, 6
    hw = hw_for("sparse_pe", tos, "scalesim", rows=r, cols=c)
    layer = Layer("fc", "linear", m, 20, 40, weight_mask=mask, pattern="unstructured")
    got = accelsim.simulate(hw, Workload("w", (layer,))).layers[0]
    nnz = mask.sum(axis=1)
    slowest = [int(nnz[i:i + r].max()) for i in range(0, 20, r)]
    col_folds = -(-m // c)
    assert got.compute_cycles == sum(col_folds * (t + r + c - 2) for t in slowest if t) - 1
    assert got.macs_issued == m * int(mask.sum()) and got.macs_issued + got.macs_skipped == m * 20 * 40
    assert got.load_imbalance == pytest.approx(sum(max(nnz[i:i + r]) * len(nnz[i:i + r])
                                                   for i in range(0, 20, r)) / mask.sum())
