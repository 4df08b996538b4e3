"""Flexible N:M (VEGETA-style 1:4 / 2:4 / 4:4 on one M = 4 engine): the vegeta_nm config against its
RTL (rtl_ref/ws_nm_array.v), the nm_flex format, the nmflex pattern and the recipe that picks N per
layer, and compare --recipe."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.errors import AccelsimError
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.formats import Geometry, get_format
from accelsim.sim.storage import weight_fibers
from accelsim.spec.hardware import load_hardware
from accelsim.studies.compare import compare
from accelsim.workload.layer import Layer
from accelsim.workload.load import load_workload
from accelsim.workload.pruning.patterns import make_pattern

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
runner = importlib.import_module("rtl_ref.runner")


def test_accelsim_cycles_equal_the_rtl_for_every_n():
    timing = TIMING_MODELS.get("accelsim")
    off, seen = [], set()
    for entry in runner.load_expected("ws_nm_array")["cases"]:
        case = runner.Case(**{k: v for k, v in entry.items() if k != "cycles"})
        b = runner.operands(case, "nm_flex")[1]
        hw = load_hardware("vegeta_nm", {"pe_array.rows": case.R, "pe_array.cols": case.C})
        layer = Layer("t", "linear", case.M, case.N, case.K, weight_mask=(b != 0).T.copy(), pattern="nmflex")
        fmt = get_format("nm_flex")
        seen.add(fmt.layer_n(weight_fibers(layer)))
        trace = sparse_compute(layer, hw, timing)
        if trace.compute_cycles != entry["cycles"] or trace.notes:
            off.append(f"{case}: RTL {entry['cycles']}, accelsim {trace.compute_cycles} {trace.notes}")
    assert not off, "\n".join(off)
    assert seen == {1, 2, 4}


def test_the_layer_runs_at_the_smallest_supported_n_holding_its_fullest_group():
    fmt = get_format("nm_flex")
    assert fmt.supported() == (1, 2, 4) and get_format("nm_flex", {"nm_group": 6}).supported() == (1, 2, 4, 6)
    mask = np.zeros((2, 10), np.uint8)  # groups [0:4] [4:8] [8:10]
    mask[0, [0, 5]] = 1
    assert fmt.layer_n(mask) == 1 and fmt.array_rows(mask, Geometry()) == 3
    mask[1, [4, 6, 7]] = 1  # a group of 3: N = 4
    assert fmt.layer_n(mask) == 4 and fmt.array_rows(mask, Geometry()) == 12
    # stored: min(N, group size) slots per group (4 + 4 + 2 per fiber), 2-bit positions
    assert fmt.bits(mask, 8, Geometry()) == (2 * 10 * 8, 2 * 10 * 2, 20 - 5)
    assert fmt.layer_n(np.zeros((2, 10), np.uint8)) == 0


def test_nmflex_keeps_the_supported_n_nearest_the_target():
    p = make_pattern("nmflex")
    assert [p.kept_per_group(s) for s in (0.0, 0.2, 0.5, 0.6, 0.65, 0.7, 0.9)] == [4, 4, 2, 2, 1, 1, 1]
    assert p.target_for(0.7) == 0.75 and p.target_for(0.3) == 0.5
    scores = np.random.default_rng(0).normal(size=(8, 8, 3, 3))
    keep = p.mask(scores, 0.7, kind="conv")
    groups = keep.transpose(0, 2, 3, 1).reshape(-1, 4)
    assert (groups.sum(axis=1) == 1).all()


RECIPE = """\
    version: 1
    description: lenet5, N:4 per layer from one global threshold
    model: lenet5
    pattern: nmflex
    sparsity: 0.5
    scope: global
    max_layer_sparsity: 0.75
    first_conv: pattern
"""


def test_the_global_recipe_picks_n_per_layer(tmp_path):
    path = tmp_path / "lenet5_nmflex_global.yaml"
    path.write_text(textwrap.dedent(RECIPE))
    w = load_workload(str(path), cache_dir=tmp_path / "cache")
    fmt = get_format("nm_flex")
    pruned = [layer for layer in w.layers if layer.weight_mask is not None]
    ns = {layer.name: fmt.layer_n(weight_fibers(layer)) for layer in pruned}
    per_layer = {layer.name: 1 - layer.weight_density for layer in pruned}
    assert len(set(ns.values())) > 1, ns  # N differs between layers
    for name, n in ns.items():  # each layer's sparsity is its N's
        if n:
            assert per_layer[name] == pytest.approx(1 - n / 4, abs=0.1) or per_layer[name] == 0.0


def test_compare_takes_a_recipe_beside_the_patterns(tmp_path):
    path = tmp_path / "lenet5_nmflex_global.yaml"
    path.write_text(textwrap.dedent(RECIPE))
    c = compare([load_hardware("vegeta_nm"), load_hardware("nm_tensor_core")], "lenet5", 0.5, ["nm2:4"],
                recipes=[str(path)])
    assert c.patterns == ("nm2:4", "lenet5_nmflex_global")
    row = c.row("vegeta_nm", "lenet5_nmflex_global")
    assert row.workload == "lenet5_nmflex_global" and 0 < row.density < 1 and row.pe_area_um2 is not None
    with pytest.raises(AccelsimError, match="prunes 'lenet5', not 'resnet50'"):
        compare([load_hardware("vegeta_nm")], "resnet50", 0.5, ["nm2:4"], recipes=[str(path)])
    result = CliRunner().invoke(cli, ["compare", "--hw", "vegeta_nm", "--model", "lenet5", "--density", "0.5",
                                      "--patterns", "nm2:4", "--recipe", str(path)])
    assert result.exit_code == 0, result.output
    assert "lenet5_nmflex_global" in result.output
