"""count_actions(): the only place action counts are made.  Energy = counts x the energy table."""

from __future__ import annotations

from accelsim.sim.traces import Action, ComputeTrace, MemoryTraffic, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig


def count_actions(hw: HardwareConfig, compute: ComputeTrace, traffic: MemoryTraffic,
                  storage: dict[str, StorageBreakdown]) -> list[Action]:
    """MACs, operand register accesses, buffer reads/writes per operand level, metadata, DRAM.

    Conventions: each issued MAC reads its two operands from PE pipeline registers (2 register
    accesses); buffer words are ``precision`` bits; index metadata is read once from the buffer
    holding the operand each time its data is read, in proportion metadata/data bits.  NoC: every
    issued (not skipped) MAC slot passes one operand (``precision`` bits) and one partial sum
    (``accumulator`` bits; for os, where sums stay, a second operand) to a neighbour.  Fills of a
    buffer from DRAM are buffer writes and drains to DRAM buffer reads, data and metadata alike.
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
    hop_bits = bits if compute.plan.flow.outputs_stationary else hw.pe_array.accumulator_bits
    acts.append(Action("noc", "noc", compute.macs_issued, bits))
    acts.append(Action("noc", "noc", compute.macs_issued, hop_bits))
    for level, ops in traffic.by_level.items():
        if level == "dram":
            continue
        fill = sum(t.get("write_data_bytes", 0) + t.get("write_metadata_bytes", 0) for t in ops.values())
        drain = sum(t.get("read_data_bytes", 0) + t.get("read_metadata_bytes", 0) for t in ops.values())
        if fill:
            acts.append(Action(level, "buffer_write", fill, 8))
        if drain:
            acts.append(Action(level, "buffer_read", drain, 8))
    acts.append(Action("dram", "dram_read", traffic.dram_read_bytes, 8))
    acts.append(Action("dram", "dram_write", traffic.dram_write_bytes, 8))
    return acts
