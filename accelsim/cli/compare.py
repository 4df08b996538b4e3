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
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Batch size.")
@click.option("--out", "out_dir", default=None, help="Write compare.json, compare.csv and compare.png here.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of a table.")
@user_errors
def compare(hw_refs, model, density, patterns, batch, out_dir, as_json):
    """Structured vs unstructured sparsity at equal density: cycles, speedup and energy over the
    dense model on the same hardware, MACs issued, load imbalance, metadata and weight footprint."""
    from accelsim.cli.console import out, print_table, progress_bars, si, table
    from accelsim.studies.compare import compare as run_compare

    refs = _split(hw_refs)
    if not refs:
        raise AccelsimError("--hw: give at least one hardware config")
    hws = [load_hw(ref, ()) for ref in refs]
    if out_dir:
        check_out_dir(out_dir)
    with progress_bars("comparing") as (advance,):
        result = run_compare(hws, model, density, _split((patterns,)), batch=batch, progress=advance)
    if as_json:
        import json

        click.echo(json.dumps(result.to_json_dict(), indent=2))
    else:
        t = table(f"{model} at density {result.density:g}: every pattern on every config",
                  ("hardware", "pattern", "density", "cycles", "speedup", "energy µJ", "energy/dense",
                   "MACs issued", "imbal", "metadata b", "weights b", "w footprint %", "notes"),
                  left=("hardware", "pattern"))
        for r in result.rows:
            t.add_row(r.hardware, r.pattern, f"{r.density:.3f}", f"{r.total_cycles:,}", f"{r.speedup:.2f}x",
                      f"{r.energy_pj / 1e6:,.1f}", f"{r.energy_ratio:.2f}", si(r.macs_issued),
                      f"{r.imbalance:.2f}", si(r.metadata_bits), si(r.weights_bits),
                      f"{100 * r.weights_footprint:.1f}", str(r.notes))
        print_table(t)
        for note in result.notes:
            out.print(f"note: {note}")
        out.print("layer notes (e.g. a pattern the datapath cannot exploit) are in `accelsim run --hw H "
                  "--model W`; workloads: " + ", ".join(sorted({r.workload for r in result.rows})))
    if out_dir:
        from accelsim.studies.compare import save_comparison

        paths = save_comparison(result, out_dir)
        click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)
