"""Llama-2-7B shapes, 2:4 by Wanda, decode with a KV cache of 2048 tokens on the 2:4 tensor core:
the whole command, cold and cached, its time and peak memory (issue 14's budget: <= 120 s and
<= 4 GB cold, <= 5 s cached, on 2 cores).

    python benchmarks/bench_llm7b.py            # one cold run, then the cached reruns
    python benchmarks/bench_llm7b.py --record   # also writes benchmarks/results/llm7b.md
    python benchmarks/bench_llm7b.py --record --cold 3 --wanda   # 3 cold runs; one of llama2_7b_wanda_2of4

Each run is ``python -m accelsim run --hw nm_tensor_core --model llama2_7b_2of4`` in a fresh process,
timed from outside (interpreter start to exit); "cold" has empty ACCELSIM_CACHE_DIR and
NUMBA_CACHE_DIR, "cached" keeps the cold run's; a last cached run adds ``--out DIR`` (the files and
plots).  Peak memory is the child's maximum resident set
(getrusage).  The figures the run prints (cycles, tokens per second, energy, weight storage) are read
from its report.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HW, MODEL, WANDA = "nm_tensor_core", "llama2_7b_2of4", "llama2_7b_wanda_2of4"


def run_once(caches: Path, out: Path | None, model: str = MODEL) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, stderr) of one run in a fresh process (the child's own getrusage)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ACCELSIM_CACHE_DIR=str(caches / "workloads"),
               NUMBA_CACHE_DIR=str(caches / "numba"))
    probe = ("import resource, runpy, sys; sys.argv = ['accelsim', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('accelsim', run_name='__main__')\n"
             "finally:\n    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
             "    print(f'PEAK_KB {peak}', file=sys.stderr)")
    start = time.perf_counter()
    command = [sys.executable, "-c", probe, "run", "--hw", HW, "--model", model,
               *(["--out", str(out)] if out is not None else [])]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB"))
    if proc.returncode != 0:
        raise SystemExit(f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return wall, peak / 1e6, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", type=int, default=1, help="cold runs (caches emptied before each)")
    ap.add_argument("--cached", type=int, default=3, help="cached reruns after the cold runs")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--wanda", action="store_true", help=f"also one cold run of {WANDA}")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        caches, out = Path(tmp), Path(tmp) / "out"
        colds = []
        for _ in range(args.cold):
            for sub in ("workloads", "numba"):
                shutil.rmtree(caches / sub, ignore_errors=True)
            colds.append(run_once(caches, None))
            print(f"cold: {colds[-1][0]:.1f} s, peak {colds[-1][1]:.2f} GB", flush=True)
        cold = (statistics.median(c[0] for c in colds), max(c[1] for c in colds))
        cached = [run_once(caches, None) for _ in range(args.cached)]
        for wall, peak, _ in cached:
            print(f"cached: {wall:.2f} s, peak {peak:.2f} GB", flush=True)
        written = run_once(caches, out)
        print(f"cached with --out: {written[0]:.2f} s, peak {written[1]:.2f} GB", flush=True)
        report = json.loads((out / "report.json").read_text())
        cache_bytes = sum(p.stat().st_size for p in (caches / "workloads").glob("*"))
    wanda = None
    if args.wanda:
        with tempfile.TemporaryDirectory() as tmp:
            wanda = run_once(Path(tmp), None, WANDA)
            print(f"{WANDA} cold: {wanda[0]:.1f} s, peak {wanda[1]:.2f} GB", flush=True)
    totals = report["totals"]
    cycles, latency_ms = totals["total_cycles"], totals["latency_ms"]
    lines = [
        f"# {MODEL} decode on {HW}",
        "",
        f"Recorded {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: `python benchmarks/bench_llm7b.py --record` (issue 14's budget: "
        "cold <= 120 s and <= 4 GB, cached <= 5 s).",
        "",
        "| run | wall s | peak RSS GB |",
        "|---|---:|---:|",
        f"| cold (empty workload and numba caches; median of {len(colds)}, min-max "
        f"{min(c[0] for c in colds):.1f}-{max(c[0] for c in colds):.1f}) | {cold[0]:.1f} | {cold[1]:.2f} |",
        f"| cached (median of {len(cached)}; min-max {min(c[0] for c in cached):.2f}-"
        f"{max(c[0] for c in cached):.2f}) | {statistics.median(c[0] for c in cached):.2f} | "
        f"{max(c[1] for c in cached):.2f} |",
        f"| cached, with `--out DIR` (report.json, layers.csv, three PNGs) | {written[0]:.2f} | "
        f"{written[1]:.2f} |",
        *([f"| {WANDA}, cold (Wanda: a calibration pass per layer) | {wanda[0]:.1f} | {wanda[1]:.2f} |"]
          if wanda else []),
        "",
        f"Workload cache entry: {cache_bytes / 1e6:.0f} MB (masks bit-packed).",
        "",
        f"What the run reports: {len(report['layers'])} layers, {totals['macs_dense']:,} MACs per token, "
        f"{cycles:,} cycles = {latency_ms:.2f} ms = {1000 / latency_ms:.1f} tokens/s, "
        f"{totals['energy_pj'] / 1e9:.3f} mJ per token, {totals['dram_read_bytes'] / 1e9:.2f} GB read from "
        f"DRAM per token, bound: "
        f"{', '.join(sorted({layer.get('bound', '?') for layer in report['layers']}))}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        (ROOT / "benchmarks" / "results" / "llm7b.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
