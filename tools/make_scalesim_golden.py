"""Regenerate the SCALE-Sim v2 goldens in tests/data/scalesim_golden/ (a dev tool; tests never run it).

It creates a separate virtual environment with the real SCALE-Sim v2 from PyPI (``scalesim==2.0.2``,
never installed into accelsim's own environment), runs it in CALC mode on shipped configs x
topologies, and turns its COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv into one JSON file per
(config, topology).  Each golden also holds, per layer, the GEMM view SCALE-Sim itself derived
(name, M, N, K, read from its ``topology_utils``), so the importer can be checked against it.

    python tools/make_scalesim_golden.py --list
    python tools/make_scalesim_golden.py                         # every job, one after another
    python tools/make_scalesim_golden.py --only 'scale*__test*'  # fnmatch patterns on job ids
    python tools/make_scalesim_golden.py --only google__gpt2 --timeout-minutes 30

SCALE-Sim is slow (about 5k simulated cycles/s at 32x32 on one core, slower at 256x256) and
memory hungry; a job running past ``--timeout-minutes`` (default 15) is killed and skipped.
Wall time and peak memory (``/usr/bin/time -v``) are stored in every golden.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import fnmatch
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

SCALESIM_REQUIREMENT = "scalesim==2.0.2"
REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
INPUTS = DATA / "scalesim_inputs"
GOLDEN = DATA / "scalesim_golden"

# config id -> (path relative to tests/data, dataflow override or None)
CONFIGS = {
    "scale": ("scalesim_inputs/configs/scale.cfg", None),
    "scale_ws": ("scalesim_golden/configs/scale_ws.cfg", "ws"),
    "scale_is": ("scalesim_golden/configs/scale_is.cfg", "is"),
    "google": ("scalesim_inputs/configs/google.cfg", None),
    "eyeriss": ("scalesim_inputs/configs/eyeriss.cfg", None),
}
# topology id -> path relative to tests/data
TOPOLOGIES = {
    "test": "scalesim_inputs/topologies/test.csv",
    "test_mnk_input": "scalesim_inputs/topologies/test_mnk_input.csv",
    "mlperf_test": "scalesim_inputs/topologies/mlperf_test.csv",
    "alexnet_part": "scalesim_inputs/topologies/alexnet_part.csv",
    "NCF": "scalesim_inputs/topologies/NCF.csv",
    "gpt2": "scalesim_inputs/topologies/gpt2.csv",
    "alexnet": "scalesim_inputs/topologies/alexnet.csv",
    "Resnet18": "scalesim_inputs/topologies/Resnet18.csv",
    "mobilenet": "scalesim_inputs/topologies/mobilenet.csv",
    "yolo_tiny": "scalesim_inputs/topologies/yolo_tiny.csv",
    # written for these goldens (not shipped by SCALE-Sim): conventions no shipped file exercises
    "depthwise_dp": "scalesim_golden/topologies/depthwise_dp.csv",
    "stride_hw": "scalesim_golden/topologies/stride_hw.csv",
}
GEMM_TOPOLOGIES = {"test_mnk_input", "NCF", "gpt2"}
SMALL = ["test", "test_mnk_input", "mlperf_test", "alexnet_part", "depthwise_dp", "stride_hw"]

# Ordered small to large.  Left out: gpt2 on the 32x32 and 12x14 arrays (~21 M and ~127 M cycles,
# hours each), eyeriss beyond the small topologies and yolo_tiny on 32x32 (each > 15 CPU-minutes here;
# add them with --only if you have the time), and Resnet50.csv, which crashes SCALE-Sim 2.0.2.
JOBS: list[tuple[str, str]] = (
    [(c, t) for t in SMALL for c in CONFIGS]
    + [(c, t) for t in ("NCF", "alexnet", "mobilenet", "Resnet18", "gpt2", "yolo_tiny") for c in ("google",)]
    + [(c, t) for t in ("NCF", "alexnet", "mobilenet", "Resnet18") for c in ("scale", "scale_ws", "scale_is")]
)

# Runs inside the SCALE-Sim venv: SCALE-Sim's own reading of the topology (layer names, GEMM view).
_TOPO_DUMP = r"""
import json, sys
from scalesim.topology_utils import topologies
t = topologies()
t.load_arrays(topofile=sys.argv[1], mnk_inputs=sys.argv[2] == "gemm")
t.topo_calc_hyperparams()
out = []
for i in range(t.get_num_layers()):
    p = t.get_layer_params(i)
    eh, ew = t.get_layer_ofmap_dims(i)
    out.append({"name": p[0], "params": [int(x) for x in p[1:]], "ofmap": [int(eh), int(ew)],
                "m": int(eh * ew), "n": int(t.get_layer_num_filters(i)),
                "k": int(t.get_layer_window_size(i))})
print(json.dumps(out))
"""

_VERSIONS = r"""
import json, importlib.metadata as md, sys
print(json.dumps({"python": sys.version.split()[0],
                  **{p: md.version(p) for p in ("scalesim", "numpy", "pandas", "configparser")}}))
"""


def job_id(config: str, topology: str) -> str:
    return f"{config}__{topology}"


def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(py), "-c", "import scalesim"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", SCALESIM_REQUIREMENT], check=True)
    return py


def write_derived_configs() -> None:
    """scale_ws.cfg / scale_is.cfg: scale.cfg with Dataflow (and run_name) changed, nothing else."""
    base = (INPUTS / "configs" / "scale.cfg").read_text()
    for rel, dataflow in CONFIGS.values():
        if dataflow is None:
            continue
        text = re.sub(r"(?mi)^(Dataflow\s*:\s*)\w+", rf"\g<1>{dataflow}", base)
        text = re.sub(r"(?mi)^(run_name\s*=\s*)\S+", rf"\g<1>scale_example_run_32x32_{dataflow}", text)
        out = DATA / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"# scale.cfg of SCALE-Sim v2 with Dataflow changed to {dataflow} "
                       f"(written by tools/make_scalesim_golden.py)\n" + text)


def _num(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "e" not in text.lower() and "." not in text else value


def read_report(path: Path) -> list[dict[str, int | float]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    out = []
    for row in rows[1:]:
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        out.append({h: _num(c) for h, c in zip(header, cells, strict=False) if h})
    return out


def _as_int(x: int | float) -> int:
    if float(x).is_integer():
        return int(x)
    raise ValueError(f"expected a whole number, got {x}")


_OPS = {"ifmap": "IFMAP", "filter": "Filter", "ofmap": "OFMAP"}


def _start_stop(row: dict, level: str, op_name: str) -> list[int]:
    return [_as_int(row[f"{level} {op_name} Start Cycle"]), _as_int(row[f"{level} {op_name} Stop Cycle"])]


def parse_time_v(path: Path) -> dict[str, float]:
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = [float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text)]
    seconds = None
    if wall:
        h, m, s = wall.groups()
        seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    # CPU seconds (user + system) hardly depend on what else runs on the machine; wall seconds do.
    return {"wall_seconds": seconds, "cpu_seconds": round(sum(cpu), 2) if cpu else None,
            "max_rss_mib": round(int(rss.group(1)) / 1024, 1) if rss else None}


def run_job(py: Path, work: Path, config: str, topology: str, timeout_s: float) -> dict | None:
    cfg_rel, _ = CONFIGS[config]
    topo_rel = TOPOLOGIES[topology]
    input_type = "gemm" if topology in GEMM_TOPOLOGIES else "conv"
    jid = job_id(config, topology)
    out_dir = work / jid
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cfg_path, topo_path = DATA / cfg_rel, DATA / topo_rel

    dump = subprocess.run([str(py), "-c", _TOPO_DUMP, str(topo_path), input_type],
                          capture_output=True, text=True, check=True)
    topo_layers = json.loads(dump.stdout)

    cmd = [str(py), "-m", "scalesim.scale", "-c", str(cfg_path), "-t", str(topo_path), "-p", str(out_dir),
           "-i", input_type]
    time_file = out_dir / "time.txt"
    log_file = out_dir / "scalesim.log"
    with log_file.open("w") as log:
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", str(time_file), *cmd], stdout=log,
                                stderr=subprocess.STDOUT, cwd=out_dir, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            print(f"{jid}: killed after {timeout_s / 60:.0f} min, skipped", flush=True)
            return None
    if rc != 0:
        print(f"{jid}: SCALE-Sim failed (exit {rc}); see {log_file}", flush=True)
        return None

    run_dirs = [p for p in out_dir.iterdir() if (p / "COMPUTE_REPORT.csv").exists()]
    (run_dir,) = run_dirs
    compute = read_report(run_dir / "COMPUTE_REPORT.csv")
    detail = read_report(run_dir / "DETAILED_ACCESS_REPORT.csv")
    assert len(compute) == len(detail) == len(topo_layers), jid

    layers = []
    for i, (c, d, t) in enumerate(zip(compute, detail, topo_layers, strict=True)):
        layers.append({
            "index": i, "name": t["name"], "m": t["m"], "n": t["n"], "k": t["k"], "ofmap": t["ofmap"],
            "params": t["params"],
            "total_cycles": _as_int(c["Total Cycles"]),
            "stall_cycles": _as_int(c["Stall Cycles"]),
            "overall_util_pct": c["Overall Util %"],
            "mapping_efficiency_pct": c["Mapping Efficiency %"],
            "compute_util_pct": c["Compute Util %"],
            "sram_ifmap_reads": _as_int(d["SRAM IFMAP Reads"]),
            "sram_filter_reads": _as_int(d["SRAM Filter Reads"]),
            "sram_ofmap_writes": _as_int(d["SRAM OFMAP Writes"]),
            "dram_ifmap_reads": _as_int(d["DRAM IFMAP Reads"]),
            "dram_filter_reads": _as_int(d["DRAM Filter Reads"]),
            "dram_ofmap_writes": _as_int(d["DRAM OFMAP Writes"]),
            **{f"{level}_{op}_start_stop": _start_stop(d, level.upper(), op_name)
               for level in ("sram", "dram") for op, op_name in _OPS.items()},
        })
    shown = ["python", "-m", "scalesim.scale", "-c", f"tests/data/{cfg_rel}", "-t", f"tests/data/{topo_rel}",
             "-p", "OUT", "-i", input_type]
    return {
        "generator": "tools/make_scalesim_golden.py",
        "scalesim": json.loads(subprocess.run([str(py), "-c", _VERSIONS], capture_output=True, text=True,
                                              check=True).stdout),
        "requirement": SCALESIM_REQUIREMENT,
        "command": " ".join(shown),
        "mode": "CALC",
        "config": cfg_rel,
        "topology": topo_rel,
        "input_type": input_type,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        **parse_time_v(time_file),
        "layers": layers,
        "totals": {"total_cycles": sum(x["total_cycles"] for x in layers), "layers": len(layers)},
    }


def dump_golden(golden: dict) -> str:
    """JSON with one line per layer, so a regenerated golden diffs line by line."""
    head = {k: v for k, v in golden.items() if k != "layers"}
    text = json.dumps(head, indent=1)[:-2]
    rows = ",\n  ".join(json.dumps(layer) for layer in golden["layers"])
    return f'{text},\n "layers": [\n  {rows}\n ]\n}}\n'


def golden_table() -> str:
    """The README's table of the existing goldens (``-``: not recorded)."""
    lines = ["| config | topology | layers | SCALE-Sim CPU s | wall s | peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|"]
    for path in sorted(GOLDEN.glob("*.json")):
        g = json.loads(path.read_text())
        config, topology = path.stem.split("__")
        cpu = "-" if g.get("cpu_seconds") is None else f"{g['cpu_seconds']:,.1f}"
        lines.append(f"| {config} | {topology} | {len(g['layers'])} | {cpu} | {g['wall_seconds']:,.1f} |"
                     f" {g['max_rss_mib']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, default=Path("/tmp/ssvenv"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/ssgolden"))
    ap.add_argument("--only", nargs="*", default=["*"],
                    help="fnmatch patterns on job ids (config__topology); default: the JOBS list")
    ap.add_argument("--skip-existing", action="store_true", help="keep goldens that already exist")
    ap.add_argument("--timeout-minutes", type=float, default=15.0)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--table", action="store_true", help="print the README's table of the existing goldens")
    args = ap.parse_args(argv)
    if args.table:
        print(golden_table())
        return 0

    # --only may also name pairs outside JOBS (any config x topology), e.g. 'eyeriss__NCF'
    candidates = JOBS if args.only == ["*"] else JOBS + [
        (c, t) for t in TOPOLOGIES for c in CONFIGS if (c, t) not in JOBS]
    jobs = [(c, t) for c, t in candidates if any(fnmatch.fnmatch(job_id(c, t), p) for p in args.only)]
    if args.list:
        print("\n".join(job_id(c, t) for c, t in jobs))
        return 0
    write_derived_configs()
    py = ensure_venv(args.venv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for config, topology in jobs:
        out = GOLDEN / f"{job_id(config, topology)}.json"
        if args.skip_existing and out.exists():
            continue
        golden = run_job(py, args.work, config, topology, args.timeout_minutes * 60)
        if golden is None:
            continue
        out.write_text(dump_golden(golden))
        print(f"{out.name}: {len(golden['layers'])} layers, {golden['totals']['total_cycles']} cycles, "
              f"{golden['wall_seconds']:.0f} s wall, {golden['cpu_seconds']:.0f} s cpu,"
              f" {golden['max_rss_mib']} MiB",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
