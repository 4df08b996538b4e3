"""Cold and cached runs of models that only the torch.export front end takes (issue 14's budgets).

    python benchmarks/bench_export_speed.py            # print
    python benchmarks/bench_export_speed.py --record   # also write benchmarks/results/export_speed.md

Each command runs in a fresh process with PYTHONPATH set to this tree and an empty
ACCELSIM_CACHE_DIR (cold: import, build, prune, torch.export, one run of the graph, simulate, print),
then once more with that cache kept (cached: the workload read from the cache, simulated).  Wall time
from outside; peak RSS of the child (ru_maxrss).  Budget: HF BERT-base traced and simulated cold
<= 15 s.  Commands:

- HF BERT-base (random weights from its config, ``benchmarks/hf_models.py:bert_base``), 128 token ids;
- the zoo's Llama-style 125M-class decoder, decode phase (KV cache of 256 tokens), 2:4 by Wanda.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LLAMA_RECIPE = """version: 1
description: Llama-style 125M-class decoder, decode phase, 2:4 by Wanda (synthetic calibration). UNCHECKED
model: llama_125m_decode
pattern: nm2:4
sparsity: 0.5
method: wanda
scope: layer
rule_fc: pattern
seed: 0
batch: 1
activations: synthetic
"""


def run(args: list[str], cache: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS GB, exit code) of ``python -m accelsim ARGS``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), ACCELSIM_CACHE_DIR=str(cache))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "accelsim", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1e6, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "llama_125m_decode_wanda_2of4.yaml"
        recipe.write_text(LLAMA_RECIPE)
        commands = {
            "HF BERT-base, 1 x 128 token ids, dense, nm_tensor_core":
                ["run", "--hw", "nm_tensor_core", "--model", "benchmarks/hf_models.py:bert_base",
                 "--input-ids", "1,128"],
            "llama_125m_decode (KV cache 256), 2:4 by Wanda, nm_tensor_core":
                ["run", "--hw", "nm_tensor_core", "--model", str(recipe)],
        }
        rows = []
        for label, cmd in commands.items():
            cache = Path(tmp) / f"cache{len(rows)}"
            cold = run(cmd, cache)
            cached = run(cmd, cache)
            rows.append(f"| {label} | {cold[0]:.1f} | {cold[1]:.2f} | {cached[0]:.1f} | {cached[1]:.2f} | "
                        f"{cold[2]}/{cached[2]} |")
            print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    text = (f"# Cold and cached runs through the torch.export front end (bench_export_speed.py)\n\n"
            f"Recorded {datetime.date.today()}, {platform.machine()}, 2 shared cores, load average "
            f"{load:.1f} at the end (other engineers' jobs running), command "
            f"`python benchmarks/bench_export_speed.py --record`.  Budget: HF BERT-base cold <= 15 s.\n\n"
            "| command | cold s | cold peak RSS GB | cached s | cached peak RSS GB | exit codes |\n"
            "|---|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n")
    print(text)
    if args.record:
        (ROOT / "benchmarks" / "results" / "export_speed.md").write_text(text)


if __name__ == "__main__":
    main()
