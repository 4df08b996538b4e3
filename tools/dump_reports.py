"""Dump report.json (provenance aside) for a grid of shipped configs x workloads, or compare two dumps.

Used to show that a refactor changes no simulated number:

    PYTHONPATH=<tree A> python tools/dump_reports.py a.json     # run it against each tree,
    PYTHONPATH=<tree B> python tools/dump_reports.py b.json     # it uses only the public API
    python tools/dump_reports.py --compare a.json b.json [--ignore hardware/sparsity]
"""

from __future__ import annotations

import argparse
import json
import sys

HARDWARE = ["dense_is", "dense_os", "dense_ws", "nm_tensor_core", "sparse_pe", "tpu_like",
            "unstructured_skip", "zero_gated", "tests/data/scalesim_inputs/configs/scale.cfg"]
WORKLOADS = ["resnet50_70pct", "resnet50_2of4", "resnet50_70pct_window", "resnet50_70pct_channel",
             "resnet50_70pct_block4x4", "resnet50_70pct_combined", "lenet5_93pct", "mobilenet_v2_50pct",
             "bert_block", "resnet18_50pct_kernel"]


def dump(path: str) -> None:
    from accelsim import load_hardware, load_workload, simulate

    workloads = {name: load_workload(name) for name in WORKLOADS}
    out = {}
    for hw_name in HARDWARE:
        hw = load_hardware(hw_name)
        for name, workload in workloads.items():
            report = simulate(hw, workload).to_json_dict()
            report.pop("provenance", None)
            out[f"{hw_name}|{name}"] = report
    with open(path, "w") as f:
        json.dump(out, f, indent=0, sort_keys=True, default=str)


def compare(a_path: str, b_path: str, ignore: list[str]) -> int:
    a, b = json.load(open(a_path)), json.load(open(b_path))
    diffs: list[str] = []

    def walk(x, y, path: str) -> None:
        if any(part in path for part in ignore):
            return
        if type(x) is not type(y):
            diffs.append(f"{path}: {x!r:.60} -> {y!r:.60}")
        elif isinstance(x, dict):
            for key in sorted(set(x) | set(y)):
                if any(part in f"{path}/{key}" for part in ignore):
                    continue
                if key not in x or key not in y:
                    diffs.append(f"{path}/{key}: only in {'the first' if key in x else 'the second'}")
                else:
                    walk(x[key], y[key], f"{path}/{key}")
        elif isinstance(x, list) and len(x) == len(y):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                walk(p, q, f"{path}[{i}]")
        elif x != y:
            diffs.append(f"{path}: {x!r:.60} -> {y!r:.60}")

    for key in sorted(set(a) | set(b)):
        walk(a.get(key), b.get(key), key)
    sys.stdout.write("\n".join(diffs[:50]) + ("\n" if diffs else ""))
    sys.stdout.write(f"{len(diffs)} differences over {len(a)} runs\n")
    return 1 if diffs else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--ignore", action="append", default=[], help="skip paths containing this text")
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.paths[:2], args.ignore))
    dump(args.paths[0])


if __name__ == "__main__":
    main()
