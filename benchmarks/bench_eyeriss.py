"""accelsim's eyeriss_v1 against Eyeriss v1's published AlexNet figures (JSSC 2017), layer by layer.

    python benchmarks/bench_eyeriss.py             # prints a markdown report
    python benchmarks/bench_eyeriss.py --record    # also writes benchmarks/results/eyeriss.md

AlexNet's five CONV layers at batch 4 (accelsim/sim/dataflows/row_stationary_eyeriss.py: the
grouped network, CONV1 11 x 11 stride 4 on 227 x 227, the measured ifmap zeros as activation
densities) through ``simulate`` on the shipped ``eyeriss_v1``, then two variants that show what the
two memory-system choices the paper does not state are worth (a double-buffered global buffer, a
DRAM link twice as fast).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from pathlib import Path

from accelsim import load_hardware, simulate
from accelsim.sim.dataflows.row_stationary_eyeriss import (
    DRAM_ACCESSES_PER_MAC,
    FRAMES_PER_S,
    POWER_MW,
    PUBLISHED,
    alexnet_conv_workload,
)
from accelsim.sim.energy import load_energy_table

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "shipped eyeriss_v1": {},
    "global buffer double-buffered": {"memories[3].double_buffered": True},
    "DRAM link 2x (960 MB/s)": {"dram.bandwidth": "960 MB/s"},
}
COMPONENTS = {"dram": ("DRAM", 200), "glb": ("global buffer", 6), "noc": ("array NoC", 2),
              "ifmap_spad": ("ifmap spad", 1), "filter_spad": ("filter spad", 1),
              "psum_spad": ("psum spad", 1), "pe_array": ("MACs + PE static", 1),
              "sparse_logic": ("RLC decode", None)}


def totals(report) -> dict[str, float]:
    cycles = sum(lr.total_cycles for lr in report.layers)
    macs = sum(lr.macs_dense for lr in report.layers)
    words = sum(lr.dram_read_bytes + lr.dram_write_bytes for lr in report.layers) / 2
    seconds = cycles / (report.clock_mhz * 1e6)
    energy = sum(sum(lr.energy_by_component_pj.values()) for lr in report.layers)
    compute = sum(lr.compute_cycles for lr in report.layers) / (report.clock_mhz * 1e6)
    return {"fps": 4 / seconds, "dram_per_mac": words / macs, "ms": seconds * 1e3,
            "compute_fps": 4 / compute, "mw": energy * 1e-12 / seconds * 1e3, "energy_uj": energy * 1e-6}


def err(ours: float, ref: float) -> str:
    return f"{(ours - ref) / ref:+.0%}"


def report_md() -> str:
    workload = alexnet_conv_workload()
    lines = [f"# Eyeriss v1 on AlexNet CONV1-5, batch 4 ({datetime.date.today()}, {platform.machine()},"
             f" Python {platform.python_version()})", "",
             "Command: `PYTHONPATH=. python benchmarks/bench_eyeriss.py --record`; the workload is"
             " `row_stationary_eyeriss.alexnet_conv_workload()` (dense weights, the paper's measured ifmap"
             " zeros).  Published: Chen et al., JSSC 2017 (validation.md: 35 frames/s, 0.0029 DRAM accesses"
             " per MAC in 16-bit words, within 25 %).", ""]
    t0 = time.perf_counter()
    runs = {name: simulate(load_hardware("eyeriss_v1", sets), workload) for name, sets in VARIANTS.items()}
    wall = time.perf_counter() - t0
    base = runs["shipped eyeriss_v1"]
    lines += ["## Per layer (shipped config)", "",
              "| layer | mapping | PEs | compute ms | stall ms | total ms | published ms | error |"
              " DRAM MB | published MB | error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    clock = base.clock_mhz * 1e3
    for lr in base.layers:
        ms, mb = lr.total_cycles / clock, (lr.dram_read_bytes + lr.dram_write_bytes) / 1e6
        note = lr.notes[0].removeprefix("row stationary: ").split(";")[0]
        sets, rest = note.split(" (")[0], note.split("PEs), ")[1].split(", ")[0]
        pes = note.split(" PEs)")[0].split("(")[-1]
        pub_ms, pub_mb, _ = PUBLISHED[lr.name]
        lines.append(f"| {lr.name} | {sets}, {rest} | {pes} | {lr.compute_cycles / clock:.1f} |"
                     f" {lr.stall_cycles / clock:.1f} | {ms:.1f} | {pub_ms} | {err(ms, pub_ms)} | {mb:.2f} |"
                     f" {pub_mb} | {err(mb, pub_mb)} |")
    lines += ["", "## Totals", "",
              "| config | frames/s | error vs 35 | compute only | DRAM accesses / MAC | error vs 0.0029 |"
              " power mW (table's anchor) |", "|---|---|---|---|---|---|---|"]
    for name, rep in runs.items():
        t = totals(rep)
        lines.append(f"| {name} | {t['fps']:.1f} | {err(t['fps'], FRAMES_PER_S)} | {t['compute_fps']:.1f} |"
                     f" {t['dram_per_mac']:.5f} | {err(t['dram_per_mac'], DRAM_ACCESSES_PER_MAC)} |"
                     f" {t['mw']:.0f} (chip: {POWER_MW:.0f}) |")
    lines += ["", "## Energy split (shipped config)", "",
              "Each component's energy, its share, and its cost per 16-bit access in MACs (the table's"
              " normalised cost: ISCA 2016 Table IV; scratchpads priced by their own capacity,"
              " log-log between 2 B and 0.5 kB = 1x).", "",
              "| component | µJ | share | pJ per 16-bit access / MAC pJ | paper's ratio |",
              "|---|---|---|---|---|"]
    table = load_energy_table("eyeriss_65nm")
    mac = table.energy_pj("mac", 1)
    energy: dict[str, float] = {}
    for lr in base.layers:
        for comp, pj in lr.energy_by_component_pj.items():
            energy[comp] = energy.get(comp, 0.0) + pj
    total = sum(energy.values())
    hw = base.hardware
    for comp, pj in sorted(energy.items(), key=lambda kv: -kv[1]):
        label, ratio = COMPONENTS.get(comp, (comp, None))
        per = ""
        if comp == "dram":
            per = f"{table.energy_pj('dram_read', 1, 16) / mac:.1f}"
        elif comp == "glb":
            per = f"{table.energy_pj('buffer_read', 1, 16, hw.memory('glb').size_bytes) / mac:.1f}"
        elif comp == "noc":
            per = f"{table.energy_pj('noc', 1, 16) / mac:.1f}"
        elif comp.endswith("_spad"):
            per = f"{table.energy_pj('rf_access', 1, 16, hw.memory(comp).size_bytes) / mac:.2f}"
        lines.append(f"| {label} | {pj * 1e-6:.1f} | {pj / total:.1%} | {per} | {ratio if ratio else ''} |")
    lines += ["", f"Wall time of the three runs: {wall:.2f} s.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write benchmarks/results/eyeriss.md")
    args = parser.parse_args()
    text = report_md()
    print(text)
    if args.record:
        out = ROOT / "benchmarks" / "results" / "eyeriss.md"
        existing = out.read_text() if out.exists() else ""
        notes = existing[existing.index("## Why"):] if "## Why" in existing else ""
        out.write_text(text + ("\n" + notes if notes else ""))


if __name__ == "__main__":
    main()
