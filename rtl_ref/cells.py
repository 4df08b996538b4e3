"""Yosys cell counts of one PE of each rtl_ref array, and the scaling that turns them into pJ and um^2.

    python rtl_ref/cells.py               # synthesize every PE, compare with expected/cells.json
    python rtl_ref/cells.py --regenerate  # ... and rewrite expected/cells.json

Each PE is synthesized alone to yosys's generic gate library (``read_verilog <file> common.v;
chparam ...; synth -top <pe>; stat -json``, yosys 0.23).  ``cells`` counts every cell,
``flip_flops`` the $_*DFF*_ ones, ``logic`` the rest.  mac_cal.v is the arithmetic of one PE alone
(int8 x int8 multiply + int32 add): Horowitz (ISSCC 2014, 45 nm; ../shared/reference/
energy_and_designs.md section 1) prices that operation at 0.2 + 0.1 pJ and 282 + 137 um^2, so

    pJ per logic cell switched   = 0.3 pJ / logic(mac_cal)
    um^2 per logic cell          = 419 um^2 / logic(mac_cal)
    um^2 per flip-flop           = um^2 per logic cell x 4.522 / 0.798 (DFF_X1 / NAND2_X1 of the
                                   Nangate 45 nm open cell library: a generic gate taken as a NAND2)
    pJ per flip-flop per cycle   = 0.009 (a register bit, Aladdin 40 nm: the pipeline_reg figure of
                                   accelsim's horowitz_45nm table)

Pure functions; only ``main`` prints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RTL_DIR = Path(__file__).resolve().parent
CELLS_JSON = RTL_DIR / "expected" / "cells.json"

MAC_PJ, MAC_UM2 = 0.2 + 0.1, 282.0 + 137.0  # Horowitz ISSCC 2014: 8-bit multiply + 32-bit add
FF_TO_GATE_AREA = 4.522 / 0.798  # Nangate 45 nm OCL: DFF_X1 / NAND2_X1
FF_PJ_PER_CYCLE = 0.009  # Aladdin 40 nm register bit (horowitz_45nm pipeline_reg)


def _clog2(x: int) -> int:
    return max(1, (x - 1).bit_length())


# (name, file, module, parameters): the PEs, and the MAC the scaling is calibrated on
PES: list[tuple[str, str, str, dict[str, int]]] = [
    ("mac_cal", "mac_cal.v", "mac_cal", {}),
    ("os_pe", "os_array.v", "os_pe", {}),
    ("ws_pe", "ws_array.v", "ws_pe", {}),
    ("ws_sparse_pe", "ws_sparse_array.v", "ws_sparse_pe", {}),
    *[(f"window_pe_bw{bw}", "ws_window_array.v", "window_pe", {"BW": bw, "IW": _clog2(bw)})
      for bw in (4, 9, 16, 25)],
    *[(f"channel_pe_g{g}", "ws_channel_array.v", "channel_pe", {"BW": g, "IW": _clog2(g)})
      for g in (4, 8, 16, 32)],
]


def have_yosys() -> bool:
    return shutil.which("yosys") is not None


def script(file: str, module: str, params: dict[str, int]) -> str:
    chparam = f"chparam {' '.join(f'-set {k} {v}' for k, v in params.items())} {module}; " if params else ""
    return f"read_verilog {file} common.v; {chparam}synth -top {module}; tee -o stat.json stat -json"


def synthesize(file: str, module: str, params: dict[str, int]) -> dict[str, int]:
    """{cells, flip_flops, logic} of one module."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in (file, "common.v"):
            shutil.copy(RTL_DIR / name, tmp)
        proc = subprocess.run(["yosys", "-q", "-p", script(file, module, params)], cwd=tmp,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"yosys failed on {module} {params}:\n{proc.stdout}{proc.stderr}")
        stat = json.loads((Path(tmp) / "stat.json").read_text())["design"]
    ffs = sum(n for cell, n in stat["num_cells_by_type"].items() if "DFF" in cell)
    return {"cells": stat["num_cells"], "flip_flops": ffs, "logic": stat["num_cells"] - ffs}


def source_hash() -> str:
    digest = hashlib.sha256()
    for name in sorted({f for _, f, _, _ in PES} | {"common.v"}):
        digest.update(name.encode() + b"\0" + (RTL_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()


def scaling(mac_logic: int) -> dict[str, float]:
    um2 = MAC_UM2 / mac_logic
    return {"pj_per_logic_cell": MAC_PJ / mac_logic, "um2_per_logic_cell": um2,
            "um2_per_flip_flop": um2 * FF_TO_GATE_AREA, "pj_per_flip_flop_cycle": FF_PJ_PER_CYCLE}


def measure() -> dict:
    pes = [{"name": name, "file": file, "module": module, "params": params,
            **synthesize(file, module, params)} for name, file, module, params in PES]
    mac = next(p for p in pes if p["name"] == "mac_cal")
    return {
        "tool": "yosys 0.23: read_verilog <file> common.v; chparam ...; synth -top <module>; stat -json",
        "sources_sha256": source_hash(),
        "scaling": scaling(mac["logic"]),
        "scaling_sources": "Horowitz ISSCC 2014 45 nm: 8-bit multiply 0.2 pJ / 282 um^2, 32-bit add 0.1 pJ"
                           " / 137 um^2 (mac_cal.v); flip-flop area x 4.522/0.798 (Nangate 45 nm DFF_X1 /"
                           " NAND2_X1); flip-flop 0.009 pJ per cycle (Aladdin, horowitz_45nm pipeline_reg)",
        "pes": pes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regenerate", action="store_true", help="rewrite expected/cells.json")
    args = parser.parse_args(argv)
    if not have_yosys():
        print("yosys not found on PATH", file=sys.stderr)
        return 2
    doc = measure()
    for pe in doc["pes"]:
        print(f"{pe['name']:18s} cells {pe['cells']:5d}  flip-flops {pe['flip_flops']:4d}"
              f"  logic {pe['logic']:5d}")
    if args.regenerate:
        CELLS_JSON.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {CELLS_JSON.relative_to(RTL_DIR.parent)}")
        return 0
    committed = json.loads(CELLS_JSON.read_text()) if CELLS_JSON.exists() else None
    same = committed is not None and committed["pes"] == doc["pes"]
    print("matches expected/cells.json" if same else "differs from expected/cells.json (--regenerate)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
