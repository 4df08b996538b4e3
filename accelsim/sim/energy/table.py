"""EnergyTable: pJ per action, read from YAML that names its source and technology node.

Every action accelsim can emit (``ACTIONS``) must be in a table; the missing ones are listed together
in one ConfigError.  An action's cost is one of

    {pj: 0.3}                                    per event (``EVENT_ACTIONS``: mac, pe_static, ...)
    {pj: 2, bits: 64}                            per access of ``bits`` bits, charged per bit moved
    {pj: 20, bits: 64, capacity: 32 KiB,         the same, scaled with the level's capacity as
     capacity_exponent: 0.5}                       (size / capacity) ** exponent  (``BUFFER_ACTIONS``)
    {bits: 64, pj_by_capacity: [[8 KiB, 10], ...]}  interpolated log-log between the points, clamped
                                                   at both ends (``BUFFER_ACTIONS`` only)
    {same_as: buffer_read, scale: 1.0}           another action of the same kind, times ``scale``

plus an optional ``note`` saying where the number comes from (and that it is an assumption, if so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from accelsim import units
from accelsim.spec import config as cfg
from accelsim.spec.config import Reader

EVENT_ACTIONS = ("mac", "gated_mac", "index_decode", "operand_select", "intersection", "pe_static",
                 "window_select", "channel_gather", "scatter_xbar")
BUFFER_ACTIONS = ("rf_access", "buffer_read", "buffer_write", "metadata_read")
DATA_ACTIONS = (*BUFFER_ACTIONS, "pipeline_reg", "noc", "buffer_static", "dram_read", "dram_write")
ACTIONS = (*EVENT_ACTIONS, *DATA_ACTIONS)
ACTION_DOCS = {
    "mac": "one multiply-accumulate with nonzero operands",
    "gated_mac": "a MAC slot whose operand is zero: clock-gated, no cycle saved",
    "index_decode": "decoding the index metadata of one word read from a buffer (bitmask, run length, N:M)",
    "operand_select": "choosing the partner operand of one issued MAC on a one-sided skip datapath (mux)",
    "intersection": "matching the nonzeros of both operands for one issued MAC (two-sided skipping)",
    "pe_static": "leakage and clock of one PE for one cycle, busy or stalled",
    "window_select": "one 8-bit lane of a window array's row bus and m-of-R*S mux, per issued MAC",
    "channel_gather": "one 8-bit lane of a channel array's row bus and channel gather mux, per issued MAC",
    "scatter_xbar": "one product routed by a Cartesian-product PE's scatter crossbar to its accumulator bank"
                    " (SCNN), its output coordinate computed on the way",
    "rf_access": "a read or write of a per-PE register file (sized by the level's capacity)",
    "buffer_read": "a read of an on-chip buffer (sized by the level's capacity)",
    "buffer_write": "a write of an on-chip buffer (array results, fills from DRAM)",
    "metadata_read": "a read of index metadata from the buffer holding its operand",
    "pipeline_reg": "a value latched into a PE pipeline register (each hop lands in one)",
    "noc": "one hop of an operand or partial sum into a PE (a multicast copy is a hop per PE reached)",
    "buffer_static": "leakage of one bit of on-chip storage for one cycle",
    "dram_read": "bits read from DRAM",
    "dram_write": "bits written to DRAM",
}
_ENTRY_KEYS = ("pj", "bits", "capacity", "capacity_exponent", "pj_by_capacity", "same_as", "scale", "note")


@dataclass(frozen=True)
class ActionCost:
    """The cost of one action: per event (``bits`` is None) or per ``bits``-bit access."""

    pj: float = 0.0
    bits: int | None = None
    capacity_bytes: int | None = None
    capacity_exponent: float = 0.0
    pj_by_capacity: tuple[tuple[int, float], ...] = ()
    note: str = ""

    def pj_per_access(self, capacity_bytes: int | None = None) -> float:
        """pJ of one event / one ``bits``-bit access, at a buffer of ``capacity_bytes``."""
        pts = self.pj_by_capacity
        if pts:
            if capacity_bytes is None:
                raise ValueError("this cost depends on the buffer capacity; give capacity_bytes")
            return _loglog(pts, capacity_bytes)
        if self.capacity_bytes and self.capacity_exponent and capacity_bytes:
            return self.pj * (capacity_bytes / self.capacity_bytes) ** self.capacity_exponent
        return self.pj

    def pj_per_bit(self, capacity_bytes: int | None = None) -> float:
        if self.bits is None:
            raise ValueError("a per-event cost has no per-bit energy")
        return self.pj_per_access(capacity_bytes) / self.bits

    def energy_pj(self, count: float, bits: float = 0, capacity_bytes: int | None = None) -> float:
        """``count`` events; for a data action each moves ``bits`` bits."""
        if self.bits is None:
            return count * self.pj_per_access(capacity_bytes)
        return count * bits * self.pj_per_bit(capacity_bytes)


def _loglog(pts: tuple[tuple[int, float], ...], capacity: int) -> float:
    if capacity <= pts[0][0]:
        return pts[0][1]
    if capacity >= pts[-1][0]:
        return pts[-1][1]
    for (c0, e0), (c1, e1) in zip(pts, pts[1:], strict=False):
        if c0 <= capacity <= c1:
            if e0 <= 0 or e1 <= 0:  # log of 0: fall back to linear interpolation
                return e0 + (e1 - e0) * (capacity - c0) / (c1 - c0)
            f = (math.log(capacity) - math.log(c0)) / (math.log(c1) - math.log(c0))
            return math.exp(math.log(e0) + f * (math.log(e1) - math.log(e0)))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class EnergyTable:
    name: str
    source: str
    node_nm: float
    costs: dict[str, ActionCost]
    description: str = ""

    def cost(self, action: str) -> ActionCost:
        try:
            return self.costs[action]
        except KeyError:
            from accelsim.errors import UnknownNameError

            raise UnknownNameError("energy action", action, self.costs,
                                   hint=f"energy table {self.name!r} has no such action") from None

    def energy_pj(self, action: str, count: float, bits: float = 0,
                  capacity_bytes: int | None = None) -> float:
        return self.cost(action).energy_pj(count, bits, capacity_bytes)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or not math.isfinite(value):
        raise ValueError(f"{value!r} is not an energy in pJ (a number >= 0)")
    return float(value)


def _exponent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 2:
        raise ValueError(f"{value!r} is not a capacity exponent; write a number from 0 to 2, e.g. 0.5 (sqrt)")
    return float(value)


def _points(value: Any) -> tuple[tuple[int, float], ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of [capacity, pJ] pairs, e.g. [[8 KiB, 10], [1 MiB, 100]]")
    pts = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"{pair!r} is not a [capacity, pJ] pair")
        pts.append((units.parse_size_bytes(pair[0]), _number(pair[1])))
    caps = [p[0] for p in pts]
    if caps != sorted(set(caps)) or caps[0] <= 0:
        raise ValueError("capacities must be > 0 and increase")
    return tuple(pts)


def _read_entry(r: Reader, raw: Any, path: str, action: str) -> tuple[ActionCost, str | None, float]:
    """(cost, same_as target or None, scale)."""
    e = r.mapping(raw, path, _ENTRY_KEYS)
    if not e:
        if raw is not None and not isinstance(raw, dict):
            return ActionCost(), None, 1.0
        r.problem(path, "empty: give pj (and bits for a data action), pj_by_capacity, or same_as")
        return ActionCost(), None, 1.0
    note = r.get(e, "note", path, str, "")
    if "same_as" in e:
        target = r.get(e, "same_as", path, cfg.choice(*ACTIONS), None)
        extra = sorted(set(e) - {"same_as", "scale", "note"})
        if extra:
            r.problem(path, f"same_as takes only 'scale' and 'note'; remove {', '.join(extra)}")
        if target == action:
            r.problem(f"{path}.same_as", "an action cannot be the same as itself")
        if target is not None and _kind(target) != _kind(action):
            r.problem(f"{path}.same_as", f"{action!r} is charged {_kind(action)}, {target!r} {_kind(target)}")
        return ActionCost(note=note), target, r.get(e, "scale", path, _number, 1.0)
    if "scale" in e:
        r.problem(f"{path}.scale", "'scale' goes with same_as")
    has_pj, has_pts = "pj" in e, "pj_by_capacity" in e
    if has_pj == has_pts:
        r.problem(path, "give exactly one of pj, pj_by_capacity or same_as")
    bits = r.get(e, "bits", path, cfg.positive_int, None)
    if action in EVENT_ACTIONS and bits is not None:
        r.problem(f"{path}.bits", f"{action} is charged per event; remove 'bits'")
    elif action not in EVENT_ACTIONS and bits is None and "bits" not in e:
        r.problem(f"{path}.bits", "required for a data action: the access width its pJ is for, e.g. 64")
    if action not in BUFFER_ACTIONS:
        for key in ("capacity", "capacity_exponent", "pj_by_capacity"):
            if key in e:
                r.problem(f"{path}.{key}", f"{action} is not priced by a level's capacity; only"
                                           f" {', '.join(BUFFER_ACTIONS)} scale by capacity")
    if ("capacity" in e) != ("capacity_exponent" in e):
        r.problem(path, "capacity and capacity_exponent go together: the reference size and the exponent")
    cost = ActionCost(
        pj=r.get(e, "pj", path, _number, 0.0),
        bits=bits,
        capacity_bytes=r.get(e, "capacity", path, units.parse_size_bytes, None),
        capacity_exponent=r.get(e, "capacity_exponent", path, _exponent, 0.0),
        pj_by_capacity=r.get(e, "pj_by_capacity", path, _points, ()),
        note=note,
    )
    return cost, None, 1.0


def _kind(action: str) -> str:
    if action in EVENT_ACTIONS:
        return "per event"
    return "per bit, by capacity" if action in BUFFER_ACTIONS else "per bit"


def table_from_dict(raw: Any, source: str) -> EnergyTable:
    """Build and validate an EnergyTable; every problem (all missing actions included) in one ConfigError."""
    r = Reader(source)
    top = r.mapping(raw, "", ("version", "name", "description", "source", "node_nm", "actions"),
                    required=("version", "name", "source", "node_nm", "actions"))
    if "version" in top and top["version"] != 1:
        r.problem("version", f"{top['version']!r} is not a supported version; this accelsim reads version: 1")
    acts = r.mapping(top.get("actions"), "actions", ACTIONS)
    missing = [a for a in ACTIONS if a not in acts]
    if missing and "actions" in top:
        r.problem("actions", f"missing {len(missing)} action(s) the hardware can emit: {', '.join(missing)}"
                             " (each needs a cost: pj, pj_by_capacity or same_as)")
    costs: dict[str, ActionCost] = {}
    links: dict[str, tuple[str, float]] = {}
    for action in ACTIONS:
        if action in acts:
            cost, target, scale = _read_entry(r, acts[action], f"actions.{action}", action)
            costs[action] = cost
            if target is not None:
                links[action] = (target, scale)
    for action, (target, scale) in links.items():
        if target in links:
            r.problem(f"actions.{action}.same_as", f"{target!r} is itself a same_as; point at a direct cost")
        elif target in costs:
            base = costs[target]
            costs[action] = ActionCost(
                pj=base.pj * scale, bits=base.bits, capacity_bytes=base.capacity_bytes,
                capacity_exponent=base.capacity_exponent,
                pj_by_capacity=tuple((c, e * scale) for c, e in base.pj_by_capacity),
                note=costs[action].note or f"same as {target}" + (f" x {scale:g}" if scale != 1 else ""))
    table = EnergyTable(
        name=r.get(top, "name", "", cfg.text, "?"),
        source=r.get(top, "source", "", cfg.text, "?"),
        node_nm=r.get(top, "node_nm", "", _node, 0.0),
        costs=costs,
        description=r.get(top, "description", "", str, ""),
    )
    r.finish()
    return table


def _node(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{value!r} is not a technology node in nm; write e.g. 45")
    return float(value)
