"""Coverage: which of a model's MACs and parameters the workload simulates, and what it leaves out.

Every op of the traced graph that does matrix work is either turned into layers (its MACs are
``macs_simulated``) or listed in ``ops_not_simulated`` with its MACs; every parameter tensor either
feeds a layer as its weight (``params_simulated``) or is listed in ``params_not_simulated`` with why
(a bias, a norm's scale, an embedding table: no MACs; or the weight of an op that is not simulated).
Pure data: no torch, so a cached workload keeps its coverage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOUD_SHARE = 0.01  # more than this share of the MACs not simulated is said loudly


@dataclass(frozen=True)
class NotSimulated:
    """One op (``what`` = node name, ``op`` = aten op, ``where`` = module) or parameter tensor."""

    what: str
    op: str
    where: str
    macs: int = 0  # -1: an op with matrix work whose MACs accelsim cannot count
    params: int = 0
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "op": self.op, "where": self.where, "macs": self.macs,
                "params": self.params, "why": self.why}


@dataclass(frozen=True)
class Coverage:
    macs_simulated: int
    params_simulated: int
    ops_not_simulated: tuple[NotSimulated, ...] = ()
    params_not_simulated: tuple[NotSimulated, ...] = ()
    front_end: str = "torch.export"

    @property
    def macs_not_simulated(self) -> int:
        return sum(max(o.macs, 0) for o in self.ops_not_simulated)

    @property
    def macs_total(self) -> int:
        return self.macs_simulated + self.macs_not_simulated

    @property
    def params_total(self) -> int:
        return self.params_simulated + sum(p.params for p in self.params_not_simulated)

    @property
    def mac_share_not_simulated(self) -> float:
        """Share of the model's MACs not simulated (1.0 when an op's MACs are unknown)."""
        if any(o.macs < 0 for o in self.ops_not_simulated):
            return 1.0
        return self.macs_not_simulated / self.macs_total if self.macs_total else 0.0

    @property
    def param_share_not_simulated(self) -> float:
        return 1.0 - self.params_simulated / self.params_total if self.params_total else 0.0

    @property
    def loud(self) -> bool:
        return self.mac_share_not_simulated > LOUD_SHARE

    def summary(self) -> str:
        """One line: the simulated share of MACs and parameters."""
        macs = (f"{100 * (1 - self.mac_share_not_simulated):.2f} % of {self.macs_total:,} MACs simulated"
                if not any(o.macs < 0 for o in self.ops_not_simulated) else
                f"{self.macs_simulated:,} MACs simulated, some ops' MACs unknown")
        return (f"coverage ({self.front_end}): {macs}; {100 * (1 - self.param_share_not_simulated):.2f} % "
                f"of {self.params_total:,} parameters are simulated weights")

    def short(self) -> str:
        """The summary in under 80 characters (the run's totals)."""
        macs = ("MACs of some ops unknown" if any(o.macs < 0 for o in self.ops_not_simulated) else
                f"{100 * (1 - self.mac_share_not_simulated):.2f} % of the MACs")
        params = 100 * (1 - self.param_share_not_simulated)
        return f"{macs}, {params:.2f} % of the parameters ({self.front_end})"

    def details(self, limit: int = 12) -> list[str]:
        """The ops not simulated (largest first), then the parameters not simulated grouped by why."""
        lines = []
        ops = sorted(self.ops_not_simulated, key=lambda o: -o.macs if o.macs >= 0 else -1e30)
        for o in ops[:limit]:
            share = ("MACs unknown" if o.macs < 0 else
                     f"{o.macs:,} MACs = {100 * o.macs / max(self.macs_total, 1):.2f} % of the model")
            lines.append(f"not simulated: {o.what} ({o.op} in {o.where or 'the model'}): {share}; {o.why}")
        if len(ops) > limit:
            lines.append(f"not simulated: ... and {len(ops) - limit} more ops")
        groups: dict[str, list[NotSimulated]] = {}
        for p in self.params_not_simulated:
            groups.setdefault(p.why, []).append(p)
        for why, ps in sorted(groups.items(), key=lambda kv: -sum(p.params for p in kv[1])):
            n = sum(p.params for p in ps)
            names = ", ".join(p.what for p in ps[:3]) + (", ..." if len(ps) > 3 else "")
            lines.append(f"parameters not simulated ({why}): {len(ps)} tensors, {n:,} values = "
                         f"{100 * n / max(self.params_total, 1):.2f} % ({names})")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"front_end": self.front_end, "macs_simulated": self.macs_simulated,
                "macs_total": self.macs_total, "mac_share_not_simulated": self.mac_share_not_simulated,
                "params_simulated": self.params_simulated, "params_total": self.params_total,
                "ops_not_simulated": [o.to_dict() for o in self.ops_not_simulated],
                "params_not_simulated": [p.to_dict() for p in self.params_not_simulated]}

    @classmethod
    def merge(cls, parts: list[Coverage], front_end: str) -> Coverage:
        """The coverage of a model traced in parts (no parameter shared between parts)."""
        return cls(macs_simulated=sum(p.macs_simulated for p in parts),
                   params_simulated=sum(p.params_simulated for p in parts),
                   ops_not_simulated=tuple(o for p in parts for o in p.ops_not_simulated),
                   params_not_simulated=tuple(o for p in parts for o in p.params_not_simulated),
                   front_end=front_end)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coverage:
        return cls(macs_simulated=int(d["macs_simulated"]), params_simulated=int(d["params_simulated"]),
                   ops_not_simulated=tuple(NotSimulated(**o) for o in d["ops_not_simulated"]),
                   params_not_simulated=tuple(NotSimulated(**p) for p in d["params_not_simulated"]),
                   front_end=d.get("front_end", "torch.export"))
