"""Energy tables: pJ per action with their source, loaded from YAML; shipped tables by name."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelsim import config as cfg
from accelsim import units
from accelsim.config import Reader
from accelsim.errors import UnknownNameError

TABLE_DIR = Path(__file__).resolve().parent / "tables"
ACTION_KEYS = ("mac_pj", "gated_mac_pj", "rf_access_pj_per_64b", "metadata_read_pj_per_64b",
               "dram_pj_per_64b", "noc_pj_per_64b")


@dataclass(frozen=True)
class EnergyTable:
    name: str
    source: str
    node_nm: float
    mac_pj: float
    gated_mac_pj: float
    rf_access_pj_per_64b: float
    dram_pj_per_64b: float
    noc_pj_per_64b: float
    metadata_read_pj_per_64b: float | None
    sram_read_points: tuple[tuple[int, float], ...]  # (capacity_bytes, pJ per 64-bit read)
    sram_write_over_read: float = 1.0

    def sram_read_pj_per_64b(self, capacity_bytes: int) -> float:
        """Log-log interpolation between the table's capacity points, clamped at both ends."""
        pts = self.sram_read_points
        if capacity_bytes <= pts[0][0]:
            return pts[0][1]
        if capacity_bytes >= pts[-1][0]:
            return pts[-1][1]
        for (c0, e0), (c1, e1) in zip(pts, pts[1:], strict=False):
            if c0 <= capacity_bytes <= c1:
                f = (math.log(capacity_bytes) - math.log(c0)) / (math.log(c1) - math.log(c0))
                return math.exp(math.log(e0) + f * (math.log(e1) - math.log(e0)))
        raise AssertionError("unreachable")

    def sram_pj_per_bit(self, capacity_bytes: int, write: bool = False) -> float:
        per_bit = self.sram_read_pj_per_64b(capacity_bytes) / 64
        return per_bit * (self.sram_write_over_read if write else 1.0)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{value!r} is not an energy in pJ (a number >= 0)")
    return float(value)


def _points(value: Any) -> tuple[tuple[int, float], ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a list of [capacity, pJ] pairs, e.g. [[8 KiB, 10], [1 MiB, 100]]")
    pts = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"{pair!r} is not a [capacity, pJ] pair")
        pts.append((units.parse_size_bytes(pair[0]), _number(pair[1])))
    if [p[0] for p in pts] != sorted({p[0] for p in pts}):
        raise ValueError("capacities must increase")
    return tuple(pts)


def table_from_dict(raw: Any, source: str) -> EnergyTable:
    r = Reader(source)
    top = r.mapping(raw, "", ("version", "name", "source", "node_nm", "actions", "sram_read_pj_per_64b",
                              "sram_write_over_read"), required=("name", "source", "actions", "sram_read_pj_per_64b"))
    acts = r.mapping(top.get("actions"), "actions", ACTION_KEYS, required=[k for k in ACTION_KEYS if
                                                                          k != "metadata_read_pj_per_64b"])
    meta = acts.get("metadata_read_pj_per_64b")
    table = EnergyTable(
        name=r.get(top, "name", "", cfg.text, "?"),
        source=r.get(top, "source", "", cfg.text, "?"),
        node_nm=r.get(top, "node_nm", "", _number, 0.0),
        mac_pj=r.get(acts, "mac_pj", "actions", _number, 0.0),
        gated_mac_pj=r.get(acts, "gated_mac_pj", "actions", _number, 0.0),
        rf_access_pj_per_64b=r.get(acts, "rf_access_pj_per_64b", "actions", _number, 0.0),
        dram_pj_per_64b=r.get(acts, "dram_pj_per_64b", "actions", _number, 0.0),
        noc_pj_per_64b=r.get(acts, "noc_pj_per_64b", "actions", _number, 0.0),
        metadata_read_pj_per_64b=None if meta is None else r.get(acts, "metadata_read_pj_per_64b", "actions",
                                                                  _number, None),
        sram_read_points=r.get(top, "sram_read_pj_per_64b", "", _points, ((1, 0.0),)),
        sram_write_over_read=r.get(top, "sram_write_over_read", "", _number, 1.0),
    )
    r.finish()
    return table


def shipped_table_names() -> list[str]:
    return sorted(p.stem for p in TABLE_DIR.glob("*.yaml"))


def load_energy_table(ref: str) -> EnergyTable:
    """A shipped table name or a path to a YAML table."""
    path = Path(ref)
    if not path.is_file():
        path = TABLE_DIR / f"{ref}.yaml"
        if not path.is_file():
            raise UnknownNameError("energy table", ref, shipped_table_names(),
                                   hint="Give a shipped table name or a path to a YAML table")
    return table_from_dict(cfg.read_yaml(path), str(path))
