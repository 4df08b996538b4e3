"""write_plots: three PNGs written atomically, also for reports with nothing to show."""

import sys

import numpy as np
import pytest

from accelsim.results.plots import PLOT_FILES, write_plots
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


def test_importing_plots_does_not_import_matplotlib():
    import subprocess

    code = "import accelsim.results.plots, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
