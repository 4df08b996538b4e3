"""compare's cost side: index metadata, sparse-logic energy and PE area per (pattern, datapath), in
the rows, the table and the plot."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.results.plots_studies import comparison_figure
from accelsim.sim.dataflows.campfire_area import pe_area
from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import load_hardware
from accelsim.studies.compare import compare
from accelsim.workload.load import load_workload

HW = ("sparse_pe", "campfire_window", "campfire_channel")
PATTERNS = ("unstructured", "window", "channel")


@pytest.fixture(scope="module")
def lenet():
    return compare([load_hardware(n) for n in HW], "lenet5", 0.3, PATTERNS)


def test_rows_carry_the_costs_of_each_datapath(lenet):
    for r in lenet.rows:
        hw = load_hardware(r.hardware)
        report = simulate(hw, load_workload(r.workload))
        want = sum(layer.energy_by_component_pj.get("sparse_logic", 0.0) for layer in report.layers)
        assert r.sparse_logic_energy_pj == pytest.approx(want) and 0 < want < r.energy_pj
        assert r.metadata_bits == report.total("metadata_bits")
        area = pe_area(hw)
        assert (r.pe_area_um2, r.pe_area_source) == ((area[0], area[1]) if area else (None, ""))
    assert lenet.row("sparse_pe", "window").pe_area_um2 is None  # no RTL PE behind the skip array
    # the wider channel bus (16 lanes) costs more area per PE than the window's (9)
    channel, window = lenet.row("campfire_channel", "window"), lenet.row("campfire_window", "window")
    assert channel.pe_area_um2 > window.pe_area_um2
    to_dict = lenet.rows[0].to_dict()
    assert {"sparse_logic_energy_pj", "pe_area_um2", "metadata_bits"} <= set(to_dict)


def test_the_table_prints_cycles_energy_metadata_and_area():
    result = CliRunner().invoke(cli, ["compare", "--hw", "sparse_pe,campfire_window", "--model", "lenet5",
                                      "--density", "0.3", "--patterns", "window"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    head = "\n".join(lines[:4])
    for header in ("cycles", "energy", "meta", "logic", "PE", "µm²"):
        assert header in head, header
    window_row = next(line for line in lines if line.startswith("campfire_window"))
    assert window_row.split()[-2] == f"{pe_area(load_hardware('campfire_window'))[0]:,.0f}"
    assert next(line for line in lines if line.startswith("sparse_pe")).split()[-2] == "—"


def test_the_plot_has_benefit_and_cost_panels_and_the_area_under_each_config(lenet):
    fig = comparison_figure(lenet.to_json_dict())
    axes = fig.axes
    assert len(axes) == 4
    titles = [ax.get_title() for ax in axes]
    assert any("metadata" in t for t in titles) and any("gather" in t for t in titles)
    ticks = [t.get_text() for t in axes[0].get_xticklabels()]
    assert ticks[0] == "sparse_pe\nno RTL PE"
    assert ticks[1] == f"campfire_window\n{pe_area(load_hardware('campfire_window'))[0]:,.0f} µm²/PE"
    bars = [p.get_height() for p in axes[2].patches]  # metadata kbit, pattern-major
    assert bars[0] == pytest.approx(lenet.row("sparse_pe", "unstructured").metadata_bits / 1e3)
