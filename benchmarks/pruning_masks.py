"""Mask similarity, emergent structure and what the masks cost on hardware, over several seeds.

    python benchmarks/pruning_masks.py --record     # writes pruning_masks.md, pruning_hardware.md and the PNG

Every mask comes from a recipe (written here, one per method x pattern x seed) loaded through the
public API (accelsim.load_workload), so it is exactly the workload a user gets; cycles, energy and
metadata come from accelsim.simulate on ``sparse_pe``, ``unstructured_skip`` and ``nm_tensor_core``.
The recipes follow benchmarks/pruning_accuracy.py's protocols and seeds (seed s: split, init, method),
so the masks are those whose accuracy pruning_accuracy.md reports: one-shot methods on the trained
dense model of that seed (a checkpoint trained here, 15 epochs), snip / synflow at initialisation,
imp / imp_reinit / agp / drop from their own loops; every conv/linear layer pruned.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pruning_common import machine_line  # noqa: E402

MODEL = "lenet5_digits"
STUDY = ("imp", "imp_reinit", "magnitude", "snip", "synflow", "random")  # the similarity study, at 90 %
HW = ("sparse_pe", "unstructured_skip", "nm_tensor_core")
ON_TRAINED = ("magnitude", "random", "pen_ultimate")


def settings(quick: bool = False) -> list[tuple[str, str, float]]:
    """(method, pattern, target) -- the lenet5_digits rows of pruning_accuracy.md's grid."""
    if quick:
        return [(m, "unstructured", 0.9) for m in STUDY] + [("pen_ultimate", "unit", 0.999)]
    out = [(m, "unstructured", s) for m in (*STUDY, "agp", "drop") for s in (0.5, 0.9)]
    out += [(m, "nm2:4", 0.5) for m in ("magnitude", "random", "snip", "agp")]
    out += [(m, "channel", 0.8) for m in ("magnitude", "snip", "agp")]
    out += [("pen_ultimate", g, 0.999) for g in ("unit", "connection")]
    return out


def train_checkpoint(args: tuple) -> str:
    seed, folder = args
    import torch
    from pruning_common import dense_state

    state, _, _ = dense_state(MODEL, seed, 15)
    path = Path(folder) / f"dense_seed{seed}.pt"
    torch.save(state, path)
    return str(path)


def recipe_text(method: str, pattern: str, target: float, seed: int, checkpoint: str | None,
                imp_epochs: int = 5) -> str:
    params = {"imp": {"epochs": imp_epochs}, "imp_reinit": {"epochs": imp_epochs}}.get(method, {})
    spelled, sparsity = pattern, target
    if method == "pen_ultimate":
        params, spelled, sparsity = {"variance": target, "granularity": pattern}, "unstructured", 0.5
    return "\n".join([
        "version: 1", f"name: {MODEL}_{method}_{pattern.replace(':', 'of')}_{target}_s{seed}",
        f"model: {MODEL}", f"pattern: '{spelled}'", f"sparsity: {sparsity}", f"method: {method}",
        f"method_params: {json.dumps(params)}", "first_conv: pattern", f"seed: {seed}", "data: digits",
        f"checkpoint: {checkpoint if method in ON_TRAINED else 'null'}", ""])


def run_one(task: tuple) -> dict:
    method, pattern, target, seed, path = task
    import torch

    torch.set_num_threads(1)
    from accelsim import load_workload
    from accelsim.studies.masks import empty_kernel_fraction, hardware_costs, layer_masks, mask_structure

    t0, c0 = time.perf_counter(), time.process_time()
    w = load_workload(path) if path else load_workload(MODEL)
    masks = layer_masks(w)
    n = sum(m.size for m in masks.values())
    return dict(method=method, pattern=pattern, target=target, seed=seed,
                achieved=1 - sum(int(m.sum()) for m in masks.values()) / n,
                empty_kernels=empty_kernel_fraction(w), structure=[vars(r) for r in mask_structure(w)],
                costs=hardware_costs(w, HW),
                masks={k: v.tolist() for k, v in masks.items()} if (method in STUDY and target == 0.9
                                                                    and pattern == "unstructured") else None,
                seconds=time.perf_counter() - t0, cpu=time.process_time() - c0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2 seeds, the 90 %% study only, 2 imp epochs")
    args = ap.parse_args(argv)
    seeds = list(range(2 if args.quick else args.seeds))
    work = Path(tempfile.mkdtemp(prefix="accelsim_masks_"))
    os.environ["ACCELSIM_CACHE_DIR"] = str(work / "cache")  # a fresh cache: every workload is built here
    t0, load_before = time.perf_counter(), os.getloadavg()[0]
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        ckpt = dict(zip(seeds, pool.map(train_checkpoint, [(s, str(work)) for s in seeds]), strict=True))
        todo = [("dense", "-", 0.0, 0, None)]
        for method, pattern, target in settings(args.quick):
            for s in seeds:
                path = work / f"{method}_{pattern.replace(':', 'of')}_{target}_s{s}.yaml"
                path.write_text(recipe_text(method, pattern, target, s, ckpt[s], 2 if args.quick else 5))
                todo.append((method, pattern, target, s, str(path)))
        cost = {"imp": 0, "imp_reinit": 0, "drop": 1, "agp": 2}
        todo.sort(key=lambda t: (cost.get(t[0], 9), -t[2]))
        rows = list(pool.map(run_one, todo))
    wall, load_after = time.perf_counter() - t0, os.getloadavg()[0]
    given = sys.argv[1:] if argv is None else argv
    head = [f"Command: `python benchmarks/pruning_masks.py{''.join(' ' + a for a in given)}`  ",
            machine_line(args.workers),
            f"Total: {wall:.0f} s wall for {len(rows)} workloads built from recipes (pruning and training "
            f"included) and simulated on {', '.join(HW)}, seeds {seeds}; {sum(r['cpu'] for r in rows):.0f} s "
            f"of CPU inside the runs; 1-minute load average {load_before:.1f} at the start, "
            f"{load_after:.1f} at the end.", ""]
    from pruning_masks_report import hardware_md, masks_md

    results = ROOT / "benchmarks" / "results"
    png = results / "pruning_masks_similarity.png" if args.record else work / "similarity.png"
    masks_text, png = masks_md(rows, seeds, head, png)
    hw_text = hardware_md(rows, seeds, head, ROOT / "benchmarks" / "results" / "pruning_accuracy.json")
    print(masks_text + "\n" + hw_text)
    if args.record:
        out = ROOT / "benchmarks" / "results"
        (out / "pruning_masks.md").write_text(masks_text)
        (out / "pruning_hardware.md").write_text(hw_text)
    print(f"heat map: {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
