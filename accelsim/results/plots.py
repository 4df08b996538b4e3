"""Every PNG accelsim draws: a Report's energy breakdown, per-layer compute vs stall cycles and
roofline (``write_plots``), a sweep's Pareto plot (``plot_pareto``) and a sparsity comparison
(``plot_comparison``).  The only module that imports matplotlib.

matplotlib is imported inside the functions and used through its object API on the Agg canvas (no
pyplot, no global state), so importing this module costs nothing and plotting is thread-safe.  One
style for all (``_style``: 10 pt titles, a light grid, 8 pt legends); every PNG is rendered in memory
and written atomically (a temporary file renamed over the target).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim.files import write_atomic
from accelsim.sim.report import Report

PLOT_FILES = ("energy_breakdown.png", "layer_cycles.png", "roofline.png")


def write_plots(report: Report, out_dir: str | Path) -> list[Path]:
    """Write the three figures of ``report`` into ``out_dir``; returns their paths."""
    paths = []
    for name, draw in zip(PLOT_FILES, (energy_breakdown, layer_cycles, roofline), strict=True):
        fig = _figure()
        draw(report, fig)
        paths.append(_save(fig, Path(out_dir) / name))
    return paths


def _figure(width: float = 9.0, height: float = 5.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _style(ax: Any, title: str, xlabel: str | None = None, ylabel: str | None = None, *, grid: str = "both",
           legend: str | None = None, log_grid: bool = False) -> None:
    """The one look of every plot: a 10 pt title, labels, a light grid, an 8 pt legend at ``legend``."""
    ax.set_title(title, fontsize=10)
    ax.set_axisbelow(True)  # the grid behind bars and points
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(True, axis=grid, which="both" if log_grid else "major", alpha=0.3)
    if legend:
        ax.legend(loc=legend, fontsize=8)


def _save(fig: Any, path: str | Path) -> Path:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_atomic(path, buf.getvalue())
    return Path(path)


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
        ax.xaxis.set_major_locator(MaxNLocator(4))
        _style(ax, label, "energy (µJ)", grid="x")
        if values:
            ax.set_xlim(0, max(values) * 1.18)
    tot = report.totals()
    what = f"energy {tot['energy_pj'] / 1e6:,.1f} µJ, {tot['pj_per_mac']:.2f} pJ per dense MAC"
    fig.suptitle(_title(report, what), fontsize=10)


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
    share = report.stall_cycles / report.total_cycles if report.total_cycles else 0.0
    _style(ax, _title(report, f"cycles per layer ({100 * share:.1f} % stalled)"), ylabel="cycles", grid="y",
           legend="upper right")


def roofline(report: Report, fig: Any) -> None:
    """Each layer at (issued MACs per DRAM byte, issued MACs per cycle) under the array's roofs."""
    ax = fig.subplots()
    peak = float(report.pe_count)
    bw = report.hardware.dram.bandwidth_bytes_per_cycle if report.hardware is not None else 0.0
    pts = []
    for layer in report.layers:
        traffic = layer.dram_read_bytes + layer.dram_write_bytes
        if traffic > 0 and layer.total_cycles > 0 and layer.macs_issued > 0:
            pts.append((layer.macs_issued / traffic, layer.macs_issued / layer.total_cycles,
                        layer.stall_cycles > 0.05 * layer.total_cycles))
    lo, hi = (min(p[0] for p in pts) / 4, max(p[0] for p in pts) * 4) if pts else (0.1, 1000.0)
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
    _style(ax, _title(report, "roofline"), "operational intensity (issued MACs per DRAM byte)",
           "achieved issued MACs per cycle", legend="lower right", log_grid=True)


def label(params: dict[str, Any], limit: int = 40) -> str:
    """Short point label from its parameters: the last part of each path, ``rows=16 glb.size=128 KiB``."""
    parts = []
    for k, v in params.items():
        short = ".".join(k.replace("[", ".").replace("]", "").split(".")[-2:]) if "." in k else k
        parts.append(f"{short}={v}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_pareto(rows: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Energy vs cycles of a sweep's rows (as ``run_sweep`` returns them: store rows with
    ``sweep_params`` and a ``pareto`` mark), the frontier joined and, when short, labelled."""
    xs = [float(r["total_cycles"]) for r in rows]
    ys = [float(r["energy_pj"]) / 1e6 for r in rows]  # pJ -> µJ
    fig = _figure(7.5, 5.0)
    ax = fig.subplots()
    others = [i for i, r in enumerate(rows) if not r["pareto"]]
    ax.scatter([xs[i] for i in others], [ys[i] for i in others], s=14, color="0.6", label="points")
    front = sorted((i for i, r in enumerate(rows) if r["pareto"]), key=lambda i: (xs[i], ys[i]))
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", color="tab:red", ms=5, lw=1.2,
            drawstyle="steps-post", label=f"Pareto frontier ({len(front)})")
    if len(front) <= 12:
        for i in front:
            ax.annotate(label(rows[i]["sweep_params"]), (xs[i], ys[i]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color="tab:red")
    if xs and min(xs) > 0 and max(xs) / min(xs) > 30:
        ax.set_xscale("log")
    if ys and min(ys) > 0 and max(ys) / min(ys) > 30:
        ax.set_yscale("log")
    _style(ax, title or "sweep: energy vs cycles", "cycles", "energy (µJ)", legend="best")
    return _save(fig, path)


def plot_comparison(comparison: dict[str, Any], path: str | Path) -> Path:
    """Speedup and energy (both vs dense on the same hardware) per pattern, one bar group per config;
    ``comparison`` is a comparison's JSON form (``Comparison.to_json_dict()``, compare.json)."""
    hardware, patterns = comparison["hardware"], comparison["patterns"]
    rows = {(r["hardware"], r["pattern"]): r for r in comparison["rows"]}
    fig = _figure(12.0, 4.5)
    width = 0.8 / max(1, len(patterns))
    for ax, key, title in zip(fig.subplots(1, 2), ("speedup", "energy_ratio"),
                              ("speedup over dense (same hardware)", "energy / dense energy (same hardware)"),
                              strict=True):
        for j, pattern in enumerate(patterns):
            xs = [i + (j - (len(patterns) - 1) / 2) * width for i in range(len(hardware))]
            ax.bar(xs, [rows[hw, pattern][key] for hw in hardware], width, label=pattern)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(hardware)), hardware, rotation=15)
        _style(ax, title, grid="y", legend="best" if key == "speedup" else None)
    fig.suptitle(f"{comparison['model']} at density {comparison['density']:g}: every pattern on every config",
                 fontsize=10)
    return _save(fig, path)
