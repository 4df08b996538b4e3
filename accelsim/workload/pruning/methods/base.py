"""The base class of every pruning method (``Method``: parameters as fields, ``prune`` = score then
mask) and what methods share: layer kinds, the global threshold, masks from scores."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError, did_you_mean
from accelsim.registry import METHODS
from accelsim.spec.recipe import SCOPES


def register_method(name: str):
    """Class decorator: name the class ``name`` and register an instance with default parameters."""

    def deco(cls):
        cls.name = name
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
    arrays = [np.asarray(scores[n], dtype=np.float64) for n in names]  # each read once (wanda computes it)
    flat = [a.ravel() for a in arrays]
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
    for name, f, a in zip(names, flat, arrays, strict=True):
        m = chosen[start : start + f.size]
        start += f.size
        masks[name] = m.reshape(a.shape)
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
        cap = 1.0 if max_layer_sparsity is None else float(max_layer_sparsity)
        per_layer = {name: min(float(sparsity), cap) for name in scores}
    else:
        per_layer, exact = allocate_global(scores, sparsity, max_layer_sparsity)
        if _is_unstructured(pattern):
            return exact

    def one(name: str) -> np.ndarray:
        s = per_layer[name]
        score = scores[name]  # read once: a method's scores may be computed as they are read (wanda)
        shape = np.shape(score)
        if s >= 1.0:
            return np.zeros(shape, dtype=bool)
        if s <= 0.0:
            return np.ones(shape, dtype=bool)
        m = np.asarray(pattern.mask(score, s, kind=layer_kind(layers[name], name), name=name), dtype=bool)
        if m.shape != shape:
            raise AccelsimError(f"pattern returned a mask of shape {m.shape} for {name!r} {shape}")
        return m

    return {name: one(name) for name in per_layer}


# ---------------------------------------------------------------- the base class


@dataclass(frozen=True)
class Method:
    """Base: fields are parameters; ``prune(**params)`` overrides them for one call."""

    scope: str = "layer"
    max_layer_sparsity: float | None = None

    name: ClassVar[str] = ""
    trains: ClassVar[bool] = False  # trains the model in place (small models only)
    # scores a layer from its own weights and inputs alone (a model built one part at a time can use it)
    layerwise: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise AccelsimError(
                f"method {self.name!r}: scope {self.scope!r} is not one of {', '.join(SCOPES)}"
                + did_you_mean(self.scope, SCOPES)
            )
        cap = self.max_layer_sparsity
        if cap is not None and not 0.0 <= cap <= 1.0:
            raise AccelsimError(f"method {self.name!r}: max_layer_sparsity {cap!r} must be in [0, 1]")

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

    def _masks(self, pattern, scores, layers, sparsity):
        return masks_from_scores(pattern, scores, layers, sparsity, scope=self.scope,
                                 max_layer_sparsity=self.max_layer_sparsity)

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        """One shot: score once, mask once."""
        return self._masks(pattern, self.scores(model, layers, seed=seed, data=data), layers, sparsity)
