"""The tables of benchmarks/pruning_masks.py: mask similarity + structure (pruning_masks.md) and what
each method x pattern buys on hardware beside its accuracy (pruning_hardware.md)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
from pruning_common import stats

STUDY = ("imp", "imp_reinit", "magnitude", "snip", "synflow", "random")
HW = ("sparse_pe", "unstructured_skip", "nm_tensor_core")


def _fmt(s, scale=100.0, digits=1) -> str:
    return "-" if math.isnan(s[0]) else f"{scale * s[0]:.{digits}f} ± {scale * s[1]:.{digits}f}"


def _study_masks(rows):
    out: dict = {}
    for r in rows:
        if r["masks"] is not None:
            masks = {k: np.array(v, dtype=bool) for k, v in r["masks"].items()}
            out.setdefault(r["method"], {})[r["seed"]] = masks
    return out


def masks_md(rows, seeds, head, png: Path) -> tuple[str, Path]:
    from accelsim.results.plots_masks import plot_similarity
    from accelsim.studies.masks import jaccard, random_jaccard

    sets = _study_masks(rows)
    layers = list(next(iter(next(iter(sets.values())).values())))
    sizes = {n: next(iter(sets[STUDY[0]].values()))[n].size for n in layers}

    def pair(a, b):
        per = {n: jaccard(a[n], b[n]) for n in layers}
        per["all"] = sum(per[n] * sizes[n] for n in layers) / sum(sizes.values())
        return per

    lines = ["| masks compared | pairs | " + " | ".join(layers) + " | all (weighted) |",
             "|---|---:|" + "---:|" * (len(layers) + 1)]
    matrix = np.ones((len(STUDY), len(STUDY)))
    for i, a in enumerate(STUDY):  # the same method, different seeds
        vals = [pair(sets[a][s], sets[a][t]) for s, t in itertools.combinations(seeds, 2)]
        matrix[i, i] = stats([v["all"] for v in vals])[0]
        lines.append(f"| {a} vs {a}, other seed | {len(vals)} | "
                     + " | ".join(_fmt(stats([v[n] for v in vals]), 1, 3) for n in (*layers, "all")) + " |")
    for (i, a), (j, b) in itertools.combinations(enumerate(STUDY), 2):  # different methods, the same seed
        vals = [pair(sets[a][s], sets[b][s]) for s in seeds]
        matrix[i, j] = matrix[j, i] = stats([v["all"] for v in vals])[0]
        lines.append(f"| {a} vs {b}, same seed | {len(vals)} | "
                     + " | ".join(_fmt(stats([v[n] for v in vals]), 1, 3) for n in (*layers, "all")) + " |")
    some = sets["random"][seeds[0]]
    base = {n: random_jaccard(float(some[n].mean()), float(some[n].mean())) for n in layers}
    expected = " | ".join(f"{base[n]:.3f}" for n in layers)
    lines.append(f"| two random masks (expectation) | - | {expected} | - |")
    plot_similarity(matrix, list(STUDY), png, "Mask similarity, lenet5_digits at 90 % (diagonal: other seed; "
                    "off-diagonal: same seed)", baseline=float(np.mean(list(base.values()))))

    struct = _structure_table(rows, seeds)
    text = "\n".join([
        f"# Mask similarity and emergent structure (lenet5_digits, 90 % unstructured, {len(seeds)} seeds)",
        "",
        *head,
        "Each mask is the workload of a recipe (every conv/linear layer pruned to 90 %; snip and synflow "
        "with their default global scope). Jaccard = |kept in both| / |kept in either|, mean ± std over "
        "the pairs (other seed: every pair of the 5 seeds of one method; same seed: the two methods on "
        "the same split and initialisation). imp rewinds the survivors to step 20 each round, "
        "imp_reinit re-draws them at random; both prune 20 % of the remaining weights per round, 5 "
        "epochs per round.", "", "## Jaccard similarity per layer", "", *lines, "",
        f"Heat map: `{png.name}` (weighted Jaccard; diagonal = same method, other seed).", "",
        "## Emergent structure: empty groups per layer vs a random mask of the same density", "",
        "Observed % (mean ± std over seeds) / binomial expectation % for a random mask with the layer's "
        "achieved density d: kernel (5x5 window) empty with (1-d)^25, input channel with (1-d)^(K·R·S), "
        "filter/neuron with (1-d)^(C·R·S). ▲ = observed above the expectation by more than two standard "
        "errors.", "", struct, ""])
    return text, png


def _structure_table(rows, seeds) -> str:
    groups: dict = {}
    for r in rows:
        if r["pattern"] == "unstructured" and r["target"] == 0.9:
            groups.setdefault(r["method"], []).append(r)
    first = next(iter(groups.values()))[0]["structure"]
    cols = []
    for layer in first:
        if layer["kernels_empty"] is not None:
            cols.append((layer["name"], "kernels"))
        cols += [(layer["name"], "in_channels"), (layer["name"], "filters")]
    lines = ["| method | " + " | ".join(f"{n} {w.replace('_', ' ')}" for n, w in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for method in [m for m in (*STUDY, "agp", "drop") if m in groups]:
        cells = []
        for name, what in cols:
            found = [next(x for x in r["structure"] if x["name"] == name) for r in groups[method]]
            obs, exp = [x[f"{what}_empty"] for x in found], [x[f"{what}_random"] for x in found]
            s, e = stats(obs), stats(exp)[0]
            up = " ▲" if s[0] - e > 2 * s[1] / math.sqrt(s[2]) and s[0] > e + 1e-9 else ""
            cells.append(f"{_fmt(s)} / {100 * e:.1f}{up}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def hardware_md(rows, seeds, head, acc_json: Path) -> str:
    acc: dict = {}
    if acc_json.exists():
        for r in json.loads(acc_json.read_text())["rows"]:
            if r["model"] == "lenet5_digits":
                acc.setdefault((r["method"], r["pattern"], float(r["target"])), []).append(r["final"])
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["method"], r["pattern"], float(r["target"])), []).append(r)
    dense = groups[("dense", "-", 0.0)][0]["costs"]
    hdr = " | ".join(f"{h} cycles (x dense) | {h} energy nJ | {h} metadata kbit" for h in HW)
    lines = ["| method | pattern | target | test acc % (mean ± std) | achieved sparsity % | empty kernels % "
             "| "
             f"{hdr} |",
             "|---|---|---:|---:|---:|---:|" + "---:|" * (3 * len(HW))]
    order = ["dense", *STUDY, "agp", "drop", "pen_ultimate"]
    pats = ["-", "unstructured", "nm2:4", "channel", "unit", "connection"]
    def rank(kv):
        return pats.index(kv[0][1]), order.index(kv[0][0]), kv[0][2]

    for key, rs in sorted(groups.items(), key=rank):
        method, pattern, target = key
        a = acc.get(("dense", "-", 0.0) if method == "dense" else key)
        shown = f"{target:.3f} var" if method == "pen_ultimate" else f"{100 * target:.0f} %"
        cells = [method, pattern, "-" if method == "dense" else shown,
                 _fmt(stats(a)) if a else "-", f"{100 * stats([r['achieved'] for r in rs])[0]:.1f}",
                 _fmt(stats([r["empty_kernels"] for r in rs]))]
        for h in HW:
            cyc = stats([r["costs"][h]["total_cycles"] for r in rs])[0]
            cells += [f"{cyc:,.0f} ({cyc / dense[h]['total_cycles']:.2f})",
                      f"{stats([r['costs'][h]['energy_pj'] for r in rs])[0] / 1e3:,.0f}",
                      f"{stats([r['costs'][h]['metadata_bits'] for r in rs])[0] / 1e3:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([
        f"# What pruning buys on hardware: lenet5_digits, method x pattern, {len(seeds)} seeds", "", *head,
        "Accuracy: benchmarks/results/pruning_accuracy.md (same protocols and seeds; mean ± std of the "
        "final test accuracy). Everything else: the recipe workloads of benchmarks/pruning_masks.py "
        "(batch 1), mean over the seeds; cycles in brackets relative to the dense model on the same "
        "datapath; energy from each config's energy model; metadata = index bits the config stores for "
        "the weights. Empty kernels = all-zero 5x5 windows over both convs.", "", *lines, ""])
