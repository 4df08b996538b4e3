"""The command line: parse -> library call -> print or save.  User errors exit 2 with one message."""

from __future__ import annotations

import sys
import traceback

import click

from accelsim import __version__
from accelsim.cli.common import (
    EXIT_USER_ERROR,
    INPUT_IDS_OPTION,
    INPUT_OPTION,
    check_out_dir,
    load_hw,
    load_workload,
    model_options,
    user_errors,
)
from accelsim.cli.compare import compare
from accelsim.cli.masks import masks
from accelsim.cli.sweep import sweep
from accelsim.errors import AccelsimError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accelsim")
@click.option("--debug", is_flag=True, help="Show tracebacks (also accepted after the subcommand).")
@click.option("--plugin", "plugins", multiple=True, metavar="FILE.py|MODULE",
              help="Load a plug-in first (a dataflow, format, pattern, ... it registers); repeatable.")
@user_errors
def cli(debug: bool, plugins: tuple[str, ...]) -> None:
    """accelsim: cycle-approximate accelerator simulation on real pruned PyTorch models."""
    if plugins:
        import os

        from accelsim.registry import PLUGINS_ENV, load_plugin

        for ref in plugins:
            ref = os.path.abspath(ref) if ref.endswith(".py") else ref
            load_plugin(ref)
            known = os.environ.get(PLUGINS_ENV, "")
            os.environ[PLUGINS_ENV] = os.pathsep.join(filter(None, [known, ref]))


def main(argv: list[str] | None = None) -> None:
    """Entry point; ``--debug`` may stand anywhere on the line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    cli.main(args=args, prog_name="accelsim")


@cli.command()
@click.option("--hw", "hw_ref", required=True, help="Hardware YAML (path or shipped name) or SCALE-Sim .cfg.")
@model_options()
@INPUT_IDS_OPTION
@INPUT_OPTION
@click.option("--set", "sets", multiple=True, help="Override a field: PATH=VALUE (pe_array.rows=64).")
@click.option("--out", "out_dir", default=None, help="Write report.json, layers.csv and plots here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--wide", is_flag=True, help="Every column of the per-layer table (default: the key ones).")
@user_errors
def run(hw_ref, model, batch, input_shape, checkpoint, input_ids, input_, sets, out_dir, as_json, wide):
    """Simulate a model on a hardware config and print the per-layer table."""
    from accelsim.cli.console import print_report, progress_bars
    from accelsim.sim.simulator import simulate

    hw = load_hw(hw_ref, sets)
    if out_dir:
        check_out_dir(out_dir)
    workload = load_workload(model, batch, input_shape, checkpoint, input_ids, input_=input_)
    with progress_bars("simulating") as (advance,):
        report = simulate(hw, workload, progress=advance)
    if as_json:
        import json

        click.echo(json.dumps(report.to_json_dict(), indent=2, default=str))
    else:
        print_report(report, wide)
    if out_dir:
        from accelsim.results.plots import write_plots
        from accelsim.results.save import save_report

        paths = save_report(report, out_dir) + write_plots(report, out_dir)
        click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)


@cli.command()
@model_options()
@INPUT_IDS_OPTION
@INPUT_OPTION
@user_errors
def trace(model, batch, input_shape, checkpoint, input_ids, input_):
    """Show the layers, GEMM shapes, MACs and densities a model would be simulated with, and its
    coverage: what of the model's MACs and parameters is simulated, and what is not."""
    from accelsim.cli.console import print_workload

    print_workload(load_workload(model, batch, input_shape, checkpoint, input_ids, say_coverage=False,
                                 input_=input_))


@cli.command()
@click.argument("files", nargs=-1, required=True)
@user_errors
def check(files):
    """Validate hardware configs, recipes, energy tables or SCALE-Sim files; list every problem."""
    from accelsim.cli.check import check_file

    debug = bool(click.get_current_context().find_root().params.get("debug"))
    failed = 0
    for f in files:  # every file is checked, whatever happened to the ones before it
        try:
            kind = check_file(f)
            click.echo(f"ok: {f} ({kind})")
        except AccelsimError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
        except Exception as exc:  # a crash on one file is reported with it, and the rest still checked
            failed += 1
            if debug:
                traceback.print_exc()
            click.echo(f"error: {f}: could not be checked ({type(exc).__name__}: {exc}); please report it,"
                       " with --debug for the traceback", err=True)
    if failed:
        sys.exit(EXIT_USER_ERROR)


@cli.command("list")
@click.argument("what", type=click.Choice(["models", "workloads", "hardware", "dataflows", "formats",
                                           "patterns", "methods", "energy-tables", "timing-models"]))
@user_errors
def list_(what):
    """List the names accelsim knows."""
    from accelsim.cli.check import known_names

    for name, desc in known_names(what):
        click.echo(f"{name:28s} {desc}" if desc else name)


cli.add_command(compare)
cli.add_command(sweep)
cli.add_command(masks)

if __name__ == "__main__":  # pragma: no cover
    main()
