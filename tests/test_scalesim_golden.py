"""SCALE-Sim v2 goldens (tests/data/scalesim_golden/*.json, made by tools/make_scalesim_golden.py from
the real ``scalesim==2.0.2``): the importer must see the layers SCALE-Sim saw, and accelsim's
``scalesim`` timing must reproduce its per-layer Total Cycles and SRAM access counts exactly.

A depthwise ("DP") row is one accelsim layer of ``groups`` = channels; SCALE-Sim reports it as that
many layers ``<name>Channel_<i>``, whose numbers are summed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import hardware_from_dict
from accelsim.spec.scalesim import read_scalesim_config
from accelsim.workload.scalesim_topology import read_scalesim_topology

DATA = Path(__file__).parent / "data"
GOLDENS = sorted((DATA / "scalesim_golden").glob("*.json"))


def load(path: Path):
    golden = json.loads(path.read_text())
    cfg = DATA / golden["config"]
    hw = hardware_from_dict(read_scalesim_config(cfg), str(cfg))
    workload = read_scalesim_topology(DATA / golden["topology"])
    return golden, hw, workload


def paired(golden: dict, workload) -> list[tuple]:
    """(accelsim layer, the SCALE-Sim report rows it stands for)."""
    rows = golden["layers"]
    out, i = [], 0
    for layer in workload.layers:
        count = layer.groups if layer.kind == "depthwise" else 1
        out.append((layer, rows[i:i + count]))
        i += count
    assert i == len(rows), f"accelsim sees {i} SCALE-Sim layers, the golden has {len(rows)}"
    return out


def test_there_are_goldens():
    assert len(GOLDENS) >= 10
    names = {p.stem for p in GOLDENS}
    assert {"scale__test", "scale_ws__test", "scale_is__test", "google__test", "eyeriss__test"} <= names


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_golden_header(path):
    golden = json.loads(path.read_text())
    assert golden["scalesim"]["scalesim"] == "2.0.2" and golden["mode"] == "CALC"
    assert golden["command"].startswith("python -m scalesim.scale ")
    assert golden["totals"]["layers"] == len(golden["layers"])
    assert all(row["stall_cycles"] == 0 for row in golden["layers"])  # CALC mode never stalls


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_importer_sees_scalesims_layers(path):
    golden, hw, workload = load(path)
    for layer, rows in paired(golden, workload):
        for j, row in enumerate(rows):
            expected_name = f"{layer.name}Channel_{j}" if layer.kind == "depthwise" else layer.name
            assert row["name"] == expected_name
            assert (row["m"], row["n"], row["k"]) == (layer.m, layer.n, layer.k), layer.name
            if layer.conv is not None:
                assert row["ofmap"] == [layer.conv.out_h, layer.conv.out_w], layer.name


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_scalesim_timing_reproduces_golden(path):
    golden, hw, workload = load(path)
    assert hw.timing == "scalesim"
    report = simulate(hw, workload)
    mismatches = []
    for (layer, rows), got in zip(paired(golden, workload), report.layers, strict=True):
        expected = {
            "total_cycles": sum(r["total_cycles"] for r in rows),
            "stall_cycles": sum(r["stall_cycles"] for r in rows),
            "sram_reads[inputs]": sum(r["sram_ifmap_reads"] for r in rows),
            "sram_reads[weights]": sum(r["sram_filter_reads"] for r in rows),
            "sram_writes[outputs]": sum(r["sram_ofmap_writes"] for r in rows),
        }
        actual = {
            "total_cycles": got.total_cycles,
            "stall_cycles": got.stall_cycles,
            "sram_reads[inputs]": got.sram_reads["inputs"],
            "sram_reads[weights]": got.sram_reads["weights"],
            "sram_writes[outputs]": got.sram_writes["outputs"],
        }
        for key, want in expected.items():
            if actual[key] != want:
                mismatches.append(f"{layer.name} ({layer.kind}, groups={layer.groups}): {key} ="
                                  f" {actual[key]}, SCALE-Sim {want}")
    assert not mismatches, f"{path.name}: {len(mismatches)} mismatches\n" + "\n".join(mismatches)
