"""accelsim: cycle-approximate accelerator co-design on real pruned PyTorch models.

The public API, imported lazily so that ``import accelsim`` stays light (no torch)::

    from accelsim import Axis, InlineExecutor, SweepSpec, load_hardware, load_workload, run_sweep, simulate
    report = simulate(load_hardware("sparse_pe"), load_workload("resnet50_70pct"))
    report.totals()["total_cycles"]
    spec = SweepSpec("dense_ws", "lenet5", axes=(Axis("pe_array.rows", (8, 16, 32)),))
    run_sweep(spec, InlineExecutor(), "sweep.sqlite").pareto  # a second call reads the store
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_hardware": ("accelsim.spec.hardware", "load_hardware"),
    "HardwareConfig": ("accelsim.spec.hardware", "HardwareConfig"),
    "load_workload": ("accelsim.workload.load", "load_workload"),
    "Workload": ("accelsim.workload.layer", "Workload"),
    "Layer": ("accelsim.workload.layer", "Layer"),
    "simulate": ("accelsim.sim.simulator", "simulate"),
    "Report": ("accelsim.sim.report", "Report"),
    "LayerReport": ("accelsim.sim.report", "LayerReport"),
    "compare": ("accelsim.studies.compare", "compare"),
    "run_sweep": ("accelsim.studies.run", "run_sweep"),
    "SweepSpec": ("accelsim.studies.sweep", "SweepSpec"),
    "Axis": ("accelsim.studies.sweep", "Axis"),
    "InlineExecutor": ("accelsim.studies.executors", "InlineExecutor"),
    "LocalExecutor": ("accelsim.studies.executors", "LocalExecutor"),
    "AccelsimError": ("accelsim.errors", "AccelsimError"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
