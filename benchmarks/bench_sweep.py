"""Sweep throughput: a 100-point sweep (10 array heights x 10 buffer sizes) through the real CLI;
with ``--overheads``, worker start-up and per-point overhead of the local executor.

    python benchmarks/bench_sweep.py                      # local workers, then a Dask LocalCluster
    python benchmarks/bench_sweep.py --record             # also writes benchmarks/results/sweep.md
    python benchmarks/bench_sweep.py --hw dense_ws --model resnet50 --points 36
    python benchmarks/bench_sweep.py --overheads --points 96 --record   # 1 and 2 local workers

Each run is ``python -m accelsim sweep ...`` in a fresh process with a fresh ``--out`` (nothing read
from a store), timed from the outside: wall time includes interpreter start, validation of every
point, pool / cluster start-up and shutdown, the exports and the Pareto PNG.  The workload is built
once beforehand so the on-disk workload cache is warm (as it is on any second use), and numba's
cache is warm after the first run.  "points" is the time spent running points as the CLI reports it.
Targets: local < 60 s; Dask LocalCluster within 1.5x of local.

``--overheads`` runs ``run_sweep`` in this process on a LocalExecutor (1, then 2 workers; workload
and kernel caches warm) whose points are timed inside the workers (``timed_point``): a worker's
start-up is the time from the pool's start until it can simulate at full speed (process start,
imports, the workload read from the cache, anything a first call loads: its first point runs
twice, the first run counted as start-up); a point's overhead is the worker time between
two simulate() calls that is not simulate() (pipe, the parent storing the last result and sending
the next point); the parent's time storing results is timed too.  From these, the efficiency a
16-worker run of the same points would reach, which a 2-core machine cannot measure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROWS = (8, 12, 16, 20, 24, 32, 40, 48, 56, 64)
SIZES = ("16 KiB", "32 KiB", "48 KiB", "64 KiB", "96 KiB", "128 KiB", "192 KiB", "256 KiB", "384 KiB",
         "512 KiB")


def buffer_name(hw: str) -> str:
    """The weight buffer to sweep: the level holding weights (the glb if there is one)."""
    from accelsim.spec.hardware import load_hardware

    level = load_hardware(hw).buffer_for("weights")
    return level.name


def serial_seconds_per_point(hw: str, model: str, buf: str, n: int = 4) -> float:
    """simulate() alone on a few of the sweep's points, in this process: the cost a worker cannot avoid."""
    from accelsim.sim.simulator import simulate
    from accelsim.spec.hardware import load_hardware
    from accelsim.workload.load import load_workload

    workload = load_workload(model)
    simulate(load_hardware(hw), workload)  # numba and imports warm
    picks = [(ROWS[i * len(ROWS) // n], SIZES[i * len(SIZES) // n]) for i in range(n)]
    start = time.perf_counter()
    for rows, size in picks:
        simulate(load_hardware(hw, {"pe_array.rows": rows, f"memories.{buf}.size": size}), workload)
    return (time.perf_counter() - start) / n


_WARM: list[bool] = []


def timed_point(task, layers_csv: bool = False) -> dict:
    """run_point as the worker saw it: a worker's first point runs twice, the first time as its
    start-up (imports, the workload read, first calls), so start-up and simulate() are apart."""
    from accelsim.studies.run import run_point

    start = time.time()
    if not _WARM:
        run_point(task, layers_csv)
        _WARM.append(True)
    warm = time.time()
    result = run_point(task, layers_csv)
    result["bench"] = {"start": start, "warm": warm, "end": time.time(), "pid": os.getpid(),
                       "torch": "torch" in sys.modules, "numba": "numba" in sys.modules}
    return result


def overheads(hw: str, model: str, axes: list[tuple[str, tuple]], workers: int) -> dict[str, float]:
    """One in-process sweep on ``workers`` local workers, timed as ``--overheads`` describes."""
    import statistics

    from accelsim.studies import run as run_mod
    from accelsim.studies.executors import LocalExecutor
    from accelsim.studies.sweep import Axis, SweepSpec

    spec = SweepSpec(hw, model, axes=tuple(Axis(n, v) for n, v in axes))
    marks: dict[str, float] = {}
    results: list[dict] = []
    stored = [0.0]
    real_store = run_mod._store_result

    def store(*args, **kwargs):
        t = time.perf_counter()
        real_store(*args, **kwargs)
        stored[0] += time.perf_counter() - t

    run_mod._store_result = store
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            out = run_mod.run_sweep(spec, LocalExecutor(workers, fn=timed_point), Path(tmp) / "s.sqlite",
                                    on_start=lambda *_: marks.setdefault("pool", time.time()),
                                    on_outcome=lambda o, *_: results.append(o.result["bench"]))
            marks["end"] = time.time()
    finally:
        run_mod._store_result = real_store
    assert not out.failed, out.failed
    by_worker: dict[int, list[dict]] = {}
    for b in sorted(results, key=lambda b: b["start"]):
        by_worker.setdefault(b["pid"], []).append(b)
    sims = [b["end"] - b["warm"] for b in results]
    gaps = [b["start"] - a["end"] for bs in by_worker.values() for a, b in zip(bs, bs[1:], strict=False)]
    startups = [bs[0]["warm"] - marks["pool"] - (bs[0]["end"] - bs[0]["warm"]) for bs in by_worker.values()]
    twice = statistics.fmean(bs[0]["end"] - bs[0]["warm"] for bs in by_worker.values())
    run = marks["end"] - marks["pool"] - twice  # less the first points' second run
    return {"points": len(results), "workers": len(by_worker), "plan": marks["pool"] - t0, "run": run,
            "startup": statistics.median(startups), "startup_max": max(startups),
            "sim": statistics.median(sims), "sim_mean": statistics.fmean(sims), "sim_sum": sum(sims),
            "gap": statistics.median(gaps or [0.0]), "gap_mean": statistics.fmean(gaps or [0.0]),
            "store": stored[0] / len(results), "torch": any(b["torch"] for b in results),
            "numba": any(b["numba"] for b in results)}


def implied_efficiency(m: dict[str, float], workers: int, points: int) -> float:
    """Ideal (points x simulate / workers) over the predicted run: start-up, then each worker's share
    of points with their overhead, or the parent storing every result if that is slower."""
    share = math.ceil(points / workers)
    predicted = m["startup_max"] + max(share * (m["sim_mean"] + m["gap_mean"]), points * m["store"])
    return points * m["sim_mean"] / workers / predicted


def run(args: list[str], out: str | None = None) -> dict[str, float]:
    """One CLI sweep: wall time, the time it reports running points, and the sum of the points' own
    simulate() times measured inside the workers (from results.json)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "accelsim", "sweep", *args], capture_output=True, text=True,
                          cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    m = re.search(r"([\d.]+) s running points", proc.stderr)
    inside = math.nan
    if out is not None:
        inside = sum(r["elapsed_s"] for r in json.loads((Path(out) / "results.json").read_text()))
    return {"wall": wall, "points": float(m.group(1)) if m else math.nan, "inside": inside}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hw", default="sparse_pe")
    ap.add_argument("--model", default="resnet50_70pct")
    ap.add_argument("--points", type=int, default=100, help="a square number up to 100")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", default="local,dask")
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs per executor; the best is kept")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--overheads", action="store_true", help="time start-up and per-point overhead instead")
    opts = ap.parse_args()
    if opts.overheads:
        return main_overheads(opts)

    side = max(1, int(math.isqrt(opts.points)))
    rows, sizes = ROWS[:side], SIZES[:side]
    buf = buffer_name(opts.hw)
    axes = ["--axis", "pe_array.rows=" + ",".join(map(str, rows)),
            "--axis", f"memories.{buf}.size=" + ",".join(sizes)]
    n = len(rows) * len(sizes)

    from accelsim.workload.load import load_workload

    t = time.perf_counter()
    load_workload(opts.model)  # warm the workload cache (built once, like any first use)
    warm_s = time.perf_counter() - t
    # one throw-away point warms numba's on-disk cache, so no run below pays for compilation
    with tempfile.TemporaryDirectory() as tmp:
        run(["--hw", opts.hw, "--model", opts.model, "--workers", "1", "--out", tmp, "--no-plot"])

    serial_s = serial_seconds_per_point(opts.hw, opts.model, buf)
    print(f"serial in-process baseline: {serial_s:.2f} s/point (simulate() alone, warm workload)", flush=True)

    executors = opts.executors.split(",")
    runs: dict[str, list[dict[str, float]]] = {e: [] for e in executors}
    for _ in range(opts.repeat):
        for executor in executors:  # alternating, so a change in the machine's load hits both
            flag = (["--workers", str(opts.workers)] if executor == "local"
                    else ["--cluster", f"local:{opts.workers}"])
            with tempfile.TemporaryDirectory() as tmp:
                r = run(["--hw", opts.hw, "--model", opts.model, *axes, *flag, "--out", tmp], out=tmp)
            r["load"] = os.getloadavg()[0]
            runs[executor].append(r)
            print(f"{executor:6s} {n} points: {r['wall']:6.1f} s wall, {r['points']:6.1f} s running points, "
                  f"{r['inside'] / n:.2f} s/point inside the workers; load {r['load']:.1f}", flush=True)

    lines = [
        f"## {opts.model} on {opts.hw}: {n} points, {opts.workers} workers",
        "",
        f"Axes: `pe_array.rows` = {', '.join(map(str, rows))}; `memories.{buf}.size` = {', '.join(sizes)}.",
        f"Recorded {datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; workload cache warmed first ({warm_s:.1f} s).  "
        f"simulate() alone, serially in one process: {serial_s:.2f} s/point, so {opts.workers} perfectly "
        f"used workers would need {n * serial_s / opts.workers:.0f} s for the points.  {opts.repeat} "
        "alternating runs per executor; best wall time kept, every run listed.",
        "",
        "| executor | wall (s), best | running points (s) | s/point inside workers | executor efficiency "
        "| vs local (wall) | all walls (s) | load avg |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    best = {e: min(rs, key=lambda r: r["wall"]) for e, rs in runs.items()}
    base = best[executors[0]]["wall"]
    for executor in executors:
        b = best[executor]
        label = (f"local ({opts.workers} processes)" if executor == "local"
                 else f"Dask LocalCluster ({opts.workers})")
        eff = b["inside"] / (opts.workers * b["points"])
        walls = ", ".join(f"{r['wall']:.1f}" for r in runs[executor])
        loads = ", ".join(f"{r['load']:.1f}" for r in runs[executor])
        lines.append(f"| {label} | {b['wall']:.1f} | {b['points']:.1f} | {b['inside'] / n:.2f} | {eff:.0%} "
                     f"| {b['wall'] / base:.2f}x | {walls} | {loads} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if opts.record:
        out = ROOT / "benchmarks" / "results" / "sweep.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        header = "# Sweep benchmark (benchmarks/bench_sweep.py)\n\n"
        old = out.read_text() if out.is_file() else header
        out.write_text(old.rstrip() + "\n\n" + text)
        print(f"appended to {out}")


def main_overheads(opts) -> None:
    from accelsim.workload.load import load_workload

    rows, sizes = tuple(range(8, 8 + 4 * max(1, opts.points // 8), 4)), SIZES[:8]  # 96 points: 12 x 8
    buf = buffer_name(opts.hw)
    axes = [("pe_array.rows", rows), (f"memories.{buf}.size", sizes)]
    n = len(rows) * len(sizes)
    load_workload(opts.model)  # the workload cache warm, as on any second use
    first_pool = overheads(opts.hw, opts.model, axes[:1], 1)  # starts the forkserver, fills other caches
    runs = {}
    for workers in (1, 2):
        runs[workers] = m = overheads(opts.hw, opts.model, axes, workers)
        print(f"{workers} worker(s): {m}", flush=True)
    one = runs[1]
    lines = [
        f"## Worker start-up and per-point overhead: {opts.model} on {opts.hw}, {n} points",
        "",
        f"`python benchmarks/bench_sweep.py --overheads --points {opts.points}`, recorded "
        f"{datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPUs (load average "
        f"{os.getloadavg()[0]:.1f} at the end).  Axes: `pe_array.rows` = {', '.join(map(str, rows))}; "
        f"`memories.{buf}.size` = {', '.join(sizes)}.  Times in seconds; medians over workers / points.",
        "",
        "| workers | plan + load (parent) | running points | start-up per worker (max) "
        "| simulate() per point (mean) | overhead per point (mean) | parent storing per point "
        "| executor efficiency | torch / numba in a worker |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for workers, m in runs.items():
        eff = m["sim_sum"] / (workers * m["run"])
        lines.append(f"| {workers} | {m['plan']:.2f} | {m['run']:.2f} | {m['startup']:.3f} "
                     f"({m['startup_max']:.3f}) | {m['sim']:.3f} ({m['sim_mean']:.3f}) "
                     f"| {m['gap']:.4f} ({m['gap_mean']:.4f}) "
                     f"| {m['store'] * 1000:.1f} ms | {eff:.0%} | {m['torch']} / {m['numba']} |")
    eff16 = implied_efficiency(runs[2], 16, 96)
    lines += ["", f"Implied at 16 workers on 96 points (start-up, overhead and parent cost of the 2-worker "
              f"run; simulate() {runs[2]['sim_mean']:.3f} s here): {eff16:.0%} of ideal; with the 1-worker "
              f"numbers: {implied_efficiency(one, 16, 96):.0%}.  Not measured: this machine has 2 cores.  "
              f"A process's first pool starts the forkserver too: start-up {first_pool['startup']:.3f} s."]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if opts.record:
        out = ROOT / "benchmarks" / "results" / "sweep.md"
        out.write_text(out.read_text().rstrip() + "\n\n" + text)
        print(f"appended to {out}")


if __name__ == "__main__":
    main()
