"""Wall time of the foundation's end-to-end commands (issue 2), run as a user would run them.

    python benchmarks/bench_foundation.py            # prints a markdown table
    python benchmarks/bench_foundation.py --record   # also writes benchmarks/results/foundation.md

Each command runs in a fresh process (imports included), best of ``--repeat`` runs, with the
workload cache disabled for the traced model so the time includes building and tracing it.
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

CASES = [
    ("ResNet-50 traced + simulated on dense_ws (no workload cache)",
     ["run", "--hw", "hw_configs/dense_ws.yaml", "--model", "resnet50"], {"ACCELSIM_NO_CACHE": "1"}, 5.0),
    ("SCALE-Sim ResNet-18 topology on scale.cfg",
     ["run", "--hw", str(SCALESIM / "configs" / "scale.cfg"), "--model",
      str(SCALESIM / "topologies" / "Resnet18.csv")], {}, 2.0),
    ("SCALE-Sim ResNet-50 topology on google.cfg",
     ["run", "--hw", str(SCALESIM / "configs" / "google.cfg"), "--model",
      str(SCALESIM / "topologies" / "Resnet50.csv")], {}, None),
]


def time_command(args: list[str], extra_env: dict[str, str], repeat: int) -> tuple[float, float]:
    env = dict(os.environ, **extra_env)
    env.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "accelsim-bench-numba"))
    best, peak_mib = float("inf"), 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "accelsim", *args], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
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
        f"(best of {opts.repeat} fresh processes, imports included).",
        "",
        "| case | command | wall s | budget s | peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for title, args, env, budget in CASES:
        secs, rss = time_command(args, env, opts.repeat)
        shown = " ".join(a.replace(str(ROOT) + "/", "") for a in args)
        lines.append(f"| {title} | `accelsim {shown}` | {secs:.2f} | {budget or '-'} | {rss:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.record:
        (ROOT / "benchmarks" / "results" / "foundation.md").write_text(text)


if __name__ == "__main__":
    main()
