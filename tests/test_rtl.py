"""The rtl_ref Verilog arrays against accelsim's default ("accelsim") timing model.

Without Icarus Verilog the committed measurements (rtl_ref/expected/*.json) are checked against
the model; with it (``pytest -m rtl``) the designs are re-simulated: results against numpy,
cycles against the model and the committed numbers.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from accelsim.errors import UnknownNameError

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # rtl_ref/ is a directory of the repo, not an installed package
    sys.path.insert(0, str(ROOT))
runner = importlib.import_module("rtl_ref.runner")
gather_ops = importlib.import_module("rtl_ref.gather_ops")
formula = importlib.import_module("rtl_ref.timing_formula")


def _timing_models() -> dict:
    """The formula file, and accelsim's copy once accelsim.sim.dataflows.timing exposes it."""
    models = {"rtl_ref.timing_formula": formula.accelsim_total_cycles}
    try:
        timing = importlib.import_module("accelsim.sim.dataflows.timing")
    except ImportError:
        return models
    if hasattr(timing, "accelsim_total_cycles"):
        models["accelsim.sim.dataflows.timing"] = timing.accelsim_total_cycles
    return models


MODELS = _timing_models()
DESIGNS = sorted(runner.DESIGNS)


def _case(entry: dict):
    extra = {key: entry[key] for key in ("RS", "keep", "G") if key in entry}
    return runner.Case(**{key: entry[key] for key in ("dataflow", "R", "C", "M", "N", "K", "seed")}, **extra)


def _model_cycles(model, design: str, case) -> int:
    """The model's cycles; the sparse arrays are dense WS on their kept slots: 2:4 Sr = 2 * ceil(K / 4),
    N:4 Sr = N * ceil(K / 4), window Sr = keep * ceil(RS / 9) * K / RS, channel Sr = RS * the window
    rows of its blocks."""
    sparsity = runner.DESIGNS[design].sparsity
    if sparsity == "2:4":
        return model("ws", case.R, case.C, 2 * -(-case.K // 4), case.N, case.M)
    if sparsity == "nm_flex":
        return model("ws", case.R, case.C, case.keep * -(-case.K // 4), case.N, case.M)
    if sparsity == "window":
        slots = gather_ops.window_slots(case.K, case.RS, case.keep)
        return model("ws", case.R, case.C, slots, case.N, case.M)
    if sparsity == "channel":
        b = runner.operands(case, sparsity)[1]
        return model("ws", case.R, case.C, gather_ops.channel_slots(b, case.RS, case.G), case.N, case.M)
    return model(case.dataflow, case.R, case.C, *runner.sim_dims(case))


@pytest.mark.parametrize("design", DESIGNS)
def test_expected_file_is_current(design):
    doc = runner.load_expected(design)
    assert doc["sources_sha256"] == runner.source_hash(design), (
        f"{design}'s Verilog changed since rtl_ref/expected/{design}.json was measured; "
        "run: python rtl_ref/runner.py --regenerate")
    committed = [_case(entry) for entry in doc["cases"]]
    assert committed == runner.default_cases(design), "case list changed; regenerate the expected file"
    assert len(committed) >= 24


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("design", DESIGNS)
def test_model_matches_measured_cycles(design, model_name):
    model = MODELS[model_name]
    off = []
    for entry in runner.load_expected(design)["cases"]:
        case = _case(entry)
        predicted = _model_cycles(model, design, case)
        if predicted != entry["cycles"]:
            off.append(f"{case}: measured {entry['cycles']}, {model_name} says {predicted}")
    assert not off, "\n".join(off)


def test_committed_cases_cover_the_corners():
    cases = [(design, _case(e)) for design in DESIGNS for e in runner.load_expected(design)["cases"]]
    dims = [(c, *runner.sim_dims(c)) for design, c in cases if runner.DESIGNS[design].sparsity is None]
    assert any(t < c.R for c, _, _, t in dims)  # tiny T
    assert any(c.R != c.C for c, _, _, _ in dims)
    assert any(sr % c.R and sc % c.C for c, sr, sc, _ in dims)  # partial folds both ways
    assert any(-(-sr // c.R) * -(-sc // c.C) >= 4 for c, sr, sc, _ in dims)  # several folds
    tails = [c for c, sr, sc, t in dims
             if sc > c.C and c.C - -(-sr // c.R) * max(t, c.R) > sc - (-(-sc // c.C) - 1) * c.C]
    assert tails  # the full-width fold before a narrow last one ends last
    assert {c.dataflow for _, c in cases} == {"os", "ws", "is"}


def test_formula_examples():
    f = formula.accelsim_total_cycles
    # one fold: T + 2R + C, against SCALE-Sim's T + R + C - 2 (os) and 2R + C + T - 2 (ws)
    assert f("os", 4, 4, 4, 4, 10) == 10 + 8 + 4
    assert f("ws", 4, 4, 4, 4, 10) == 10 + 8 + 4
    # folds pipeline at max(T, R) cycles each
    assert f("os", 4, 4, 8, 8, 10) - f("os", 4, 4, 4, 8, 10) == 2 * 10
    assert f("ws", 4, 4, 8, 8, 2) - f("ws", 4, 4, 4, 8, 2) == 2 * 4
    assert formula.nm_ws_total_cycles(4, 4, m=5, n=4, k=16) == f("ws", 4, 4, 8, 4, 5)
    with pytest.raises(UnknownNameError, match="unknown dataflow 'xs'"):
        f("xs", 4, 4, 4, 4, 4)


def test_compress_2_of_4_round_trip():
    rng = np.random.default_rng(3)
    b = runner.prune_2_of_4(rng.integers(-128, 128, size=(10, 7)), rng)
    values, indices = runner.compress_2_of_4(b)
    assert values.shape == indices.shape == (6, 7)
    dense = np.zeros_like(b)
    for s in range(values.shape[0]):
        for n in range(b.shape[1]):
            if values[s, n]:
                dense[4 * (s // 2) + indices[s, n], n] = values[s, n]
    np.testing.assert_array_equal(dense, b)
    with pytest.raises(ValueError, match="not 2:4"):
        runner.compress_2_of_4(np.ones((4, 1), dtype=np.int64))


@pytest.mark.rtl
@pytest.mark.skipif(not runner.have_iverilog(), reason="Icarus Verilog (iverilog, vvp) not on PATH")
@pytest.mark.parametrize("design", DESIGNS)
def test_rtl_results_and_cycles(design, tmp_path):
    """Results == numpy (int8 x int8 -> int32); cycles == the formula and the committed numbers
    (which test_model_matches_measured_cycles holds accelsim's timing model to)."""
    committed = {_case(e): e["cycles"] for e in runner.load_expected(design)["cases"]}
    results = runner.measure(design, list(committed), tmp_path)
    problems = []
    for case, run in results:
        a, b = runner.operands(case, runner.DESIGNS[design].sparsity)
        if not np.array_equal(run.y, a @ b):
            problems.append(f"{case}: wrong result matrix")
        predicted = _model_cycles(formula.accelsim_total_cycles, design, case)
        if run.cycles != predicted:
            problems.append(f"{case}: {run.cycles} cycles, rtl_ref/timing_formula.py says {predicted}")
        if run.cycles != committed[case]:
            problems.append(f"{case}: {run.cycles} cycles, {committed[case]} committed")
    assert not problems, "\n".join(problems)


def test_accelsim_nm_datapath_matches_the_sparse_rtl():
    """accelsim's N:M tensor-core path (sparse_compute on nm_tensor_core, run as a WS array of the
    case's size) gives the cycles measured on ws_sparse_array for every committed 2:4 case."""
    from accelsim.sim.dataflows import TIMING_MODELS
    from accelsim.sim.dataflows.sparse import sparse_compute
    from accelsim.spec.hardware import load_hardware
    from accelsim.workload.layer import Layer

    timing = TIMING_MODELS.get("accelsim")
    off = []
    for entry in runner.load_expected("ws_sparse_array")["cases"]:
        case = _case(entry)
        hw = load_hardware("nm_tensor_core", {"pe_array.dataflow": "ws", "pe_array.rows": case.R,
                                              "pe_array.cols": case.C})
        mask = np.zeros((case.N, case.K), dtype=bool)
        mask[:, np.arange(case.K) % 4 < 2] = True  # 2 kept of every 4 along K
        layer = Layer("t", "linear", case.M, case.N, case.K, weight_mask=mask, pattern="nm2:4")
        trace = sparse_compute(layer, hw, timing)
        if trace.compute_cycles != entry["cycles"] or trace.notes:
            off.append(f"{case}: measured {entry['cycles']}, accelsim {trace.compute_cycles} {trace.notes}")
    assert not off, "\n".join(off)
