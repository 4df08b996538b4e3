"""Printing for the CLI only (the library never prints): tables with rich, progress bars on stderr."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from accelsim.sim.report import LayerReport, Report
from accelsim.sim.traces import StorageBreakdown
from accelsim.workload.layer import Layer, Workload

if TYPE_CHECKING:
    from accelsim.studies.compare import Comparison

out = Console(soft_wrap=True, highlight=False)  # no colour split inside a number and its unit
err = Console(stderr=True, highlight=False)


def table(title: str, columns: Iterable[str], left: Collection[str] = ()) -> Table:
    """A borderless table with a bold header, one space between columns; the ``left`` columns
    left-justified, the others right.  A header breaks at "\\n" (unit on the second line)."""
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False,
              collapse_padding=True)
    for c in columns:
        t.add_column(c, justify="left" if c in left else "right", no_wrap=True)
    return t


def rows_table(title: str, columns: Sequence[tuple], rows: Iterable[Any],
               left: Collection[str] = ()) -> Table:
    """A table of ``rows``, one cell per ``(header, cell function, ...)`` column."""
    t = table(title, [c[0] for c in columns], left)
    for row in rows:
        t.add_row(*(c[1](row) for c in columns))
    return t


def dicts_table(title: str, rows: Sequence[dict[str, Any]]) -> Table:
    """Every field of ``rows`` (the --wide tables: the columns of the CSV file), headed by its name
    broken at the last underscore; numbers with thousands separators and at most 4 decimals."""
    first = rows[0] if rows else {}
    t = table(title, ["\n".join(k.rsplit("_", 1)) for k in first],
              left=["\n".join(k.rsplit("_", 1)) for k, v in first.items() if isinstance(v, str)])
    for row in rows:
        t.add_row(*(f"{v:,.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else
                    f"{v:,}" if type(v) is int else str(v) for v in row.values()))
    return t


def print_table(table: Table) -> None:
    """Print at the table's natural width: columns are never cut to fit a narrow terminal (a wide
    table wraps in the terminal instead, and a pipe or file gets every digit)."""
    width = Console(width=10_000).measure(table).maximum
    Console(soft_wrap=False, width=max(width, 80), force_terminal=out.is_terminal).print(table)


def _n(x: float) -> str:
    return f"{x:,.0f}"


def si(x: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


@contextlib.contextmanager
def progress_bars(*stages: str) -> Iterator[list[Callable[[int, int, str], None]]]:
    """One callback ``(done, total, item)`` per stage: on a terminal, a bar with ETA on stderr from the
    stage's first call with 2 or more steps (below the bars of earlier stages); elsewhere nothing."""
    if not sys.stderr.isatty():
        yield [lambda done, total, item: None for _ in stages]
        return
    columns = (TextColumn("{task.description} [cyan]{task.fields[item]}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as prog:
        bars = {}

        def stage(what: str) -> Callable[[int, int, str], None]:
            def advance(done: int, total: int, item: str) -> None:
                if what not in bars and total >= 2:
                    bars[what] = prog.add_task(what, total=total, item="")
                if what in bars:
                    prog.update(bars[what], completed=done, item=item)

            return advance

        yield [stage(what) for what in stages]


def wrap(words: Iterable[str], width: int = 100, indent: int = 0, sep: str = "  ") -> str:
    """``words`` in lines of at most ``width`` characters, each line indented, no word split."""
    lines: list[str] = []
    for w in words:
        if lines and len(lines[-1]) + len(sep) + len(w) <= width:
            lines[-1] += sep + w
            continue
        if lines:
            lines[-1] += sep.rstrip()
        lines.append(" " * indent + w)
    return "\n".join(lines)


def _gemm(layer: LayerReport | Layer) -> str:
    return f"{layer.m}×{layer.n}×{layer.k}" + (f" ×{layer.groups}" if layer.groups > 1 else "")


def _weights(layer: LayerReport) -> StorageBreakdown:
    return layer.storage.get("weights") or StorageBreakdown(0, 0, 0)


# the key columns of the run table: (header, the cell of a layer, shown only when the report has sparsity)
LAYER_COLUMNS: tuple[tuple, ...] = (
    ("layer", lambda r: r.name, False),
    ("GEMM\nM×N×K ×G", _gemm, False),
    ("total\ncycles", lambda r: _n(r.total_cycles), False),
    ("compute\ncycles", lambda r: _n(r.compute_cycles), False),
    ("stall\ncycles", lambda r: _n(r.stall_cycles), False),
    ("bound", lambda r: r.bound.removesuffix(" bandwidth"), False),  # compute, or whose bandwidth
    ("util\n%", lambda r: f"{100 * r.utilization:.1f}", False),
    ("energy\nµJ", lambda r: f"{r.energy_pj / 1e6:.2f}", False),
    ("MACs\nissued", lambda r: f"{r.macs_issued / 1e6:.1f}M", False),
    ("skip\n%", lambda r: f"{100 * r.macs_skipped / r.macs_dense:.1f}" if r.macs_dense else "-", True),
    ("w\nformat", lambda r: _weights(r).format, True),
    ("w meta\nbits", lambda r: si(_weights(r).metadata_bits), True),
)


def print_report(report: Report, wide: bool = False) -> None:
    """The per-layer table, then the totals.  The table has the key columns (the weights format in the
    title when the layers share one), or with ``wide`` every column of layers.csv."""
    sparse = any(layer.metadata_bits or layer.macs_skipped or layer.macs_gated for layer in report.layers)
    formats = {_weights(layer).format for layer in report.layers}
    title = f"{report.workload_name} on {report.hardware_name}"
    if sparse and len(formats) == 1:
        title += f", weights {formats.pop()}"
    cols = [c for c in LAYER_COLUMNS if (sparse or not c[2]) and (c[0] != "w\nformat" or len(formats) > 1)]
    print_table(dicts_table(title, [layer.row() for layer in report.layers]) if wide else
                rows_table(title, cols, report.layers, left=("layer", "bound", "w\nformat")))
    if not wide and any(layer.notes for layer in report.layers):
        out.print(f"{sum(bool(layer.notes) for layer in report.layers)} layers have notes: --wide shows them")
    tot = report.totals()
    by_component = sorted(tot["energy_by_component_pj"].items(), key=lambda kv: -kv[1])
    out.print()
    out.print(f"[bold]total[/bold]  {len(report.layers)} layers, {si(tot['macs_dense'])} MACs dense, "
              f"{si(tot['macs_issued'])} issued")
    out.print(f"  cycles       {_n(tot['total_cycles'])} total = {_n(tot['compute_cycles'])} compute + "
              f"{_n(tot['stall_cycles'])} stall  ({tot['latency_ms']:.3f} ms at {report.clock_mhz:g} MHz)")
    out.print(f"  utilization  {100 * tot['utilization']:.1f} % of {report.pe_count} PEs")
    out.print(f"  energy       {tot['energy_pj'] / 1e6:,.1f} µJ  ({tot['pj_per_mac']:.2f} pJ per dense MAC), "
              "in µJ:")
    out.print(wrap((f"{k} {v / 1e6:,.1f}" for k, v in by_component), indent=15))
    for op, s in tot["storage"].items():
        out.print(f"  {op:8s}     {s['format']:8s} data {si(s['data_bits'])}b + metadata "
                  f"{si(s['metadata_bits'])}b = {100 * s['footprint_ratio']:.1f} % of dense "
                  f"(index overhead {100 * s['index_overhead']:.1f} %)")
    if coverage := report.provenance.get("workload_coverage"):
        from accelsim.workload.coverage import Coverage

        out.print(f"  simulated    {Coverage.from_dict(coverage).short()}", markup=False)


# the columns of the trace table (the weight count is N·K·G: the GEMM column says it)
WORKLOAD_COLUMNS: tuple[tuple, ...] = (
    ("layer", lambda r: r.name),
    ("kind", lambda r: r.kind),
    ("GEMM\nM×N×K ×G", _gemm),
    ("MACs", lambda r: si(r.macs)),
    ("weight\nnonzeros", lambda r: "-" if r.weight_mask is None else _n(r.weight_nonzeros)),
    ("pattern", lambda r: str(r.pattern)),
    ("sparsity\ntarget %", lambda r: f"{100 * r.target_sparsity:.1f}"),
    ("sparsity\nactual %", lambda r: "-" if r.weight_mask is None else f"{100 * r.weight_sparsity:.1f}"),
    ("act\ndens", lambda r: f"{r.activation_density:.3f}"),
)


def print_workload(workload: Workload) -> None:
    print_table(rows_table(f"{workload.name}: {len(workload.layers)} layers, {si(workload.macs)} MACs",
                           WORKLOAD_COLUMNS, workload.layers, left=("layer", "kind", "pattern")))
    srcs = sorted({layer.activation_density_source for layer in workload.layers})
    out.print(f"activation density: {', '.join(srcs)}")
    if workload.coverage is not None:  # also on stderr (cli.common.load_workload): here with the table
        import textwrap

        for line in [workload.coverage.summary(), *workload.coverage.details(limit=40)]:
            out.print(textwrap.fill(line, 100, subsequent_indent="    "), markup=False, highlight=False)


COMPARE_COLUMNS: tuple[tuple, ...] = (  # the key columns of the compare table: (header, the cell of a row)
    ("hardware", lambda r: r.hardware),
    ("pattern", lambda r: r.pattern),
    ("w\ndensity", lambda r: f"{r.density:.3f}"),
    ("cycles", lambda r: si(r.total_cycles)),
    ("speed-\nup", lambda r: f"{r.speedup:.2f}x"),
    ("energy\nµJ", lambda r: _sig(r.energy_pj / 1e6)),
    ("energy\nratio", lambda r: f"{r.energy_ratio:.2f}"),
    ("imbal", lambda r: f"{r.imbalance:.2f}"),
    ("w foot-\nprint %", lambda r: f"{100 * r.weights_footprint:.1f}"),
    ("meta\nMbit", lambda r: _sig(r.metadata_bits / 1e6)),
    ("logic\nµJ", lambda r: _sig(r.sparse_logic_energy_pj / 1e6)),
    ("PE\nµm²", lambda r: "—" if r.pe_area_um2 is None else f"{r.pe_area_um2:,.0f}"),
    ("layer\nnotes", lambda r: str(r.notes)),
)


def _sig(v: float) -> str:
    """3 significant digits, whole numbers with thousands separators from 100 on."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def print_comparison(result: Comparison, model: str, wide: bool = False) -> None:
    """The compare table (its key columns, or with ``wide`` every column of compare.csv), its notes
    and workloads."""
    title = f"{model} at density {result.density:g}: speedup and energy ratio over dense on the same config"
    print_table(dicts_table(title, [r.to_dict() for r in result.rows]) if wide else
                rows_table(title, COMPARE_COLUMNS, result.rows, left=("hardware", "pattern")))
    for note in result.notes:
        out.print(f"note: {note}")
    out.print("layer notes (e.g. a pattern the datapath cannot use): accelsim run --wide --hw H --model W,"
              " W in:\n" + wrap(sorted({r.workload for r in result.rows}), 98, indent=2, sep=", "))
