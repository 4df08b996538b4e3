"""Every PNG: a report's three (also with nothing to show), a sweep's Pareto plot, a comparison; written
atomically, matplotlib imported only when a plot is drawn."""

import sys

import numpy as np
import pytest

from accelsim.results.plots import PLOT_FILES, label, plot_comparison, plot_pareto, write_plots
from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import load_hardware
from accelsim.workload.layer import Layer, Workload

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report():
    layers = (Layer("a", "linear", 256, 64, 512, weight_mask=np.ones((64, 512), bool)),
              Layer("b", "linear", 16, 300, 64, weight_mask=np.ones((300, 64), bool)))
    return simulate(load_hardware("dense_ws", {"dram.bandwidth": "2 GB/s"}), Workload("tiny", layers))


def test_writes_three_pngs_and_nothing_else(report, tmp_path):
    paths = write_plots(report, tmp_path / "out")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(PLOT_FILES)  # no temp files left


def test_rewrites_in_place(report, tmp_path):
    first = write_plots(report, tmp_path)
    second = write_plots(report, tmp_path)
    assert first == second and len(list(tmp_path.iterdir())) == 3


def test_empty_report_still_plots(tmp_path):
    empty = simulate(load_hardware("dense_ws"), Workload("none", ()))
    assert len(write_plots(empty, tmp_path)) == 3


def test_sweep_and_comparison_plots(tmp_path):
    rows = [{"total_cycles": c, "energy_pj": e, "pareto": p, "sweep_params": {"pe_array.rows": r}}
            for c, e, p, r in ((100, 5e6, True, 8), (80, 7e6, True, 16), (120, 6e6, False, 4))]
    comparison = {"model": "m", "density": 0.3, "hardware": ["a", "b"], "patterns": ["window"],
                  "rows": [{"hardware": h, "pattern": "window", "speedup": 1.5, "energy_ratio": 0.7}
                           for h in ("a", "b")]}
    paths = [plot_pareto(rows, tmp_path / "pareto.png", title="t"),
             plot_comparison(comparison, tmp_path / "compare.png")]
    assert [p.name for p in paths] == ["pareto.png", "compare.png"]
    assert all(p.read_bytes()[:8] == PNG for p in paths) and len(list(tmp_path.iterdir())) == 2
    assert label({"memories.glb.size": "128 KiB", "pe_array.rows": 16}) == "glb.size=128 KiB pe_array.rows=16"
    assert label({"a": "x" * 60}, 10) == "a=xxxxxxx…"


def test_importing_plots_does_not_import_matplotlib():
    import subprocess

    code = ("import accelsim.results.plots, accelsim.studies.compare, accelsim.studies.executors, sys; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
