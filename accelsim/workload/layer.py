"""Layer, ConvShape and Workload: a model as a list of GEMMs that keep their real masks.

GEMM view (SCALE-Sim's): ofmap[M x N] = ifmap[M x K] . filter[K x N] with
M = batch * output pixels, N = output channels per group, K = (C / groups) * R * S.
A grouped conv (depthwise included) is ``groups`` independent GEMMs of that shape, run one after
another on the array (SCALE-Sim's convention for depthwise layers).  A batched matmul (attention)
is likewise ``groups`` = batch * heads GEMMs.

The K index of the GEMM view runs in (r, s, c) order with the input channel fastest, the order
NVIDIA ASP and im2col on NHWC data use, so N:M groups along C are contiguous in K.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from accelsim.spec.recipe import PatternSpec
from accelsim.workload.coverage import Coverage
from accelsim.workload.packed_mask import PackedMask, maybe_packed


@dataclass(frozen=True)
class ConvShape:
    batch: int
    in_channels: int
    out_channels: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    groups: int = 1


@dataclass(frozen=True, eq=False)
class Layer:
    """One GEMM-view layer.  ``m, n, k`` are per group; MACs = groups * m * n * k.

    ``weight_mask`` is None for activation x activation products (attention), else a bool array in
    the weight tensor's own layout: (out, in/groups, kh, kw) for convs, (out, in) for linear; the
    torch.export front end (gemm_ops) keeps a conv1d's as (out, in/g, 1, k), a conv3d's as
    (out, in/g, kd * kh, kw), and a transposed conv's, an einsum's or a ``x @ W``'s in GEMM layout
    (groups * N, K), like a linear layer's.
    A mask of more than 4 Mi elements is kept bit-packed (a ``PackedMask``: ``np.asarray`` unpacks it),
    so that a 7B-parameter model's masks take 0.84 GB, not 6.7 GB.
    ``activation_density`` is the measured fraction of nonzero input activations (1.0 if unknown).
    ``pattern`` is the pattern the layer was pruned with (``dense`` if it was not); a spelling
    (``"nm2:4"``) is parsed into its PatternSpec.
    """

    name: str
    kind: str
    m: int
    n: int
    k: int
    groups: int = 1
    weight_mask: np.ndarray | PackedMask | None = field(default=None, repr=False)
    activation_density: float = 1.0
    activation_density_source: str = "assumed dense"
    conv: ConvShape | None = None
    pattern: PatternSpec = PatternSpec("dense")
    target_sparsity: float = 0.0
    input_from: tuple[str, ...] = ()  # the layers whose outputs feed this one ("": the model input)
    prune_note: str = ""  # what pruning said of this layer (a pattern's fallback, the widths a method chose)
    # the nonzeros of the input it was measured on: (batch, C, H, W) for a 2-D conv, (M, K) for a linear
    # layer; None where only the density is known
    input_mask: np.ndarray | PackedMask | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_mask", maybe_packed(self.weight_mask))
        object.__setattr__(self, "input_mask", maybe_packed(self.input_mask))
        object.__setattr__(self, "pattern", PatternSpec.parse(self.pattern))
        object.__setattr__(self, "input_from", tuple(self.input_from))

    @property
    def macs(self) -> int:
        return self.groups * self.m * self.n * self.k

    @property
    def weight_count(self) -> int:
        return 0 if self.weight_mask is None else int(self.weight_mask.size)

    @property
    def weight_nonzeros(self) -> int:
        mask = self.weight_mask
        if isinstance(mask, PackedMask):
            return mask.count_nonzero()
        return 0 if mask is None else int(np.count_nonzero(mask))

    @property
    def weight_density(self) -> float:
        if self.weight_mask is None or self.weight_mask.size == 0:
            return 1.0
        return self.weight_nonzeros / self.weight_mask.size

    @property
    def weight_sparsity(self) -> float:
        return 1.0 - self.weight_density

    def gemm_weight_mask(self) -> np.ndarray:
        """The weight mask as ``groups`` filter matrices: bool [groups, K, N], K in (r, s, c) order.

        Activation x activation layers have no weights to prune: an all-true mask is returned.
        """
        if self.weight_mask is None:
            return np.ones((self.groups, self.k, self.n), dtype=bool)
        w = np.asarray(self.weight_mask)
        if w.ndim == 2:  # linear (out, in)
            w = w[:, :, None, None]
        out_ch, cin_g, kh, kw = w.shape
        g = self.groups
        # (out, c, r, s) -> (g, n, r, s, c) -> (g, r*s*c, n)
        w = w.reshape(g, out_ch // g, cin_g, kh, kw).transpose(0, 3, 4, 2, 1)
        return np.ascontiguousarray(w.reshape(g, kh * kw * cin_g, out_ch // g))


@dataclass(frozen=True, eq=False)
class Workload:
    name: str
    layers: tuple[Layer, ...]
    source: str = ""
    input_shape: tuple[int, ...] = ()
    batch: int = 1
    fingerprint: str = ""
    coverage: Coverage | None = None  # what of the model is simulated (None: not traced, e.g. a .csv)
    output_from: tuple[str, ...] = ()  # the layers whose outputs reach the model's output ("": its input)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


def conv_gemm(shape: ConvShape) -> tuple[int, int, int]:
    """(M, N, K) per group of a conv."""
    m = shape.batch * shape.out_h * shape.out_w
    n = shape.out_channels // shape.groups
    k = (shape.in_channels // shape.groups) * shape.kernel_h * shape.kernel_w
    return m, n, k
