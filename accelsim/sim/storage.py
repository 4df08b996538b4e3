"""``storage_of(layer, hw)``: every operand of a layer in its hardware's format, computed once per layer.

Which fiber each operand's format compresses:

* **weights**: the real mask, one fiber per filter (output channel) over K = (C / groups) * R * S
  in (r, s, c) order, input channel fastest: the [out_channels, K] matrix of
  ``Layer.gemm_weight_mask`` with the groups stacked.  A layer without a weight mask (an
  activation x activation matmul) has no pruned operand and is stored dense.  A mask that does not
  fit the format (N:M broken) is stored dense; the compute trace says why.
* **inputs** (activations): one fiber per pixel over its C channels (NHWC, the (r, s, c) order of
  K) for a conv, one per GEMM row over K for a linear layer or matmul.  Only a density is known
  (``Layer.activation_density``), so the **expected** nonzero count d * elements sizes the format
  (RLE padding from the i.i.d. estimate).  A layer with an ``input_mask`` (the nonzeros of the
  input it was traced on: (batch, C, H, W) for a conv, (M, K) for a linear layer) is measured on
  that mask instead.
* **outputs**: in ``sparsity.outputs.format`` (dense unless the hardware compresses what it writes
  back; the loader makes it the input format, which the next layer reads).  Their density is the
  expected one the simulator hands in (``output_density``: the next layer's measured input density),
  one fiber per pixel over the N output channels; partial sums are never compressed.

"""

from __future__ import annotations

import weakref

import numpy as np

from accelsim.sim.formats import Geometry, as_fibers, get_format
from accelsim.sim.formats.base import PackedFibers
from accelsim.sim.traces import StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.workload.layer import Layer
from accelsim.workload.packed_mask import PackedMask


def weight_geometry(layer: Layer) -> tuple[int, int]:
    """(R*S, C per group) of the layer's weight fibers (1, K for linear layers and matmuls)."""
    if layer.conv is not None:
        c = layer.conv
        return c.kernel_h * c.kernel_w, c.in_channels // c.groups
    if layer.weight_mask is not None and layer.weight_mask.ndim == 4:
        _, cin, kh, kw = layer.weight_mask.shape
        return kh * kw, cin
    return 1, layer.k


_FIBERS: weakref.WeakKeyDictionary[Layer, np.ndarray] = weakref.WeakKeyDictionary()
_PACKED_FIBERS: weakref.WeakKeyDictionary[Layer, np.ndarray] = weakref.WeakKeyDictionary()  # one at a time


def weight_fibers(layer: Layer) -> np.ndarray:
    """The weight mask as filters: read-only uint8 [groups * N, K] (0/1), K in (r, s, c) order.

    One transpose of the torch layout (out, c, r, s) -> (out, r, s, c), cached while the layer
    lives (storage and compute both read it); a bit-packed mask's (PackedMask) for the last such layer
    only, so that a 7B model's one byte per weight is never held for every layer at once."""
    packed = isinstance(layer.weight_mask, PackedMask)
    cache = _PACKED_FIBERS if packed else _FIBERS
    cached = cache.get(layer)
    if cached is not None:
        return cached
    if layer.weight_mask is None:
        fibers = np.ones((layer.groups * layer.n, layer.k), np.uint8)
    else:
        w = np.asarray(layer.weight_mask)
        w = w.transpose(0, 2, 3, 1) if w.ndim == 4 else w
        fibers = as_fibers(np.ascontiguousarray(w, dtype=bool).reshape(w.shape[0], -1))
    fibers.flags.writeable = False
    if packed:
        _PACKED_FIBERS.clear()
    cache[layer] = fibers
    return fibers


def packed_fibers(layer: Layer, fmt) -> PackedFibers | None:
    """A bit-packed mask's fibers as they are, when its rows are the fibers (a linear layer, a 1x1
    conv) and ``fmt`` reads them packed; else None (weight_fibers unpacks)."""
    mask = layer.weight_mask
    if not isinstance(mask, PackedMask) or (mask.ndim == 4 and mask.shape[2] * mask.shape[3] != 1):
        return None
    rows = mask.shape[0]
    length = mask.size // rows
    if not fmt.packs(length):
        return None
    return PackedFibers(mask.bits, (rows, length), layer.weight_nonzeros)


def _breakdown(fmt: str, dense_bits: int, bits: tuple[int, int, int]) -> StorageBreakdown:
    data, meta, pad = bits
    return StorageBreakdown(dense_bits=int(dense_bits), data_bits=int(data), metadata_bits=int(meta),
                            format=fmt, padding_values=int(pad))


def weight_storage(layer: Layer, hw: HardwareConfig) -> StorageBreakdown:
    """The weights in the hardware's weight format (dense, with ``fit_problem`` saying why, when the
    mask does not fit it)."""
    w = hw.pe_array.precision_bits
    s = hw.sparsity.weights
    if layer.weight_mask is None:
        n = layer.groups * layer.k * layer.n
        return StorageBreakdown(n * w, n * w, 0)
    fmt = get_format(s.format, s.options)
    fibers = packed_fibers(layer, fmt) or weight_fibers(layer)
    dense_bits = fibers.size * w
    geometry = Geometry(*weight_geometry(layer))
    problem = fmt.fit_problem(fibers, geometry)
    if problem is not None:
        return StorageBreakdown(dense_bits, dense_bits, 0, fit_problem=problem)
    return _breakdown(s.format, dense_bits, fmt.bits(fibers, w, geometry))


def input_storage(layer: Layer, hw: HardwareConfig) -> StorageBreakdown:
    """The activations in the hardware's input format: measured on ``input_mask`` when the layer
    has one, else sized from the expected nonzero count."""
    w = hw.pe_array.precision_bits
    s = hw.sparsity.inputs
    c = layer.conv  # fibers: one per pixel over C (a conv), one per GEMM row over K (else)
    f, length = (c.batch * c.in_h * c.in_w, c.in_channels) if c else (layer.groups * layer.m, layer.k)
    dense_bits = f * length * w
    if s.format == "dense":  # every activation stored: the mask changes nothing
        return StorageBreakdown(dense_bits, dense_bits, 0)
    fmt = get_format(s.format, s.options)
    geometry = Geometry(1, length)
    mask = layer.input_mask
    if mask is not None:
        a = np.asarray(mask, dtype=bool)
        a = np.moveaxis(a, 1, -1) if layer.conv is not None and a.ndim == 4 else a
        fibers = as_fibers(a.reshape(-1, a.shape[-1]))
        if fmt.fit_problem(fibers, geometry) is None:
            return _breakdown(s.format, fibers.size * w, fmt.bits(fibers, w, geometry))
        return StorageBreakdown(fibers.size * w, fibers.size * w, 0)
    nnz = layer.activation_density * f * length
    try:
        bits = fmt.expected_bits(f, length, nnz, w)
    except NotImplementedError:  # a structured format on activations (config validation refuses it)
        return StorageBreakdown(dense_bits, dense_bits, 0)
    return _breakdown(s.format, dense_bits, bits)


def output_storage(layer: Layer, hw: HardwareConfig, density: float = 1.0) -> StorageBreakdown:
    """The outputs as written back: dense, or in ``sparsity.outputs.format`` at ``density``."""
    w = hw.pe_array.precision_bits
    f, length = layer.groups * layer.m, layer.n
    dense_bits = f * length * w
    s = hw.sparsity.outputs
    if s.format == "dense":
        return StorageBreakdown(dense_bits, dense_bits, 0)
    bits = get_format(s.format, s.options).expected_bits(f, length, density * f * length, w)
    return _breakdown(s.format, dense_bits, bits)


def storage_of(layer: Layer, hw: HardwareConfig, output_density: float = 1.0) -> dict[str, StorageBreakdown]:
    """StorageBreakdown of weights, inputs and outputs of one layer on ``hw`` (see module doc)."""
    return {
        "inputs": input_storage(layer, hw),
        "weights": weight_storage(layer, hw),
        "outputs": output_storage(layer, hw, output_density),
    }

