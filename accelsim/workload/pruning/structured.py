"""Structured (unit / filter) pruning as a real smaller dense model -- what "Rethinking the Value of
Network Pruning" (Liu et al. 2019) compares: the pruned-and-fine-tuned model against the same
smaller architecture trained from scratch.

* ``l1_keep(model, ratio)`` -- per prunable layer (the last, the classes, excepted), the indices of
  the ``max(1, round((1 - ratio) * units))`` filters / neurons with the largest L1 norm (Li et al.
  2017), in ascending order.
* ``unit_masks(model, keep)`` -- the keep-masks that remove those units: their rows in the layer
  and their input columns in the next prunable layer (after a flatten a channel owns H x W
  consecutive columns).  A masked model computes exactly what ``shrink`` builds.
* ``shrink(model, keep)`` -- a physically smaller copy: each layer holds only the kept rows and the
  next one only the kept columns (weights and biases copied).
* ``slim_model(name, widths, seed=)`` -- the zoo model ``name`` at smaller widths ({layer: units}),
  freshly initialised (the "from scratch" model), e.g. for a ``file.py:function`` recipe.

The layers must run in registration order, each feeding the next (the digits MLP and LeNet-5; no
branches).  Imports torch (workload floor).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if not layers:
        raise AccelsimError("model has no Conv2d/Linear layer")
    for n, m in layers:
        if isinstance(m, nn.Conv2d) and m.groups != 1:
            raise AccelsimError(f"layer {n!r}: grouped convs are not supported by unit pruning")
    return layers


def _per_unit(units: int, next_in: int, name: str) -> int:
    if units == 0 or next_in % units:
        raise AccelsimError(f"layer {name!r}: {units} units do not divide the next layer's {next_in} inputs")
    return next_in // units


def l1_keep(model: nn.Module, ratio: float) -> dict[str, np.ndarray]:
    if not 0.0 <= float(ratio) < 1.0:
        raise AccelsimError(f"ratio {ratio!r} must be in [0, 1)")
    chain = _chain(model)
    out = {}
    for name, m in chain[:-1]:
        w = m.weight.detach().abs().reshape(m.weight.shape[0], -1).sum(dim=1).numpy()
        k = max(1, int(round((1.0 - float(ratio)) * w.size)))
        out[name] = np.sort(np.argsort(-w, kind="stable")[:k])
    return out


def unit_masks(model: nn.Module, keep: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    chain = _chain(model)
    masks = {n: np.ones(tuple(m.weight.shape), dtype=bool) for n, m in chain}
    for i, (name, m) in enumerate(chain[:-1]):
        if name not in keep:
            continue
        units = m.weight.shape[0]
        dropped = np.setdiff1d(np.arange(units), keep[name])
        masks[name][dropped] = False
        nxt, nm = chain[i + 1]
        per = _per_unit(units, nm.weight.shape[1], name)
        cols = (dropped[:, None] * per + np.arange(per)[None, :]).ravel()
        masks[nxt][:, cols] = False
    return masks


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)


def _smaller(m: nn.Module, rows: np.ndarray, cols: np.ndarray) -> nn.Module:
    bias = m.bias is not None
    if isinstance(m, nn.Linear):
        new = nn.Linear(len(cols), len(rows), bias=bias)
    else:
        new = nn.Conv2d(len(cols), len(rows), m.kernel_size, stride=m.stride, padding=m.padding,
                        dilation=m.dilation, bias=bias, padding_mode=m.padding_mode)
    with torch.no_grad():
        new.weight.copy_(m.weight[rows][:, cols])
        if bias:
            new.bias.copy_(m.bias[rows])
    return new


def shrink(model: nn.Module, keep: Mapping[str, np.ndarray]) -> nn.Module:
    """A physically smaller copy of ``model`` holding only the kept units (see the module docstring)."""
    chain = _chain(model)
    out = copy.deepcopy(model)
    cols = np.arange(chain[0][1].weight.shape[1])
    for i, (name, m) in enumerate(chain):
        units = m.weight.shape[0]
        rows = np.asarray(keep.get(name, np.arange(units)))
        _replace(out, name, _smaller(m, torch.as_tensor(rows), torch.as_tensor(cols)))
        if i + 1 < len(chain):
            per = _per_unit(units, chain[i + 1][1].weight.shape[1], name)
            cols = (rows[:, None] * per + np.arange(per)[None, :]).ravel()
    return out


def slim_model(name: str, widths: Mapping[str, int], *, seed: int = 0) -> nn.Module:
    """The zoo model ``name`` with ``widths`` units in the named layers, freshly initialised."""
    from accelsim.workload.models import build_model

    model, _ = build_model(name, seed=seed)
    chain = dict(_chain(model))
    unknown = [n for n in widths if n not in chain]
    if unknown:
        raise AccelsimError(f"{name}: no layer {unknown}; layers: {', '.join(chain)}")
    small = shrink(model, {n: np.arange(int(k)) for n, k in widths.items()})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for m in small.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                m.reset_parameters()
    return small.eval()
