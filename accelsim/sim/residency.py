"""Which activations stay on chip between layers (``keep_activations: true`` in the hardware config).

A layer's output stays in the on-chip level that holds inputs (``hw.buffer_for("inputs")``) from
the layer that writes it until the last layer that reads it (``Layer.input_from``, recorded by the
tracer through activations, pooling and residual adds), if, at every layer in between, the outputs
kept so far plus that layer's own tiles in the level (its mapping's ``buffer_bytes``) fit the
level's capacity.  Outputs are considered in the order the layers run and kept greedily while they
fit.  A kept output is not written to DRAM (unless nothing reads it: the model's result is), and a
layer whose every producer's output is kept reads its input from chip, not DRAM.  The mapper still
chooses each layer's tiles as if its input came from DRAM.  Without ``input_from`` (a SCALE-Sim
topology) no activation is known to feed a layer, so nothing stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accelsim.sim.traces import LayerMapping, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer

Storage = dict[str, StorageBreakdown]


@dataclass(frozen=True)
class Residency:
    """Per layer: its input comes from chip; its output stays on chip (not written to DRAM)."""

    inputs_on_chip: tuple[bool, ...]
    outputs_kept: tuple[bool, ...]


def plan_residency(hw: HardwareConfig, layers: Sequence[Layer], storage: Sequence[Storage],
                   mappings: Sequence[LayerMapping]) -> Residency:
    n = len(layers)
    level = hw.buffer_for("inputs")
    if not hw.keep_activations or level is None or n == 0:
        return Residency((False,) * n, (False,) * n)
    index = {layer.name: i for i, layer in enumerate(layers)}
    last_reader: dict[int, int] = {}
    for i, layer in enumerate(layers):
        for src in layer.input_from:
            if src in index and index[src] < i:
                last_reader[index[src]] = i
    used = [float(m.buffer_bytes.get(level.name, 0)) for m in mappings]
    live = [0.0] * n  # bytes of kept outputs resident while layer j runs
    kept = [False] * n
    for p in range(n):
        if p not in last_reader:
            continue
        size = storage[p]["outputs"].total_bits / 8
        span = range(p + 1, last_reader[p] + 1)
        if all(live[j] + used[j] + size <= level.size_bytes for j in span):
            kept[p] = True
            for j in span:
                live[j] += size
    on_chip = tuple(bool(layer.input_from) and all(s in index and kept[index[s]] for s in layer.input_from)
                    for layer in layers)
    return Residency(on_chip, tuple(kept))
