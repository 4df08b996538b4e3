"""Wall time of end-to-end commands (issues 2 and 3), run as a user would run them.

    python benchmarks/bench_foundation.py            # prints a markdown table
    python benchmarks/bench_foundation.py --record   # also writes benchmarks/results/foundation.md

Each command runs in a fresh process (imports included), best of ``--repeat`` runs. "cold" cases
get an empty workload cache each run (so the model is built, pruned and traced); "warm" ones reuse
a cache filled first.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALESIM = ROOT / "tests" / "data" / "scalesim_inputs"

# (title, accelsim arguments, cache: "cold" | "warm", budget in seconds or None)
CASES = [
    ("issue 2: ResNet-50 built, traced and simulated on dense_ws",
     ["run", "--hw", "hw_configs/dense_ws.yaml", "--model", "resnet50"], "cold", 5.0),
    ("issue 2: SCALE-Sim ResNet-18 topology on scale.cfg",
     ["run", "--hw", str(SCALESIM / "configs" / "scale.cfg"), "--model",
      str(SCALESIM / "topologies" / "Resnet18.csv")], "warm", 2.0),
    ("issue 2: SCALE-Sim ResNet-50 topology on google.cfg",
     ["run", "--hw", str(SCALESIM / "configs" / "google.cfg"), "--model",
      str(SCALESIM / "topologies" / "Resnet50.csv")], "warm", None),
    ("issue 3: resnet50_70pct built, pruned and traced",
     ["trace", "--model", "resnet50_70pct"], "cold", 5.0),
    ("issue 3: resnet50_70pct from the workload cache",
     ["trace", "--model", "resnet50_70pct"], "warm", 1.0),
    ("issue 4: resnet50_70pct on sparse_pe, whole command (warm caches)",
     ["run", "--hw", "configs/sparse_pe.yaml", "--model", "resnet50_70pct"], "warm", 10.0),
]


WARM_CACHE = Path(tempfile.gettempdir()) / "accelsim-bench-workloads"


def _run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "accelsim", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def time_command(args: list[str], cache: str, repeat: int) -> tuple[float, float]:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "accelsim-bench-numba"))
    if cache == "warm":
        env["ACCELSIM_CACHE_DIR"] = str(WARM_CACHE)
        _run(args, env)  # fill the caches (workload and numba) first
    best = float("inf")
    for _ in range(repeat):
        if cache == "cold":
            env["ACCELSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="accelsim-bench-cold-")
        best = min(best, _run(args, env))
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return best, peak_mib


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    opts = ap.parse_args()
    lines = [
        "# Foundation benchmark (issue 2)",
        "",
        f"Recorded {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; command: `python benchmarks/bench_foundation.py --record` "
        f"(best of {opts.repeat} fresh processes, imports included; 1-minute load average "
        f"{os.getloadavg()[0]:.1f} at the start).",
        "",
        "| case | command | cache | wall s | budget s |",
        "|---|---|---|---|---|",
    ]
    peak = 0.0
    for title, args, cache, budget in CASES:
        secs, peak = time_command(args, cache, opts.repeat)
        shown = " ".join(a.replace(str(ROOT) + "/", "") for a in args)
        lines.append(f"| {title} | `accelsim {shown}` | {cache} | {secs:.2f} | {budget or '-'} |")
    lines += ["", f"Peak resident memory of any one command: {peak:.0f} MiB."]
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.record:
        (ROOT / "benchmarks" / "results" / "foundation.md").write_text(text)


if __name__ == "__main__":
    main()
