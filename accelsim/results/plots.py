"""PNG figures of a Report: energy breakdown, per-layer compute vs stall cycles, and a roofline.

matplotlib is imported inside the functions and used through its object API on the Agg canvas (no
pyplot, no global state), so importing this module costs nothing and plotting is thread-safe.
Every PNG is rendered in memory and written atomically (a temporary file renamed over the target).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from accelsim.files import write_atomic
from accelsim.sim.report import Report

PLOT_FILES = ("energy_breakdown.png", "layer_cycles.png", "roofline.png")


def write_plots(report: Report, out_dir: str | Path) -> list[Path]:
    """Write the three figures of ``report`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    figures = (energy_breakdown, layer_cycles, roofline)
    paths = []
    for name, draw in zip(PLOT_FILES, figures, strict=True):
        fig = _figure()
        draw(report, fig)
        paths.append(_save(fig, out / name))
    return paths


def _figure(width: float = 9.0, height: float = 5.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())
    return path


def _title(report: Report, what: str) -> str:
    return f"{what} — {report.workload_name} on {report.hardware_name}"


def energy_breakdown(report: Report, fig: Any) -> None:
    """Energy by component and by action (µJ), largest first."""
    from matplotlib.ticker import MaxNLocator

    fig.set_size_inches(10.0, 4.8)
    axes = fig.subplots(1, 2)
    for ax, (label, data) in zip(axes, (("by component", report.energy_by_component_pj()),
                                        ("by action", report.energy_by_action_pj())), strict=True):
        items = sorted(((k, v / 1e6) for k, v in data.items() if v > 0), key=lambda kv: kv[1])
        names = [k for k, _ in items]
        values = [v for _, v in items]
        total = sum(values)
        bars = ax.barh(names, values, color="tab:blue")
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(f"{100 * v / total:.1f} %" if total else "",
                        (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
        ax.set_xlabel("energy (µJ)")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_title(label, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
        if values:
            ax.set_xlim(0, max(values) * 1.18)
    tot = report.totals()
    what = f"energy {tot['energy_pj'] / 1e6:,.1f} µJ, {tot['pj_per_mac']:.2f} pJ per dense MAC"
    fig.suptitle(_title(report, what), fontsize=10)
    fig.tight_layout()


def layer_cycles(report: Report, fig: Any) -> None:
    """Per-layer cycles stacked as compute and memory stall."""
    layers = report.layers
    fig.set_size_inches(max(8.0, min(24.0, 0.22 * len(layers) + 3)), 5.0)
    ax = fig.subplots()
    x = list(range(len(layers)))
    compute = [layer.compute_cycles for layer in layers]
    stall = [layer.stall_cycles for layer in layers]
    ax.bar(x, compute, color="tab:blue", label="compute")
    ax.bar(x, stall, bottom=compute, color="tab:red", label="memory stall")
    step = max(1, len(layers) // 60)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([layer.name for layer in layers][::step], rotation=90, fontsize=6)
    ax.set_ylabel("cycles")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    share = report.stall_cycles / report.total_cycles if report.total_cycles else 0.0
    ax.set_title(_title(report, f"cycles per layer ({100 * share:.1f} % stalled)"), fontsize=10)
    fig.tight_layout()


def roofline(report: Report, fig: Any) -> None:
    """Each layer at (issued MACs per DRAM byte, issued MACs per cycle) under the array's roofs."""
    ax = fig.subplots()
    peak = float(report.pe_count)
    bw = float((report.hardware.get("dram") or {}).get("bandwidth_bytes_per_cycle") or 0.0)
    pts = []
    for layer in report.layers:
        traffic = layer.dram_read_bytes + layer.dram_write_bytes
        if traffic > 0 and layer.total_cycles > 0 and layer.macs_issued > 0:
            pts.append((layer.macs_issued / traffic, layer.macs_issued / layer.total_cycles,
                        layer.stall_cycles > 0.05 * layer.total_cycles))
    if pts:
        lo = min(p[0] for p in pts) / 4
        hi = max(p[0] for p in pts) * 4
    else:
        lo, hi = 0.1, 1000.0
    if bw > 0:
        ridge = peak / bw
        lo, hi = min(lo, ridge / 4), max(hi, ridge * 4)
        xs = [lo, ridge, hi]
        ax.plot(xs, [min(peak, bw * x) for x in xs], color="black", lw=1.4,
                label=f"roof: {peak:g} MACs/cycle, DRAM {bw:g} B/cycle")
        ax.axvline(ridge, color="0.6", ls=":", lw=1)
    else:
        ax.axhline(peak, color="black", lw=1.4, label=f"peak {peak:g} MACs/cycle")
    for stalled in (False, True):
        sel = [p for p in pts if p[2] == stalled]
        if sel:
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=16, zorder=3,
                       color="tab:red" if stalled else "tab:blue",
                       label="layers stalled > 5 %" if stalled else "layers")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("operational intensity (issued MACs per DRAM byte)")
    ax.set_ylabel("achieved issued MACs per cycle")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(_title(report, "roofline"), fontsize=10)
    fig.tight_layout()
