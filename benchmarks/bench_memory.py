"""What the mapping search + simpy memory model add to a ResNet-50 run (issue 5), and what they find:
among it, what the chosen tiles cost in compute over the layer run untiled (each tile pays its own
fill and drain, a time slice shorter than the array a whole fold slot per fold).

    python benchmarks/bench_memory.py            # prints a markdown report
    python benchmarks/bench_memory.py --record   # also writes benchmarks/results/memory.md

For each hardware config: the compute traces and storage of all layers are built first, then
``choose_mapping`` + ``simulate_memory`` are timed over all layers (best of ``--repeat``; wall and
CPU time, since a loaded machine inflates wall time).  The full ``simulate`` is timed too.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.sim.dataflows import TIMING_MODELS  # noqa: E402
from accelsim.sim.dataflows.sparse import sparse_compute  # noqa: E402
from accelsim.sim.mapping import choose_mapping, tile_model  # noqa: E402
from accelsim.sim.memory import simulate_memory  # noqa: E402
from accelsim.sim.simulator import simulate  # noqa: E402
from accelsim.sim.storage import storage_of  # noqa: E402
from accelsim.spec.hardware import load_hardware  # noqa: E402
from accelsim.workload.load import load_workload  # noqa: E402

CONFIGS = ("dense_ws", "dense_os", "dense_is", "tpu_like", "sparse_pe", "unstructured_skip")


def compute_and_model(hw, workload):
    """What simulate_layer computes before the mapper: the compute trace and the tile model."""
    timing = TIMING_MODELS.get(hw.timing)
    items = []
    for layer in workload.layers:
        storage = storage_of(layer, hw)
        compute = sparse_compute(layer, hw, timing, storage)
        items.append((layer, compute, tile_model(layer, hw, compute, storage)))
    return items


def time_memory_model(hw, items, repeat):
    best_wall, best_cpu, traces = float("inf"), float("inf"), []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        traces = []
        for layer, compute, model in items:
            mapping = choose_mapping(layer, hw, compute, model)
            traces.append((mapping, simulate_memory(hw, layer, compute, model, mapping)))
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, traces


def time_simulate(hw, workload, repeat):
    best, report = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = simulate(hw, workload)
        best = min(best, time.perf_counter() - t0)
    return best, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    workload = load_workload(args.model)
    lines = [f"# Memory model speed and findings: {args.model} ({len(workload.layers)} layers)", "",
             f"Recorded {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start.",
             f"Workload: `load_workload({args.model!r})`, {workload.macs / 1e9:.2f} GMACs, as the recipe"
             " gives it (the zoo model is unpruned).",
             "", "Command: `python benchmarks/bench_memory.py --record`", "",
             "| hardware | mapping + memory, wall s | CPU s | tiles | DRAM transfers | max coarsening |"
             " simulate wall s |", "|---|---|---|---|---|---|---|"]
    details = []
    for name in CONFIGS:
        hw = load_hardware(name)
        items = compute_and_model(hw, workload)
        wall, cpu, traces = time_memory_model(hw, items, args.repeat)
        whole, report = time_simulate(hw, workload, args.repeat)
        tiles = sum(t.tiles for _, t in traces)
        transfers = sum(t.transfers for _, t in traces)
        coarse = max(t.coarsening for _, t in traces)
        lines.append(f"| {name} | {wall:.3f} | {cpu:.3f} | {tiles:,} | {transfers:,} | {coarse} |"
                     f" {whole:.2f} |")
        details.append(findings(name, report, sum(c.compute_cycles for _, c, _ in items)))
    notes = ["", "Columns: *mapping + memory* is `choose_mapping` + `simulate_memory` over all layers,",
             f"best of {args.repeat} runs (wall and CPU seconds: CPU time is what the model costs when the",
             "machine is shared); *tiles* and *DRAM transfers* are summed over layers (one simpy event",
             "per transfer); *simulate wall s* is the whole `simulate()`.  Budget: the memory model adds",
             "< 1 s to a ResNet-50 run."]
    text = "\n".join(lines + notes + [""] + details)
    print(text)
    if args.record:
        out = ROOT / "benchmarks" / "results" / "memory.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        print(f"wrote {out}", file=sys.stderr)


def findings(name, report, untiled: int) -> str:
    t = report.totals()
    comp = ", ".join(f"{k} {v / 1e6:,.0f}" for k, v in sorted(t["energy_by_component_pj"].items(),
                                                             key=lambda kv: -kv[1]) if v)
    acts = ", ".join(f"{k} {v / 1e6:,.0f}" for k, v in sorted(t["energy_by_action_pj"].items(),
                                                             key=lambda kv: -kv[1]) if v)
    share = t["stall_cycles"] / t["total_cycles"] if t["total_cycles"] else 0.0
    worst = max(report.layers, key=lambda layer: layer.stall_cycles)
    return "\n".join([
        f"## {name}", "",
        f"- cycles: compute {t['compute_cycles']:,} + stall {t['stall_cycles']:,} = {t['total_cycles']:,}"
        f" ({100 * share:.1f} % stalled); worst layer {worst.name}: {worst.stall_cycles:,} stall cycles"
        f" on {worst.compute_cycles:,} compute (mapping {''.join(worst.mapping.loop_order)},"
        f" tile {worst.mapping.tile_m} x {worst.mapping.tile_n} x {worst.mapping.tile_k})",
        f"- compute as tiled {t['compute_cycles']:,} = {t['compute_cycles'] / max(untiled, 1):.3f} x the"
        f" layers run untiled ({untiled:,}); mapping objective {report.layers[0].mapping.objective}",
        f"- DRAM: read {t['dram_read_bytes'] / 1e6:.2f} MB, write {t['dram_write_bytes'] / 1e6:.2f} MB",
        f"- energy {t['energy_pj'] / 1e6:,.0f} µJ, {t['pj_per_mac']:.2f} pJ per dense MAC;"
        f" by component (µJ): {comp}",
        f"- by action (µJ): {acts}", ""])


if __name__ == "__main__":
    main()
