"""`accelsim check` and `accelsim list`: which kind a file is, and the names of each registry."""

from __future__ import annotations

from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

from accelsim import registry
from accelsim.spec import config as cfg


def check_file(path: str) -> str:
    """Validate one file fully; return its kind or raise the error that lists its problems."""
    p = Path(path)
    if not p.is_file():
        from accelsim.spec.hardware import missing_hardware_file

        raise missing_hardware_file(p) if p.suffix in (".yaml", ".yml") else cfg.not_found(p)
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


# `accelsim list WHAT` shows the entries of a registry (or the shipped files), one line about each
_LISTS = {"dataflows": registry.DATAFLOWS, "timing-models": registry.TIMING_MODELS, "models": registry.MODELS,
          "formats": registry.SPARSE_FORMATS, "patterns": registry.PATTERNS, "methods": registry.METHODS,
          "energy-tables": registry.ENERGY_MODELS}


def _describe(entry: Any) -> str:
    """Its description, an energy table's source, or its doc's first line (and a format's config keys)."""
    if isinstance(entry, Path):
        from accelsim.sim.energy import load_energy_table

        return load_energy_table(entry).source
    if hasattr(entry, "description"):
        return entry.description
    line = ((entry.__doc__ or "").strip().splitlines() or [""])[0]
    keys = cfg.config_keys(entry) if is_dataclass(entry) else {}
    return line + (f" [keys: {', '.join(f'{k}={f.default}' for k, f in keys.items())}]" if keys else "")


def known_names(what: str) -> list[tuple[str, str]]:
    """(name, one line) for ``accelsim list WHAT``: a registry's entries, or the shipped files."""
    if what == "hardware":
        from accelsim.spec.hardware import HW_DIR, shipped_hardware_names

        names = shipped_hardware_names()
        return [(n, str(cfg.read_yaml(HW_DIR / f"{n}.yaml").get("description", ""))) for n in names]
    if what == "workloads":
        from accelsim.workload.recipes import shipped_recipe_names

        return [(n, "") for n in shipped_recipe_names()]
    return [(n, _describe(_LISTS[what].get(n))) for n in _LISTS[what]]
