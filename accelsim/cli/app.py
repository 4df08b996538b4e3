"""The command line: parse -> library call -> print or save.  User errors exit 2 with one message."""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

import click

from accelsim import __version__
from accelsim.errors import AccelsimError

EXIT_USER_ERROR = 2


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USER_ERROR)


def user_errors(fn):
    """Turn AccelsimError (and a missing file) into exit status 2; --debug shows the traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = bool((ctx.find_root().params or {}).get("debug"))
        try:
            return fn(*args, **kwargs)
        except AccelsimError as exc:
            if debug:
                traceback.print_exc()
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="accelsim")
@click.option("--debug", is_flag=True, help="Show tracebacks (also accepted after the subcommand).")
def cli(debug: bool) -> None:
    """accelsim: cycle-approximate accelerator simulation on real pruned PyTorch models."""


def main(argv: list[str] | None = None) -> None:
    """Entry point; ``--debug`` may stand anywhere on the line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    cli.main(args=args, prog_name="accelsim")


def _parse_sets(sets: tuple[str, ...]) -> dict[str, object]:
    from accelsim.spec.config import parse_scalar

    out: dict[str, object] = {}
    for item in sets:
        key, _, value = item.partition("=")
        if not key.strip() or not value.strip():
            raise AccelsimError(f"--set {item!r}: write PATH=VALUE, e.g. --set pe_array.rows=64")
        out[key.strip()] = parse_scalar(value)
    return out


def _parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise AccelsimError(f"--input-shape {text!r}: write the shape without batch, e.g. 3,224,224")
    return shape


def _load_hw(ref: str, sets: tuple[str, ...]):
    from accelsim.spec.hardware import load_hardware, resolve_hardware_path

    if not ref.endswith(".cfg"):
        _, note = resolve_hardware_path(ref)
        if note:
            click.echo(f"note: {note}", err=True)
    elif not Path(ref).is_file():
        raise AccelsimError(f"{ref}: file not found")
    return load_hardware(ref, _parse_sets(sets))


def _load_workload(model: str, batch, input_shape, checkpoint):
    from accelsim.workload.load import load_workload

    if model.endswith(".csv") and not Path(model).is_file():
        raise AccelsimError(f"{model}: file not found")
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise AccelsimError(f"--checkpoint {checkpoint}: file not found")
    return load_workload(model, batch=batch, input_shape=_parse_shape(input_shape), checkpoint=checkpoint)


_model_options = [
    click.option("--model", "model", required=True,
                 help="Zoo model, recipe name (resnet50_70pct), recipe file, SCALE-Sim topology .csv, "
                      "or package.module:function."),
    click.option("--batch", type=click.IntRange(min=1), default=None, help="Batch size."),
    click.option("--input-shape", default=None, help="Input shape without batch, e.g. 3,224,224."),
    click.option("--checkpoint", default=None, help="A state_dict file to load into the model."),
]


def model_options(fn):
    for opt in reversed(_model_options):
        fn = opt(fn)
    return fn


@cli.command()
@click.option("--hw", "hw_ref", required=True, help="Hardware YAML (path or shipped name) or SCALE-Sim .cfg.")
@model_options
@click.option("--set", "sets", multiple=True, help="Override a field: PATH=VALUE (pe_array.rows=64).")
@click.option("--out", "out_dir", default=None, help="Write report.json, layers.csv and plots here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@user_errors
def run(hw_ref, model, batch, input_shape, checkpoint, sets, out_dir, as_json):
    """Simulate a model on a hardware config and print the per-layer table."""
    from accelsim.cli.console import print_report, progress_bar
    from accelsim.sim.simulator import simulate

    hw = _load_hw(hw_ref, sets)
    workload = _load_workload(model, batch, input_shape, checkpoint)
    with progress_bar("simulating", len(workload.layers)) as advance:
        report = simulate(hw, workload, progress=advance)
    if as_json:
        import json

        click.echo(json.dumps(report.to_json_dict(), indent=2, default=str))
    else:
        print_report(report)
    if out_dir:
        from accelsim.results.plots import write_plots
        from accelsim.results.save import save_report

        paths = save_report(report, out_dir) + write_plots(report, out_dir)
        click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)


@cli.command()
@model_options
@user_errors
def trace(model, batch, input_shape, checkpoint):
    """Show the layers, GEMM shapes, MACs and densities a model would be simulated with."""
    from accelsim.cli.console import print_workload

    print_workload(_load_workload(model, batch, input_shape, checkpoint))


@cli.command()
@click.argument("files", nargs=-1, required=True)
@user_errors
def check(files):
    """Validate hardware configs, recipes, energy tables or SCALE-Sim files; list every problem."""
    from accelsim.cli.check import check_file

    failed = 0
    for f in files:
        try:
            kind = check_file(f)
            click.echo(f"ok: {f} ({kind})")
        except AccelsimError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
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


def _add_subcommands() -> None:
    """Commands that live in their own modules (they import from this one)."""
    from accelsim.cli.compare import compare
    from accelsim.cli.sweep import sweep

    cli.add_command(compare)
    cli.add_command(sweep)


_add_subcommands()

if __name__ == "__main__":  # pragma: no cover
    main()
