"""A new user's first run: the mission command with empty workload and numba caches.

    python benchmarks/bench_coldstart.py                    # 5 cold runs of this tree
    python benchmarks/bench_coldstart.py --vs /tmp/old      # alternating with another checkout
    python benchmarks/bench_coldstart.py --record           # also appends to benchmarks/results/coldstart.md
    python benchmarks/bench_coldstart.py --profile --vs /tmp/old   # where a cold run's time goes (cProfile)

Each run is ``python -m accelsim run --hw configs/sparse_pe.yaml --model resnet50_70pct`` in a fresh
process with PYTHONPATH set to the tree measured and fresh empty ACCELSIM_CACHE_DIR and
NUMBA_CACHE_DIR temp dirs (numba's only matters for a tree that still uses it), timed from outside
(interpreter start to exit: imports, building, pruning and tracing the workload, simulating,
printing).  One "warm" run per tree follows (the caches of the last cold run kept).  Target: <= 6 s.
``--profile`` runs one cold run per tree under cProfile instead and prints the cumulative time of
its phases (cProfile slows a run down; the shares are what to read).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "accelsim", "run", "--hw", "configs/sparse_pe.yaml", "--model", "resnet50_70pct"]


def run_once(tree: Path, caches: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of the command from ``tree`` with its caches under ``caches``."""
    env = dict(os.environ, PYTHONPATH=str(tree), ACCELSIM_CACHE_DIR=str(caches / "workloads"),
               NUMBA_CACHE_DIR=str(caches / "numba"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *COMMAND], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


PHASES = (  # (label, a function whose cumulative time is the phase: file suffix and name)
    ("whole run", "accelsim/cli/app.py", "main"),
    ("import torch", "torch/__init__.py", "<module>"),
    ("build the model", "workload/models/__init__.py", "build_model"),
    ("prune", "workload/pruning/apply.py", "prune_model"),
    ("trace (forward pass, activation densities)", "workload/tracing.py", "trace_model"),
    ("simulate", "sim/simulator.py", "simulate"),
    ("  of which import numba", "numba/__init__.py", "<module>"),
    ("  of which compile kernels", "numba/core/dispatcher.py", "_compile_for_args"),
    ("print the table (rich)", "cli/console.py", "print_report"),
)


def profile(tree: Path, caches: Path) -> dict[str, float]:
    """Cumulative seconds of each of PHASES in one cProfile'd cold run from ``tree``."""
    import pstats

    env = dict(os.environ, PYTHONPATH=str(tree), ACCELSIM_CACHE_DIR=str(caches / "workloads"),
               NUMBA_CACHE_DIR=str(caches / "numba"))
    out = caches / "run.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), *COMMAND], cwd=tree, env=env,
                   capture_output=True, check=True)
    stats = pstats.Stats(str(out)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    found = {}
    for label, suffix, name in PHASES:
        times = [v[3] for (file, _, fn), v in stats.items() if file.endswith(suffix) and fn == name]
        found[label] = max(times, default=0.0)
    return found


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--vs", type=Path, default=None, help="another checkout, run in turn with this one")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--profile", action="store_true", help="one cProfile'd cold run per tree: its phases")
    opts = ap.parse_args()

    trees = {"this tree": ROOT} | ({f"{opts.vs}": opts.vs.resolve()} if opts.vs else {})
    if opts.profile:
        with tempfile.TemporaryDirectory() as tmp:
            found = {name: profile(tree, Path(tmp) / str(i)) for i, (name, tree) in enumerate(trees.items())}
        print("| phase (cumulative s under cProfile) | " + " | ".join(trees) + " |")
        print("|---|" + "---:|" * len(trees))
        for label, _, _ in PHASES:
            print(f"| {label} | " + " | ".join(f"{found[n][label]:.2f}" for n in trees) + " |")
        return
    cold: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    warm: dict[str, tuple[float, float]] = {}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(opts.repeat):
            for j, (name, tree) in enumerate(trees.items()):  # in turn: a change in the load hits both
                caches = Path(tmp) / f"{i}-{j}"
                cold[name].append(run_once(tree, caches))
                if i == opts.repeat - 1:
                    warm[name] = run_once(tree, caches)
                wall, cpu = cold[name][-1]
                print(f"{name}: cold {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
            loads.append(os.getloadavg()[0])
    lines = [f"## `accelsim {' '.join(COMMAND[2:])}`, empty caches", "",
             f"Recorded {datetime.date.today()} on {platform.machine()} with {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}; load average during the runs {min(loads):.1f}-{max(loads):.1f}.  "
             f"Command: `python benchmarks/bench_coldstart.py --repeat {opts.repeat}"
             f"{f' --vs {opts.vs}' if opts.vs else ''}`.", "",
             f"Median (min-max) of {opts.repeat} runs; CPU = user + system of the process.", "",
             "| tree | cold wall (s) | cold CPU (s) | warm wall (s) | warm CPU (s) |",
             "|---|---|---|---:|---:|"]
    for name in trees:
        walls, cpus = zip(*cold[name], strict=True)
        lines.append(f"| {name} | {summary(walls)} | {summary(cpus)} | {warm[name][0]:.2f} "
                     f"| {warm[name][1]:.2f} |")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if opts.record:
        out = ROOT / "benchmarks" / "results" / "coldstart.md"
        old = out.read_text() if out.is_file() else "# First run, empty caches (bench_coldstart.py)\n"
        out.write_text(old.rstrip() + "\n\n" + text)
        print(f"appended to {out}")


if __name__ == "__main__":
    main()
