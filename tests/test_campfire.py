"""The Campfire arrays in accelsim against their RTL (rtl_ref/ws_window_array.v, ws_channel_array.v):
cycles equal the committed Icarus measurements on every case, the formats store what the RTL's
compressed operands hold, and the bus/mux energy and PE area are the ones rtl_ref/expected/cells.json
gives under the stated scaling."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.sim.actions import count_actions
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.campfire_area import (
    LANE_UM2,
    PE_CELLS,
    UM2_PER_FLIP_FLOP,
    UM2_PER_LOGIC_CELL,
    pe_area,
)
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.energy import load_energy_table
from accelsim.sim.formats import Geometry, get_format
from accelsim.sim.simulator import simulate_layer
from accelsim.spec.hardware import load_hardware
from accelsim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
runner = importlib.import_module("rtl_ref.runner")
gather_ops = importlib.import_module("rtl_ref.gather_ops")
cells = importlib.import_module("rtl_ref.cells")

CONFIGS = {"ws_window_array": "campfire_window", "ws_channel_array": "campfire_channel"}


def _cases(design):
    for entry in runner.load_expected(design)["cases"]:
        case = runner.Case(**{k: v for k, v in entry.items() if k != "cycles"})
        yield case, entry["cycles"]


def _layer(case, b: np.ndarray, pattern: str) -> Layer:
    """The case's B as a conv layer: mask [N, CH, RS, 1], window (c, n) = B[p * CH + c, n]."""
    ch = case.K // case.RS
    mask = (b != 0).reshape(case.RS, ch, case.N).transpose(2, 1, 0)[..., None]
    return Layer("t", "conv", case.M, case.N, case.K, weight_mask=np.ascontiguousarray(mask), pattern=pattern)


def _hw(design, case):
    sets = {"pe_array.rows": case.R, "pe_array.cols": case.C}
    if design == "ws_channel_array":
        sets["sparsity.weights.gather_width"] = case.G
    return load_hardware(CONFIGS[design], sets)


@pytest.mark.parametrize("design", sorted(CONFIGS))
def test_accelsim_cycles_equal_the_rtl_on_every_committed_case(design):
    timing = TIMING_MODELS.get("accelsim")
    off = []
    for case, cycles in _cases(design):
        b = runner.operands(case, runner.DESIGNS[design].sparsity)[1]
        trace = sparse_compute(_layer(case, b, runner.DESIGNS[design].sparsity), _hw(design, case), timing)
        if trace.compute_cycles != cycles or trace.notes:
            off.append(f"{case}: RTL {cycles}, accelsim {trace.compute_cycles} {trace.notes}")
    assert not off, "\n".join(off)
    assert len(list(_cases(design))) >= 24


@pytest.mark.parametrize("design", sorted(CONFIGS))
def test_the_formats_store_what_the_rtl_loads(design):
    """accelsim's stored slots are the RTL's compressed B without the rows' padding; its array rows
    are the RTL's S."""
    for case, _ in _cases(design):
        b = runner.operands(case, runner.DESIGNS[design].sparsity)[1]
        hw = _hw(design, case)
        fmt = get_format(hw.sparsity.weights.format, hw.sparsity.weights.options)
        fibers = (b != 0).T.copy()
        geometry = Geometry(case.RS, case.K // case.RS)
        data, meta, pad = fmt.bits(fibers, 8, geometry)
        assert data - 8 * pad == 8 * int(np.count_nonzero(b))
        if design == "ws_window_array":
            rows = gather_ops.window_slots(case.K, case.RS, case.keep)
            sizes = np.minimum(9, case.RS - np.arange(0, case.RS, 9))
            assert data == 8 * case.N * (case.K // case.RS) * int(np.minimum(case.keep, sizes).sum())
        else:
            values = gather_ops.compress_channel(b, case.RS, case.G)[0]
            rows = values.shape[0]
            ch, windows = case.K // case.RS, rows // case.RS
            blocks = -(-ch // case.G)
            index = gather_ops.clog2(min(case.G, ch))
            table = windows * gather_ops.clog2(blocks)
            assert (data, meta) == (8 * values.size, case.N * windows * index + table)
        assert fmt.array_rows(fibers, geometry) == rows, case


def test_window_bus_cuts_wide_windows_and_gather_width_cuts_channels():
    fmt = get_format("window_nm", {"window_bus": 9})
    full = np.ones((2, 25 * 3), np.uint8)  # a dense 5x5 window: sub-windows of 9, 9, 7
    assert fmt.array_rows(full, Geometry(25, 3)) == 9 * 3 * 3
    assert fmt.bits(full, 8, Geometry(25, 3)) == (2 * 75 * 8, 2 * 75 * 4, 0)
    one = np.zeros((1, 9 * 4), np.uint8)
    one[0, [0, 4 * 4, 8 * 4, 8 * 4 + 1]] = 1  # window 0 keeps 3 (positions 0, 4, 8), window 1 keeps 1
    assert fmt.array_rows(one, Geometry(9, 4)) == 3 * 4
    assert fmt.bits(one, 8, Geometry(9, 4)) == (12 * 8, 12 * 4, 8)
    ch = get_format("channel_gather", {"gather_width": 2})
    m = np.zeros((2, 4), np.uint8)  # 1x1, 4 channels in blocks {0,1} {2,3}
    m[0, [0, 1]] = 1
    m[1, [0, 2]] = 1
    assert ch.array_rows(m, Geometry(1, 4)) == 2 + 1  # block 0: filter 0 keeps 2; block 1: 1
    assert ch.bits(m, 8, Geometry(1, 4)) == (2 * 3 * 8, 2 * 3 * 1 + 3 * 1, 2)


def test_bus_energy_is_issued_macs_times_lanes_and_replaces_the_operand_select():
    rng = np.random.default_rng(0)
    mask = rng.random((16, 8, 3, 3)) < 0.3
    layer = Layer("t", "conv", 10, 16, 72, weight_mask=mask, pattern="window")
    table = load_energy_table("horowitz_45nm")
    for name, lanes, action in (("campfire_window", 9, "window_select"),
                                ("campfire_channel", 16, "channel_gather")):
        hw = load_hardware(name)
        report = simulate_layer(layer, hw, TIMING_MODELS.get("accelsim"), table)
        assert "operand_select" not in report.energy_by_action_pj
        want = report.macs_issued * lanes * table.cost(action).pj
        assert report.energy_by_action_pj[action] == pytest.approx(want)
        key = "window_bus" if lanes == 9 else "gather_width"
        doubled = load_hardware(name, {f"sparsity.weights.{key}": 2 * lanes})
        trace = sparse_compute(layer, doubled, TIMING_MODELS.get("accelsim"))
        acts = count_actions(doubled, trace, report.memory, report.storage)
        assert sum(a.count for a in acts if a.action == action) == trace.macs_issued * 2 * lanes


# ---------------------------------------------------------------- cell counts -> pJ and um^2

def _cells() -> dict:
    return json.loads(cells.CELLS_JSON.read_text())


def test_cells_json_is_current():
    doc = _cells()
    assert doc["sources_sha256"] == cells.source_hash(), "Verilog changed: run rtl_ref/cells.py --regenerate"
    assert [p["name"] for p in doc["pes"]] == [name for name, *_ in cells.PES]


@pytest.mark.skipif(not cells.have_yosys(), reason="yosys not on PATH")
def test_yosys_gives_the_committed_cell_counts():
    measured = cells.measure()
    assert measured["pes"] == _cells()["pes"]


def _lane_fit(doc: dict, prefix: str) -> tuple[float, float, float]:
    """(pJ per lane, um^2 per lane, worst relative error at >= 8 lanes) over the bus widths."""
    sc, pes = doc["scaling"], {p["name"]: p for p in doc["pes"]}
    base = pes["ws_pe"]
    pts = []
    for name, p in pes.items():
        if name.startswith(prefix):
            dl, df = p["logic"] - base["logic"], p["flip_flops"] - base["flip_flops"]
            pts.append((p["params"]["BW"], dl * sc["pj_per_logic_cell"] + df * sc["pj_per_flip_flop_cycle"],
                        dl * sc["um2_per_logic_cell"] + df * sc["um2_per_flip_flop"]))
    sq = sum(lanes * lanes for lanes, _, _ in pts)
    pj, um2 = (sum(lanes * v[i] for lanes, *v in pts) / sq for i in (0, 1))
    worst = max(max(abs(pj * lanes - e) / e, abs(um2 * lanes - a) / a) for lanes, e, a in pts if lanes >= 8)
    return pj, um2, worst


@pytest.mark.parametrize("action,prefix", [("window_select", "window_pe_bw"),
                                           ("channel_gather", "channel_pe_g")])
def test_bus_lane_costs_come_from_the_cells(action, prefix):
    doc = _cells()
    pj, um2, worst = _lane_fit(doc, prefix)
    assert worst < 0.04
    assert load_energy_table("horowitz_45nm").cost(action).pj == pytest.approx(pj, abs=5e-5)
    eyeriss = load_energy_table("eyeriss_65nm")
    assert eyeriss.cost(action).pj / eyeriss.cost("mac").pj == pytest.approx(pj / 0.3, abs=5e-4)
    assert LANE_UM2[action] == pytest.approx(um2, abs=0.005)


def test_pe_area_constants_come_from_the_cells():
    doc = _cells()
    pes = {p["name"]: p for p in doc["pes"]}
    assert UM2_PER_LOGIC_CELL == pytest.approx(doc["scaling"]["um2_per_logic_cell"])
    assert UM2_PER_FLIP_FLOP == pytest.approx(doc["scaling"]["um2_per_flip_flop"])
    assert UM2_PER_LOGIC_CELL * pes["mac_cal"]["logic"] == pytest.approx(282 + 137)
    for name, (logic, ffs) in PE_CELLS.items():
        assert (logic, ffs) == (pes[name]["logic"], pes[name]["flip_flops"])
    ws = PE_CELLS["ws_pe"][0] * UM2_PER_LOGIC_CELL + PE_CELLS["ws_pe"][1] * UM2_PER_FLIP_FLOP
    assert pe_area(load_hardware("dense_ws")) == (pytest.approx(ws), "dense WS PE")
    window = pes["window_pe_bw9"]
    measured = window["logic"] * UM2_PER_LOGIC_CELL + window["flip_flops"] * UM2_PER_FLIP_FLOP
    assert pe_area(load_hardware("campfire_window"))[0] == pytest.approx(measured, rel=0.01)
    assert pe_area(load_hardware("sparse_pe")) is None  # no RTL behind its skip array
