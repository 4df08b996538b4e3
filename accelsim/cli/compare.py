"""``accelsim compare``: every pattern at equal density on every hardware config, one table + a plot."""

from __future__ import annotations

import click

from accelsim.cli.common import check_out_dir, load_hw, user_errors
from accelsim.errors import AccelsimError

DEFAULT_PATTERNS = "unstructured,nm2:4,window,channel,block4x4"


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@click.command()
@click.option("--hw", "hw_refs", multiple=True, required=True,
              help="Hardware config(s): repeat --hw or separate with commas (sparse_pe,nm_tensor_core).")
@click.option("--model", required=True, help="Zoo model to prune, e.g. resnet50.")
@click.option("--density", required=True, type=str,
              help="Fraction of weights kept, in (0, 1]: 0.3 = 70 % sparse.")
@click.option("--patterns", default=DEFAULT_PATTERNS, show_default=True,
              help="Comma-separated patterns (accelsim list patterns).")
@click.option("--recipe", "recipes", multiple=True,
              help="Also a recipe (name or file) of the same model, e.g. resnet50_nmflex_global: a workload"
                   " no pattern name says (repeat or separate with commas).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Batch size.")
@click.option("--out", "out_dir", default=None, help="Write compare.json, compare.csv and compare.png here.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of a table.")
@click.option("--wide", is_flag=True, help="Every column of the table (default: the key ones).")
@user_errors
def compare(hw_refs, model, density, patterns, recipes, batch, out_dir, as_json, wide):
    """Structured vs unstructured sparsity at equal density: cycles, speedup and energy over the
    dense model on the same hardware, load imbalance, weight footprint, and the costs: index
    metadata, sparse-logic (select / bus / gather) energy and PE area."""
    from accelsim.cli.console import print_comparison, progress_bars
    from accelsim.studies.compare import compare as run_compare

    refs = _split(hw_refs)
    if not refs:
        raise AccelsimError("--hw: give at least one hardware config")
    hws = [load_hw(ref, ()) for ref in refs]
    if out_dir:
        check_out_dir(out_dir)
    with progress_bars("comparing") as (advance,):
        result = run_compare(hws, model, density, _split((patterns,)), recipes=_split(recipes), batch=batch,
                             progress=advance)
    if as_json:
        import json

        click.echo(json.dumps(result.to_json_dict(), indent=2))
    else:
        print_comparison(result, model, wide)
    if out_dir:
        from accelsim.studies.compare import save_comparison

        paths = save_comparison(result, out_dir)
        click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)
