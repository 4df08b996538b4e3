"""`accelsim check` and `accelsim list`: which kind a file is, and the names of each registry."""

from __future__ import annotations

from pathlib import Path

from accelsim.errors import ConfigError
from accelsim.spec import config as cfg


def check_file(path: str) -> str:
    """Validate one file fully; return its kind or raise the error that lists its problems."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(path, ["file not found"])
    if p.suffix == ".cfg":
        from accelsim.spec.hardware import load_hardware

        load_hardware(path)
        return "SCALE-Sim config"
    if p.suffix == ".csv":
        from accelsim.workload.scalesim_topology import read_scalesim_topology

        w = read_scalesim_topology(path)
        return f"SCALE-Sim topology, {len(w.layers)} layers"
    raw = cfg.read_yaml(p)
    if isinstance(raw, dict) and "pe_array" in raw:
        from accelsim.spec.hardware import hardware_from_dict

        hardware_from_dict(raw, path)
        return "hardware config"
    if isinstance(raw, dict) and "actions" in raw:
        from accelsim.sim.energy import table_from_dict

        table_from_dict(raw, path)
        return "energy table"
    from accelsim.workload.recipes import resolve_recipe

    resolve_recipe(path)
    return "workload recipe"


def known_names(what: str) -> list[tuple[str, str]]:
    if what == "hardware":
        from accelsim.spec.hardware import HW_DIR, shipped_hardware_names

        names = shipped_hardware_names()
        return [(n, str(cfg.read_yaml(HW_DIR / f"{n}.yaml").get("description", ""))) for n in names]
    if what == "dataflows":
        from accelsim.sim.dataflows import DATAFLOWS

        return [(n, DATAFLOWS.get(n).description) for n in DATAFLOWS]
    if what == "timing-models":
        from accelsim.sim.dataflows import TIMING_MODELS

        return [(n, TIMING_MODELS.get(n).description) for n in TIMING_MODELS]
    if what == "energy-tables":
        from accelsim.sim.energy import load_energy_table, shipped_table_names

        return [(n, load_energy_table(n).source) for n in shipped_table_names()]
    if what == "models":
        from accelsim.workload.models import MODELS

        return [(n, MODELS.get(n).description) for n in MODELS]
    if what == "workloads":
        from accelsim.workload.recipes import shipped_recipe_names

        return [(n, "") for n in shipped_recipe_names()]
    if what == "patterns":
        from accelsim.workload.pruning.patterns import PATTERNS

        return [(n, (PATTERNS.get(n).__doc__ or "").strip().splitlines()[0]) for n in PATTERNS]
    if what == "methods":
        from accelsim.workload.pruning.methods import METHODS

        return [(n, "") for n in METHODS]
    if what == "formats":
        from accelsim.sim.formats import SPARSE_FORMATS

        return [(n, (SPARSE_FORMATS.get(n).__doc__ or "").strip().splitlines()[0]) for n in SPARSE_FORMATS]
    raise ValueError(what)
