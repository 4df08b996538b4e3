"""Printing for the CLI only (the library never prints): tables with rich, progress bars on stderr."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Collection, Iterable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from accelsim.sim.report import Report
from accelsim.workload.layer import Workload

out = Console(soft_wrap=True)
err = Console(stderr=True)


def table(title: str, columns: Iterable[str], left: Collection[str] = ()) -> Table:
    """A borderless table with a bold header; the ``left`` columns left-justified, the others right."""
    t = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for c in columns:
        t.add_column(c, justify="left" if c in left else "right", no_wrap=True)
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


def print_report(report: Report) -> None:
    sparse = any(layer.metadata_bits or layer.macs_skipped or layer.macs_gated for layer in report.layers)
    cols = ["layer", "M", "N", "K", "G", "folds", "compute cyc", "stall cyc", "total cyc", "util %",
            "SRAM rd in", "SRAM rd w", "SRAM wr out", "energy µJ"]
    if sparse:
        cols += ["w dens", "MACs issued", "imbal", "meta bits", "idx ovh %"]
    t = table(f"{report.workload_name} on {report.hardware_name}", cols, left=("layer",))
    for layer in report.layers:
        row = [layer.name, _n(layer.m), _n(layer.n), _n(layer.k), _n(layer.groups), _n(layer.folds),
               _n(layer.compute_cycles), _n(layer.stall_cycles), _n(layer.total_cycles),
               f"{100 * layer.utilization:.1f}", si(layer.sram_reads.get("inputs", 0)),
               si(layer.sram_reads.get("weights", 0)), si(layer.sram_writes.get("outputs", 0)),
               f"{layer.energy_pj / 1e6:.2f}"]
        if sparse:
            w = layer.storage.get("weights")
            row += [f"{layer.weight_density:.3f}", si(layer.macs_issued), f"{layer.load_imbalance:.2f}",
                    si(layer.metadata_bits), f"{100 * w.index_overhead:.1f}" if w else "-"]
        t.add_row(*row)
    print_table(t)
    tot = report.totals()
    out.print()
    out.print(f"[bold]total[/bold]  {len(report.layers)} layers, {si(tot['macs_dense'])} MACs dense, "
              f"{si(tot['macs_issued'])} issued")
    out.print(f"  cycles       {_n(tot['total_cycles'])} total = {_n(tot['compute_cycles'])} compute + "
              f"{_n(tot['stall_cycles'])} stall  ({tot['latency_ms']:.3f} ms at {report.clock_mhz:g} MHz)")
    out.print(f"  utilization  {100 * tot['utilization']:.1f} % of {report.pe_count} PEs")
    out.print(f"  energy       {tot['energy_pj'] / 1e6:,.1f} µJ  ({tot['pj_per_mac']:.2f} pJ per dense MAC)  "
              + "  ".join(f"{k} {v / 1e6:,.1f}" for k, v in sorted(tot["energy_by_component_pj"].items(),
                                                                  key=lambda kv: -kv[1])))
    for op, s in tot["storage"].items():
        out.print(f"  {op:8s}     {s['format']:8s} data {si(s['data_bits'])}b + metadata "
                  f"{si(s['metadata_bits'])}b = {100 * s['footprint_ratio']:.1f} % of dense "
                  f"(index overhead {100 * s['index_overhead']:.1f} %)")


def print_workload(workload: Workload) -> None:
    t = table(f"{workload.name}: {len(workload.layers)} layers, {si(workload.macs)} MACs",
              ("layer", "kind", "M", "N", "K", "G", "MACs", "weights", "nonzeros", "pattern", "target %",
               "achieved %", "act dens"), left=("layer", "kind", "pattern"))
    for layer in workload.layers:
        has_w = layer.weight_mask is not None
        t.add_row(layer.name, layer.kind, _n(layer.m), _n(layer.n), _n(layer.k), _n(layer.groups),
                  si(layer.macs), _n(layer.weight_count) if has_w else "-",
                  _n(layer.weight_nonzeros) if has_w else "-", str(layer.pattern),
                  f"{100 * layer.target_sparsity:.1f}",
                  f"{100 * layer.weight_sparsity:.1f}" if has_w else "-",
                  f"{layer.activation_density:.3f}")
    print_table(t)
    srcs = sorted({layer.activation_density_source for layer in workload.layers})
    out.print(f"activation density: {', '.join(srcs)}")
