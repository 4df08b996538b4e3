"""A sweep's Pareto plot (``plot_pareto``) and a sparsity comparison (``plot_comparison``), in the
look of ``accelsim.results.plots`` (its ``_style`` and helpers); each built as a Figure first
(``pareto_figure``, ``comparison_figure``) so tests can walk its artists."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim.results.plots import SMALL_PT, _figure, _log_if_wide, _plain, _save, _style

UNUSABLE = {"facecolor": "0.88", "hatch": "////"}  # a compare bar whose pattern the datapath ran dense


def label(params: dict[str, Any], limit: int = 40) -> str:
    """Short point label from its parameters: the last part of each path, ``rows=16 glb.size=128 KiB``."""
    text = " ".join(_short(k, v) for k, v in params.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(key: str, value: Any) -> str:
    short = ".".join(key.replace("[", ".").replace("]", "").split(".")[-2:]) if "." in key else key
    return f"{short}={value}"


def _place_labels(ax: Any, xy: Sequence[tuple[float, float]], texts: Sequence[str], colors: Sequence[str],
                  points: Sequence[tuple[float, float]], line: Sequence[tuple[float, float]]) -> None:
    """Annotate each of ``xy`` (in order) at the nearest of 24 offsets (8 directions, 3 distances, the
    far ones with a leader line) whose text overlaps no placed label, none of ``points`` nor the
    polyline ``line`` (data coordinates) and stays inside the axes; else at the least overlapping one.
    Needs the final layout: the figure is laid out first and the labels take no part in it."""
    import numpy as np

    fig = ax.figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    f = ax.get_window_extent(renderer)
    frame = (f.x0, f.y0, f.x1, f.y1)
    taken = [(x - 4, y - 4, x + 4, y + 4) for x, y in ax.transData.transform(points)] if points else []
    path = ax.transData.transform(line) if line else np.zeros((0, 2))
    for (x0, y0), (x1, y1) in zip(path[:-1], path[1:], strict=True):  # the polyline, sampled every ~6 px
        for t in np.linspace(0, 1, max(2, int(math.hypot(x1 - x0, y1 - y0) / 6))):
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            taken.append((x - 2, y - 2, x + 2, y + 2))

    def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
        return max(min(a[2], b[2]) - max(a[0], b[0]), 0) * max(min(a[3], b[3]) - max(a[1], b[1]), 0)

    px_per_pt = fig.dpi / 72
    for point, text, color in zip(xy, texts, colors, strict=True):
        style = {"fontsize": SMALL_PT, "color": color, "in_layout": False, "multialignment": "left"}
        probe = ax.annotate(text, point, **style)
        ext = probe.get_window_extent(renderer)
        probe.remove()
        w, h = ext.width + 4, ext.height + 4
        px, py = ax.transData.transform(point)
        best = None
        for r in (5, 16, 30):
            for ux, uy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1), (0, -1), (1, 0), (-1, 0)):
                cx, cy = px + ux * r * px_per_pt, py + uy * r * px_per_pt * (0.6 if ux else 1)
                x0, y0 = cx - w * (ux < 0) - w / 2 * (ux == 0), cy - h * (uy < 0) - h / 2 * (uy == 0)
                box = (x0, y0, x0 + w, y0 + h)
                cost = sum(overlap(box, t) for t in taken) + 10 * (w * h - overlap(box, frame))
                cost = 0 if cost < 1 else cost  # ignore rounding slivers of a pixel
                if best is None or cost < best[0]:
                    best = (cost, box, r, ux, uy)
            if best[0] == 0:
                break
        _, box, r, ux, uy = best
        leader = {"arrowstyle": "-", "color": color, "lw": 0.6, "shrinkA": 1, "shrinkB": 3} if r > 5 else None
        ax.annotate(text, point, xytext=(ux * r, uy * r * (0.6 if ux else 1)), textcoords="offset points",
                    ha={1: "left", -1: "right", 0: "center"}[ux],
                    va={1: "bottom", -1: "top", 0: "center"}[uy], arrowprops=leader, **style)
        taken.append(box)


def _unit(values: Sequence[float], units: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest (factor, name) of ``units`` (ascending) that the largest value reaches."""
    top = max(values, default=0.0)
    return next(((f, u) for f, u in reversed(units) if top >= f), units[0])


def pareto_figure(rows: Sequence[dict[str, Any]], title: str = "") -> Any:
    """The Figure of ``plot_pareto``: every point labelled with its ``index`` (the # of the table and
    results.csv) and the parameters that vary when there are at most 16 points, else the frontier
    fully and the others by ``#index`` (up to 60 points)."""
    fx, xunit = _unit([float(r["total_cycles"]) for r in rows],
                      [(1, ""), (1e3, "thousands"), (1e6, "millions")])
    fy, yunit = _unit([float(r["energy_pj"]) for r in rows], [(1e6, "µJ"), (1e9, "mJ"), (1e12, "J")])
    xs = [float(r["total_cycles"]) / fx for r in rows]
    ys = [float(r["energy_pj"]) / fy for r in rows]
    fig = _figure(8.5, 5.5)
    ax = fig.subplots()
    others = [i for i, r in enumerate(rows) if not r["pareto"]]
    ax.scatter([xs[i] for i in others], [ys[i] for i in others], s=16, color="0.55", label="other points")
    front = sorted((i for i, r in enumerate(rows) if r["pareto"]), key=lambda i: (xs[i], ys[i]))
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "o-", color="tab:red", ms=5, lw=1.2,
            drawstyle="steps-post", label=f"Pareto frontier ({len(front)} of {len(rows)})")
    logx, logy = _log_if_wide(ax, "x", xs), _log_if_wide(ax, "y", ys)
    _plain(ax.xaxis, ax.yaxis)
    ax.margins(0.12)
    xnote = ", ".join(n for n in (xunit, "log scale" if logx else "") if n)
    _style(ax, f"energy vs cycles: {title}" if title else "sweep: energy vs cycles",
           f"cycles ({xnote})" if xnote else "cycles", f"energy ({yunit}{', log scale' if logy else ''})",
           legend="outside")
    ax.get_legend().set_title("#n: index in results.csv", prop={"size": SMALL_PT})
    varying = [k for k in (rows[0]["sweep_params"] if rows else {})
               if len({str(r["sweep_params"][k]) for r in rows}) > 1]
    full = [*front, *others] if len(rows) <= 16 else front[:12]
    shown = [*full, *([] if len(rows) <= 16 or len(rows) > 60 else others)]
    texts = [f"#{rows[i].get('index', i)} "
             + ("\n".join(_short(k, rows[i]["sweep_params"][k]) for k in varying) if i in full else "")
             for i in shown]
    _place_labels(ax, [(xs[i], ys[i]) for i in shown], [t.strip() for t in texts],
                  ["tab:red" if rows[i]["pareto"] else "0.25" for i in shown], list(zip(xs, ys, strict=True)),
                  [(x, y) for a, b in zip(front, front[1:], strict=False) for x, y in
                   ((xs[a], ys[a]), (xs[b], ys[a]), (xs[b], ys[b]))])
    return fig


def plot_pareto(rows: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Energy vs cycles of a sweep's rows (as ``run_sweep`` returns them: store rows with ``index``,
    ``sweep_params`` and a ``pareto`` mark), the frontier joined; see ``pareto_figure``."""
    return _save(pareto_figure(rows, title), path)


# the panels of the compare plot: (row key, scale, label format, axis label, title); benefits, then costs
_COMPARE_PANELS = (
    ("speedup", 1.0, "{:.2f}", "speedup (dense cycles / cycles), higher is better",
     "speedup over the dense model, same hardware"),
    ("energy_ratio", 1.0, "{:.2f}", "energy / dense energy, lower is better",
     "energy relative to the dense model, same hardware"),
    ("metadata_bits", 1e-3, "{:,.0f}", "index metadata, kbit",
     "cost: index metadata stored"),
    ("sparse_logic_energy_pj", 1e-6, "{:.2f}", "sparse-logic energy, µJ",
     "cost: index decode, operand select, bus and gather energy"),
)


def _hardware_label(name: str, rows: Sequence[dict[str, Any]]) -> str:
    """The config's name and its PE area (from the RTL cell counts) when an RTL PE models it."""
    row = next((r for r in rows if r["hardware"] == name), {})
    if "pe_area_um2" not in row:  # a compare.json from before the cost side
        return name
    area = row["pe_area_um2"]
    return f"{name}\n{'no RTL PE' if area is None else f'{area:,.0f} µm²/PE'}"


def comparison_figure(comparison: dict[str, Any]) -> Any:
    """The Figure of ``plot_comparison``: one bar group per config, one colour per pattern (its achieved
    density in the legend), in four panels: speedup and energy (the benefits), index metadata and
    sparse-logic energy (the costs); each config's PE area, where an RTL PE gives it, under its name.
    A bar whose pattern the datapath cannot use (the row's ``usable`` is false: every pruned layer
    ran dense) is grey and hatched, with its own legend entry."""
    from matplotlib.patches import Patch

    hardware, patterns = comparison["hardware"], comparison["patterns"]
    rows = {(r["hardware"], r["pattern"]): r for r in comparison["rows"]}
    n_bars = len(hardware) * len(patterns)
    panel = max(4.5, min(14.0, 0.32 * n_bars + 1.5))
    stacked = n_bars > 12  # the panels one above the other, each the full width
    fig = _figure(panel + 1.0, 17.0) if stacked else _figure(2 * panel + 1.0, 9.6)
    width = 0.8 / max(1, len(patterns))
    colors = [f"C{j % 10}" for j in range(len(patterns))]
    ticks = [_hardware_label(h, comparison["rows"]) for h in hardware]
    axes = fig.subplots(4, 1) if stacked else fig.subplots(2, 2).ravel()
    for ax, (key, scale, fmt, ylabel, title) in zip(axes, _COMPARE_PANELS, strict=True):
        narrow = panel * 110 * 0.85 / max(1, len(hardware)) * width < 34  # bar width (px) vs a "1.99" label
        values = []
        for j, pattern in enumerate(patterns):
            xs = [i + (j - (len(patterns) - 1) / 2) * width for i in range(len(hardware))]
            sel = [rows[hw, pattern] for hw in hardware]
            heights = [r.get(key, 0) * scale for r in sel]
            values += heights
            bars = ax.bar(xs, heights, width, color=colors[j], edgecolor=colors[j])
            for bar, r in zip(bars, sel, strict=True):
                if not r.get("usable", True):
                    bar.set(**UNUSABLE, edgecolor=colors[j])
            ax.bar_label(bars, [fmt.format(v) for v in heights], padding=2, fontsize=SMALL_PT,
                         rotation=90 if narrow else 0)
        if scale == 1.0:
            ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(hardware)), ticks, rotation=15 if len(hardware) > 6 else 0)
        ax.margins(y=0.2)
        _log_if_wide(ax, "y", values)
        _plain(ax.yaxis)
        _style(ax, title, "hardware config", ylabel.replace(", ", "\n") if stacked else ylabel, grid="y")
    density = {p: next((r["density"] for r in comparison["rows"] if r["pattern"] == p), None)
               for p in patterns}
    handles = [Patch(color=c, label=p if density[p] is None else f"{p} (density {density[p]:.2f})")
               for p, c in zip(patterns, colors, strict=True)]
    if any(not r.get("usable", True) for r in comparison["rows"]):
        handles.append(Patch(**UNUSABLE, edgecolor="0.35",
                             label="pattern not usable by the datapath: ran dense"
                                   " (1.00× is not the pattern's)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3), fontsize=SMALL_PT)
    fig.suptitle(f"{comparison['model']} pruned to density {comparison['density']:g}: every pattern on "
                 f"{', '.join(hardware)}", fontsize=10)
    return fig


def plot_comparison(comparison: dict[str, Any], path: str | Path) -> Path:
    """Speedup and energy (both vs dense on the same hardware), index metadata and sparse-logic energy
    per pattern, one bar group per config (with its PE area);
    ``comparison`` is a comparison's JSON form (``Comparison.to_json_dict()``, compare.json)."""
    return _save(comparison_figure(comparison), path)
