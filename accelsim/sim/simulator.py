"""simulate(hw, workload) -> Report.  Readable top to bottom: one layer at a time through the pipeline

    plan folds -> compute trace -> storage -> memory traffic -> action counts -> energy -> LayerReport
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from accelsim import __version__
from accelsim.results.report import LayerReport, Report
from accelsim.sim.actions import count_actions, energy_of
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.energy import EnergyTable, load_energy_table
from accelsim.sim.formats import storage_of
from accelsim.sim.mapping import choose_mapping
from accelsim.sim.memory import simulate_memory
from accelsim.sim.traces import ComputeTrace, MemoryTraffic, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer, Workload

ProgressFn = Callable[[int, int, str], None]


def simulate(hw: HardwareConfig, workload: Workload, *, progress: ProgressFn | None = None) -> Report:
    timing = TIMING_MODELS.get(hw.timing)
    table = load_energy_table(hw.energy_table)
    layers = []
    for i, layer in enumerate(workload.layers):
        layers.append(simulate_layer(layer, hw, timing, table))
        if progress is not None:
            progress(i + 1, len(workload.layers), layer.name)
    return Report(
        hardware_name=hw.name,
        workload_name=workload.name,
        layers=tuple(layers),
        clock_mhz=hw.clock_mhz,
        pe_count=hw.pe_array.rows * hw.pe_array.cols,
        provenance=provenance(hw, workload, table),
        hardware=hardware_dict(hw),
    )


def simulate_layer(layer: Layer, hw: HardwareConfig, timing: TimingModel, table: EnergyTable) -> LayerReport:
    compute = sparse_compute(layer, hw, timing)
    storage = storage_of(layer, hw)
    mapping = choose_mapping(layer, hw, compute, storage)
    traffic = simulate_memory(hw, layer, compute, storage, mapping)
    actions = energy_of(count_actions(hw, compute, traffic, storage), hw, table)
    by_action: dict[str, float] = {}
    by_component: dict[str, float] = {}
    for action, pj in actions:
        by_action[action.action] = by_action.get(action.action, 0.0) + pj
        by_component[action.component] = by_component.get(action.component, 0.0) + pj
    total = compute.compute_cycles + traffic.stall_cycles
    pe_slots = total * hw.pe_array.rows * hw.pe_array.cols
    useful = compute.macs_issued - compute.macs_gated
    return LayerReport(
        name=layer.name, kind=layer.kind, m=layer.m, n=layer.n, k=layer.k, groups=layer.groups,
        row_folds=compute.plan.row_folds, col_folds=compute.plan.col_folds,
        compute_cycles=compute.compute_cycles, stall_cycles=traffic.stall_cycles, total_cycles=total,
        utilization=useful / pe_slots if pe_slots else 0.0,
        mapping_efficiency=compute.plan.mapping_efficiency,
        macs_dense=compute.macs_dense, macs_issued=compute.macs_issued, macs_gated=compute.macs_gated,
        macs_skipped=compute.macs_skipped, load_imbalance=compute.load_imbalance,
        sram_reads=dict(compute.sram_reads), sram_writes=dict(compute.sram_writes),
        dram_read_bytes=traffic.dram_read_bytes, dram_write_bytes=traffic.dram_write_bytes,
        energy_by_action_pj=by_action, energy_by_component_pj=by_component, storage=storage,
        weight_density=layer.weight_density, activation_density=layer.activation_density,
        activation_density_source=layer.activation_density_source,
        pattern=layer.pattern, target_sparsity=layer.target_sparsity, notes=compute.notes,
        mapping={**mapping.to_dict(), "memory": traffic.to_dict()},
    )


def operand_elements(layer: Layer) -> dict[str, int]:
    """Elements of each operand as stored (the ifmap itself, not its im2col expansion)."""
    c = layer.conv
    inputs = c.batch * c.in_channels * c.in_h * c.in_w if c is not None else layer.groups * layer.m * layer.k
    weights = layer.weight_count if layer.weight_mask is not None else layer.groups * layer.k * layer.n
    return {"inputs": inputs, "weights": weights, "outputs": layer.groups * layer.m * layer.n}


def dense_storage(layer: Layer, hw: HardwareConfig) -> dict[str, StorageBreakdown]:
    bits = hw.pe_array.precision_bits
    return {op: StorageBreakdown(n * bits, n * bits, 0) for op, n in operand_elements(layer).items()}


def compulsory_traffic(storage: dict[str, StorageBreakdown]) -> MemoryTraffic:
    """Each operand crosses the DRAM interface once (data + metadata): the stall-free lower bound."""
    read_bits = sum(storage[op].total_bits for op in ("inputs", "weights") if op in storage)
    write_bits = storage["outputs"].total_bits if "outputs" in storage else 0
    return MemoryTraffic(dram_read_bytes=-(-read_bits // 8), dram_write_bytes=-(-write_bits // 8))


def hardware_dict(hw: HardwareConfig) -> dict:
    d = asdict(hw)
    d.pop("raw", None)
    return d


def hardware_hash(hw: HardwareConfig) -> str:
    blob = json.dumps(hardware_dict(hw), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def provenance(hw: HardwareConfig, workload: Workload, table: EnergyTable) -> dict:
    return {
        "accelsim_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "hardware_hash": hardware_hash(hw),
        "workload_fingerprint": workload.fingerprint,
        "workload_source": workload.source,
        "energy_table": table.name,
        "energy_source": table.source,
        "timing_model": hw.timing,
    }


__all__ = ["simulate", "simulate_layer", "ComputeTrace"]
