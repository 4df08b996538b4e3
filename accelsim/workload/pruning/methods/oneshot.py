"""One-shot methods: score every weight once, mask once.  Data-free: ``magnitude``, ``random``,
``l1_filter``; on training batches: ``taylor``, ``snip`` (the package docstring has the table)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.workload.pruning.methods.base import Method, register_method
from accelsim.workload.pruning.training import DigitsData, split_batch


def _weights_np(layers: Mapping[str, nn.Module]) -> dict[str, np.ndarray]:
    return {n: m.weight.detach().cpu().double().numpy() for n, m in layers.items()}


def _needs(data, method: str):
    if data is None:
        raise AccelsimError(
            f"method {method!r} needs data: a DigitsData (pruning.training.load_digits_split()) "
            "or an (inputs, labels) batch"
        )
    return data


def _loss_grads(model: nn.Module, layers: Mapping[str, nn.Module], x, y) -> dict[str, np.ndarray]:
    """dL/dw (cross entropy) for every layer's weight, without touching ``.grad``."""
    weights = [m.weight for m in layers.values()]
    flags = [w.requires_grad for w in weights]
    for w in weights:
        w.requires_grad_(True)
    try:
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    finally:
        for w, f in zip(weights, flags, strict=True):
            w.requires_grad_(f)
    return {
        n: (np.zeros(tuple(w.shape)) if g is None else g.detach().cpu().double().numpy())
        for (n, w), g in zip(((n, m.weight) for n, m in layers.items()), grads, strict=True)
    }


# ---------------------------------------------------------------- data-free one-shot methods


@register_method("magnitude")
@dataclass(frozen=True)
class Magnitude(Method):
    """|w|.  Layer-wise by default: global magnitude on untrained weights collapses layers."""

    layerwise: ClassVar[bool] = True

    def scores(self, model, layers, *, seed, data=None):
        # float32 is exact for |w| of float32 weights and halves the time on ResNet-50.
        return {n: np.abs(m.weight.detach().cpu().numpy()) for n, m in layers.items()}


@register_method("random")
@dataclass(frozen=True)
class Random(Method):
    """Uniform random scores, reproducible: the stream depends only on (seed, layer name)."""

    layerwise: ClassVar[bool] = True

    def scores(self, model, layers, *, seed, data=None):
        return {
            n: np.random.default_rng([int(seed), zlib.crc32(n.encode())]).random(tuple(m.weight.shape))
            for n, m in layers.items()
        }


@register_method("l1_filter")
@dataclass(frozen=True)
class L1Filter(Method):
    """Li et al. 2017: the L1 norm of each filter (output channel / row), broadcast to every weight
    of that filter.  Pair it with the ``filter`` pattern to drop whole filters."""

    def scores(self, model, layers, *, seed, data=None):
        out = {}
        for n, w in _weights_np(layers).items():
            norms = np.abs(w).reshape(w.shape[0], -1).sum(axis=1)
            out[n] = np.broadcast_to(norms.reshape((-1,) + (1,) * (w.ndim - 1)), w.shape).copy()
        return out


# ---------------------------------------------------------------- gradient-based one-shot methods


@register_method("taylor")
@dataclass(frozen=True)
class Taylor(Method):
    """First-order Taylor importance |w * dL/dw| (Molchanov et al.), averaged over ``batches``
    training batches of ``batch_size`` (|.| taken per batch, so batches do not cancel).  With
    ``batches=1`` it is SNIP's score on that batch.  On a well-fitted model the gradients of the
    classes already fitted are tiny, so layer-wise it can empty whole units (see the benchmark)."""

    batches: int = 4
    batch_size: int = 128

    def scores(self, model, layers, *, seed, data=None):
        data = _needs(data, self.name)
        if isinstance(data, DigitsData):
            g = torch.Generator().manual_seed(int(seed))
            order = torch.randperm(len(data.y_train), generator=g)
            chunks = [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(self.batches)]
            batches = [(data.x_train[c], data.y_train[c]) for c in chunks if len(c)]
        else:
            batches = [split_batch(data)]
        weights = _weights_np(layers)
        total = {n: np.zeros_like(w) for n, w in weights.items()}
        for x, y in batches:
            for n, g in _loss_grads(model, layers, x, y).items():
                total[n] += np.abs(weights[n] * g)
        return {n: t / len(batches) for n, t in total.items()}


@register_method("snip")
@dataclass(frozen=True)
class Snip(Method):
    """SNIP (Lee et al. 2019): connection sensitivity |g * w| on one batch, one shot, global."""

    batch_size: int = 256
    scope: str = "global"

    def scores(self, model, layers, *, seed, data=None):
        data = _needs(data, self.name)
        x, y = data.batch(self.batch_size, seed=seed) if isinstance(data, DigitsData) else split_batch(data)
        weights = _weights_np(layers)
        return {n: np.abs(weights[n] * g) for n, g in _loss_grads(model, layers, x, y).items()}
