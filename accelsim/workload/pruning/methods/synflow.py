"""SynFlow (Tanaka et al. 2020): iterative, data-free pruning that avoids layer collapse."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.workload.pruning.methods.base import Method, check_layers, register_method
from accelsim.workload.pruning.training import DigitsData, split_batch


@register_method("synflow")
@dataclass(frozen=True)
class SynFlow(Method):
    """SynFlow (Tanaka et al. 2020), data-free.  On a float64 copy of the model with every parameter
    and buffer replaced by its absolute value (eval mode), feed an all-ones input of batch 1, take
    R = sum of the outputs and score |theta * dR/dtheta| for the layers' weights.  ``prune``
    iterates ``iterations`` times (paper: n = 100, the default; smaller n is faster and collapses
    layers more easily), pruning to density rho ** (k / n) at step k with the weights already
    pruned set to zero.  Global by default, as in the paper.

    The caller's model is never modified: the sign flip happens on a private copy, so the original
    weights (and signs) are untouched afterwards.  The input shape comes from ``input_shape``, else
    ``data``, else ``model.input_shape``, else the first layer if it is linear.
    """

    iterations: int = 100
    input_shape: tuple[int, ...] | None = None
    scope: str = "global"

    def __post_init__(self) -> None:
        super().__post_init__()
        if int(self.iterations) < 1:
            raise AccelsimError(f"synflow: iterations must be >= 1, got {self.iterations!r}")

    def _input_shape(self, model, data) -> tuple[int, ...]:
        if self.input_shape is not None:
            return tuple(int(d) for d in self.input_shape)
        if isinstance(data, DigitsData):
            return data.input_shape
        if data is not None:
            return tuple(split_batch(data)[0].shape[1:])
        if getattr(model, "input_shape", None) is not None:
            return tuple(model.input_shape)
        first = next((m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)), None)
        if isinstance(first, nn.Linear):
            return (first.in_features,)
        raise AccelsimError("synflow needs the input shape: pass input_shape=(C, H, W) or data")

    def _linearized(self, model, layers, data):
        """A float64 |.| copy of the model, its layers, and the all-ones input."""
        qual = {id(m): n for n, m in model.named_modules()}
        for name, m in layers.items():
            if id(m) not in qual:
                raise AccelsimError(f"layer {name!r} is not a module of the model")
        clone = copy.deepcopy(model).double().eval()
        with torch.no_grad():
            for t in clone.state_dict().values():
                t.abs_()
        clayers = {name: clone.get_submodule(qual[id(m)]) for name, m in layers.items()}
        for m in clayers.values():
            m.weight.requires_grad_(True)
        return clone, clayers, torch.ones((1, *self._input_shape(model, data)), dtype=torch.float64)

    @staticmethod
    def _score(clone, clayers, ones) -> dict[str, np.ndarray]:
        weights = [m.weight for m in clayers.values()]
        r = clone(ones).sum()
        grads = torch.autograd.grad(r, weights, allow_unused=True)
        return {
            n: (np.zeros(tuple(w.shape)) if g is None else (g * w).detach().abs().cpu().numpy())
            for n, w, g in zip(clayers, weights, grads, strict=True)
        }

    def scores(self, model, layers, *, seed, data=None):
        """One SynFlow pass (no pruning): the score of the first iteration."""
        check_layers(layers)
        return self._score(*self._linearized(model, layers, data))

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        clone, clayers, ones = self._linearized(model, layers, data)
        density, n = 1.0 - sparsity, int(self.iterations)
        masks = None
        for k in range(1, n + 1):
            if masks is not None:
                with torch.no_grad():
                    for name, m in clayers.items():
                        m.weight.mul_(torch.from_numpy(masks[name]).to(torch.float64))
            scores = self._score(clone, clayers, ones)
            masks = self._masks(pattern, scores, layers, 1.0 - density ** (k / n))
        return masks
