"""Pruning methods: how important each weight is, and (for iterative / training methods) the loop
that turns importance into keep-masks.  See reference/sparsity.md section 2.

``METHODS`` maps a name to a frozen-dataclass *instance*; its fields are the method's parameters
and ``prune(..., **params)`` overrides them for one call.  Every method has

* ``scores(model, layers, *, seed, data=None) -> {name: float64 array of the weight's shape}``,
  higher = more important (keep).  ``scores`` never changes the model.
* ``prune(model, layers, pattern, sparsity, *, seed, data=None, **params) -> {name: bool keep-mask}``
  using ``pattern.mask(scores, sparsity, kind=...)`` (a Pattern from accelsim.workload.pruning.patterns).
  One-shot methods score once; synflow iterates on a copy; agp / imp / drop train ``model`` in place
  (see methods_iterative.py) and leave it fine-tuned with the pruned weights at zero.

``layers`` maps a name to a module with a 2-D (linear) or 4-D (conv) ``weight`` that belongs to
``model``.  ``data`` is a ``DigitsData`` (training.py) or an ``(inputs, labels)`` batch.  The target
goes through ``pattern.target_for`` first (``nm2:4`` is 50 % whatever the request).  Class flags
tell a caller what a method needs: ``needs_data``, ``trains`` (small models only), ``iterative``.

Scope (field ``scope``): ``"layer"`` prunes every layer to the target; ``"global"`` ranks all
weights of all layers together, keeps the top ``(1 - sparsity)`` of them (one threshold), and
gives each layer the sparsity that threshold implies, optionally capped by
``max_layer_sparsity``.  With the unstructured pattern the global mask is exactly that threshold
and **may empty a whole layer** (layer collapse, Tanaka et al. 2020) -- that is the method's real
result, not a bug; set ``max_layer_sparsity`` (e.g. 0.98) to forbid it.  With any other pattern
the per-layer sparsities are handed to ``pattern.mask`` (which keeps >= 1 group), and a layer
allotted 100 % is emptied.

Method                 data      default scope  notes
---------------------  --------  -------------  ------------------------------------------------
magnitude              no        layer          |w|
random                 no        layer          seeded uniform; reproducible per (seed, layer name)
l1_filter              no        layer          L1 norm of each filter (output row), broadcast
taylor                 batch     layer          mean over ``batches`` batches of |w * dL/dw|
snip                   batch     global         |g * w| on one batch, one shot (Lee et al. 2019)
synflow                no        global         iterative, data-free (Tanaka et al. 2020)
agp / imp / drop       DigitsData  layer        train the model -- small models only
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError, did_you_mean
from accelsim.registry import METHODS
from accelsim.workload.pruning.training import DigitsData, split_batch

SCOPES = ("layer", "global")


def register_method(name: str):
    """Class decorator: register an instance with default parameters under ``name``."""

    def deco(cls):
        METHODS.add(name, cls())
        return cls

    return deco


# ---------------------------------------------------------------- layers, kinds, masks


def layer_kind(module: nn.Module, name: str = "") -> str:
    """"conv", "depthwise" or "linear" for a module with a 4-D or 2-D weight."""
    w = getattr(module, "weight", None)
    if not isinstance(w, torch.Tensor) or w.dim() not in (2, 4):
        raise AccelsimError(f"layer {name!r}: {type(module).__name__} has no 2-D or 4-D weight to prune")
    if w.dim() == 2:
        return "linear"
    groups = getattr(module, "groups", 1)
    return "depthwise" if groups > 1 and groups == getattr(module, "in_channels", -1) else "conv"


def check_layers(layers: Mapping[str, nn.Module]) -> None:
    if not layers:
        raise AccelsimError("no layers to prune")
    for name, module in layers.items():
        layer_kind(module, name)


def allocate_global(
    scores: Mapping[str, np.ndarray], sparsity: float, max_layer_sparsity: float | None = None
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """One threshold over all layers: the ``round((1 - sparsity) * N)`` highest scores are kept.

    With ``max_layer_sparsity`` every layer first keeps its own top ``ceil((1 - cap) * n)``; the rest
    of the budget goes to the globally highest remaining scores.  Returns (per-layer sparsity,
    per-layer unstructured keep-mask of exactly that threshold).
    """
    names = list(scores)
    flat = [np.asarray(scores[n], dtype=np.float64).ravel() for n in names]
    sizes = np.array([f.size for f in flat])
    total = int(sizes.sum())
    keep_total = int(round((1.0 - float(sparsity)) * total))
    forced = [np.zeros(f.size, dtype=bool) for f in flat]
    if max_layer_sparsity is not None:
        for f, keep in zip(flat, forced, strict=True):
            k = min(f.size, int(np.ceil((1.0 - float(max_layer_sparsity)) * f.size - 1e-9)))
            if k > 0:
                keep[np.argpartition(-f, k - 1)[:k]] = True
    everything = np.concatenate(flat)
    chosen = np.concatenate(forced)
    rest = keep_total - int(chosen.sum())
    if rest > 0:
        candidates = np.flatnonzero(~chosen)
        rest = min(rest, candidates.size)
        top = np.argpartition(-everything[candidates], rest - 1)[:rest]
        chosen[candidates[top]] = True
    masks, sparsities, start = {}, {}, 0
    for name, f in zip(names, flat, strict=True):
        m = chosen[start : start + f.size]
        start += f.size
        masks[name] = m.reshape(np.shape(scores[name]))
        sparsities[name] = 1.0 - m.sum() / f.size if f.size else 0.0
    return sparsities, masks


def _is_unstructured(pattern) -> bool:
    return getattr(pattern, "name", None) == "unstructured"


def masks_from_scores(
    pattern,
    scores: Mapping[str, np.ndarray],
    layers: Mapping[str, nn.Module],
    sparsity: float,
    *,
    scope: str = "layer",
    max_layer_sparsity: float | None = None,
) -> dict[str, np.ndarray]:
    """Keep-masks for ``sparsity`` from scores, per layer or with one global threshold (see module doc)."""
    if scope not in SCOPES:
        raise AccelsimError(f"scope {scope!r} is not one of {', '.join(SCOPES)}{did_you_mean(scope, SCOPES)}")
    if scope == "layer":
        per_layer = {name: float(sparsity) for name in scores}
        if max_layer_sparsity is not None:
            per_layer = {n: min(s, float(max_layer_sparsity)) for n, s in per_layer.items()}
    else:
        per_layer, exact = allocate_global(scores, sparsity, max_layer_sparsity)
        if _is_unstructured(pattern):
            return exact
    out = {}
    for name, s in per_layer.items():
        shape = np.shape(scores[name])
        if s >= 1.0:
            out[name] = np.zeros(shape, dtype=bool)
        elif s <= 0.0:
            out[name] = np.ones(shape, dtype=bool)
        else:
            kind = layer_kind(layers[name], name)
            m = np.asarray(pattern.mask(scores[name], s, kind=kind, name=name), dtype=bool)
            if m.shape != shape:
                raise AccelsimError(f"pattern returned a mask of shape {m.shape} for {name!r} {shape}")
            out[name] = m
    return out


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


# ---------------------------------------------------------------- the base class


@dataclass(frozen=True)
class Method:
    """Base: fields are parameters; ``prune(**params)`` overrides them for one call."""

    scope: str = "layer"
    max_layer_sparsity: float | None = None

    name: ClassVar[str] = ""
    needs_data: ClassVar[bool] = False
    trains: ClassVar[bool] = False  # trains the model in place (small models only)
    iterative: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise AccelsimError(
                f"method {self.name!r}: scope {self.scope!r} is not one of {', '.join(SCOPES)}"
                + did_you_mean(self.scope, SCOPES)
            )
        cap = self.max_layer_sparsity
        if cap is not None and not 0.0 <= cap <= 1.0:
            raise AccelsimError(f"method {self.name!r}: max_layer_sparsity {cap!r} must be in [0, 1]")

    def params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def with_params(self, **params) -> Method:
        known = [f.name for f in dataclasses.fields(self)]
        for key in params:
            if key not in known:
                raise AccelsimError(
                    f"method {self.name!r} has no parameter {key!r}{did_you_mean(key, known)}; "
                    f"known: {', '.join(known)}"
                )
        return dataclasses.replace(self, **params) if params else self

    def scores(self, model, layers, *, seed: int, data=None) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def prune(self, model, layers, pattern, sparsity, *, seed: int, data=None, **params) -> dict:
        check_layers(layers)
        method = self.with_params(**params)
        target = float(sparsity)
        if hasattr(pattern, "target_for"):  # e.g. nm2:4 is 50 % whatever the request
            target = pattern.target_for(target)
        return method._prune(model, layers, pattern, target, seed=seed, data=data)

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        """One shot: score once, mask once."""
        scores = self.scores(model, layers, seed=seed, data=data)
        return masks_from_scores(pattern, scores, layers, sparsity, scope=self.scope,
                                 max_layer_sparsity=self.max_layer_sparsity)


# ---------------------------------------------------------------- data-free one-shot methods


@register_method("magnitude")
@dataclass(frozen=True)
class Magnitude(Method):
    """|w|.  Layer-wise by default: global magnitude on untrained weights collapses layers."""

    name: ClassVar[str] = "magnitude"

    def scores(self, model, layers, *, seed, data=None):
        # float32 is exact for |w| of float32 weights and halves the time on ResNet-50.
        return {n: np.abs(m.weight.detach().cpu().numpy()) for n, m in layers.items()}


@register_method("random")
@dataclass(frozen=True)
class Random(Method):
    """Uniform random scores, reproducible: the stream depends only on (seed, layer name)."""

    name: ClassVar[str] = "random"

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

    name: ClassVar[str] = "l1_filter"

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

    name: ClassVar[str] = "taylor"
    needs_data: ClassVar[bool] = True

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

    name: ClassVar[str] = "snip"
    needs_data: ClassVar[bool] = True

    def scores(self, model, layers, *, seed, data=None):
        data = _needs(data, self.name)
        x, y = data.batch(self.batch_size, seed=seed) if isinstance(data, DigitsData) else split_batch(data)
        weights = _weights_np(layers)
        return {n: np.abs(weights[n] * g) for n, g in _loss_grads(model, layers, x, y).items()}


# synflow and the training methods (agp, imp, drop) register themselves here.
import accelsim.workload.pruning.methods_iterative  # noqa: E402,F401
import accelsim.workload.pruning.methods_synflow  # noqa: E402,F401
