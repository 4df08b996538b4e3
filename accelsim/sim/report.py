"""LayerReport and Report: what a simulation produced, with totals derived from the layers.

Units live in the names.  ``Report.to_json_dict`` / ``layers_csv`` are what ``--out`` writes
(``accelsim.results.save``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from accelsim.files import rows_to_csv
from accelsim.sim.traces import LayerMapping, MemoryTrace, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig, hardware_dict

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LayerReport:
    name: str
    kind: str
    m: int
    n: int
    k: int
    groups: int
    row_folds: int
    col_folds: int
    compute_cycles: int
    stall_cycles: int
    total_cycles: int
    utilization: float
    mapping_efficiency: float
    macs_dense: int
    macs_issued: int
    macs_gated: int
    macs_skipped: int
    load_imbalance: float
    sram_reads: dict[str, int]
    sram_writes: dict[str, int]
    dram_read_bytes: int
    dram_write_bytes: int
    energy_by_action_pj: dict[str, float]
    energy_by_component_pj: dict[str, float]
    storage: dict[str, StorageBreakdown]
    weight_density: float = 1.0
    activation_density: float = 1.0
    activation_density_source: str = "assumed dense"
    pattern: str = "dense"
    target_sparsity: float = 0.0
    notes: tuple[str, ...] = ()
    mapping: LayerMapping | None = None  # the chosen tiling
    memory: MemoryTrace | None = None  # what the memory model measured under it
    bound: str = "compute"  # what limits the layer: compute, "<level> bandwidth" or "dram bandwidth"

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    @property
    def energy_pj(self) -> float:
        return sum(self.energy_by_action_pj.values())

    @property
    def metadata_bits(self) -> int:
        return sum(s.metadata_bits for s in self.storage.values())

    @property
    def data_bits(self) -> int:
        return sum(s.data_bits for s in self.storage.values())

    def row(self) -> dict[str, Any]:
        """One flat CSV row."""
        w = self.storage.get("weights")
        return {
            "name": self.name, "kind": self.kind,
            "m": self.m, "n": self.n, "k": self.k, "groups": self.groups,
            "row_folds": self.row_folds, "col_folds": self.col_folds, "folds": self.folds,
            "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
            "total_cycles": self.total_cycles, "bound": self.bound, "utilization": round(self.utilization, 6),
            "mapping_efficiency": round(self.mapping_efficiency, 6),
            "macs_dense": self.macs_dense, "macs_issued": self.macs_issued, "macs_gated": self.macs_gated,
            "macs_skipped": self.macs_skipped, "load_imbalance": round(self.load_imbalance, 6),
            "inputs_sram_reads": self.sram_reads.get("inputs", 0),
            "weights_sram_reads": self.sram_reads.get("weights", 0),
            "outputs_sram_writes": self.sram_writes.get("outputs", 0),
            "outputs_sram_reads": self.sram_reads.get("outputs", 0),
            "dram_read_bytes": self.dram_read_bytes, "dram_write_bytes": self.dram_write_bytes,
            "energy_pj": round(self.energy_pj, 3),
            "weight_density": round(self.weight_density, 6),
            "activation_density": round(self.activation_density, 6),
            "pattern": self.pattern, "target_sparsity": self.target_sparsity,
            "weights_format": w.format if w else "dense",
            "weights_data_bits": w.data_bits if w else 0,
            "weights_metadata_bits": w.metadata_bits if w else 0,
            "data_bits": self.data_bits, "metadata_bits": self.metadata_bits,
            "notes": "; ".join(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
             if f.name not in ("storage", "mapping", "memory")}
        d["mapping"] = {**self.mapping.to_dict(), "memory": self.memory.to_dict()} if self.mapping else {}
        d["storage"] = {op: s.to_dict() for op, s in self.storage.items()}
        d.update(folds=self.folds, energy_pj=self.energy_pj, metadata_bits=self.metadata_bits,
                 data_bits=self.data_bits, notes=list(self.notes))
        return d


def _sum_dicts(dicts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in dicts:
        for key, value in d.items():
            out[key] = out.get(key, 0) + value
    return out


@dataclass(frozen=True)
class Report:
    hardware_name: str
    workload_name: str
    layers: tuple[LayerReport, ...]
    clock_mhz: float
    pe_count: int
    provenance: dict[str, Any] = field(default_factory=dict)
    hardware: HardwareConfig | None = None

    def total(self, attr: str) -> int | float:
        return sum(getattr(layer, attr) for layer in self.layers)

    @property
    def total_cycles(self) -> int:
        return int(self.total("total_cycles"))

    @property
    def compute_cycles(self) -> int:
        return int(self.total("compute_cycles"))

    @property
    def stall_cycles(self) -> int:
        return int(self.total("stall_cycles"))

    @property
    def macs_dense(self) -> int:
        return int(self.total("macs_dense"))

    @property
    def macs_issued(self) -> int:
        return int(self.total("macs_issued"))

    @property
    def energy_pj(self) -> float:
        return float(self.total("energy_pj"))

    @property
    def utilization(self) -> float:
        """Useful (nonzero-operand) MACs over the array's MAC slots during the whole run."""
        slots = self.total_cycles * self.pe_count
        useful = sum(layer.macs_issued - layer.macs_gated for layer in self.layers)
        return useful / slots if slots else 0.0

    @property
    def latency_ms(self) -> float:
        return self.total_cycles / (self.clock_mhz * 1e3)

    def energy_by_component_pj(self) -> dict[str, float]:
        return _sum_dicts([layer.energy_by_component_pj for layer in self.layers])

    def energy_by_action_pj(self) -> dict[str, float]:
        return _sum_dicts([layer.energy_by_action_pj for layer in self.layers])

    def storage_totals(self) -> dict[str, StorageBreakdown]:
        out: dict[str, StorageBreakdown] = {}
        for layer in self.layers:
            for op, s in layer.storage.items():
                p = out.get(op, StorageBreakdown(0, 0, 0, s.format))
                out[op] = StorageBreakdown(p.dense_bits + s.dense_bits, p.data_bits + s.data_bits,
                                           p.metadata_bits + s.metadata_bits,
                                           s.format if p.format == s.format else "mixed",
                                           p.padding_values + s.padding_values)
        return out

    def totals(self) -> dict[str, Any]:
        energy = self.energy_pj
        return {
            "total_cycles": self.total_cycles, "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_cycles, "latency_ms": self.latency_ms,
            "utilization": self.utilization, "macs_dense": self.macs_dense, "macs_issued": self.macs_issued,
            "macs_gated": int(self.total("macs_gated")), "macs_skipped": int(self.total("macs_skipped")),
            "dram_read_bytes": int(self.total("dram_read_bytes")),
            "dram_write_bytes": int(self.total("dram_write_bytes")),
            "energy_pj": energy, "pj_per_mac": energy / self.macs_dense if self.macs_dense else 0.0,
            "edp_pj_cycles": energy * self.total_cycles,
            "energy_by_component_pj": self.energy_by_component_pj(),
            "energy_by_action_pj": self.energy_by_action_pj(),
            "storage": {op: s.to_dict() for op, s in self.storage_totals().items()},
            "metadata_bits": int(self.total("metadata_bits")), "data_bits": int(self.total("data_bits")),
        }

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "hardware_name": self.hardware_name,
            "workload_name": self.workload_name,
            "provenance": self.provenance,
            "hardware": hardware_dict(self.hardware) if self.hardware is not None else {},
            "totals": self.totals(),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def layers_csv(self) -> str:
        return rows_to_csv([layer.row() for layer in self.layers])
