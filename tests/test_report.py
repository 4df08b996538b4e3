import csv
import io
import json

import numpy as np
import pytest

from accelsim.results.save import save_report
from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import load_hardware
from accelsim.workload.layer import Layer, Workload


def _workload():
    rng = np.random.default_rng(0)
    layers = (
        Layer("a", "linear", 64, 48, 100, weight_mask=np.ones((48, 100), bool)),
        Layer("b", "linear", 10, 70, 33, weight_mask=rng.random((70, 33)) > 0.5),
        Layer("att", "matmul", 16, 16, 8, groups=4),
    )
    return Workload("tiny", layers)


@pytest.fixture(scope="module")
def report():
    return simulate(load_hardware("dense_ws"), _workload())


def test_totals_are_sums_of_layers(report):
    t = report.totals()
    for key in ("total_cycles", "compute_cycles", "stall_cycles", "macs_dense", "macs_issued",
                "dram_read_bytes", "dram_write_bytes"):
        assert t[key] == sum(getattr(layer, key) for layer in report.layers), key
    assert t["energy_pj"] == pytest.approx(sum(layer.energy_pj for layer in report.layers))
    assert t["energy_pj"] == pytest.approx(sum(t["energy_by_component_pj"].values()))
    assert t["energy_pj"] == pytest.approx(sum(t["energy_by_action_pj"].values()))
    for layer in report.layers:
        assert layer.total_cycles == layer.compute_cycles + layer.stall_cycles


def test_dense_macs_and_ideal_bound(report):
    hw = load_hardware("dense_ws")
    for layer, src in zip(report.layers, _workload().layers, strict=True):
        assert layer.macs_issued == layer.macs_dense == src.groups * src.m * src.n * src.k
        assert layer.total_cycles >= layer.macs_dense / (hw.pe_array.rows * hw.pe_array.cols)
        assert 0 < layer.utilization <= 1


def test_files_written_atomically_and_parse(report, tmp_path):
    paths = save_report(report, tmp_path / "out")
    data = json.loads(paths[0].read_text())
    assert data["schema_version"] == 1
    assert data["provenance"]["hardware_hash"] and data["hardware"]["pe_array"]["rows"] == 32
    assert data["totals"]["total_cycles"] == report.total_cycles
    rows = list(csv.DictReader(io.StringIO(paths[1].read_text())))
    assert [r["name"] for r in rows] == ["a", "b", "att"]
    assert sum(int(r["total_cycles"]) for r in rows) == report.total_cycles
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files left
