"""A layer as SCNN sees it (scnn.py): a convolution over a planar-tiled input, with its masks.

Every layer becomes ``groups`` convolutions of Cg input channels and Kg filters of R x S over an H x W
input (stride, padding, dilation as traced).  A linear layer is a 1 x 1 convolution whose M rows are
laid out row-major on a near-square plane (so the planar tiling spreads them over the PE grid); an
activation x activation product (no weights) has all-true weights.

A PE of the pe_rows x pe_cols grid holds a th x tw tile of the input plane, all its channels.  With a
stride s > 1 an activation at y pairs only with the filter taps r with (y + pad - r * dil) % s == 0:
the datapath splits activations and weights into s_h x s_w phases and takes the Cartesian product
within each phase (a polyphase decomposition: assumed; SparTen's authors (MICRO 2019) note that
SCNN's Cartesian product does not apply to non-unit strides as published), so no product of a
strided layer is computed only to be thrown away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.workload.layer import Layer


@dataclass(frozen=True)
class ConvView:
    batch: int
    groups: int
    cg: int  # input channels per group
    kg: int  # filters per group
    h: int
    w: int
    r: int
    s: int
    stride: tuple[int, int]
    pad: tuple[int, int]
    dil: tuple[int, int]
    out_h: int
    out_w: int

    @property
    def phases(self) -> int:
        return self.stride[0] * self.stride[1]


def conv_view(layer: Layer, a_mask: np.ndarray) -> tuple[ConvView, np.ndarray, np.ndarray, np.ndarray]:
    """(geometry, activations bool [B, C, H, W], weights bool [K, Cg, R, S], the plane's real
    positions bool [H, W]) of ``layer``; ``a_mask`` is its input mask as two_sided.input_mask gives it."""
    g = layer.groups
    c = layer.conv
    if c is not None and layer.kind in ("conv", "depthwise"):
        view = ConvView(c.batch, c.groups, c.in_channels // c.groups, c.out_channels // c.groups, c.in_h,
                        c.in_w, c.kernel_h, c.kernel_w, (c.stride_h, c.stride_w), (c.pad_h, c.pad_w),
                        (c.dilation_h, c.dilation_w), c.out_h, c.out_w)
        acts = a_mask
        positions = np.ones((view.h, view.w), bool)
    else:  # M rows of K * groups inputs -> a 1 x 1 conv on a near-square plane of M pixels
        h = math.isqrt(max(layer.m - 1, 0)) + 1
        w = -(-layer.m // h)
        view = ConvView(1, g, layer.k, layer.n, h, w, 1, 1, (1, 1), (0, 0), (1, 1), h, w)
        plane = np.zeros((h * w, layer.k * g), bool)
        plane[:layer.m] = a_mask
        acts = plane.T.reshape(1, layer.k * g, h, w)
        positions = (np.arange(h * w) < layer.m).reshape(h, w)
    if layer.weight_mask is None:
        weights = np.ones((g * view.kg, view.cg, view.r, view.s), bool)
    else:
        weights = np.asarray(layer.weight_mask, bool)
        if weights.ndim == 2:
            weights = weights[:, :, None, None]
    return view, acts, weights, positions


def tiles(v: ConvView, pe_rows: int, pe_cols: int) -> tuple[int, int]:
    """(th, tw): the input tile each PE holds (the last row / column of PEs may hold less, or none)."""
    return -(-v.h // pe_rows), -(-v.w // pe_cols)


def halo_tile(v: ConvView, th: int, tw: int) -> tuple[int, int]:
    """(hh, hw): output positions a th x tw input tile reaches (its own outputs and the halo)."""
    hh = (th - 1 + (v.r - 1) * v.dil[0]) // v.stride[0] + 1
    hw = (tw - 1 + (v.s - 1) * v.dil[1]) // v.stride[1] + 1
    return min(hh, v.out_h), min(hw, v.out_w)


def _phase_onehot(n_tiles: int, size: int, pad: int, stride: int) -> np.ndarray:
    """float32 [n_tiles, size, stride]: 1 at the phase (y + pad) % stride of position y = tile * size + t."""
    y = np.arange(n_tiles * size).reshape(n_tiles, size)
    return (((y + pad) % stride)[..., None] == np.arange(stride)).astype(np.float32)


def activation_counts(v: ConvView, acts: np.ndarray, pe_rows: int, pe_cols: int) -> np.ndarray:
    """int64 [B, C, P, phases]: nonzero activations of each channel in each PE's tile, by phase
    (P = pe_rows * pe_cols, row-major)."""
    th, tw = tiles(v, pe_rows, pe_cols)
    b, c = acts.shape[:2]
    a = np.zeros((b, c, pe_rows * th, pe_cols * tw), np.float32)
    a[:, :, :v.h, :v.w] = acts
    a = a.reshape(b, c, pe_rows, th, pe_cols, tw)
    oy = _phase_onehot(pe_rows, th, v.pad[0], v.stride[0])
    ox = _phase_onehot(pe_cols, tw, v.pad[1], v.stride[1])
    counts = np.einsum("bcitjw,itp,jwq->bcijpq", a, oy, ox, optimize=True)
    return np.rint(counts).astype(np.int64).reshape(b, c, pe_rows * pe_cols, v.phases)


def weight_counts(v: ConvView, weights: np.ndarray, kc: int) -> np.ndarray:
    """int64 [groups, Q, Cg, phases]: nonzero weights of each output-channel group of ``kc`` filters
    (Q = ceil(Kg / kc) per conv group) for each input channel, by the phase (r * dil) % stride."""
    def onehot(n: int, dil: int, stride: int) -> np.ndarray:
        return (((np.arange(n) * dil) % stride)[:, None] == np.arange(stride)).astype(np.float32)

    per_filter = np.einsum("kcrs,rp,sq->kcpq", weights.astype(np.float32), onehot(v.r, v.dil[0], v.stride[0]),
                           onehot(v.s, v.dil[1], v.stride[1]), optimize=True)
    per_filter = per_filter.reshape(v.groups, v.kg, v.cg, v.phases)
    q = -(-v.kg // kc)
    padded = np.zeros((v.groups, q * kc, v.cg, v.phases), np.float32)
    padded[:, :v.kg] = per_filter
    return np.rint(padded.reshape(v.groups, q, kc, v.cg, v.phases).sum(axis=2)).astype(np.int64)


def useful_products(v: ConvView, acts: np.ndarray, weights: np.ndarray) -> int:
    """Products of nonzero operands that land on an output: the layer's exact two-sided MAC count,
    sum over (r, s, c) of (nonzero inputs that tap sees) x (nonzero weights at (r, s, c))."""
    sy, sx = v.stride
    py, px = v.pad
    a = np.zeros((*acts.shape[:2], v.h + 2 * py + sy * v.out_h, v.w + 2 * px + sx * v.out_w), np.int64)
    a[:, :, py:py + v.h, px:px + v.w] = acts
    seen = np.empty((v.r, v.s, acts.shape[1]), np.int64)
    for r in range(v.r):
        for s in range(v.s):
            y0, x0 = r * v.dil[0], s * v.dil[1]
            seen[r, s] = a[:, :, y0:y0 + sy * v.out_h:sy, x0:x0 + sx * v.out_w:sx].sum(axis=(0, 2, 3))
    w = weights.reshape(v.groups, v.kg, v.cg, v.r, v.s).sum(axis=1, dtype=np.int64)  # [g, cg, r, s]
    return int(np.einsum("rsgc,gcrs->", seen.reshape(v.r, v.s, v.groups, v.cg), w))
