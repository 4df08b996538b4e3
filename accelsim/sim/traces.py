"""Every hand-off type of the simulation pipeline, one per stage, each produced once per layer.

    storage      StorageBreakdown   bits of one operand: payload, index metadata, the dense size
    compute      ComputeTrace       what the array does: cycles, MACs by fate, buffer accesses
                 FoldSchedule       how it runs its folds: what any tile of the layer costs
    mapping      LayerMapping       the chosen tiling and loop order
    memory       MemoryTrace        DRAM traffic and stalls measured by the memory model
    actions      Action             counted events; energy = counts x the energy table
    energy       EnergyBreakdown    pJ per action, summed by action and by component

Frozen dataclasses with no behaviour beyond derived properties and ``to_dict``; the stages that
make them live beside this file (formats/, dataflows/, mapping, memory, actions, energy/).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from accelsim.sim.dataflows.base import FoldPlan

if TYPE_CHECKING:
    from accelsim.sim.dataflows.timing import TimingModel


@dataclass(frozen=True)
class StorageBreakdown:
    """Bits of one operand at one level: the payload, its index metadata, and the dense size."""

    dense_bits: int
    data_bits: int
    metadata_bits: int
    format: str = "dense"
    padding_values: int = 0
    fit_problem: str | None = None  # why the mask did not fit the format (then stored dense)

    @property
    def total_bits(self) -> int:
        return self.data_bits + self.metadata_bits

    @property
    def index_overhead(self) -> float:
        return self.metadata_bits / self.data_bits if self.data_bits else 0.0

    @property
    def footprint_ratio(self) -> float:
        return self.total_bits / self.dense_bits if self.dense_bits else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["fit_problem"]
        d.update(total_bits=self.total_bits, index_overhead=self.index_overhead,
                 footprint_ratio=self.footprint_ratio)
        return d


@dataclass(frozen=True, eq=False)
class FoldSchedule:
    """How the array runs the folds of one layer: enough to cost any tile of it
    (``dataflows/compute.py``, ``tile_cycles``).  A tile is a block of the dense ``plan``'s folds and a
    slice of its time dim.

    A regular datapath (dense, gated, N:M, compacted) runs ``regular``, a dense GEMM of compressed
    dims: a tile is the smaller dense GEMM of its share of those dims.  An irregular (skip) one runs
    per fold: ``fold_t`` [groups, plan.folds] is the time-dim length each fold streams (0: dropped;
    column fold outer), ``fold_share`` the share of a fold slot it takes (a fold of packed filters
    spread over its dense K folds; None: 1), and each tile with work pays the fill and drain of the
    dense schedule of time length ``t_ref`` (scaled to the tile)."""

    timing: TimingModel
    plan: FoldPlan
    regular: FoldPlan | None = None
    fold_t: np.ndarray | None = None
    fold_share: np.ndarray | None = None
    t_ref: int = 0

    def __eq__(self, other: object) -> bool:  # the arrays compare by value
        if not isinstance(other, FoldSchedule):
            return NotImplemented
        pairs = ((getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))
        return all(np.array_equal(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b
                   for a, b in pairs)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ComputeTrace:
    """What the array does for one layer (``compute_cycles``: the whole layer as one tile; the
    simulator replaces cycles and buffer accesses with those of the chosen tiles)."""

    plan: FoldPlan
    compute_cycles: int
    macs_dense: int
    macs_issued: int
    macs_gated: int
    macs_skipped: int
    load_imbalance: float
    sram_reads: dict[str, int]
    sram_writes: dict[str, int]
    notes: tuple[str, ...] = field(default=())
    schedule: FoldSchedule | None = None  # None (a flexible array): tiles split compute_cycles by folds


@dataclass(frozen=True)
class InnerTier:
    """The tiles of one on-chip tier below the DRAM-facing one (``accelsim.sim.inner_tiling``): they
    nest in the tier above's tiles and divide them, in ``loop_order`` inside that tier's loops."""

    tier: int  # 1: the levels one step inside the DRAM-facing ones
    levels: dict[str, str]  # operand -> the level holding its tile at this tier (operands with one)
    loop_order: tuple[str, ...]
    tile_m: int
    tile_n: int
    tile_k: int
    tile_bytes: dict[str, int]
    buffer_bytes: dict[str, int]  # per level: what every tier's tiles occupy in it (x2 if double-buffered)
    traffic: dict[str, dict[str, dict[str, int]]]  # per level and operand, as MemoryTraffic.by_level
    candidates: int

    def to_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "levels": dict(self.levels), "loop_order": "".join(self.loop_order),
                "tile": {"m": self.tile_m, "n": self.tile_n, "k": self.tile_k},
                "tile_bytes": dict(self.tile_bytes), "buffer_bytes": dict(self.buffer_bytes),
                "traffic": self.traffic, "candidates": self.candidates}


@dataclass(frozen=True)
class LayerMapping:
    """The chosen tiling of one layer (per GEMM group; groups run one after another)."""

    dataflow: str
    loop_order: tuple[str, ...]  # outermost first
    tile_m: int
    tile_n: int
    tile_k: int
    tiles_m: int
    tiles_n: int
    tiles_k: int
    groups: int
    objective: str
    tile_bytes: dict[str, int]  # one copy of each operand's tile, as held in its buffer
    buffer_bytes: dict[str, int]  # per buffer level: what the tiles occupy (x2 where double-buffered)
    dram_read_bytes: int  # closed form for the whole layer
    dram_write_bytes: int
    estimated_cycles: int
    candidates: int
    notes: tuple[str, ...] = field(default=())
    inner: tuple[InnerTier, ...] = ()  # the tiers inside the DRAM-facing one, outermost first

    @property
    def tiles(self) -> int:
        """Tiles of one group."""
        return self.tiles_m * self.tiles_n * self.tiles_k

    @property
    def array_tile(self) -> dict[str, int]:
        """The tile the array runs: the innermost tier's."""
        t = self.inner[-1] if self.inner else self
        return {"m": t.tile_m, "n": t.tile_n, "k": t.tile_k}

    def to_dict(self) -> dict[str, Any]:
        return {"dataflow": self.dataflow, "loop_order": "".join(self.loop_order),
                "tile": {"m": self.tile_m, "n": self.tile_n, "k": self.tile_k},
                "tiles": {"m": self.tiles_m, "n": self.tiles_n, "k": self.tiles_k,
                          "total": self.tiles * self.groups},
                "objective": self.objective, "tile_bytes": dict(self.tile_bytes),
                "buffer_bytes": dict(self.buffer_bytes),
                "estimated_dram_read_bytes": self.dram_read_bytes,
                "estimated_dram_write_bytes": self.dram_write_bytes,
                "estimated_cycles": self.estimated_cycles,
                "candidates": self.candidates, "notes": list(self.notes),
                **({"inner": [t.to_dict() for t in self.inner]} if self.inner else {})}


@dataclass(frozen=True)
class MemoryTraffic:
    """Traffic across the DRAM interface.  ``by_level[level][operand]`` has read/write bytes of data
    and metadata apart, seen at DRAM (``"dram"``) and at the buffer it fills or drains; the array
    side of each buffer is ComputeTrace.sram_reads/sram_writes.  MemoryTrace extends it."""

    dram_read_bytes: int
    dram_write_bytes: int
    stall_cycles: int = 0
    by_level: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class MemoryTrace(MemoryTraffic):
    """What the memory model measured for one layer (``by_level`` holds the traffic per level and
    operand, data and metadata apart: see MemoryTraffic)."""

    total_cycles: int = 0
    compute_cycles: int = 0
    tiles: int = 0
    transfers: int = 0
    coarsening: int = 1
    model: str = "simpy"
    bound: str = "compute"  # what limits the layer: compute, "<level> bandwidth" or "dram bandwidth"
    delivery_cycles: dict[str, int] = field(default_factory=dict)  # per bandwidth-limited level

    @property
    def traffic(self) -> dict[str, dict[str, dict[str, int]]]:
        return self.by_level

    def to_dict(self) -> dict[str, Any]:
        return {"dram_read_bytes": self.dram_read_bytes, "dram_write_bytes": self.dram_write_bytes,
                "stall_cycles": self.stall_cycles, "total_cycles": self.total_cycles,
                "compute_cycles": self.compute_cycles, "tiles": self.tiles, "transfers": self.transfers,
                "coarsening": self.coarsening, "model": self.model, "bound": self.bound,
                "delivery_cycles": dict(self.delivery_cycles), "traffic": self.by_level}


@dataclass(frozen=True)
class Action:
    """``count`` events of ``action`` at ``component``, each moving ``bits`` (0 for compute)."""

    component: str
    action: str
    count: int
    bits: float = 0


@dataclass(frozen=True)
class EnergyBreakdown:
    """pJ of every action, and the same summed by action name and by component."""

    items: tuple[tuple[Any, float], ...] = ()
    by_action_pj: dict[str, float] = field(default_factory=dict)
    by_component_pj: dict[str, float] = field(default_factory=dict)

    @property
    def total_pj(self) -> float:
        return sum(self.by_action_pj.values())
