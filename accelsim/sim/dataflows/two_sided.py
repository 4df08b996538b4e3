"""What the two-sided datapaths (scnn.py, sparten.py) share: the input activation mask they walk, and
the ComputeTrace that carries their own action counts.

The activation mask.  A datapath that skips zero activations walks a mask of the layer's input:
``Layer.input_mask`` (bool; (batch, C, H, W) for a conv or depthwise layer, (M, K) for a linear layer)
when the workload recorded one from a forward pass.  Where none exists a mask is drawn i.i.d. at the
layer's measured ``activation_density``, seeded by the layer's name (the same mask every run), and
the layer's notes say it is synthetic -- so real masks plug in without changing the datapaths.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from accelsim.sim.traces import Action, ComputeTrace
from accelsim.workload.layer import Layer


@dataclass(frozen=True)
class DatapathTrace(ComputeTrace):
    """A ComputeTrace whose datapath counts its own NoC, register-file and sparse-logic actions
    (``count_actions`` adds these instead of the generic array's hops and selectors)."""

    datapath_actions: tuple[Action, ...] = ()


def mask_shape(layer: Layer) -> tuple[int, ...]:
    """The input mask's shape: (batch, C, H, W) for a conv, (M, K * groups) otherwise."""
    c = layer.conv
    if c is not None and layer.kind in ("conv", "depthwise"):
        return (c.batch, c.in_channels, c.in_h, c.in_w)
    return (layer.m, layer.k * layer.groups)


def input_mask(layer: Layer) -> tuple[np.ndarray, str | None]:
    """(bool mask of the layer's input activations, a note if it is synthetic) -- module docstring."""
    shape = mask_shape(layer)
    real = getattr(layer, "input_mask", None)
    if real is not None:
        mask = np.asarray(real, bool)
        if mask.shape != shape:
            raise ValueError(f"layer {layer.name}: input_mask has shape {mask.shape}, expected {shape}")
        return mask, None
    density = float(layer.activation_density)
    rng = np.random.default_rng(zlib.crc32(layer.name.encode()))
    mask = rng.random(shape) < density
    note = (f"activation mask synthetic: drawn i.i.d. at density {density:.3f}"
            f" ({layer.activation_density_source}; no recorded mask), seeded by the layer name")
    return mask, note
