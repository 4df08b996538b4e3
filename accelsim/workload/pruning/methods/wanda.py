"""Wanda (Sun et al. 2023, "A simple and effective pruning approach for large language models"):
score each weight by |W_ij| * ||X_j||_2, the norm of the input feature it multiplies over a
calibration batch, and prune without any weight update.  Used for LLMs with the unstructured and
the 2:4 pattern (``nm2:4``); any accelsim pattern takes its scores.

- linear: X_j is input feature j over every token of the batch (all leading dims);
- conv: X_j is column j of the im2col matrix (input channel, kernel row, kernel column) over every
  output position: F.unfold of the layer's input; a grouped conv's filters see their group's columns.

Calibration data: ``data`` is a DigitsData / (inputs, labels) batch (its inputs), or an input
tensor; with none, ``calibration`` seeded N(0, 1) samples of ``input_shape`` (a method parameter;
the zoo's own shape when pruned through a recipe) -- fair for a simulator's masks, not for accuracy.
One forward pass, hooks on the pruned layers only, no gradients; the model is not changed.

Comparison group: the whole layer (``scope="layer"``, like magnitude).  The paper compares within
each output row; accelsim's scopes are layer and global, so the per-row variant is not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from accelsim.errors import AccelsimError
from accelsim.workload.pruning.methods.base import Method, register_method
from accelsim.workload.pruning.training import DigitsData, split_batch


def _inputs(data, seed: int, calibration: int, input_shape) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, DigitsData | tuple | list):
        return split_batch(data)[0]
    if data is None and input_shape:
        g = torch.Generator().manual_seed(int(seed))
        return torch.randn((int(calibration), *input_shape), generator=g)
    raise AccelsimError("method 'wanda' needs calibration inputs: data (a DigitsData, an (inputs, labels) "
                        "batch or an input tensor) or the method parameter input_shape")


def _column_norms(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Sum over samples and positions of x_j^2, per column j of the layer's GEMM input."""
    x = x.detach().double()
    if isinstance(module, nn.Conv2d):
        padding = module.padding
        if padding == "same":  # symmetric: the odd extra pad PyTorch puts bottom/right is left out
            padding = tuple(d * (k - 1) // 2
                            for d, k in zip(module.dilation, module.kernel_size, strict=True))
        elif padding == "valid":
            padding = 0
        cols = F.unfold(x if x.dim() == 4 else x[None], module.kernel_size, dilation=module.dilation,
                        padding=padding, stride=module.stride)  # (B, C * kh * kw, L), channel-major
        return cols.pow(2).sum(dim=(0, 2))
    return x.reshape(-1, x.shape[-1]).pow(2).sum(dim=0)


CHUNK_SAMPLES = 16  # calibration samples per forward pass (the norms are sums over samples)


@register_method("wanda")
@dataclass(frozen=True)
class Wanda(Method):
    """|w| x ||x||_2 of the input feature it multiplies, on a calibration batch (no update)."""

    calibration: int = 16
    input_shape: tuple[int, ...] = ()

    layerwise: ClassVar[bool] = True

    def calibration_batch(self, data, seed: int) -> torch.Tensor:
        """The model's calibration input (stream_build runs it through the parts one at a time)."""
        return _inputs(data, seed, self.calibration, tuple(self.input_shape))

    def scores(self, model, layers, *, seed, data=None):
        x = self.calibration_batch(data, seed)
        sums: dict[str, torch.Tensor] = {}

        def hook(name):
            def record(module, args, _out):
                norms = _column_norms(module, args[0])
                sums[name] = norms if name not in sums else sums[name] + norms
            return record

        handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
        training = {m: m.training for m in model.modules()}
        model.eval()
        try:
            x = x.to(next(model.parameters()).dtype) if x.is_floating_point() else x
            with torch.no_grad():  # a few samples at a time: a decoder's KV cache is copied per sample
                for chunk in x.split(CHUNK_SAMPLES):
                    model(chunk)
        finally:
            for h in handles:
                h.remove()
            for m, mode in training.items():
                m.training = mode
        for name in layers:
            if name not in sums:
                raise AccelsimError(f"method 'wanda': layer {name!r} did not run on the calibration batch")
        return _Scores(layers, {name: sums[name].sqrt() for name in layers})


class _Scores(Mapping):
    """|W| x ||X|| per layer name, computed when read: a 7B model's layer scores (float64) are never
    all held at once (masks_from_scores reads one layer at a time)."""

    def __init__(self, layers, norms: dict[str, torch.Tensor]):
        self.layers, self.norms = layers, norms

    def __getitem__(self, name: str) -> np.ndarray:
        module, norm = self.layers[name], self.norms[name].double()
        w = module.weight.detach().cpu()
        if w.ndim == 4:  # (out, C/g, kh, kw); the norms are (C * kh * kw) channel-major
            groups = getattr(module, "groups", 1)
            view = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
            product = torch.mul(view.abs(), norm.reshape(groups, 1, *w.shape[1:]))
            return product.reshape(w.shape).numpy()
        # |w| is exact in w's dtype; the product is taken in float64 (type promotion), in two passes
        return torch.mul(w.abs(), norm).numpy()

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)
