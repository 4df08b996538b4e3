"""``accelsim masks``: how similar pruned workloads' masks are (``compare``) and how much structure
one holds and what it costs on hardware (``structure``); accelsim.studies.masks does the work."""

from __future__ import annotations

import click

from accelsim.cli.common import check_out_file, load_hw, load_workload, user_errors
from accelsim.errors import AccelsimError

DEFAULT_HW = "sparse_pe,unstructured_skip,nm_tensor_core"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


@click.group()
def masks() -> None:
    """Compare the weight masks of pruned workloads, and measure their structure."""


@masks.command("compare")
@click.argument("refs", nargs=-1, required=True)
@click.option("--plot", "plot_path", default=None, help="Write the similarity heat map (PNG) here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@user_errors
def compare_cmd(refs, plot_path, as_json):
    """Jaccard similarity of the kept weights of two or more workloads (recipe names or files),
    per layer for two, as a matrix (weighted by layer size) for more; beside what two random masks
    of the same densities would share."""
    from accelsim.studies.masks import compare_masks, similarity_matrix, weighted_jaccard

    if len(refs) < 2:
        raise AccelsimError("masks compare: give at least two workloads (recipe names or files)")
    if plot_path:
        check_out_file(plot_path, "--plot")
    workloads = [load_workload(ref, None, None, None) for ref in refs]
    rows = compare_masks(workloads[0], workloads[1])
    matrix = similarity_matrix(workloads)
    if as_json:
        import json

        click.echo(json.dumps({"workloads": list(refs), "matrix": matrix.tolist(), "layers": [
            {"name": r.name, "shape": list(r.shape), "density_a": r.density_a, "density_b": r.density_b,
             "jaccard": r.jaccard, "random_jaccard": r.random_jaccard} for r in rows]}, indent=2))
    else:
        from accelsim.cli.console import print_table, rows_table, table

        click.echo(f"A = {refs[0]}\nB = {refs[1]}")
        print_table(rows_table(
            "Jaccard similarity of the kept weights",
            [("layer", lambda r: r.name), ("shape", lambda r: "x".join(map(str, r.shape))),
             ("density A\n%", lambda r: _pct(r.density_a)), ("density B\n%", lambda r: _pct(r.density_b)),
             ("Jaccard", lambda r: f"{r.jaccard:.3f}"),
             ("random\nmasks", lambda r: f"{r.random_jaccard:.3f}")],
            rows, left=["layer", "shape"]))
        click.echo(f"weighted by layer size: {weighted_jaccard(rows):.3f}")
        if len(refs) > 2:
            t = table("weighted Jaccard similarity, every pair", ["", *refs], left=[""])
            for ref, line in zip(refs, matrix, strict=True):
                t.add_row(ref, *(f"{v:.3f}" for v in line))
            print_table(t)
    if plot_path:
        from pathlib import Path

        from accelsim.results.plots_masks import plot_similarity

        labels = [Path(r).stem if r.endswith((".yaml", ".yml")) else r for r in refs]
        click.echo(f"wrote {plot_similarity(matrix, labels, plot_path, 'Mask similarity')}", err=True)


@masks.command("structure")
@click.argument("ref")
@click.option("--hw", "hw_refs", default=DEFAULT_HW, show_default=True,
              help="Hardware configs to cost the masks on (comma-separated; '' for none).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@user_errors
def structure_cmd(ref, hw_refs, as_json):
    """Empty kernels, input channels and filters per layer against a random mask of the same density
    (binomial expectation), and the workload's cycles, energy and metadata on each --hw config."""
    from accelsim.studies.masks import hardware_costs, mask_structure

    workload = load_workload(ref, None, None, None)
    hws = {h: load_hw(h, ()) for h in (x.strip() for x in hw_refs.split(",")) if h}
    rows = mask_structure(workload)
    costs = hardware_costs(workload, hws) if hws else {}
    if as_json:
        import dataclasses
        import json

        click.echo(json.dumps({"workload": ref, "layers": [dataclasses.asdict(r) for r in rows],
                               "hardware": costs}, indent=2))
        return
    from accelsim.cli.console import print_table, rows_table

    click.echo(ref)
    print_table(rows_table(
        "empty groups per layer, % (random: binomial, same density)",
        [("layer", lambda r: r.name), ("shape", lambda r: "x".join(map(str, r.shape))),
         ("density\n%", lambda r: _pct(r.density)),
         ("kernels\nempty", lambda r: _pct(r.kernels_empty)), ("\nrandom", lambda r: _pct(r.kernels_random)),
         ("in ch\nempty", lambda r: _pct(r.in_channels_empty)),
         ("\nrandom", lambda r: _pct(r.in_channels_random)),
         ("filters\nempty", lambda r: _pct(r.filters_empty)), ("\nrandom", lambda r: _pct(r.filters_random))],
        rows, left=["layer", "shape"]))
    if costs:
        print_table(rows_table(
            "on hardware", [("config", lambda kv: kv[0]),
                                   ("cycles", lambda kv: f"{kv[1]['total_cycles']:,}"),
                                   ("energy\nnJ", lambda kv: f"{kv[1]['energy_pj'] / 1e3:,.1f}"),
                                   ("metadata\nbits", lambda kv: f"{kv[1]['metadata_bits']:,}"),
                                   ("MACs\nissued", lambda kv: f"{kv[1]['macs_issued']:,}")],
            costs.items(), left=["config"]))
