"""Apply a pattern to a torch model: choose the layers, score the weights, build and register masks.

Layer rules (what ``prune_model`` does with each Conv2d / Linear, in registration order):

* ``exclude``: fnmatch globs on qualified names (``fc``, ``*.downsample.*``); matched layers stay
  dense.  A glob that matches no layer is an error (typos do not pass silently).
* ``first_conv``: the first Conv2d in registration order: ``dense`` (default; most recipes and
  ASP keep it dense), ``unstructured``, or ``pattern`` (treated like any other layer).
* ``rule_1x1`` (convs with a 1x1 kernel) and ``rule_fc`` (Linear layers):
  ``pattern`` (default) -- the recipe's pattern, which falls back by its own ``fallback`` where it
  has no structure (window/kernel/vector -> unstructured, N:M with C % M != 0 -> dense, ...);
  ``error`` -- the pattern, and a ConfigError naming the layer if it does not fit;
  ``unstructured`` / ``dense`` -- forced for those layers;
  ``nm`` -- N:M along C with M = pattern.nm_m and N = round((1 - target) * M) (dense if C % M != 0).
* ``scope``: ``layer`` -- every pruned layer gets the target; ``global`` -- one threshold on the
  element scores of all pruned layers together, each layer capped at ``max_layer_sparsity``
  (surplus redistributed), then the pattern is applied per layer at the sparsity that came out.

Methods: ``METHODS.get(method)`` (accelsim.workload.pruning.methods); its
``prune(model, layers, pattern, sparsity, *, seed, data, scope=, max_layer_sparsity=, **params)``
builds the masks (it applies the scope; ``scope=None`` keeps the method's own default).  When the
rules give some layers a different pattern, ``pattern`` is a ``LayerPatterns`` whose
``mask(..., name=layer)`` dispatches on the layer name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from accelsim.errors import ConfigError, did_you_mean
from accelsim.registry import METHODS
from accelsim.spec.recipe import FIRST_CONV_RULES, SCOPES, check_sparsity
from accelsim.spec.recipe import LAYER_RULES as RULES
from accelsim.workload.pruning.methods.base import layer_kind
from accelsim.workload.pruning.patterns.base import NM, Pattern, Unstructured, achieved, make_pattern


@dataclass(frozen=True)
class LayerPrune:
    """What happened to one prunable layer.  ``pattern`` is the spec actually used ('dense' if the
    layer was left unpruned); ``target`` is that layer's target (0 when dense)."""

    name: str
    kind: str
    shape: tuple[int, ...]
    pattern: str
    target: float
    achieved: float
    nonzeros: int
    size: int
    note: str = ""


@dataclass(frozen=True, eq=False)
class PruneResult:
    pattern: str
    method: str
    scope: str
    target: float
    layers: tuple[LayerPrune, ...]
    masks: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def achieved(self) -> float:
        """Sparsity over all prunable layers (dense ones included)."""
        size = sum(lp.size for lp in self.layers)
        return 0.0 if size == 0 else 1.0 - sum(lp.nonzeros for lp in self.layers) / size


@dataclass(frozen=True, eq=False)
class LayerPatterns(Pattern):
    """Pattern per layer name (None = dense), for iterative methods when rules differ by layer."""

    by_name: Mapping[str, Pattern | None] = field(default_factory=dict)
    name: ClassVar[str] = "per-layer"

    def mask(self, scores: np.ndarray, sparsity: float, *, kind: str, name: str = "") -> np.ndarray:
        if name not in self.by_name:
            raise ConfigError("LayerPatterns", [f"mask() needs name= one of the pruned layers, got {name!r}"])
        pattern = self.by_name[name]
        if pattern is None:
            return np.ones(np.shape(scores), dtype=bool)
        return pattern.mask(scores, sparsity, kind=kind, name=name)


# ---------------------------------------------------------------- layers and masks


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Conv2d and Linear modules by qualified name, in registration order."""
    return {name: mod for name, mod in model.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))}


def apply_masks(model: nn.Module, masks: Mapping[str, np.ndarray], *, register: bool = True) -> None:
    """Zero the masked weights in place and register each mask with torch.nn.utils.prune
    (``weight_orig`` + ``weight_mask`` buffer, which the tracer reads).  A layer pruned before keeps
    its earlier mask too: the registered mask is the AND of both (torch's PruningContainer).
    ``register=False`` only zeroes the weights (the tracer reads the same mask from their zeros, as
    no kept weight of a zoo model is exactly 0.0): a 7B decoder's layers then need no second copy."""
    layers = prunable_layers(model)
    for name, mask in masks.items():
        if name not in layers:
            raise ConfigError("masks", [f"{name!r} is not a Conv2d/Linear layer of the model"
                                        f"{did_you_mean(name, layers)}"])
        module = layers[name]
        keep = torch.as_tensor(np.asarray(mask, dtype=bool))
        if tuple(keep.shape) != tuple(module.weight.shape):
            raise ConfigError("masks", [f"{name}: mask shape {tuple(keep.shape)} != weight shape "
                                        f"{tuple(module.weight.shape)}"])
        pruned = hasattr(module, "weight_mask") and hasattr(module, "weight_orig")
        if not register and not pruned:
            with torch.no_grad():
                weight = module.weight.detach()
                if weight.is_contiguous() and weight.device.type == "cpu" and weight.dtype in _NUMPY_FLOATS:
                    array = weight.numpy()  # one pass: numpy multiplies by the bools in place
                    np.multiply(array, np.asarray(mask, dtype=bool), out=array)
                else:
                    weight.masked_fill_(~keep, 0.0)
            continue
        param = module.weight_orig if pruned else module.weight
        keep = _as_dtype(keep, param.dtype)
        with torch.no_grad():
            param.mul_(keep)
        if pruned:  # torch combines the masks (PruningContainer): the registered mask is old AND new
            torch_prune.custom_from_mask(module, "weight", keep)
        else:
            _custom_from_mask_fresh(module, keep)


_NUMPY_FLOATS = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _as_dtype(keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``keep.to(dtype)``; for the numpy float dtypes converted by numpy, whose large arrays sit on
    huge pages (numpy advises them): 0.05 s instead of 0.2-0.3 s for an 11008 x 4096 mask
    (torch 2.13 here; layer totals in benchmarks/results/prune_speed.md).  Same 0.0 / 1.0 values."""
    if dtype not in _NUMPY_FLOATS or keep.numel() < 1 << 20 or keep.stride() != _c_strides(keep.shape):
        return keep.to(dtype)  # torch keeps the strides (size-1 dimensions' too), numpy would not
    return torch.from_numpy(keep.numpy().astype(_NUMPY_FLOATS[dtype]))


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _custom_from_mask_fresh(module: nn.Module, keep: torch.Tensor) -> None:
    """``torch.nn.utils.prune.custom_from_mask(module, "weight", keep)`` on a module not pruned
    before, step for step (BasePruningMethod.apply), minus its ones_like x mask product: the same
    ``weight_orig`` parameter, ``weight_mask`` buffer (weight dtype), ``weight`` attribute and
    CustomFromMask forward pre-hook, so ``prune.remove`` / ``is_pruned`` and the tracer see no
    difference (tests/test_patterns.py compares the two)."""
    method = torch_prune.CustomFromMask(keep)
    method._tensor_name = "weight"
    orig = module.weight
    module.register_parameter("weight_orig", orig)
    del module._parameters["weight"]
    module.register_buffer("weight_mask", keep)
    module.weight = method.apply_mask(module)
    module.register_forward_pre_hook(method)


# ---------------------------------------------------------------- the plan and prune_model


def _check_choice(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        hint = did_you_mean(value, allowed)
        raise ConfigError(what, [f"{value!r} is not one of {', '.join(allowed)}{hint}"])
    return value


def check_exclude(exclude: Iterable[str], names: list[str], where: str = "exclude") -> None:
    """Every glob of ``exclude`` matches some prunable layer of ``names``, or one ConfigError."""
    unmatched = [g for g in exclude if not any(fnmatch.fnmatchcase(n, g) for n in names)]
    if unmatched:
        prefix = "" if where == "exclude" else "exclude: "
        raise ConfigError(where, [f"{prefix}{g!r} matches no Conv2d/Linear layer{did_you_mean(g, names)}"
                                  for g in unmatched])


def _layer_plans(layers, pattern, *, exclude, first_conv, rule_1x1, rule_fc):
    """name -> (pattern before fitting or None, reason if dense by rule)."""
    check_exclude(exclude, list(layers))
    first = next((n for n, m in layers.items() if isinstance(m, nn.Conv2d)), None)
    plans: dict[str, tuple[Pattern | None, str]] = {}
    for name, mod in layers.items():
        if any(fnmatch.fnmatchcase(name, g) for g in exclude):
            plans[name] = (None, "excluded")
            continue
        if name == first and first_conv != "pattern":
            plans[name] = (None, "first conv kept dense") if first_conv == "dense" else (Unstructured(), "")
            continue
        rule = "pattern"
        if isinstance(mod, nn.Linear):
            rule = rule_fc
        elif mod.kernel_size[0] * mod.kernel_size[1] == 1:
            rule = rule_1x1
        which = "linear layer" if isinstance(mod, nn.Linear) else "1x1 conv"
        plans[name] = {
            "pattern": (pattern, ""),
            "error": (replace(pattern, fallback="error"), ""),
            "unstructured": (Unstructured(), f"{which}: unstructured by rule"),
            "dense": (None, f"{which}: dense by rule"),
            "nm": (NM(n=None, m=pattern.nm_m, fallback="dense"), f"{which}: N:M by rule"),
        }[rule]
    return plans


def prune_model(
    model: nn.Module,
    *,
    pattern: str | Pattern,
    sparsity: float,
    method: str = "magnitude",
    scope: str | None = None,
    exclude: Iterable[str] = (),
    first_conv: str = "dense",
    rule_1x1: str = "pattern",
    rule_fc: str = "pattern",
    seed: int = 0,
    data: Any = None,
    max_layer_sparsity: float | None = None,
    method_params: Mapping[str, Any] | None = None,
    register: bool = True,
) -> PruneResult:
    """Prune ``model`` in place (see the module docstring for every rule) and report per layer;
    ``register`` as apply_masks says."""
    pattern = make_pattern(pattern)
    s = check_sparsity(sparsity)
    target = pattern.target_for(s)
    for value, allowed, what in ((scope or "layer", SCOPES, "scope"),
                                 (first_conv, FIRST_CONV_RULES, "first_conv"),
                                 (rule_1x1, RULES, "rule_1x1"), (rule_fc, RULES, "rule_fc")):
        _check_choice(value, allowed, what)
    if scope == "global" and isinstance(pattern, NM) and pattern.n is not None:
        raise ConfigError("scope", [f"global scope needs a pattern whose density follows the target; "
                                    f"{pattern.spec} fixes it at {1 - target:.0%} (use scope: layer)"])
    layers = prunable_layers(model)
    exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    plans = _layer_plans(layers, pattern, exclude=exclude, first_conv=first_conv,
                         rule_1x1=rule_1x1, rule_fc=rule_fc)
    kinds = {n: layer_kind(m) for n, m in layers.items()}
    resolved: dict[str, tuple[Pattern | None, str]] = {}
    for name, (pat, why) in plans.items():
        if pat is None:
            resolved[name] = (None, why)
        else:
            used, note = pat.resolve(tuple(layers[name].weight.shape), kinds[name], name)
            resolved[name] = (used, "; ".join(x for x in (why, note) if x))
    active = {n: layers[n] for n, (p, _) in resolved.items() if p is not None}

    masks: dict[str, np.ndarray] = {}
    method_notes: Mapping[str, str] = {}
    if active:  # the method applies the scope itself
        main = {n: p for n, (p, _) in plans.items() if n in active}
        arg = pattern if all(p is pattern for p in main.values()) else LayerPatterns(by_name=main)
        params = dict(method_params or {})
        params.update({k: v for k, v in (("scope", scope), ("max_layer_sparsity", max_layer_sparsity))
                       if v is not None})
        out = METHODS.get(method).prune(model, active, arg, target, seed=seed, data=data, **params)
        if set(out) != set(active):
            raise ConfigError(f"method {method!r}", [f"returned masks for {sorted(out)}, expected "
                                                     f"{sorted(active)}"])
        masks = {n: np.asarray(out[n], dtype=bool) for n in active}
        method_notes = getattr(out, "notes", {})  # e.g. the widths pen_ultimate chose
    apply_masks(model, masks, register=register)

    report = []
    for name, mod in layers.items():
        used, note = resolved[name]
        note = "; ".join(x for x in (note, method_notes.get(name, "")) if x)
        mask = masks.get(name)
        size = mod.weight.numel()
        nnz = size if mask is None else int(np.count_nonzero(mask))
        if isinstance(used, NM) and used.n is None:  # the N derived from the target
            used = replace(used, n=used.kept_per_group(target))
        spec = "dense" if used is None else used.spec
        report.append(LayerPrune(
            name=name, kind=kinds[name], shape=tuple(mod.weight.shape), pattern=spec,
            target=0.0 if used is None else float(target),
            achieved=0.0 if mask is None else achieved(mask), nonzeros=nnz, size=size, note=note))
    return PruneResult(pattern=pattern.spec, method=method, scope=scope or "method default", target=target,
                       layers=tuple(report), masks=masks)
