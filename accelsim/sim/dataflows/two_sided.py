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


def im2col(layer: Layer, mask: np.ndarray) -> np.ndarray:
    """bool [groups, M, K]: the input mask in the GEMM view (K in (r, s, c) order, c fastest)."""
    c = layer.conv
    g = layer.groups
    if c is None or layer.kind not in ("conv", "depthwise"):
        return np.ascontiguousarray(mask.reshape(layer.m, g, layer.k).transpose(1, 0, 2))
    sy, sx, dy, dx = c.stride_h, c.stride_w, c.dilation_h, c.dilation_w
    a = np.zeros((c.batch, c.in_channels, c.in_h + 2 * c.pad_h + sy * c.out_h + dy * c.kernel_h,
                  c.in_w + 2 * c.pad_w + sx * c.out_w + dx * c.kernel_w), bool)
    a[:, :, c.pad_h:c.pad_h + c.in_h, c.pad_w:c.pad_w + c.in_w] = mask
    taps = [a[:, :, r * dy:r * dy + sy * c.out_h:sy, s * dx:s * dx + sx * c.out_w:sx]
            for r in range(c.kernel_h) for s in range(c.kernel_w)]  # each [B, C, OH, OW]
    cols = np.stack(taps, axis=1)  # [B, RS, C, OH, OW]
    cols = cols.reshape(c.batch, len(taps), g, c.in_channels // g, c.out_h, c.out_w)
    cols = cols.transpose(2, 0, 4, 5, 1, 3)  # [g, B, OH, OW, RS, Cg]
    return np.ascontiguousarray(cols.reshape(g, layer.m, layer.k))
