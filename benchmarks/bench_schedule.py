"""Speed of the one-schedule core (the "one schedule" issue's budget), recorded with its command.

    python benchmarks/bench_schedule.py            # prints a markdown table
    python benchmarks/bench_schedule.py --record   # also writes benchmarks/results/schedule.md

In-process ``simulate()`` with the workload already loaded (best and median of ``--repeat`` after one
warm-up call), and whole commands in fresh processes with warm caches (best of ``--repeat``).
Budgets from the issue: resnet50_70pct on sparse_pe simulated in <= 0.6 s; the SCALE-Sim ResNet-18
topology command <= 1 s; ResNet-18 and AlexNet at least 20x faster than ZigZag's mapper (56-67 s
measured for the issue on this machine class).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim import load_hardware, load_workload, simulate  # noqa: E402

SIMULATE = [("sparse_pe", "resnet50_70pct", "0.6; a sweep point 0.15"), ("dense_ws", "resnet50", None),
            ("tpu_like", "resnet50", None), ("nm_tensor_core", "resnet50_2of4", None),
            ("dense_ws_glb", "resnet18", None), ("sigma_like", "resnet18", None)]
SCALESIM = "tests/data/scalesim_inputs"
COMMANDS = [
    ("SCALE-Sim ResNet-18 topology on scale.cfg", ["run", "--hw", f"{SCALESIM}/configs/scale.cfg", "--model",
                                                   f"{SCALESIM}/topologies/Resnet18.csv"], 1.0),
    ("ResNet-18 on dense_ws (ZigZag: 56 s)", ["run", "--hw", "dense_ws", "--model", "resnet18"], 56 / 20),
    ("AlexNet topology on dense_ws (ZigZag: 67 s)", ["run", "--hw", "dense_ws", "--model",
                                                      f"{SCALESIM}/topologies/alexnet.csv"], 67 / 20),
    ("resnet50_70pct on sparse_pe, whole command",
     ["run", "--hw", "sparse_pe", "--model", "resnet50_70pct"], None),
]


def time_simulate(hw_name: str, model: str, repeat: int) -> tuple[float, float, float]:
    """(best wall s, median wall s, best CPU s of this process): CPU time is the steadier measure
    when other jobs share the machine."""
    hw, wl = load_hardware(hw_name), load_workload(model)
    simulate(hw, wl)
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        simulate(hw, wl)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(times), statistics.median(times), min(cpu)


def residency_lines() -> list[str]:
    """tpu_like on ResNet-50 with activations kept on chip and without (the README's figures)."""
    wl = load_workload("resnet50")
    out = ["", "| `tpu_like` on `resnet50` | total cycles | DRAM read MB | DRAM write MB | layers reading "
                "their input from chip |", "|---|---|---|---|---|"]
    for keep in (True, False):
        report = simulate(load_hardware("tpu_like", {"keep_activations": keep}), wl)
        t = report.totals()
        on_chip = sum("input read from chip" in layer.notes for layer in report.layers)
        out.append(f"| keep_activations: {str(keep).lower()} | {t['total_cycles']:,} | "
                   f"{t['dram_read_bytes'] / 1e6:.1f} | {t['dram_write_bytes'] / 1e6:.1f} | "
                   f"{on_chip} of {len(report.layers)} |")
    return out


def tier_lines() -> list[str]:
    """dense_ws against dense_ws_glb (a 2 MiB global buffer behind its SRAMs) on ResNet-18: the README's
    figures, layer3/layer4's DRAM traffic against the ZigZag finding of the one-schedule issue."""
    wl = load_workload("resnet18")
    out = ["", "| ResNet-18 | total cycles | energy mJ | DRAM energy mJ | layer3+4 DRAM read MB |"
                " layer3+4 DRAM write MB |", "|---|---|---|---|---|---|"]
    for hw in ("dense_ws", "dense_ws_glb"):
        report = simulate(load_hardware(hw), wl)
        t = report.totals()
        deep = [layer for layer in report.layers if layer.name.startswith(("layer3", "layer4"))]
        dram_pj = sum(layer.energy_by_component_pj.get("dram", 0.0) for layer in report.layers)
        out.append(f"| `{hw}` | {t['total_cycles']:,} | {t['energy_pj'] / 1e9:.1f} | {dram_pj / 1e9:.1f} | "
                   f"{sum(x.dram_read_bytes for x in deep) / 1e6:.2f} | "
                   f"{sum(x.dram_write_bytes for x in deep) / 1e6:.2f} |")
    return out


def compressed_output_lines() -> list[str]:
    """DRAM writes of resnet50_70pct on a 32x32 os array with outputs written dense or compressed in the
    input format (the README's sparsity.outputs figures)."""
    from accelsim.spec.hardware import hardware_from_dict

    wl = load_workload("resnet50_70pct")
    out = ["", "| resnet50_70pct, 32x32 os, 256 KiB | outputs | DRAM write MB | energy mJ |",
           "|---|---|---|---|"]
    for fmt, keys in (("rle", {"run_bits": 4}), ("bitmask", {})):
        for compressed in (False, True):
            sparsity = {"inputs": {"format": fmt, "skip": "gate", **keys}}
            if compressed:
                sparsity["outputs"] = {"format": fmt, **keys}
            raw = {"version": 1, "name": "outputs", "clock": "1 GHz",
                   "pe_array": {"rows": 32, "cols": 32, "dataflow": "os"},
                   "memories": [{"name": "glb", "size": "256 KiB"}],
                   "dram": {"bandwidth": "16 GB/s", "latency": "100 cycles"}, "sparsity": sparsity}
            t = simulate(hardware_from_dict(raw, "bench"), wl).totals()
            out.append(f"| inputs {fmt} | {'compressed' if compressed else 'dense'} | "
                       f"{t['dram_write_bytes'] / 1e6:.2f} | {t['energy_pj'] / 1e9:.2f} |")
    return out


def time_command(args: list[str], repeat: int) -> float:
    cmd = [sys.executable, "-m", "accelsim", *args]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm the caches
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    lines = ["# One-schedule core: speed", "",
             f"Recorded {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f} at the start.",
             "Command: `python benchmarks/bench_schedule.py --record`.", "",
             "| simulate() in process, workload loaded | best s | median s | best CPU s | budget s |",
             "|---|---|---|---|---|"]
    for hw, model, budget in SIMULATE:
        best, med, cpu = time_simulate(hw, model, args.repeat if hw != "sigma_like" else 1)
        lines.append(f"| `{model}` on `{hw}` | {best:.3f} | {med:.3f} | {cpu:.3f} | {budget or '-'} |")
    lines += ["", "| whole command, fresh process, warm caches | command | best s | budget s |",
              "|---|---|---|---|"]
    for title, cmd, budget in COMMANDS:
        best = time_command(cmd, args.repeat)
        lines.append(f"| {title} | `accelsim {' '.join(cmd)}` | {best:.2f} | "
                     f"{'-' if budget is None else f'{budget:.2f}'} |")
    lines += residency_lines() + tier_lines() + compressed_output_lines()
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        out = ROOT / "benchmarks" / "results" / "schedule.md"
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
