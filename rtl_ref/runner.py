"""Build and run the rtl_ref Verilog arrays with Icarus Verilog and measure their cycle counts.

    python rtl_ref/runner.py --regenerate      # re-measure every case, rewrite rtl_ref/expected/*.json
    python -m rtl_ref.runner --regenerate      # the same

Pure functions; only ``main`` prints. Each design is compiled once per (R, C) with
``iverilog -g2005``; a run writes the operands as hex files into a work directory, runs ``vvp``
there with ``+M= +N= +K=`` and parses ``y.txt`` ("cycles <count>", then Y row-major).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

try:
    from . import gather_ops, timing_formula
except ImportError:  # run as a script: rtl_ref/ is sys.path[0]
    import gather_ops  # type: ignore[no-redef]
    import timing_formula  # type: ignore[no-redef]

RTL_DIR = Path(__file__).resolve().parent
EXPECTED_DIR = RTL_DIR / "expected"


class RtlError(RuntimeError):
    """Icarus Verilog failed to build or run a design, or its output is malformed."""


@dataclass(frozen=True)
class Design:
    name: str  # top design module, also the expected/<name>.json file name
    testbench: str  # testbench module
    sources: tuple[str, ...]  # files in rtl_ref/, testbench first
    dataflows: tuple[str, ...]
    sparsity: str | None = None  # "2:4" / "window" / "channel": B is sparse and passed compressed


DESIGNS: dict[str, Design] = {
    "os_array": Design("os_array", "tb_os", ("tb_os.v", "os_array.v", "common.v"), ("os",)),
    "ws_array": Design("ws_array", "tb_ws", ("tb_ws.v", "ws_array.v", "common.v"), ("ws", "is")),
    "ws_sparse_array": Design(
        "ws_sparse_array", "tb_ws_sparse", ("tb_ws_sparse.v", "ws_sparse_array.v", "common.v"), ("ws",),
        sparsity="2:4"),
    "ws_window_array": Design(
        "ws_window_array", "tb_ws_window", ("tb_ws_window.v", "ws_window_array.v", "common.v"), ("ws",),
        sparsity="window"),
    "ws_channel_array": Design(
        "ws_channel_array", "tb_ws_channel", ("tb_ws_channel.v", "ws_channel_array.v", "common.v"), ("ws",),
        sparsity="channel"),
    "ws_nm_array": Design(
        "ws_nm_array", "tb_ws_nm", ("tb_ws_nm.v", "ws_nm_array.v", "ws_sparse_array.v", "common.v"), ("ws",),
        sparsity="nm_flex"),
}


@dataclass(frozen=True)
class Case:
    """One measured GEMM: Y[m x n] = A[m x k] * B[k x n] on an R x C array; operands from seed."""

    dataflow: str
    R: int
    C: int
    M: int
    N: int
    K: int
    seed: int
    RS: int = 1  # window / channel: window positions R*S (K = RS * channels)
    keep: int = 0  # window: kept per (sub-)window; channel: windows kept per filter
    G: int = 0  # channel: the gather width (channels on the row bus), a build parameter


@dataclass(frozen=True)
class RtlRun:
    y: np.ndarray  # int64 (M, N)
    cycles: int


def have_iverilog() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def source_hash(design: str) -> str:
    """sha256 over the design's Verilog sources (names and contents)."""
    digest = hashlib.sha256()
    for name in DESIGNS[design].sources:
        digest.update(name.encode() + b"\0" + (RTL_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()


def build(design: str, rows: int, cols: int, out_dir: Path, gather: int = 0) -> Path:
    """Compile the design's testbench for an R x C array (a channel array: ``gather`` lanes);
    returns the vvp file."""
    d = DESIGNS[design]
    out_dir.mkdir(parents=True, exist_ok=True)
    sim = out_dir / f"{design}_{rows}x{cols}_g{gather}.vvp"
    lanes = [f"-P{d.testbench}.BW={gather}", f"-P{d.testbench}.IW={max(1, gather_ops.clog2(gather))}"]
    cmd = ["iverilog", "-g2005", "-Wall", "-s", d.testbench, f"-P{d.testbench}.R={rows}",
           f"-P{d.testbench}.C={cols}", *(lanes if gather else []), "-o", str(sim),
           *(str(RTL_DIR / s) for s in d.sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RtlError(f"iverilog failed for {design} {rows}x{cols}:\n{proc.stdout}{proc.stderr}")
    return sim


def sim_dims(case: Case) -> tuple[int, int, int]:
    """(Sr, Sc, T) of the case as accelsim's timing model sees it (2:4: Sr = kept slots)."""
    m, n, k = case.M, case.N, case.K
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[case.dataflow]


def operands(case: Case, sparsity: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded int8 operands A (M x K), B (K x N); with sparsity "2:4" B is pruned 2:4 along K."""
    rng = np.random.default_rng(case.seed)
    a = rng.integers(-128, 128, size=(case.M, case.K), dtype=np.int64)
    b = rng.integers(-128, 128, size=(case.K, case.N), dtype=np.int64)
    if sparsity == "2:4":
        b = prune_2_of_4(b, rng)
    elif sparsity == "window":
        b = gather_ops.window_b(rng, case.K, case.N, case.RS, case.keep)
    elif sparsity == "channel":
        b = gather_ops.channel_b(rng, case.K, case.N, case.RS, case.keep)
    elif sparsity == "nm_flex":
        b = gather_ops.nm_b(rng, case.K, case.N, case.keep)
    elif sparsity is not None:
        raise ValueError(f"unknown sparsity {sparsity!r}; known: 2:4, window, channel, nm_flex")
    return a, b


def prune_2_of_4(b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep 2 random entries of every group of 4 consecutive k per column (some kept ones are 0)."""
    out = np.zeros_like(b)
    k, n = b.shape
    for g0 in range(0, k, 4):
        size = min(4, k - g0)
        for col in range(n):
            kept = rng.choice(size, size=min(2, size), replace=False)
            out[g0 + kept, col] = b[g0 + kept, col]
    out[rng.random(b.shape) < 0.1] = 0  # groups with fewer than 2 nonzeros too
    return out


def compress_2_of_4(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices), each (2*ceil(K/4)) x N: slot s holds a kept weight of group s // 2."""
    k, n = b.shape
    groups = -(-k // 4)
    values = np.zeros((2 * groups, n), dtype=np.int64)
    indices = np.zeros((2 * groups, n), dtype=np.int64)
    for g in range(groups):
        for col in range(n):
            nz = [e for e in range(4) if 4 * g + e < k and b[4 * g + e, col] != 0]
            if len(nz) > 2:
                raise ValueError(f"B is not 2:4 sparse: group {g} of column {col} has {len(nz)} nonzeros")
            for slot, e in enumerate(nz):
                values[2 * g + slot, col] = b[4 * g + e, col]
                indices[2 * g + slot, col] = e
    return values, indices


def _write_hex(path: Path, values: np.ndarray, digits: int = 2) -> None:
    mask = (1 << (4 * digits)) - 1
    path.write_text("".join(f"{int(v) & mask:0{digits}x}\n" for v in values.ravel()))


def run_gemm(sim: Path, a: np.ndarray, b: np.ndarray, work_dir: Path,
             sparsity: str | None = None, case: Case | None = None) -> RtlRun:
    """Run a built design (its vvp file) on Y = A @ B in work_dir (window / channel: the case
    gives RS, keep and G)."""
    m, k = a.shape
    n = b.shape[1]
    work_dir.mkdir(parents=True, exist_ok=True)
    _write_hex(work_dir / "a.hex", a)
    extra: list[str] = []
    if sparsity == "window":
        values, indices = gather_ops.compress_window(b, case.RS, case.keep)
        _write_hex(work_dir / "bv.hex", values)
        _write_hex(work_dir / "bi.hex", indices, digits=1)
        extra = [f"+RS={case.RS}", f"+KEEP={case.keep}"]
    elif sparsity == "channel":
        values, indices, rbase, rlen = gather_ops.compress_channel(b, case.RS, case.G)
        _write_hex(work_dir / "bv.hex", values)
        _write_hex(work_dir / "bi.hex", indices, digits=2)
        _write_hex(work_dir / "rbase.hex", rbase, digits=4)
        _write_hex(work_dir / "rlen.hex", rlen, digits=4)
        extra = [f"+S={len(rbase)}"]
    elif sparsity == "nm_flex":
        values, indices = gather_ops.compress_nm(b, case.keep)
        _write_hex(work_dir / "bv.hex", values)
        _write_hex(work_dir / "bi.hex", indices, digits=1)
        extra = [f"+KEEP={case.keep}"]
    elif sparsity == "2:4":
        values, indices = compress_2_of_4(b)
        _write_hex(work_dir / "bv.hex", values)
        _write_hex(work_dir / "bi.hex", indices, digits=1)
    else:
        _write_hex(work_dir / "b.hex", b)
    out = work_dir / "y.txt"
    out.unlink(missing_ok=True)
    proc = subprocess.run(["vvp", "-n", str(sim), f"+M={m}", f"+N={n}", f"+K={k}", *extra],
                          cwd=work_dir, capture_output=True, text=True)
    if proc.returncode != 0 or "ERROR" in proc.stdout or not out.exists():
        raise RtlError(f"vvp failed ({sim.name}, M={m} N={n} K={k}):\n{proc.stdout}{proc.stderr}")
    lines = out.read_text().split()
    if len(lines) != 2 + m * n or lines[0] != "cycles":
        raise RtlError(f"malformed {out}: {len(lines)} tokens for M={m} N={n}")
    y = np.array([int(v) for v in lines[2:]], dtype=np.int64).reshape(m, n)
    return RtlRun(y=y, cycles=int(lines[1]))


def run_case(design: str, case: Case, work_dir: Path, sim: Path | None = None) -> RtlRun:
    """Run one case; input stationary runs ws_array on the transposed GEMM, Y^T = B^T A^T."""
    d = DESIGNS[design]
    if case.dataflow not in d.dataflows:
        raise ValueError(f"{design} does not run dataflow {case.dataflow!r}; it runs {d.dataflows}")
    sim = sim or build(design, case.R, case.C, work_dir, case.G)
    a, b = operands(case, d.sparsity)
    if case.dataflow == "is":
        run = run_gemm(sim, b.T.copy(), a.T.copy(), work_dir)
        return RtlRun(y=run.y.T.copy(), cycles=run.cycles)
    return run_gemm(sim, a, b, work_dir, d.sparsity, case)


def model_cycles(design: str, case: Case) -> int:
    """The timing formula's cycles for a case (rtl_ref/timing_formula.py)."""
    sparsity = DESIGNS[design].sparsity
    if sparsity == "2:4":
        return timing_formula.nm_ws_total_cycles(case.R, case.C, case.M, case.N, case.K)
    if sparsity == "window":
        return timing_formula.window_ws_total_cycles(case.R, case.C, case.M, case.N, case.K, case.RS,
                                                     case.keep)
    if sparsity == "nm_flex":
        return timing_formula.nm_ws_total_cycles(case.R, case.C, case.M, case.N, case.K, kept=case.keep)
    if sparsity == "channel":
        _, b = operands(case, sparsity)
        return timing_formula.channel_ws_total_cycles(case.R, case.C, case.M, case.N, b != 0, case.RS, case.G)
    return timing_formula.accelsim_total_cycles(case.dataflow, case.R, case.C, *sim_dims(case))


# (R, C, Sr, Sc, T): single fold, exact multiples, partial folds, T < R, T = 1, R != C, and a
# narrow last column fold that ends before the full-width fold preceding it (the W tail term)
_EDGE_SHAPES = [
    (4, 4, 4, 4, 4), (4, 4, 8, 8, 8), (4, 4, 5, 6, 3), (2, 8, 7, 13, 5), (8, 2, 9, 3, 17),
    (8, 8, 1, 1, 1), (3, 5, 11, 7, 2), (6, 6, 13, 13, 6), (2, 2, 5, 5, 1), (5, 3, 15, 9, 20),
    (2, 8, 2, 17, 1),
]


def _from_dims(dataflow: str, sr: int, sc: int, t: int) -> tuple[int, int, int]:
    """(M, N, K) from (Sr, Sc, T)."""
    return {"os": (sr, sc, t), "ws": (t, sc, sr), "is": (sc, t, sr)}[dataflow]


def default_cases(design: str) -> list[Case]:
    """The committed cases of a design: the edge shapes, then seeded random shapes."""
    d = DESIGNS[design]
    if d.sparsity in ("window", "channel", "nm_flex"):
        return gather_cases(design)
    rng = np.random.default_rng(sum(design.encode()))
    cases: list[Case] = []
    n_random = {"os_array": 22, "ws_array": 14, "ws_sparse_array": 18}[design]
    for dataflow in d.dataflows:
        shapes = list(_EDGE_SHAPES) if dataflow != "is" else _EDGE_SHAPES[:5] + _EDGE_SHAPES[-1:]
        for _ in range(n_random if dataflow != "is" else 8):
            r, c = (int(v) for v in rng.integers(2, 9, size=2))
            shapes.append((r, c, int(rng.integers(1, 3 * r + 1)), int(rng.integers(1, 3 * c + 1)),
                           int(rng.integers(1, 2 * r + 5))))
        for r, c, sr, sc, t in shapes:
            if d.sparsity == "2:4":  # sr kept slots <=> K in (2*sr - 4, 2*sr]; vary K within a group
                m, n, k = t, sc, max(1, 2 * sr - int(rng.integers(0, 4)))
            else:
                m, n, k = _from_dims(dataflow, sr, sc, t)
            cases.append(Case(dataflow, r, c, m, n, k, seed=len(cases)))
    return cases


# Campfire arrays (R, C, M, N, CH, RS, keep, G): one fold, partial folds both ways, M < R, several
# column folds, 1x1 windows, 2x2 / 3x3 windows, windows wider than the 9-wide bus (sub-windows),
# channel blocks (CH > G, uneven rows per block) and a single block (G >= CH)
_GATHER_SHAPES = {
    "ws_window_array": [
        (4, 4, 4, 4, 4, 9, 3, 0), (4, 4, 6, 9, 5, 9, 3, 0), (3, 5, 2, 7, 6, 9, 2, 0),
        (2, 8, 5, 13, 3, 4, 2, 0), (8, 2, 17, 3, 7, 9, 4, 0), (8, 8, 1, 1, 1, 9, 1, 0),
        (4, 4, 3, 6, 10, 1, 1, 0), (6, 6, 7, 13, 4, 25, 3, 0), (2, 2, 1, 5, 2, 12, 5, 0),
        (5, 3, 20, 9, 4, 9, 9, 0), (2, 8, 1, 17, 2, 4, 1, 0), (4, 6, 9, 8, 8, 9, 5, 0),
    ],
    "ws_nm_array": [  # (R, C, M, N, K, 1, N kept of 4, 0)
        (4, 4, 4, 4, 16, 1, 2, 0), (4, 4, 6, 9, 13, 1, 1, 0), (3, 5, 2, 7, 22, 1, 4, 0),
        (2, 8, 5, 13, 12, 1, 1, 0), (8, 2, 17, 3, 17, 1, 2, 0), (8, 8, 1, 1, 4, 1, 4, 0),
        (4, 4, 3, 6, 40, 1, 1, 0), (6, 6, 7, 13, 23, 1, 4, 0), (2, 2, 1, 5, 9, 1, 2, 0),
        (5, 3, 20, 9, 30, 1, 1, 0), (2, 8, 1, 17, 2, 1, 2, 0), (4, 6, 9, 8, 64, 1, 4, 0),
    ],
    "ws_channel_array": [
        (4, 4, 4, 4, 8, 9, 3, 8), (4, 4, 6, 9, 12, 4, 5, 4), (3, 5, 2, 7, 10, 9, 4, 4),
        (2, 8, 5, 13, 9, 1, 3, 4), (8, 2, 17, 3, 16, 4, 6, 8), (8, 8, 1, 1, 3, 9, 1, 4),
        (4, 4, 3, 6, 20, 1, 7, 8), (6, 6, 7, 13, 6, 9, 2, 8), (2, 2, 1, 5, 5, 4, 5, 4),
        (5, 3, 20, 9, 11, 4, 4, 4), (2, 8, 1, 17, 7, 4, 2, 8), (4, 6, 9, 8, 24, 1, 8, 8),
    ],
}


def gather_cases(design: str) -> list[Case]:
    """The committed cases of a Campfire array: the edge shapes, then seeded random ones."""
    rng = np.random.default_rng(sum(design.encode()))
    shapes = list(_GATHER_SHAPES[design])
    for _ in range(14):
        r, c = (int(v) for v in rng.integers(2, 9, size=2))
        rs = int(rng.choice([1, 4, 9, 9, 18]))
        ch = int(rng.integers(1, 13))
        if design == "ws_nm_array":  # K = ch * 4 + (0 .. 3), N in {1, 2, 4} of 4
            rs, ch = 1, 4 * ch + int(rng.integers(0, 4))
            keep, g = int(rng.choice([1, 2, 4])), 0
        elif design == "ws_window_array":
            keep, g = int(rng.integers(1, min(rs, gather_ops.WINDOW_BUS) + 1)), 0
        else:
            keep, g = int(rng.integers(1, ch + 1)), int(rng.choice([4, 8]))
        m, n = int(rng.integers(1, 2 * r + 5)), int(rng.integers(1, 3 * c + 1))
        shapes.append((r, c, m, n, ch, rs, keep, g))
    return [Case("ws", r, c, m, n, ch * rs, seed=i, RS=rs, keep=keep, G=g)
            for i, (r, c, m, n, ch, rs, keep, g) in enumerate(shapes)]


def measure(design: str, cases: list[Case], work_dir: Path, workers: int = 8) -> list[tuple[Case, RtlRun]]:
    """Run every case (iverilog and vvp processes in parallel); one build per (R, C, G)."""
    shapes = sorted({(c.R, c.C, c.G) for c in cases})

    def one(i: int) -> tuple[Case, RtlRun]:
        case = cases[i]
        return case, run_case(design, case, work_dir / f"case{i}", sims[(case.R, case.C, case.G)])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        builds = pool.map(lambda rcg: build(design, rcg[0], rcg[1], work_dir / "build", rcg[2]), shapes)
        sims = dict(zip(shapes, builds, strict=True))
        return list(pool.map(one, range(len(cases))))


def expected_path(design: str) -> Path:
    return EXPECTED_DIR / f"{design}.json"


def load_expected(design: str) -> dict:
    return json.loads(expected_path(design).read_text())


def expected_document(design: str, results: list[tuple[Case, RtlRun]]) -> dict:
    d = DESIGNS[design]
    return {
        "design": design,
        "sources": list(d.sources),
        "sources_sha256": source_hash(design),
        "sparsity": d.sparsity,
        "simulator": "Icarus Verilog 11 (iverilog -g2005)",
        "cycles": "counted: cycle 0 has start high; ends with the cycle whose edge writes the last result",
        "cases": [{**_case_fields(case), "cycles": run.cycles} for case, run in results],
    }


def _case_fields(case: Case) -> dict:
    """The case as JSON: the Campfire fields only where set (the older files keep their form)."""
    fields = asdict(case)
    if case.keep:
        return fields
    return {key: value for key, value in fields.items() if key not in ("RS", "keep", "G")}


def dumps_expected(doc: dict) -> str:
    """JSON with one case per line (diffs of a regeneration stay readable)."""
    head = json.dumps({key: value for key, value in doc.items() if key != "cases"}, indent=1)
    cases = ",\n".join("  " + json.dumps(case) for case in doc["cases"])
    return head[:-2] + ',\n "cases": [\n' + cases + "\n ]\n}\n"


def reference_y(design: str, case: Case) -> np.ndarray:
    a, b = operands(case, DESIGNS[design].sparsity)
    return a @ b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="re-measure and rewrite expected/*.json")
    parser.add_argument("--design", action="append", choices=sorted(DESIGNS), help="default: all")
    args = parser.parse_args(argv)
    if not have_iverilog():
        print("iverilog/vvp not found on PATH", file=sys.stderr)
        return 2
    failed = False
    for design in args.design or sorted(DESIGNS):
        cases = default_cases(design)
        with tempfile.TemporaryDirectory() as tmp:
            results = measure(design, cases, Path(tmp))
        wrong = [c for c, run in results if not np.array_equal(run.y, reference_y(design, c))]
        off = [(c, run.cycles, model_cycles(design, c)) for c, run in results
               if run.cycles != model_cycles(design, c)]
        print(f"{design}: {len(results)} cases, {len(wrong)} wrong results, {len(off)} off the formula")
        for c, got, want in off:
            print(f"  {c}: measured {got}, formula {want}")
        if wrong:
            failed = True
            for c in wrong:
                print(f"  wrong result: {c}")
        elif args.regenerate:
            EXPECTED_DIR.mkdir(exist_ok=True)
            path = expected_path(design)
            path.write_text(dumps_expected(expected_document(design, results)))
            print(f"  wrote {path.relative_to(RTL_DIR.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
