"""A Report's PNGs: energy breakdown, per-layer cycles and roofline (``write_plots``), and the one look
every accelsim plot shares (``_style`` and its helpers; a sweep's Pareto plot and a sparsity
comparison are in ``plots_studies``). With ``plots_studies``, the only modules importing matplotlib.

Each plot is built into a Figure without being saved (``report_figures``; ``plots_studies``'
``pareto_figure``, ``comparison_figure``), so tests can walk its artists; ``_save`` renders it in
memory and writes it atomically (a temporary file renamed over the target). matplotlib is imported
inside the functions and used through its object API on the Agg canvas (no pyplot, no global state),
so importing this module costs nothing and plotting is thread-safe. One look for all (``_style``):
constrained layout, a 10 pt title, 9 pt axis labels, no text under 8 pt, units on every axis,
legends off the data, plain tick numbers (no ``1e7`` offset), a log axis wherever the values span
more than two decades. MACs are counted one way everywhere: useful = issued - gated, as
``utilization`` counts them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim.files import write_atomic
from accelsim.sim.report import Report

PLOT_FILES = ("energy_breakdown.png", "layer_cycles.png", "roofline.png")
SMALL_PT = 8  # the smallest text on any plot
LOG_SPAN = 100.0  # a log axis when the positive values span more than this factor


def write_plots(report: Report, out_dir: str | Path) -> list[Path]:
    """Write the three figures of ``report`` into ``out_dir``; returns their paths."""
    return [_save(fig, Path(out_dir) / name) for name, fig in report_figures(report).items()]


def report_figures(report: Report) -> dict[str, Any]:
    """The three Figures of ``report`` by file name (PLOT_FILES), built but not saved."""
    figures = {}
    for name, draw in zip(PLOT_FILES, (energy_breakdown, layer_cycles, roofline), strict=True):
        figures[name] = _figure()
        draw(report, figures[name])
    return figures


def _figure(width: float = 9.0, height: float = 5.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Any, title: str | None, xlabel: str | None = None, ylabel: str | None = None, *,
           grid: str = "both", legend: str | None = None) -> None:
    """The one look of every plot: a 10 pt title, 9 pt labels, a light grid (minor lines on a log axis),
    an 8 pt legend at ``legend`` ("outside" = right of the axes, clear of the data)."""
    if title:
        ax.set_title(_wrap(title, ax.figure), fontsize=10)
    ax.set_axisbelow(True)  # the grid behind bars and points
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=SMALL_PT + 1)
    ax.grid(True, axis=grid, which="major", alpha=0.3)
    for axis, log in (("x", ax.get_xscale() == "log"), ("y", ax.get_yscale() == "log")):
        if log and grid in (axis, "both"):
            ax.grid(True, axis=axis, which="minor", alpha=0.12)
    if legend == "outside":
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, borderaxespad=0)
    elif legend:
        ax.legend(loc=legend, fontsize=SMALL_PT)


def _wrap(title: str, fig: Any) -> str:
    """``title`` on two lines (at its " — ", else its middle space) when wider than ``fig`` at 10 pt."""
    if len(title) <= fig.get_size_inches()[0] * 11:
        return title
    cut = title.find(" — ")
    if cut < 0:
        cut = title.rfind(" ", 0, len(title) // 2 + 10)
    return title[:cut] + "\n" + title[cut:].lstrip(" —") if cut > 0 else title


def _log_if_wide(ax: Any, axis: str, values: Sequence[float]) -> bool:
    """A log ``axis`` ("x"/"y") when the positive ``values`` span more than LOG_SPAN; returns whether."""
    pos = [v for v in values if v > 0]
    wide = bool(pos) and max(pos) / min(pos) > LOG_SPAN
    if wide:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    return wide


def _save(fig: Any, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())
    return Path(path)


def _title(report: Report, what: str) -> str:
    return f"{what} — {report.workload_name} on {report.hardware_name}"


def _models_stalls(report: Report) -> bool:
    """False when the report's timing model is stall-free (SCALE-Sim's CALC mode, STONNE's mesh)."""
    from accelsim.registry import TIMING_MODELS

    timing = getattr(report.hardware, "timing", None)
    return timing not in TIMING_MODELS or TIMING_MODELS.get(timing).models_stalls


def _plain(*axes: Any, integer: bool = False) -> None:
    """Plain tick numbers on these Axis objects: no ``1e6`` offset, no powers of ten on a log axis
    (``0.1``, ``1,000``; its 2s and 5s too when it spans under 2.5 decades), thousands separated when
    ``integer`` (counts such as cycles)."""
    from matplotlib.ticker import FuncFormatter, ScalarFormatter

    def log_fmt(v: float, _: Any = None) -> str:
        return f"{v:,.0f}" if v >= 1 and abs(v - round(v)) < 1e-6 * v else f"{v:.3g}"

    def minor_fmt(axis: Any) -> Any:
        def fmt(v: float, _: Any) -> str:
            lo, hi = axis.get_view_interval()
            lead = v / 10 ** math.floor(math.log10(v) + 1e-9) if v > 0 else 0
            return log_fmt(v) if hi < 300 * lo and round(lead) in (2, 5) else ""
        return FuncFormatter(fmt)

    for axis in axes:
        if "log" in axis.get_scale():  # log, or functionlog on a secondary axis
            axis.set_major_formatter(FuncFormatter(log_fmt))
            axis.set_minor_formatter(minor_fmt(axis))
        elif integer:
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        else:
            fmt = ScalarFormatter(useOffset=False)
            fmt.set_scientific(False)
            axis.set_major_formatter(fmt)


def energy_breakdown(report: Report, fig: Any) -> None:
    """Energy by component and by action (µJ), largest first, each bar labelled with its share."""
    fig.set_size_inches(10.0, 4.8)
    axes = fig.subplots(1, 2)
    for ax, (label_, data) in zip(axes, (("by component", report.energy_by_component_pj()),
                                         ("by action", report.energy_by_action_pj())), strict=True):
        items = sorted(((k, v / 1e6) for k, v in data.items() if v > 0), key=lambda kv: kv[1])
        values = [v for _, v in items]
        total = sum(values)
        bars = ax.barh([k for k, _ in items], values, color="tab:blue")
        shares = [100 * v / total for v in values]
        ax.bar_label(bars, [f"{p:.1f} %" if p >= 0.1 else f"{p:.2g} %" for p in shares], padding=3,
                     fontsize=SMALL_PT)
        log = _log_if_wide(ax, "x", values)
        if values:  # room for the share labels
            ax.set_xlim(min(values) / 2 if log else 0, max(values) * (4 if log else 1.2))
        _style(ax, label_ + (" (log scale)" if log else ""), "energy (µJ)", grid="x")
        _plain(ax.xaxis)
    tot = report.totals()
    what = f"energy {tot['energy_pj'] / 1e6:,.1f} µJ, {tot['pj_per_mac']:.2f} pJ per dense MAC"
    fig.suptitle(_title(report, what), fontsize=10)


def _stages(names: Sequence[str]) -> list[tuple[str, int, int]]:
    """Consecutive runs of layers sharing a name prefix of one or two parts (``layer3`` of
    ``layer3.0.conv1``, ``features.4`` of ``features.4.conv.1.0``, ``Conv3`` of SCALE-Sim's ``Conv3_1a``)
    as (prefix, first, end); [] when neither gives 3 groups or more of 2 layers on average."""
    sep = "." if any("." in n for n in names) else "_"
    for depth in (1, 2):
        runs: list[tuple[str, int, int]] = []
        for i, name in enumerate(names):
            prefix = sep.join(name.split(sep)[:depth])
            if runs and runs[-1][0] == prefix:
                runs[-1] = (prefix, runs[-1][1], i + 1)
            else:
                runs.append((prefix, i, i + 1))
        if 3 <= len(runs) <= len(names) / 2:
            return runs
    return []


def layer_cycles(report: Report, fig: Any) -> None:
    """Per-layer cycles stacked as compute and memory stall (compute only under a stall-free timing),
    layers grouped by stage when their names have one (ResNet's layer1..layer4)."""
    layers = report.layers
    names = [layer.name for layer in layers]
    width = max(8.0, min(24.0, 0.22 * len(layers) + 3))
    fig.set_size_inches(width, 5.5)
    ax = fig.subplots()
    x = list(range(len(layers)))
    compute = [layer.compute_cycles for layer in layers]
    stalls = _models_stalls(report)
    ax.bar(x, compute, color="tab:blue", label="compute")
    if stalls:
        ax.bar(x, [layer.stall_cycles for layer in layers], bottom=compute, color="tab:red",
               label="memory stall")
    log = _log_if_wide(ax, "y", [layer.total_cycles for layer in layers])
    if log:  # every compute bar starts inside the axes
        ax.set_ylim(bottom=min(c for c in compute + [layer.total_cycles for layer in layers] if c > 0) / 2)
    ticks = list(names)
    stages = _stages(names)
    if stages:
        top = ax.secondary_xaxis("top")
        centres, labels = [], []
        for prefix, first, end in stages:
            if end - first > 1:
                if len(centres) % 2 == 0:
                    ax.axvspan(first - 0.5, end - 0.5, color="0.93", zorder=0, lw=0)
                centres.append((first + end - 1) / 2)
                labels.append(prefix)
                ticks[first:end] = [n[len(prefix) + 1:] or n for n in names[first:end]]
        heads = {lab.split(".")[0] for lab in labels}
        if len(heads) == 1 and all("." in lab for lab in labels):  # features.1 .. features.17: 1 .. 17
            labels = [lab.split(".", 1)[1] for lab in labels]
            top.set_xlabel(f"{heads.pop()}.N", fontsize=9)
        top.set_xticks(centres, labels, fontsize=9)
        top.tick_params(length=0)
    step = max(1, math.ceil(len(layers) / ((width - 2) / 0.16)))  # an 8 pt label needs ~0.16 in
    ax.set_xticks(x[::step], ticks[::step], rotation=90, fontsize=SMALL_PT)
    ax.set_xlim(-0.6, len(layers) - 0.4)
    if stalls:
        share = report.stall_cycles / report.total_cycles if report.total_cycles else 0.0
        what = f"cycles per layer ({100 * share:.1f} % memory stall)"
    else:
        what = "cycles per layer (stall-free timing: memory stalls not modelled)"
    _style(ax, _title(report, what), "layer" + (" (grouped by stage)" if stages else ""),
           "cycles" + (" (log scale)" if log else ""), grid="y", legend="outside" if stalls else None)
    _plain(ax.yaxis, integer=True)


def roofline(report: Report, fig: Any) -> None:
    """Each layer at (useful MACs per DRAM byte, useful MACs per cycle) under the array's roofs, useful =
    issued - gated as ``utilization`` counts them (the right axis is that utilization).  Under a
    stall-free timing the plot says why layers can sit above the DRAM roof."""
    ax = fig.subplots()
    peak = float(report.pe_count)
    bw = report.hardware.dram.bandwidth_bytes_per_cycle if report.hardware is not None else 0.0
    stalls = _models_stalls(report)
    pts = []
    for layer in report.layers:
        useful = layer.macs_issued - layer.macs_gated
        traffic = layer.dram_read_bytes + layer.dram_write_bytes
        if traffic > 0 and layer.total_cycles > 0 and useful > 0:
            pts.append((useful / traffic, useful / layer.total_cycles,
                        stalls and layer.stall_cycles > 0.05 * layer.total_cycles))
    lo, hi = (min(p[0] for p in pts) / 4, max(p[0] for p in pts) * 4) if pts else (0.1, 1000.0)
    above = 0
    if bw > 0:
        ridge = peak / bw
        lo, hi = min(lo, ridge / 4), max(hi, ridge * 4)
        xs = [lo, ridge, hi]
        ax.plot(xs, [min(peak, bw * x) for x in xs], color="black", lw=1.4,
                label=f"roof: {peak:g} MACs/cycle, DRAM {bw:g} B/cycle")
        ax.axvline(ridge, color="0.6", ls=":", lw=1, label=f"ridge: {ridge:.3g} MACs/B")
        above = sum(y > 1.001 * min(peak, bw * x) for x, y, _ in pts)
    else:
        ax.axhline(peak, color="black", lw=1.4, label=f"peak {peak:g} MACs/cycle")
    for stalled in (False, True):
        sel = [p for p in pts if p[2] == stalled]
        if sel:
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=18, zorder=3,
                       color="tab:red" if stalled else "tab:blue",
                       label="layers stalled > 5 %" if stalled else "layers" if stalls
                else "layers (no stalls modelled)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    if peak > 0:
        util = ax.secondary_yaxis("right", functions=(lambda y: 100 * y / peak, lambda u: u * peak / 100))
        util.set_ylabel("utilization (% of the array's MAC slots)", fontsize=9)
        util.tick_params(labelsize=SMALL_PT + 1)
        _plain(util.yaxis)
    _plain(ax.xaxis, ax.yaxis)
    _style(ax, None, "operational intensity (useful MACs per DRAM byte)",
           "useful MACs per cycle (issued − gated)", legend="lower right")
    if stalls:
        ax.set_title(_title(report, "roofline"), fontsize=10)
    else:
        fig.suptitle(_title(report, "roofline"), fontsize=10)
        ax.set_title(f"timing '{report.hardware.timing}' is stall-free (as SCALE-Sim's CALC mode): it models"
                     f" no memory stalls,\nso layers can lie above the DRAM roof ({above} of {len(pts)} do)",
                     fontsize=9, color="tab:red")
