"""accelsim against STONNE (commit 22634b8): every case of the validation table, accelsim / STONNE / error.

    python benchmarks/bench_stonne.py             # prints a markdown report
    python benchmarks/bench_stonne.py --record    # also writes benchmarks/results/stonne.md

1. The TPU-like OS mesh through ``accelsim.simulate`` (``timing: stonne_mesh``, one linear layer of
   dense weights): the six runs of the table and four with partial tiles, exact.
2. SIGMA 128^3 (``sigma_sparse_gemm``) on synthetic masks drawn by STONNE's rule from seeded numpy
   generators: the mean of ``--draws`` draws (min - max in brackets), against STONNE's one draw.
   Where the C library is glibc the masks STONNE itself drew are regenerated too (glibc ``rand()``
   from its default seed, the same calls in the same order as STONNE's generator) and the model is
   run on them: that column has no mask noise, and neither have the further runs of section 4.
3. MAERI dense GEMM 64^3 (``maeri_dense_gemm``).
4. Further STONNE runs recorded on this machine (other array sizes, bandwidths, tiles, seeds).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime
import os
import platform
from dataclasses import replace
from pathlib import Path

import numpy as np

from accelsim import load_hardware, simulate
from accelsim.sim.dataflows.flexible import (
    FlexibleArray,
    GemmTile,
    maeri_dense_gemm,
    sigma_sparse_gemm,
    stonne_mask,
)
from accelsim.workload.layer import Layer, Workload

ROOT = Path(__file__).resolve().parents[1]
TPU = {(16, 64, 64, 64): 1584, (16, 128, 64, 256): 9312, (16, 256, 256, 256): 74496,
       (32, 64, 64, 64): 524, (32, 128, 64, 256): 2584, (32, 256, 256, 256): 20672,
       (16, 50, 64, 64): 1528, (16, 64, 40, 64): 1156, (16, 50, 40, 30): 706, (16, 20, 20, 7): 120}
SIGMA = [  # (num_ms, A sparsity %, A density, reconfigurations, cycles), dn_bw = rn_bw = num_ms
    (64, 0, 0.990, 292, 40157), (64, 50, 0.489, 177, 24372), (64, 70, 0.291, 120, 16618),
    (64, 90, 0.092, 26, 4617), (256, 0, 0.990, 64, 9160)]
MAERI = [(64, 4544), (256, 1264)]  # dn_bw = rn_bw, 256 multipliers, tile 4 x 4 x 16
# Section 4, STONNE's own masks: (M, N, K, num_ms, dn_bw, rn_bw, A %, B %) -> cycles
SIGMA_MORE = {(128, 128, 128, 256, 64, 64, 50, 0): 18512, (128, 128, 128, 256, 64, 64, 90, 0): 3168,
              (128, 128, 128, 128, 32, 32, 70, 20): 22673, (64, 100, 200, 64, 16, 64, 80, 0): 25658,
              (100, 64, 64, 64, 64, 16, 60, 50): 3603, (128, 128, 128, 256, 256, 256, 90, 0): 1597,
              (128, 128, 128, 256, 256, 256, 70, 0): 3603, (128, 128, 128, 64, 8, 8, 50, 0): 162972,
              (96, 32, 300, 128, 128, 128, 20, 0): 8450}
SEEDS_90 = {2: 4733, 3: 4481, 4: 4988, 5: 4733, 6: 4254, 7: 4495, 8: 5121, 9: 4380}  # srand(seed), s = 90
MAERI_MORE = {(64, 64, 64, 256, 128, 128, 4, 4, 16): 2368, (64, 64, 64, 256, 256, 256, 2, 4, 32): 1232,
              (64, 64, 64, 256, 256, 256, 8, 4, 8): 1328, (100, 60, 70, 128, 32, 32, 2, 4, 16): 15465,
              (128, 32, 64, 64, 16, 16, 1, 4, 16): 16592, (64, 64, 64, 256, 32, 256, 4, 4, 16): 8896,
              (64, 64, 64, 256, 256, 16, 4, 4, 16): 1264, (32, 32, 128, 64, 64, 64, 1, 1, 64): 2400,
              (64, 64, 64, 128, 64, 64, 3, 2, 16): 5908}
COMMANDS = """\
STONNE 22634b8 built with its Makefile (g++ -O3); from `stonne/`:

    ./stonne -DenseGEMM -M=$M -N=$N -K=$K -ms_rows=$R -ms_cols=$R -dn_bw=$((2*R)) -rn_bw=$((R*R)) \\
        -T_N=$R -T_M=$R -T_K=1 -accumulation_buffer=1 -rn_type="TEMPORALRN" -mn_type="OS_MESH" \\
        -mem_ctrl="TPU_OS_DENSE"
    ./stonne -SparseGEMM -M=128 -N=128 -K=128 -num_ms=64 -dn_bw=64 -rn_bw=64 -MK_sparsity=$S \\
        -KN_sparsity=0 -dataflow=MK_STA_KN_STR -optimize=0
    ./stonne -DenseGEMM -M=64 -N=64 -K=64 -num_ms=256 -dn_bw=$BW -rn_bw=$BW -T_M=4 -T_N=4 -T_K=16 \\
        -accumulation_buffer=1

(the seeds of section 4: a `srand(seed)` added at the top of `main`, nothing else changed)."""


def err(got: float, want: float) -> str:
    return f"{100 * (got / want - 1):+.1f} %"


def glibc_rand():
    """libc's srand/rand when the C library is glibc (STONNE's draws), else None."""
    if platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return libc.srand, libc.rand


def stonne_own_masks(rand, m: int, n: int, k: int, a_pct: int, b_pct: int, seed: int = 1):
    """The masks STONNE's generator draws: per element one rand() % 100 (zero when <= the sparsity %),
    one more rand() for a nonzero's value; A row by row then B; then at least 3 ones per row of A
    and per column of B in their first positions."""
    srand, draw = rand
    srand(seed)

    def matrix(rows, cols, pct):
        out = np.zeros((rows, cols), bool)
        for i in range(rows):
            for j in range(cols):
                if draw() % 100 > pct:
                    draw()
                    out[i, j] = True
        return out

    a, b = matrix(m, k, a_pct), matrix(k, n, b_pct)
    for line in list(a) + list(b.T):
        short = 3 - int(line.sum())
        if short > 0:
            line[np.flatnonzero(~line[:3])[:short]] = True
    return a, b


def tpu_section() -> list[str]:
    hw = load_hardware("dense_os")
    lines = ["## TPU-like OS mesh (`timing: stonne_mesh`, through `accelsim.simulate`)", "",
             "| array | M x N x K | accelsim | STONNE | error |", "|---|---|---:|---:|---:|"]
    for (side, m, n, k), stonne in TPU.items():
        mesh = replace(hw, timing="stonne_mesh", pe_array=replace(hw.pe_array, rows=side, cols=side))
        layer = Layer("fc", "linear", m, n, k, weight_mask=np.ones((n, k), bool))
        got = simulate(mesh, Workload("one_gemm", (layer,))).layers[0].total_cycles
        lines.append(f"| {side}x{side} | {m}x{n}x{k} | {got:,} | {stonne:,} | {err(got, stonne)} |")
    return lines + ["", "The last four have partial tiles: the skew spans the rows and columns a tile uses."]


def sigma_section(draws: int, rand) -> list[str]:
    lines = ["## SIGMA sparse GEMM 128^3, dn_bw = rn_bw = multipliers", "",
             f"accelsim: mean of {draws} synthetic draws [min - max]; own masks: the masks STONNE drew "
             "(glibc rand(), seed 1).  At A 90 % the draw alone moves STONNE's own cycles by +-10 % "
             "(section 4, seeds 2-9), which is why the synthetic column is a mean.", "",
             "| multipliers | A density (STONNE / synthetic) | reconfigs accelsim / STONNE | cycles accelsim "
             "| STONNE | error | trend vs densest, error | own masks: reconfigs, cycles, error | bound |",
             "|---:|---|---|---:|---:|---:|---:|---|---|"]
    base = {}
    for ms, pct, density, reconfigs, stonne in SIGMA:
        arr = FlexibleArray(ms, ms, ms)
        dens, runs = [], []
        for seed in range(draws):
            rng = np.random.default_rng(seed)
            a = stonne_mask(rng, 128, 128, pct)
            dens.append(a.mean())
            runs.append(sigma_sparse_gemm(a, stonne_mask(rng, 128, 128, 0, along="cols"), arr))
        cyc = np.array([r.cycles for r in runs])
        mean = cyc.mean()
        base.setdefault(ms, (mean, stonne))
        trend = err(mean / base[ms][0], stonne / base[ms][1])
        own = "glibc not available"
        if rand is not None:
            o = sigma_sparse_gemm(*stonne_own_masks(rand, 128, 128, 128, pct, 0), arr)
            own = f"{o.reconfigurations}, {o.cycles:,}, {err(o.cycles, stonne)}"
        bound = max({r.bound for r in runs}, key=[r.bound for r in runs].count)
        lines.append(f"| {ms} | {density:.3f} / {np.mean(dens):.3f} | "
                     f"{np.mean([r.reconfigurations for r in runs]):.1f} / {reconfigs} | {mean:,.0f} "
                     f"[{cyc.min():,} - {cyc.max():,}] | {stonne:,} | {err(mean, stonne)} | {trend} | {own} "
                     f"| {bound} |")
    return lines


def maeri_section() -> list[str]:
    lines = ["## MAERI dense GEMM 64^3, 256 multipliers, T_M = T_N = 4, T_K = 16", "",
             "| dn_bw = rn_bw | accelsim | STONNE | error | bound |", "|---:|---:|---:|---:|---|"]
    runs = {}
    for bw, stonne in MAERI:
        runs[bw] = maeri_dense_gemm(64, 64, 64, FlexibleArray(256, bw, bw), GemmTile(4, 4, 16))
        lines.append(f"| {bw} | {runs[bw].cycles:,} | {stonne:,} | {err(runs[bw].cycles, stonne)} | "
                     f"{runs[bw].bound} |")
    ratio = runs[64].cycles / runs[256].cycles
    return lines + ["", f"dn_bw 64 / 256: {ratio:.2f} (STONNE {4544 / 1264:.2f}, {err(ratio, 4544 / 1264)})"]


def more_section(rand) -> list[str]:
    lines = ["## Further STONNE runs recorded on this machine", "",
             "| case | accelsim | STONNE | error |", "|---|---:|---:|---:|"]
    if rand is not None:
        for (m, n, k, ms, dn, rn, pa, pb), stonne in SIGMA_MORE.items():
            masks = stonne_own_masks(rand, m, n, k, pa, pb)
            got = sigma_sparse_gemm(*masks, FlexibleArray(ms, dn, rn)).cycles
            lines.append(f"| SIGMA {m}x{n}x{k}, {ms} ms, dn {dn}, rn {rn}, A {pa} %, B {pb} % (own masks) "
                         f"| {got:,} | {stonne:,} | {err(got, stonne)} |")
        for seed, stonne in SEEDS_90.items():
            a, b = stonne_own_masks(rand, 128, 128, 128, 90, 0, seed)
            got = sigma_sparse_gemm(a, b, FlexibleArray(64, 64, 64)).cycles
            lines.append(f"| SIGMA 128^3, 64 ms, A 90 %, STONNE seed {seed} (own masks) | {got:,} "
                         f"| {stonne:,} | {err(got, stonne)} |")
    for (m, n, k, ms, dn, rn, tm, tn, tk), stonne in MAERI_MORE.items():
        got = maeri_dense_gemm(m, n, k, FlexibleArray(ms, dn, rn), GemmTile(tm, tn, tk)).cycles
        lines.append(f"| MAERI {m}x{n}x{k}, {ms} ms, dn {dn}, rn {rn}, tile {tm}x{tn}x{tk} | {got:,} | "
                     f"{stonne:,} | {err(got, stonne)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=16, help="synthetic SIGMA mask draws per case")
    ap.add_argument("--record", action="store_true")
    opts = ap.parse_args()
    rand = glibc_rand()
    body = [*tpu_section(), "", *sigma_section(opts.draws, rand), "", *maeri_section(), "",
            *more_section(rand)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = ["# accelsim against STONNE (commit 22634b8)", "",
            f"Recorded {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, load average "
            f"{load:.1f}, Python {platform.python_version()}; command: `python benchmarks/bench_stonne.py "
            f"--record` ({opts.draws} draws).  Tolerances: 15 % per case, 10 % on the trend across"
            " densities.",
            ""]
    text = "\n".join(head + body + ["", "## How the STONNE numbers were made", "", COMMANDS]) + "\n"
    print(text)
    if opts.record:
        out = ROOT / "benchmarks" / "results" / "stonne.md"
        out.write_text(text)


if __name__ == "__main__":
    main()
