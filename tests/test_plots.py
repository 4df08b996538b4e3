"""Every PNG: a report's three (also with nothing to show), a sweep's Pareto plot, a comparison; written
atomically, matplotlib imported only when a plot is drawn.  What can be checked without eyes: the
pixel size, no text under 8 pt, plain tick labels, a log axis exactly where the values span more
than two decades, the roofline counting MACs as utilization does, the stall-free note, labels that
are neither truncated nor overlapping, and the compare bars of unusable patterns marked."""

import struct
import sys

import numpy as np
import pytest

from accelsim.results.plots import PLOT_FILES, SMALL_PT, report_figures, write_plots
from accelsim.results.plots_studies import (
    comparison_figure,
    label,
    pareto_figure,
    plot_comparison,
    plot_pareto,
)
from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import hardware_from_dict, load_hardware
from accelsim.spec.scalesim import read_scalesim_config
from accelsim.workload.layer import Layer, Workload
from accelsim.workload.scalesim_topology import read_scalesim_topology

PNG = b"\x89PNG\r\n\x1a\n"
DATA = __import__("pathlib").Path(__file__).parent / "data" / "scalesim_inputs"


def linear(name, m, n, k, density=1.0, seed=0):
    mask = np.random.default_rng(seed).random((n, k)) < density if density < 1 else np.ones((n, k), bool)
    return Layer(name, "linear", m, n, k, weight_mask=mask)


@pytest.fixture(scope="module")
def report():
    layers = (linear("a", 256, 64, 512), linear("b", 16, 300, 64))
    return simulate(load_hardware("dense_ws", {"dram.bandwidth": "2 GB/s"}), Workload("tiny", layers))


@pytest.fixture(scope="module")
def gated():
    """Zero weights gated (issued but useless): the MAC count where roofline and utilization could differ."""
    layers = (linear("a", 128, 64, 256, 0.3, 1), linear("b", 64, 128, 128, 0.5, 2), linear("c", 8, 16, 16))
    return simulate(load_hardware("zero_gated"), Workload("gated", layers))


@pytest.fixture(scope="module")
def scalesim():
    cfg = DATA / "configs" / "scale.cfg"
    hw = hardware_from_dict(read_scalesim_config(cfg), str(cfg))
    return simulate(hw, read_scalesim_topology(DATA / "topologies" / "Resnet18.csv"))  # 21 layers, as a user


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])


def texts(fig):
    """Every visible, non-empty Text of ``fig`` after a draw (tick labels exist only then)."""
    from matplotlib.text import Text

    fig.draw_without_rendering()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def axes_of(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and hasattr(ax, "get_xscale")]


def rows_sweep(cycles, energies, pareto):
    return [{"total_cycles": c, "energy_pj": e, "pareto": p, "index": i,
             "sweep_params": {"pe_array.rows": 8 << i, "memories.filter_sram.size": f"{64 << i} KiB"}}
            for i, (c, e, p) in enumerate(zip(cycles, energies, pareto, strict=True))]


def comparison(usable=(True, False)):
    return {"model": "m", "density": 0.3, "hardware": ["a", "b"], "patterns": ["window", "nm2:4"],
            "rows": [{"hardware": h, "pattern": p, "speedup": 1.5 if ok else 1.0, "energy_ratio": 0.7,
                      "density": 0.3, "usable": ok}
                     for h, ok in zip(("a", "b"), usable, strict=True) for p in ("window", "nm2:4")]}


def test_writes_three_pngs_of_a_readable_size(report, tmp_path):
    paths = write_plots(report, tmp_path / "out")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        w, h = png_size(p)
        assert 800 <= w <= 2700 and 450 <= h <= 1000, (p.name, w, h)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(PLOT_FILES)  # no temp files left


def test_rewrites_in_place(report, tmp_path):
    first = write_plots(report, tmp_path)
    second = write_plots(report, tmp_path)
    assert first == second and len(list(tmp_path.iterdir())) == 3


def test_empty_report_still_plots(tmp_path):
    empty = simulate(load_hardware("dense_ws"), Workload("none", ()))
    assert len(write_plots(empty, tmp_path)) == 3


def test_no_text_under_8pt_no_offsets_no_powers_of_ten(report, gated, scalesim):
    figures = [*report_figures(report).values(), *report_figures(gated).values(),
               *report_figures(scalesim).values(),
               pareto_figure(rows_sweep([2.4e6, 2.6e6, 3.7e6], [1.49e10, 1.46e10, 1.48e10], [1, 1, 0])),
               comparison_figure(comparison())]
    for fig in figures:
        found = texts(fig)
        assert found and min(t.get_fontsize() for t in found) >= SMALL_PT
        drawn, (w, h) = fig.get_tightbbox(), fig.get_size_inches()  # nothing cut off at the edge
        assert -0.01 <= drawn.x0 and drawn.x1 <= w + 0.01 and -0.01 <= drawn.y0 and drawn.y1 <= h + 0.01
        assert not [t.get_text() for t in found if "e+" in t.get_text() or "$" in t.get_text()]
        for ax in axes_of(fig):  # no "1e7" written beside an axis
            assert not ax.xaxis.get_offset_text().get_text() and not ax.yaxis.get_offset_text().get_text()


def test_every_axis_has_its_unit_and_every_figure_says_what_on_which_hardware(report):
    figs = report_figures(report)
    for name, fig in figs.items():
        assert any("tiny on dense_ws" in t.get_text() for t in texts(fig) if t.get_fontsize() >= 10), name
    assert [ax.get_xlabel() for ax in figs["energy_breakdown.png"].axes] == ["energy (µJ)"] * 2
    cycles, roof = figs["layer_cycles.png"].axes[0], figs["roofline.png"].axes
    assert cycles.get_ylabel().startswith("cycles") and cycles.get_xlabel().startswith("layer")
    assert "MACs per DRAM byte" in roof[0].get_xlabel() and "MACs per cycle" in roof[0].get_ylabel()
    assert "utilization (%" in roof[0].child_axes[0].get_ylabel()


@pytest.mark.parametrize("spread", [3, 1000])
def test_log_axes_exactly_where_values_span_over_two_decades(spread):
    layers = (linear("big", 256 * spread, 64, 256), linear("small", 256, 64, 256))
    rep = simulate(load_hardware("dense_ws"), Workload("w", layers))
    cycles = [layer.total_cycles for layer in rep.layers]
    wide = max(cycles) / min(cycles) > 100
    assert wide == (spread == 1000)
    ax = report_figures(rep)["layer_cycles.png"].axes[0]
    assert ax.get_yscale() == ("log" if wide else "linear")
    rows = rows_sweep([1e5 * spread, 1e5], [2e9, 3e9], [True, True])
    ax = pareto_figure(rows).axes[0]
    assert ax.get_xscale() == ("log" if wide else "linear") and ax.get_yscale() == "linear"
    for ax in report_figures(rep)["energy_breakdown.png"].axes[:2]:
        bars = [p.get_width() for p in ax.patches]
        assert ax.get_xscale() == ("log" if max(bars) / min(bars) > 100 else "linear")


def test_roofline_counts_useful_macs_as_utilization_does(gated):
    assert sum(layer.macs_gated for layer in gated.layers) > 0  # else the test proves nothing
    ax = report_figures(gated)["roofline.png"].axes[0]
    ys = sorted(y for c in ax.collections for _, y in c.get_offsets())
    assert len(ys) == len(gated.layers)
    want = sorted(layer.utilization * gated.pe_count for layer in gated.layers)
    assert ys == pytest.approx(want, rel=1e-12)
    useful = sum(layer.macs_issued - layer.macs_gated for layer in gated.layers)
    assert gated.utilization == pytest.approx(useful / (gated.total_cycles * gated.pe_count))
    assert "gated" in ax.get_ylabel() and "useful" in ax.get_xlabel()


def test_stall_free_mode_says_why_points_sit_above_the_roof(scalesim, report):
    roof = report_figures(scalesim)["roofline.png"]
    note = [t.get_text() for t in texts(roof) if "stall-free" in t.get_text()]
    assert note and "above the DRAM roof" in note[0] and "scalesim" in note[0]
    assert not [t for t in texts(report_figures(report)["roofline.png"]) if "stall-free" in t.get_text()]
    cycles = report_figures(scalesim)["layer_cycles.png"]
    assert "memory stall" not in [t.get_text() for t in texts(cycles)]  # no empty legend entry
    assert any("stalls not modelled" in t.get_text() for t in texts(cycles))


def test_layer_cycles_groups_stages_and_keeps_the_legend_off_the_bars():
    names = ["conv1", *(f"layer{s}.{b}.conv{c}" for s in (1, 2) for b in (0, 1) for c in (1, 2)), "fc"]
    rep = simulate(load_hardware("dense_ws"), Workload("r", tuple(linear(n, 64, 32, 64) for n in names)))
    fig = report_figures(rep)["layer_cycles.png"]
    fig.draw_without_rendering()
    ax = fig.axes[0]
    blocks = [f"{b}.conv{c}" for b in (0, 1) for c in (1, 2)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", *blocks, *blocks, "fc"]
    top = [t.get_text() for a in ax.child_axes for t in a.get_xticklabels()]
    assert top == ["layer1", "layer2"]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # right of the axes, over no bar


def test_pareto_labels_every_point_in_full_without_overlap():
    rows = rows_sweep([2.40e6, 2.63e6, 3.66e6, 2.86e6, 2.97e6, 3.70e6, 6.15e6, 6.33e6],
                      [1.495e10, 1.461e10, 1.483e10, 1.714e10, 1.676e10, 1.694e10, 1.754e10, 1.550e10],
                      [True, True, False, False, False, False, False, False])
    fig = pareto_figure(rows, "r on hw: 8 points")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    notes = [t for t in ax.texts]
    assert len(notes) == len(rows)
    for r in rows:  # the index and every varying parameter, untruncated
        text = next(t.get_text() for t in notes if t.get_text().startswith(f"#{r['index']} "))
        assert f"rows={r['sweep_params']['pe_array.rows']}" in text and r["sweep_params"][
            "memories.filter_sram.size"] in text and "…" not in text
    boxes = [t.get_window_extent() for t in notes]
    frame = ax.get_window_extent()
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        assert not [b for b in boxes[i + 1:] if a.overlaps(b)]
    assert "million" in ax.get_xlabel() and "mJ" in ax.get_ylabel()


def test_compare_marks_the_bars_of_patterns_the_datapath_cannot_use():
    fig = comparison_figure(comparison(usable=(True, False)))
    for ax in fig.axes[:2]:
        bars = [p for p in ax.patches if p.get_height() > 0]
        hatched = [b for b in bars if b.get_hatch()]
        assert len(bars) == 4 and len(hatched) == 2
        assert all(b.get_x() > 0.5 for b in hatched)  # the two bars of config "b"
        assert all(b.get_facecolor()[:3] == pytest.approx((0.88,) * 3) for b in hatched)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("not usable" in t and "ran dense" in t for t in legend)
    plain = comparison_figure(comparison(usable=(True, True)))
    assert not [p for ax in plain.axes for p in ax.patches if p.get_hatch()]
    assert not any("not usable" in t.get_text() for t in plain.legends[0].get_texts())


def test_compare_rows_say_whether_the_datapath_used_the_pattern():
    from accelsim.studies.compare import compare

    hws = [load_hardware(n) for n in ("sparse_pe", "nm_tensor_core", "dense_ws", "zero_gated")]
    c = compare(hws, "lenet5", 0.3, ("unstructured", "nm2:4"))
    usable = {(r.hardware, r.pattern): r.usable for r in c.rows}
    assert usable == {("sparse_pe", "unstructured"): True, ("sparse_pe", "nm2:4"): True,
                      ("nm_tensor_core", "unstructured"): False, ("nm_tensor_core", "nm2:4"): True,
                      ("dense_ws", "unstructured"): False, ("dense_ws", "nm2:4"): False,
                      ("zero_gated", "unstructured"): True, ("zero_gated", "nm2:4"): True}  # gating is used
    assert c.row("zero_gated", "unstructured").speedup == 1.0  # ... a real 1.00x
    assert all(r.to_dict()["usable"] == r.usable for r in c.rows)


def test_sweep_and_comparison_plots(tmp_path):
    rows = [{"total_cycles": c, "energy_pj": e, "pareto": p, "sweep_params": {"pe_array.rows": r}}
            for c, e, p, r in ((100, 5e6, True, 8), (80, 7e6, True, 16), (120, 6e6, False, 4))]
    paths = [plot_pareto(rows, tmp_path / "pareto.png", title="t"),
             plot_comparison(comparison(), tmp_path / "compare.png")]
    assert [p.name for p in paths] == ["pareto.png", "compare.png"]
    assert all(800 <= png_size(p)[0] <= 2700 for p in paths) and len(list(tmp_path.iterdir())) == 2
    assert label({"memories.glb.size": "128 KiB", "pe_array.rows": 16}) == "glb.size=128 KiB pe_array.rows=16"
    assert label({"a": "x" * 60}, 10) == "a=xxxxxxx…"


def test_importing_plots_does_not_import_matplotlib():
    import subprocess

    code = ("import accelsim.results.plots, accelsim.studies.compare, accelsim.studies.executors, sys; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
