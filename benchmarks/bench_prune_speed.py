"""Magnitude pruning of one Llama-2-7B decoder layer, before and after the N:M kernel (issue 14).

    python benchmarks/bench_prune_speed.py            # print
    python benchmarks/bench_prune_speed.py --record   # also write benchmarks/results/prune_speed.md

One 7B-shaped ``DecoderLayer(4096, 32, 32, 11008)`` (q/k/v/o 4096x4096, gate/up 11008x4096, down
4096x11008: 202 M weights) is pruned by ``prune_model(method="magnitude", scope="layer")`` to nm2:4
and to 50 % unstructured.  Each (tree, pattern) runs in a fresh process (PYTHONPATH = the tree):
four freshly built layers (seed 0) pruned one after the other; the first includes the process's
first touch of ~3 GB and numba's start-up, the median of the other three is the steady state a
32-layer model sees.  "before" is the package at ``--before`` (default 5917584, the commit before
the kernel: stable argsort + put_along_axis, |scores| copied, NaN scan, torch's float mask),
extracted with ``git archive``; "after" is this tree.  Masks are checked equal between the two.

Also the crossover behind ``patterns.base.KERNEL_MAX_LENGTH`` (kernel vs argsort by group length
L on 8 M float32 scores) and numba's start-up behind ``KERNEL_MIN_SIZE``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = ("nm2:4", "unstructured")
LENGTHS = (2, 4, 8, 9, 16, 25, 32, 49, 64)


# ---------------------------------------------------------------- children (run with PYTHONPATH = a tree)


def child_prune(pattern: str, repeats: int) -> dict:
    import numpy as np
    import torch

    from accelsim.workload.models.llama import DecoderLayer
    from accelsim.workload.pruning.apply import prune_model

    times, digest = [], None
    for _ in range(1 + repeats):
        torch.manual_seed(0)
        layer = DecoderLayer(4096, 32, 32, 11008, 0).eval()
        start = time.perf_counter()
        result = prune_model(layer, pattern=pattern, sparsity=0.5, method="magnitude", scope="layer",
                             first_conv="dense")
        times.append(time.perf_counter() - start)
        if digest is None:
            h = hashlib.sha256()
            for name in sorted(result.masks):
                h.update(name.encode())
                h.update(np.packbits(result.masks[name]).tobytes())
            digest = h.hexdigest()
        del layer, result
    return {"first_s": times[0], "median_s": statistics.median(times[1:]), "all_s": times, "masks": digest}


def child_crossover() -> dict:
    import numpy as np

    t0 = time.perf_counter()
    import numba  # noqa: F401

    t1 = time.perf_counter()
    from accelsim.workload.pruning.kernels import top_in_groups

    top_in_groups(np.zeros((1, 4, 1), np.float32), 2)  # loads the compiled code from numba's cache
    t2 = time.perf_counter()
    rng = np.random.default_rng(0)
    rows = []
    for length in LENGTHS:
        scores = np.abs(rng.standard_normal(((1 << 23) // length, length, 1), dtype=np.float32))
        keep = length // 2
        top_in_groups(scores[:64], keep)  # compiled for this path already; warm the caches
        kernel, argsort = [], []
        for _ in range(3):
            a = time.perf_counter()
            got = top_in_groups(scores, keep)
            kernel.append(time.perf_counter() - a)
            a = time.perf_counter()
            order = np.argsort(-scores, axis=1, kind="stable")[:, :keep]
            want = np.zeros(scores.shape, dtype=bool)
            np.put_along_axis(want, order, True, axis=1)
            argsort.append(time.perf_counter() - a)
        assert (got == want).all()
        n = scores.size
        rows.append((length, statistics.median(kernel) / n * 1e9, statistics.median(argsort) / n * 1e9))
    return {"import_numba_s": t1 - t0, "first_call_s": t2 - t1, "rows": rows}


# ---------------------------------------------------------------- parent


def run_child(tree: Path, args: list[str]) -> tuple[dict, float]:
    """(the child's JSON, its peak RSS in GB)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], cwd=tree, env=env,
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"child {args} in {tree} failed")
    return json.loads(out.splitlines()[-1]), usage.ru_maxrss / 1e6


def extract(commit: str, into: Path) -> Path:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "accelsim"], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--before", default="5917584", help="commit of the 'before' package")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_crossover() if kind == "crossover" else child_prune(rest[0], args.repeats)
        print(json.dumps(out))
        return

    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        before_tree = extract(args.before, Path(tmp))
        results = {}
        for pattern in PATTERNS:
            for label, tree in (("before", before_tree), ("after", ROOT)):
                results[pattern, label] = run_child(tree, ["prune", pattern, f"--repeats={args.repeats}"])
                r, rss = results[pattern, label]
                print(f"{pattern} {label}: first {r['first_s']:.2f} s, median {r['median_s']:.2f} s "
                      f"({', '.join(f'{t:.2f}' for t in r['all_s'])}), peak RSS {rss:.2f} GB", flush=True)
            same = results[pattern, "before"][0]["masks"] == results[pattern, "after"][0]["masks"]
            if not same:
                raise SystemExit(f"{pattern}: the masks differ between before and after")
    cross, _ = run_child(ROOT, ["crossover"])
    for length, kernel, argsort in cross["rows"]:
        print(f"L={length}: kernel {kernel:.1f} ns/score, argsort {argsort:.1f} ns/score", flush=True)
    print(f"numba import {cross['import_numba_s']:.2f} s, first kernel call {cross['first_call_s']:.2f} s")

    lines += ["| pattern | before: first layer s | before: median of next 3 s | after: first layer s | "
              "after: median of next 3 s | speed-up (median) | peak RSS before / after GB | masks |",
              "|---|---|---|---|---|---|---|---|"]
    for pattern in PATTERNS:
        (b, b_rss), (a, a_rss) = results[pattern, "before"], results[pattern, "after"]
        lines.append(f"| {pattern} | {b['first_s']:.2f} | {b['median_s']:.2f} | {a['first_s']:.2f} | "
                     f"{a['median_s']:.2f} | {b['median_s'] / a['median_s']:.1f}x | "
                     f"{b_rss:.2f} / {a_rss:.2f} | identical |")
    cross_lines = ["| group length L | kernel ns / score | stable argsort + put_along_axis ns / score |",
                   "|---|---|---|"]
    cross_lines += [f"| {length} | {k:.1f} | {s:.1f} |" for length, k, s in cross["rows"]]
    from accelsim.workload.pruning.patterns import base

    load = os.getloadavg()[0]
    text = (f"# Magnitude pruning of one Llama-2-7B decoder layer (bench_prune_speed.py)\n\n"
            f"Recorded {datetime.date.today()}, {platform.machine()}, 2 shared cores, load average "
            f"{load:.1f} at the end (other engineers' jobs running), command "
            f"`python benchmarks/bench_prune_speed.py --record`.  One `DecoderLayer(4096, 32, 32, 11008)` "
            f"(202 M weights), `prune_model(method=\"magnitude\", scope=\"layer\")`, each row a fresh "
            f"process: the first layer pays the process's first touch of ~3 GB (and, after, numba's "
            f"start-up); the median of the next {args.repeats} fresh layers is what each layer of a "
            f"32-layer model costs.  Before = commit {args.before} (stable argsort + put_along_axis, "
            f"|scores| copied, a NaN scan over a bool copy, torch's bool-to-float mask); after = this "
            f"tree.  The masks of both are hashed and equal.\n\n" + "\n".join(lines) +
            "\n\nWhat is left of an nm2:4 layer after: |w| (one numpy pass), the kernel (one pass), "
            "the float mask (numpy), torch's `weight_orig *= mask` and `weight = weight_orig * mask` "
            "(the reparametrisation's own tensor).  Unstructured: its threshold partitions only the "
            "bracket a sorted sample finds (`kth_smallest`), and no |scores| copy or NaN scan.\n\n"
            "## Crossover: kernel vs argsort by group length (8 M float32 scores, median of 3)\n\n"
            + "\n".join(cross_lines) +
            f"\n\nnumba start-up in a fresh process: import {cross['import_numba_s']:.2f} s, first kernel "
            f"call (compiled code loaded from numba's cache) {cross['first_call_s']:.2f} s.  Hence "
            f"`KERNEL_MAX_LENGTH = {base.KERNEL_MAX_LENGTH}` and "
            f"`KERNEL_MIN_SIZE = {base.KERNEL_MIN_SIZE:,}` scores for the first use in a process "
            f"(ResNet-50's largest layer, 2.4 M, never loads numba; once it is loaded every size uses "
            f"the kernel).\n")
    print(text)
    if args.record:
        from accelsim.files import write_atomic

        write_atomic(ROOT / "benchmarks" / "results" / "prune_speed.md", text)


if __name__ == "__main__":
    main()
