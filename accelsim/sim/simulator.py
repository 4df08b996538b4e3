"""simulate(hw, workload) -> Report.  Readable top to bottom: one layer at a time through the pipeline

    plan folds -> compute trace -> storage -> memory traffic -> action counts -> energy -> LayerReport
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from accelsim import __version__
from accelsim.sim.actions import count_actions
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.compute import tiled_compute
from accelsim.sim.dataflows.flexible_compute import compute_stage
from accelsim.sim.dataflows.row_stationary_memory import row_stationary_memory
from accelsim.sim.dataflows.timing import TimingModel
from accelsim.sim.energy import EnergyTable, breakdown, load_energy_table
from accelsim.sim.inner_tiling import choose_inner
from accelsim.sim.mapping import OPERANDS, choose_mapping, tile_model
from accelsim.sim.memory import simulate_memory, stall_free_memory
from accelsim.sim.report import LayerReport, Report
from accelsim.sim.residency import plan_residency
from accelsim.sim.storage import storage_of
from accelsim.spec.hardware import HardwareConfig, hardware_hash
from accelsim.workload.layer import Layer, Workload

ProgressFn = Callable[[int, int, str], None]


def simulate(hw: HardwareConfig, workload: Workload, *, progress: ProgressFn | None = None) -> Report:
    """Each layer through the pipeline; activations stay on chip between layers where the hardware
    keeps them and they fit (``accelsim.sim.residency``)."""
    timing = TIMING_MODELS.get(hw.timing)
    table = load_energy_table(hw.energy_table)
    density = output_densities(workload.layers) if hw.sparsity.outputs.format != "dense" else {}
    plans = [plan_layer(layer, hw, timing, table, density.get(layer.name, 1.0)) for layer in workload.layers]
    keep = plan_residency(hw, workload.layers, [p[0] for p in plans], [p[3] for p in plans])
    layers = []
    for i, (layer, plan) in enumerate(zip(workload.layers, plans, strict=True)):
        layers.append(finish_layer(layer, hw, timing, table, *plan, inputs_on_chip=keep.inputs_on_chip[i],
                                   output_kept=keep.outputs_kept[i]))
        if progress is not None:
            progress(i + 1, len(workload.layers), layer.name)
    return Report(
        hardware_name=hw.name,
        workload_name=workload.name,
        layers=tuple(layers),
        clock_mhz=hw.clock_mhz,
        pe_count=hw.pe_array.rows * hw.pe_array.cols,
        provenance=provenance(hw, workload, table),
        hardware=hw,
    )


def simulate_layer(layer: Layer, hw: HardwareConfig, timing: TimingModel, table: EnergyTable) -> LayerReport:
    """One layer alone (its input from DRAM, its output written back)."""
    return finish_layer(layer, hw, timing, table, *plan_layer(layer, hw, timing, table))


def output_densities(layers: tuple[Layer, ...]) -> dict[str, float]:
    """Each layer's expected output density: the measured input density of the layers that read it
    (the densest, when several do; through activations, pooling and adds as the tracer recorded).
    A layer nothing reads (the logits) is taken dense."""
    out: dict[str, float] = {}
    for layer in layers:
        for src in layer.input_from:
            out[src] = max(out.get(src, 0.0), float(layer.activation_density))
    return out


def plan_layer(layer: Layer, hw: HardwareConfig, timing: TimingModel, table: EnergyTable,
               output_density: float = 1.0):
    """(storage, compute, tile model, mapping): everything before the memory model."""
    storage = storage_of(layer, hw, output_density)
    compute = compute_stage(hw)(layer, hw, timing, storage)  # a flexible array's own, or sparse_compute
    model = tile_model(layer, hw, compute, storage)
    # a conv-native dataflow brings its own global-buffer blocking (row stationary), else the mapper's tiles
    mapping = getattr(compute, "glb_mapping", None) or choose_mapping(layer, hw, compute, model, table=table)
    if any(len(hw.levels_for(op)) > 1 for op in OPERANDS):  # tiles at the tiers inside the DRAM-facing one
        mapping = replace(mapping, inner=choose_inner(layer, hw, compute, model, mapping, table=table))
    return storage, compute, model, mapping


def finish_layer(layer: Layer, hw: HardwareConfig, timing: TimingModel, table: EnergyTable, storage, compute,
                 model, mapping, *, inputs_on_chip: bool = False, output_kept: bool = False) -> LayerReport:
    """The memory model, actions and energy of a planned layer, and its LayerReport."""
    flags = {"inputs_on_chip": inputs_on_chip, "output_kept": output_kept}
    if getattr(compute, "glb_mapping", None) is not None:  # row stationary: its passes through its buffer
        traffic = row_stationary_memory(hw, compute, storage, **flags)
    elif timing.models_stalls:  # the chosen tiles fix the compute: their cycles, the held operand's reloads
        traffic = simulate_memory(hw, layer, compute, model, mapping, **flags)
        compute = tiled_compute(compute, mapping, traffic.compute_cycles)
    else:
        traffic = stall_free_memory(hw, compute, model, mapping, **flags)
    energy = breakdown(count_actions(hw, compute, traffic, storage), hw, table)
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
        energy_by_action_pj=energy.by_action_pj, energy_by_component_pj=energy.by_component_pj,
        storage=storage,
        weight_density=layer.weight_density, activation_density=layer.activation_density,
        activation_density_source=layer.activation_density_source,
        pattern=str(layer.pattern), target_sparsity=layer.target_sparsity,
        notes=((f"pruning: {layer.prune_note}",) if layer.prune_note else ()) + compute.notes
        + ("input read from chip",) * inputs_on_chip
        + ("output kept on chip for the layers that read it",) * output_kept,
        bound=traffic.bound,
        mapping=mapping, memory=traffic,
    )


def provenance(hw: HardwareConfig, workload: Workload, table: EnergyTable) -> dict:
    return {
        "accelsim_version": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "hardware_hash": hardware_hash(hw),
        "workload_fingerprint": workload.fingerprint,
        "workload_source": workload.source,
        "workload_coverage": None if workload.coverage is None else workload.coverage.to_dict(),
        "energy_table": table.name,
        "energy_source": table.source,
        "timing_model": hw.timing,
    }

