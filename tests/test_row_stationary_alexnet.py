"""eyeriss_v1 against Eyeriss v1's published AlexNet figures (validation.md: 35 frames/s and 0.0029
DRAM accesses per MAC at batch 4, within 25 %), and its energy priced at the paper's normalised
costs (benchmarks/results/eyeriss.md has the per-layer figures and why they differ)."""

from __future__ import annotations

from functools import cache

import pytest

from accelsim import load_hardware, simulate
from accelsim.sim.dataflows.row_stationary_eyeriss import (
    DRAM_ACCESSES_PER_MAC,
    FRAMES_PER_S,
    alexnet_conv_workload,
)
from accelsim.sim.energy import action_pj, load_energy_table
from accelsim.sim.traces import Action


@cache
def _report():
    return simulate(load_hardware("eyeriss_v1"), alexnet_conv_workload())


def test_alexnet_batch4_frames_per_second_within_25pct():
    report = _report()
    seconds = sum(lr.total_cycles for lr in report.layers) / (report.clock_mhz * 1e6)
    assert round(sum(lr.macs_dense for lr in report.layers) / 1e6) == 2663  # the paper's 2,663 M MACs
    assert 4 / seconds == pytest.approx(FRAMES_PER_S, rel=0.25)


def test_alexnet_dram_accesses_per_mac_within_25pct():
    report = _report()
    words = sum(lr.dram_read_bytes + lr.dram_write_bytes for lr in report.layers) / 2  # 16-bit words
    macs = sum(lr.macs_dense for lr in report.layers)
    assert words / macs == pytest.approx(DRAM_ACCESSES_PER_MAC, rel=0.25)


def test_energy_follows_the_normalised_costs():
    """Per 16-bit word: DRAM 200x, global buffer 6x, NoC 2x a MAC; the scratchpads at most the
    paper's 1x (0.5 kB; smaller ones cheaper by capacity); every component's energy is its counts
    at those costs."""
    report, table = _report(), load_energy_table("eyeriss_65nm")
    hw = report.hardware
    mac = table.energy_pj("mac", 1)

    def per_word(component: str, action: str) -> float:
        return action_pj(Action(component, action, 1, 16), hw, table) / mac

    assert per_word("dram", "dram_read") == pytest.approx(200)
    assert per_word("glb", "buffer_read") == pytest.approx(6)
    assert per_word("noc", "noc") == pytest.approx(2)
    for spad in ("ifmap_spad", "filter_spad", "psum_spad"):
        assert 0.5 < per_word(spad, "rf_access") <= 1.0
    lr = report.layers[2]
    dram_words = (lr.dram_read_bytes + lr.dram_write_bytes) / 2
    assert lr.energy_by_component_pj["dram"] == pytest.approx(200 * mac * dram_words)
    # the array's traffic dominates: scratchpads and MACs above the buffer, the buffer above the NoC
    e = lr.energy_by_component_pj
    spads = e["ifmap_spad"] + e["filter_spad"] + e["psum_spad"]
    assert spads > e["glb"] > e["noc"]


def test_buffer_blocking_is_the_papers():
    """The least-energy blocking keeps the psums of the filters and images JSSC 2017's mapping table
    keeps in the global buffer (m x n): CONV1 96 x 1, CONV2 64 x 1, CONV3-5 64 x 4."""
    blocks = [lr.mapping.notes[0].split("psums of ")[1].split(" ofmap")[0] for lr in _report().layers]
    papers = [["96 filters", "1 images"], ["64 filters", "1 images"]] + [["64 filters", "4 images"]] * 3
    assert [b.split(" x ")[:2] for b in blocks] == papers
