"""count_actions(): the only place action counts are made.  Energy = counts x the energy table."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.dataflows.compute import ComputeTrace
from accelsim.energy import EnergyTable
from accelsim.hardware import HardwareConfig
from accelsim.report import StorageBreakdown


@dataclass(frozen=True)
class Action:
    """``count`` events of ``action`` at ``component``, each moving ``bits`` (0 for compute)."""

    component: str
    action: str
    count: int
    bits: float = 0


@dataclass(frozen=True)
class MemoryTraffic:
    dram_read_bytes: int
    dram_write_bytes: int
    stall_cycles: int = 0


def count_actions(hw: HardwareConfig, compute: ComputeTrace, traffic: MemoryTraffic,
                  storage: dict[str, StorageBreakdown]) -> list[Action]:
    """MACs, operand register accesses, buffer reads/writes per operand level, metadata, DRAM.

    Conventions: each issued MAC reads its two operands from PE pipeline registers (2 register
    accesses); buffer words are ``precision`` bits; index metadata is read once from the buffer
    holding the operand each time its data is read, in proportion metadata/data bits.
    """
    bits = hw.pe_array.precision_bits
    acts = [
        Action("pe_array", "mac", compute.macs_issued - compute.macs_gated),
        Action("pe_array", "gated_mac", compute.macs_gated),
        Action("pe_array", "rf_access", 2 * (compute.macs_issued - compute.macs_gated), bits),
    ]
    for op, reads in compute.sram_reads.items():
        level = hw.buffer_for(op)
        if level is None or reads == 0:
            continue
        acts.append(Action(level.name, "buffer_read", reads, bits))
        s = storage.get(op)
        if s is not None and s.metadata_bits and s.data_bits:
            meta_bits_per_read = s.metadata_bits / (s.data_bits / bits)
            acts.append(Action(level.name, "metadata_read", reads, meta_bits_per_read))
    for op, writes in compute.sram_writes.items():
        level = hw.buffer_for(op)
        if level is not None and writes:
            acts.append(Action(level.name, "buffer_write", writes, bits))
    acts.append(Action("dram", "dram_read", traffic.dram_read_bytes, 8))
    acts.append(Action("dram", "dram_write", traffic.dram_write_bytes, 8))
    return acts


def energy_of(actions: list[Action], hw: HardwareConfig, table: EnergyTable) -> list[tuple[Action, float]]:
    """pJ of every action."""
    out = []
    for a in actions:
        if a.action == "mac":
            pj = a.count * table.mac_pj
        elif a.action == "gated_mac":
            pj = a.count * table.gated_mac_pj
        elif a.action == "rf_access":
            pj = a.count * a.bits * table.rf_access_pj_per_64b / 64
        elif a.action in ("dram_read", "dram_write"):
            pj = a.count * a.bits * table.dram_pj_per_64b / 64
        elif a.action == "metadata_read" and table.metadata_read_pj_per_64b is not None:
            pj = a.count * a.bits * table.metadata_read_pj_per_64b / 64
        else:  # buffer_read / buffer_write / metadata_read at a buffer level
            level = hw.memory(a.component)
            pj = a.count * a.bits * table.sram_pj_per_bit(level.size_bytes, write=a.action == "buffer_write")
        out.append((a, pj))
    return out
