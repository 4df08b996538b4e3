"""`accelsim check` and `accelsim list`: which kind a file is, and the names of each registry."""

from __future__ import annotations

from pathlib import Path

from accelsim import registry
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


def _first_line(obj: object) -> str:
    lines = (obj.__doc__ or "").strip().splitlines()
    return lines[0] if lines else ""


def _format_line(fmt: type) -> str:
    """A format's first doc line and the config keys it declares, with their defaults."""
    keys = ", ".join(f"{k}={f.default}" for k, f in cfg.config_keys(fmt).items())
    return _first_line(fmt) + (f" [keys: {keys}]" if keys else "")


def _energy_line(path: Path) -> str:
    from accelsim.sim.energy import load_energy_table

    return load_energy_table(path).source


# what `accelsim list WHAT` shows: a registry and one line about each of its entries
_LISTS = {
    "dataflows": (registry.DATAFLOWS, lambda d: d.description),
    "timing-models": (registry.TIMING_MODELS, lambda t: t.description),
    "formats": (registry.SPARSE_FORMATS, _format_line),
    "patterns": (registry.PATTERNS, _first_line),
    "methods": (registry.METHODS, _first_line),
    "energy-tables": (registry.ENERGY_MODELS, _energy_line),
    "models": (registry.MODELS, lambda m: m.description),
}


def known_names(what: str) -> list[tuple[str, str]]:
    """(name, one line) for ``accelsim list WHAT``: a registry's entries, or the shipped files."""
    if what == "hardware":
        from accelsim.spec.hardware import HW_DIR, shipped_hardware_names

        names = shipped_hardware_names()
        return [(n, str(cfg.read_yaml(HW_DIR / f"{n}.yaml").get("description", ""))) for n in names]
    if what == "workloads":
        from accelsim.workload.recipes import shipped_recipe_names

        return [(n, "") for n in shipped_recipe_names()]
    reg, describe = _LISTS[what]
    return [(n, describe(reg.get(n))) for n in reg]
