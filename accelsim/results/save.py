"""save_report(): report.json and layers.csv of a Report, each written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from accelsim.files import json_default, write_atomic
from accelsim.sim.report import Report


def save_report(report: Report, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    paths = [out / "report.json", out / "layers.csv"]
    write_atomic(paths[0], json.dumps(report.to_json_dict(), indent=2, default=json_default) + "\n")
    write_atomic(paths[1], report.layers_csv())
    return paths
