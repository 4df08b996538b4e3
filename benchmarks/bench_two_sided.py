"""Speed of the two-sided kernels and datapaths on ResNet-50 pruned to 70 % at batch 1 (synthetic
activation masks at each layer's measured density: no recorded masks exist yet).

    python benchmarks/bench_two_sided.py             # prints a markdown report
    python benchmarks/bench_two_sided.py --record    # also writes benchmarks/results/two_sided.md

1. Exact per-PE intersection work of every layer on the os dataflow (im2col of the mask, bit-packed,
   popcount of every (m, n) pair's words: ``pe_work``), the issue's "<= 1 s" target;
2. the SCNN and SparTen compute stages over every layer (masks, counts, bank conflicts, folds).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np

from accelsim import load_hardware
from accelsim.sim.dataflows.scnn import scnn_compute
from accelsim.sim.dataflows.sparten import im2col, sparten_compute
from accelsim.sim.dataflows.two_sided import input_mask
from accelsim.sim.dataflows.two_sided_kernels import pe_work
from accelsim.workload.load import load_workload

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    wl = load_workload("resnet50_70pct")
    masks = [input_mask(layer)[0] for layer in wl.layers]
    both = list(zip(wl.layers, masks, strict=True))
    gemm = [(im2col(layer, mask), layer.gemm_weight_mask()) for layer, mask in both]
    scnn, sparten = load_hardware("scnn_like"), load_hardware("sparten_like")
    rows = [("input masks drawn (54 layers)", best_of(lambda: [input_mask(x) for x in wl.layers])),
            ("im2col of every mask", best_of(lambda: [im2col(x, m) for x, m in both])),
            ("exact per-PE work, os (pack + popcount)",
             best_of(lambda: [pe_work(ag, wg, "os") for a, w in gemm for ag, wg in zip(a, w, strict=True)])),
            ("SCNN compute stage, every layer",
             best_of(lambda: [scnn_compute(x, scnn) for x in wl.layers], 1)),
            ("SparTen compute stage, every layer",
             best_of(lambda: [sparten_compute(x, sparten) for x in wl.layers], 1))]
    lines = ["# Two-sided kernels and datapaths: speed", "",
             f"`python benchmarks/bench_two_sided.py --record` on {datetime.date.today()}, Python"
             f" {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; resnet50_70pct,"
             f" batch 1, {len(wl.layers)} layers, {wl.macs / 1e9:.2f} G MACs each (m, k, n)"
             " position walked once, 64 of them to a word).", "",
             "| step | seconds (best of 3; stages: 1 run) |", "|---|---:|"]
    lines += [f"| {name} | {sec:.3f} |" for name, sec in rows]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.record:
        (ROOT / "benchmarks" / "results" / "two_sided.md").write_text(text)


if __name__ == "__main__":
    main()
