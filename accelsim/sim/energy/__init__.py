"""Energy tables (pJ per action, with their source and node) and energy = action counts x table.

Shipped tables live in ``energy/tables/*.yaml`` and are registered by name in ``ENERGY_MODELS``;
``load_energy_table`` also takes a path to a user table.  ``breakdown`` turns the action counts
of ``accelsim.sim.actions.count_actions`` into pJ by action and by component.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from accelsim.errors import UnknownNameError
from accelsim.registry import ENERGY_MODELS
from accelsim.sim.energy.table import (
    ACTION_DOCS,
    ACTIONS,
    BUFFER_ACTIONS,
    DATA_ACTIONS,
    EVENT_ACTIONS,
    ActionCost,
    EnergyTable,
    table_from_dict,
)
from accelsim.sim.traces import Action, EnergyBreakdown
from accelsim.spec import config as cfg
from accelsim.spec.hardware import HardwareConfig

TABLE_DIR = Path(__file__).resolve().parent / "tables"
for _p in sorted(TABLE_DIR.glob("*.yaml")):
    ENERGY_MODELS.add(_p.stem, _p)


def load_energy_table(ref: str | Path) -> EnergyTable:
    """A shipped table name (``horowitz_45nm``) or a path to a YAML table."""
    path = Path(ref)
    if not path.is_file():
        if str(ref) not in ENERGY_MODELS:
            raise UnknownNameError("energy table", str(ref), ENERGY_MODELS.names(),
                                   hint="Give a shipped table name or a path to a YAML energy table")
        path = ENERGY_MODELS.get(str(ref))
    return _load(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load(path: str, _mtime_ns: int) -> EnergyTable:
    return table_from_dict(cfg.read_yaml(path), path)


def action_pj(action: Action, hw: HardwareConfig, table: EnergyTable) -> float:
    """pJ of one Action: buffer actions (register files included) are priced at the capacity of the level
    named ``component`` (one instance of it: a per-PE level's own size)."""
    capacity = None
    if action.action in BUFFER_ACTIONS:
        capacity = next((lv.size_bytes for lv in hw.memories if lv.name == action.component), None)
    return table.energy_pj(action.action, action.count, action.bits, capacity)


def breakdown(actions: Iterable[Action], hw: HardwareConfig, table: EnergyTable) -> EnergyBreakdown:
    """Every action priced, summed by action name and by component."""
    items = []
    by_action: dict[str, float] = {}
    by_component: dict[str, float] = {}
    for a in actions:
        pj = action_pj(a, hw, table)
        items.append((a, pj))
        by_action[a.action] = by_action.get(a.action, 0.0) + pj
        by_component[a.component] = by_component.get(a.component, 0.0) + pj
    return EnergyBreakdown(tuple(items), by_action, by_component)


__all__ = ["ACTIONS", "ACTION_DOCS", "BUFFER_ACTIONS", "DATA_ACTIONS", "ENERGY_MODELS", "EVENT_ACTIONS",
           "ActionCost", "EnergyBreakdown", "EnergyTable", "action_pj", "breakdown", "load_energy_table",
           "table_from_dict"]
