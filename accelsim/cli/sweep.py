"""``accelsim sweep``: parse -> ``run_sweep`` (validate every point, run the missing ones, store) ->
export, plot, print.

    accelsim sweep --hw dense_ws --model resnet50 --axis pe_array.rows=8,16,32 \\
                   --axis "memories.glb.size=128 KiB,512 KiB" [--zip] [--workers N |
                   --scheduler tcp://HOST:8786 | --cluster local:N] [--out sweep_out]

Everything lands in ``--out`` (default ``./sweep_out``): the SQLite store ``sweep.sqlite`` (unless
``--store`` puts it elsewhere), ``results.csv``, ``results.json`` and ``pareto.png``.  Running the
same command again resumes: points already in the store are read, not recomputed.
Exit status: 0 all points done; 1 some points failed (listed); 2 a user error before any work;
130 interrupted (what finished is stored).
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path

import click

from accelsim.cli.common import EXIT_INTERRUPTED, check_model_files, model_options, parse_shape, user_errors
from accelsim.errors import AccelsimError

EXIT_POINTS_FAILED = 1
OBJECTIVES = {"cycles": "total_cycles", "energy": "energy_pj", "edp": "edp_pj_cycles"}  # --objective: row key


def _executor(workers, scheduler, cluster, layers_csv, n_points, connect_timeout=10.0):
    from accelsim.studies.executors import DaskExecutor, InlineExecutor, LocalExecutor

    chosen = [name for name, v in (("--workers", workers), ("--scheduler", scheduler), ("--cluster", cluster))
              if v is not None]
    if len(chosen) > 1:
        raise AccelsimError(f"{' and '.join(chosen)} exclude each other: choose one executor")
    if scheduler is not None:
        if not re.match(r"^[a-z0-9+]+://\S+$", scheduler):
            raise AccelsimError(f"--scheduler {scheduler!r}: write the scheduler address, e.g. tcp://HOST:8786")
        return DaskExecutor(address=scheduler, layers_csv=layers_csv, connect_timeout_s=connect_timeout)
    if cluster is not None:
        m = re.fullmatch(r"local:(\d+)", cluster.strip())
        if not m or int(m.group(1)) < 1:
            raise AccelsimError(f"--cluster {cluster!r}: write local:N, e.g. --cluster local:2")
        return DaskExecutor(local_workers=int(m.group(1)), layers_csv=layers_csv)
    n = workers if workers is not None else min(os.cpu_count() or 1, max(1, n_points))
    return InlineExecutor(layers_csv) if n == 1 else LocalExecutor(n, layers_csv)


@click.command()
@click.option("--hw", "hw_ref", required=True, help="Hardware YAML (path or shipped name) or SCALE-Sim .cfg.")
@model_options("  An axis named model replaces it.")
@click.option("--axis", "axes", multiple=True, metavar="PATH=V1,V2,...",
              help="A hardware field by dotted path (pe_array.rows=8,16,32; 'memories.glb.size=128 KiB,"
                   "512 KiB'; sparsity.weights.format=bitmask,csr) or a workload axis: model, density, "
                   "pattern, batch.  Repeat for more axes.")
@click.option("--zip", "zip_axes", is_flag=True,
              help="Advance the axes together (equal lengths) instead of taking their Cartesian product.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes [default: number of CPUs].")
@click.option("--scheduler", default=None, metavar="tcp://HOST:8786",
              help="Run the points on a Dask cluster.")
@click.option("--cluster", default=None, metavar="local:N", help="Start a Dask LocalCluster of N workers.")
@click.option("--connect-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for the Dask scheduler (and its first worker).")
@click.option("--out", "out_dir", default="sweep_out", show_default=True,
              help="Directory for the store, results.csv/json and pareto.png.")
@click.option("--store", "store_path", default=None, help="SQLite result store [default: OUT/sweep.sqlite].")
@click.option("--recompute", is_flag=True, help="Run every point again and replace its stored result.")
@click.option("--layers-csv", is_flag=True, help="Also keep each point's per-layer CSV in the store.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Rows in the table: the best points by --objective, Pareto points marked.")
@click.option("--objective", type=click.Choice(list(OBJECTIVES)), default="edp", show_default=True,
              help="What the table ranks the points by (edp = energy x cycles).")
@click.option("--dry-run", is_flag=True, help="Validate and list the points (stored or to run), run nothing.")
@click.option("--no-plot", is_flag=True, help="Skip pareto.png.")
@user_errors
def sweep(hw_ref, model, batch, input_shape, checkpoint, axes, zip_axes, workers, scheduler, cluster,
          connect_timeout, out_dir, store_path, recompute, layers_csv, top, objective, dry_run, no_plot):
    """Simulate every combination of the axes; store, resume, export and plot the Pareto frontier."""
    from accelsim.cli.common import check_out_dir, check_out_file, note_hw_alias
    from accelsim.cli.console import err, progress_bars
    from accelsim.results.plots_studies import label
    from accelsim.studies.run import plan_sweep, run_sweep
    from accelsim.studies.store import ResultStore
    from accelsim.studies.sweep import SweepSpec, parse_axis

    check_model_files(model, checkpoint, f"--model {model}")
    note_hw_alias(hw_ref)
    check_out_dir(out_dir)  # before any work: an unwritable --out or --store is one error now
    if store_path:
        check_out_file(store_path, f"--store {store_path}")
    spec = SweepSpec(hw_ref, model, tuple(parse_axis(a) for a in axes), zip_axes, batch,
                     parse_shape(input_shape), checkpoint)
    sizes = [len(a.values) for a in spec.axes]
    n_points = (min(sizes) if zip_axes else math.prod(sizes)) if sizes else 1
    executor = _executor(workers, scheduler, cluster, layers_csv, n_points, connect_timeout)
    out = Path(out_dir)
    store = Path(store_path or out / "sweep.sqlite")
    planned: list = []

    def on_start(tasks, todo):
        planned.extend(tasks)
        n_unique = len({t.key for t in tasks})
        err.print(f"sweep: {len(tasks)} points, {n_unique - len(todo)} already in {store}, "
                  f"{len(todo)} to run on {executor.describe()}")

    def on_outcome(outcome, done, total):
        advance(done, total, label(outcome.task.params, 48))
        if outcome.error:
            err.print(f"[red]point {outcome.task.index} failed[/red]: {outcome.error.splitlines()[0]}")

    try:
        with progress_bars("loading workloads", "sweep") as (on_load, advance):
            if dry_run:
                tasks = plan_sweep(spec, progress=on_load)
            else:
                result = run_sweep(spec, executor, store, recompute=recompute, on_load=on_load,
                                   on_start=on_start, on_outcome=on_outcome)
    except KeyboardInterrupt:
        if not planned:
            raise
        keys = {t.key for t in planned}
        with ResultStore(store) as opened:
            stored = len(opened.done_keys(keys))
        err.print(f"interrupted: {stored} of {len(keys)} points are stored in {store}; "
                  "run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        executor.close()
    if dry_run:
        with ResultStore(store) as opened:
            _print_plan(tasks, opened.done_keys(t.key for t in tasks))
    else:
        _finish(result, spec, out, top, objective, no_plot)


def _finish(result, spec, out: Path, top: int, objective: str, no_plot: bool) -> None:
    from accelsim.cli.console import err
    from accelsim.results.plots_studies import (  # matplotlib loads only when a plot is drawn
        label,
        plot_pareto,
    )
    from accelsim.studies.store import export

    rows = result.rows
    written = export(rows, out)
    if rows and not no_plot:
        written.append(plot_pareto(rows, out / "pareto.png",
                                   title=f"{Path(spec.model).name} on {Path(spec.hw).name}: "
                                         f"{len(rows)} points"))
    _print_best(rows, top, objective)
    err.print(f"{result.computed} computed, {result.from_store} read from the store, "
              f"{len(result.failed)} failed; {result.elapsed_s:.1f} s running points; wrote "
              + ", ".join(str(p) for p in written))
    if result.failed:
        for task, message in result.failed[:10]:
            err.print(f"[red]failed[/red] point {task.index} ({label(task.params, 48)}): "
                      f"{message.splitlines()[0]}")
        if len(result.failed) > 10:
            err.print(f"... and {len(result.failed) - 10} more")
        err.print("rerun the same command to retry the failed points")
        sys.exit(EXIT_POINTS_FAILED)


def _print_best(rows: list[dict], top: int, objective: str) -> None:
    """The ``top`` points by ``objective``, each marked if on the energy-vs-cycles Pareto frontier and
    if best in cycles, energy or EDP."""
    from accelsim.cli.console import out, print_table, table

    if not rows:
        return
    axis_names = list(rows[0]["sweep_params"])
    best = {name: min(rows, key=lambda r: r[OBJECTIVES[name]])["index"] for name in OBJECTIVES}
    shown = sorted(rows, key=lambda r: (r[OBJECTIVES[objective]], r["index"]))[:top]
    n_front = sum(r["pareto"] for r in rows)
    t = table(f"the {len(shown)} best of {len(rows)} points by {objective}",
              ["#", *axis_names, "cycles", "energy\nµJ", "EDP\nµJ·Mcyc", "util\n%", "Pareto", "best"],
              left=[*axis_names, "Pareto", "best"])
    for r in shown:
        t.add_row(str(r["index"]), *(str(r["sweep_params"][a]) for a in axis_names), f"{r['total_cycles']:,}",
                  f"{r['energy_pj'] / 1e6:,.2f}", f"{r['edp_pj_cycles'] / 1e12:,.3f}",
                  f"{100 * r['utilization']:.1f}", "*" if r["pareto"] else "",
                  ",".join(k for k, i in best.items() if i == r["index"]))
    print_table(t)
    out.print(f"* = on the Pareto frontier (energy vs cycles): {n_front} of the {len(rows)} points "
              "(results.csv has every point)")


def _print_plan(tasks, done: set[str]) -> None:
    from accelsim.cli.console import out, table

    names = list(tasks[0].params) if tasks else []
    cols = ["#", *names, "workload", "key", "stored"]
    t = table(f"{len(tasks)} points ({sum(t.key in done for t in tasks)} stored)", cols, left=cols)
    for task in tasks:
        t.add_row(str(task.index), *(str(task.params[n]) for n in names), task.workload.ref, task.key[:12],
                  "yes" if task.key in done else "")
    out.print(t)
