"""(Pen-)Ultimate DNN pruning -- a **reconstruction** of the idea of Riera, Arnau and Gonzalez,
"(Pen-) Ultimate DNN Pruning" (arXiv 1906.02535): one shot, no hand-tuned per-layer schedule.  The
paper's exact importance formula is not available to us; this is a clearly parametrised reading.

Calibration: ``calib_samples`` rows of the *training* split (a ``DigitsData``) or a given
``(inputs, labels)`` batch go once through the unpruned model; forward hooks record every pruned
layer's input and output (pre-activation).  For a conv the samples are all N x H x W positions and
the features its channels.

*How many* (per layer L, both variants): principal component analysis of L's output activations;
``k_L`` = the fewest components whose eigenvalues hold at least ``variance`` of the total variance
(``variance`` is the method's parameter; a layer whose outputs have rank r keeps r units for any
``variance`` < 1).  ``k_L >= 1``.

*Which*: the relative importance of a connection j -> i is its share of neuron i's input drive on
the calibration data, ``c_ij = |w_ij| E|x_j| / sum_j' |w_ij'| E|x_j'|`` (conv: ``x_j`` = input
channel c, the same for every kernel offset).

* ``granularity="unit"`` (structured: neurons / filters): unit j of layer L scores
  ``sum_i c_ij`` over the connections that leave it into the next prunable layer (how much the next
  layer relies on it; conv -> linear through a flatten maps channel c to its H x W columns); the
  top ``k_L`` units are kept, every other unit loses its whole row (filter) in L and its columns
  (input channel) in the next layer when that layer is pruned too.  The masks are structured by
  construction: the recipe's pattern is not used.  A dropped unit outputs only act(bias), a
  constant its zeroed outgoing columns discard -- the model computes what the smaller dense model
  (``k_L`` units) computes.
* ``granularity="connection"``: layer L keeps the share ``k_L / units_L`` of its weights, chosen by
  ``c_ij`` through the recipe's pattern (unstructured, N:M, window, ...).

``keep_output`` (default True): the last prunable layer of the model keeps all its units (the
classes); in the unit variant it still loses the columns of the units dropped before it.  The
``sparsity`` requested is **not** used: ``variance`` decides; the per-layer widths chosen are in the
returned masks' ``notes`` (``PenUltimateMasks``), which prune_model copies into each layer's note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.workload.pruning.methods.base import Method, layer_kind, register_method
from accelsim.workload.pruning.training import DigitsData, split_batch

GRANULARITIES = ("unit", "connection")


class PenUltimateMasks(dict):
    """Keep-masks by layer name, plus ``widths`` {name: (kept units, units)} and ``notes``."""

    widths: dict
    notes: dict


def pca_components(acts: np.ndarray, variance: float) -> int:
    """The fewest principal components of ``acts`` [samples, features] holding >= ``variance`` of
    the total variance (>= 1; all features when the activations are constant)."""
    a = np.asarray(acts, dtype=np.float64)
    a = a - a.mean(axis=0, keepdims=True)
    eig = np.clip(np.linalg.eigvalsh(a.T @ a), 0.0, None)[::-1]
    total = eig.sum()
    if total <= 0.0:
        return 1
    share = np.cumsum(eig) / total
    return int(min(a.shape[1], np.searchsorted(share, float(variance) - 1e-12) + 1))


def _features(t: torch.Tensor) -> np.ndarray:
    """[samples, features]: (N, F) as is; (N, C, H, W) -> (N*H*W, C)."""
    a = t.detach().double().cpu().numpy()
    if a.ndim == 4:
        return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
    return a.reshape(a.shape[0], -1)


def _calibrate(model: nn.Module, modules: dict[str, nn.Module], x: torch.Tensor):
    """{name: (input features [samples, in], output features [samples, out])} from one forward."""
    seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hooks = [m.register_forward_hook(
        lambda mod, inp, out, n=n: seen.__setitem__(n, (_features(inp[0]), _features(out))))
        for n, m in modules.items()]
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    missing = [n for n in modules if n not in seen]
    if missing:
        raise AccelsimError(f"pen_ultimate: layers {missing} were not run by the model's forward")
    return seen


def relative_importance(weight: np.ndarray, mean_abs_input: np.ndarray) -> np.ndarray:
    """c_ij = |w_ij| E|x_j| / sum over i's connections (rows of zero drive stay 0); conv weights
    [K, C, R, S] use E|x_c| for every (r, s)."""
    w = np.abs(np.asarray(weight, dtype=np.float64))
    x = np.asarray(mean_abs_input, dtype=np.float64)
    drive = w * (x.reshape(1, -1, 1, 1) if w.ndim == 4 else x.reshape(1, -1))
    total = drive.reshape(w.shape[0], -1).sum(axis=1).reshape((-1,) + (1,) * (w.ndim - 1))
    return np.divide(drive, total, out=np.zeros_like(drive), where=total > 0)


def _columns_per_unit(units: int, next_in: int) -> int | None:
    """How many input columns of the next layer one unit feeds (1, or H*W after a flatten)."""
    return next_in // units if units and next_in % units == 0 else None


@register_method("pen_ultimate")
@dataclass(frozen=True)
class PenUltimate(Method):
    """(Pen-)Ultimate DNN pruning, a reconstruction (module docstring): PCA picks how many, the
    relative importance of the connections picks which."""

    variance: float = 0.95
    granularity: str = "unit"
    calib_samples: int = 512
    keep_output: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < float(self.variance) <= 1.0:
            raise AccelsimError(f"pen_ultimate: variance must be in (0, 1], got {self.variance!r}")
        if self.granularity not in GRANULARITIES:
            raise AccelsimError(f"pen_ultimate: granularity {self.granularity!r} is not one of "
                                f"{', '.join(GRANULARITIES)}")
        if int(self.calib_samples) < 2:
            raise AccelsimError(f"pen_ultimate: calib_samples must be >= 2, got {self.calib_samples!r}")

    def _inputs(self, data) -> torch.Tensor:
        if data is None:
            raise AccelsimError("method 'pen_ultimate' needs calibration data: a DigitsData "
                                "(pruning.training.load_digits_split()) or an (inputs, labels) batch")
        if isinstance(data, DigitsData):
            return data.x_train[: int(self.calib_samples)]
        return split_batch(data)[0]

    def analyse(self, model, layers, *, data):
        """Per pruned layer: (k_L, units, relative importance c, unit scores) on the calibration data."""
        every = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
        order = list(every)
        qual = {id(m): n for n, m in every.items()}
        names = {n: qual.get(id(m)) for n, m in layers.items()}
        if None in names.values():
            raise AccelsimError("pen_ultimate: every layer must be a Conv2d/Linear module of the model")
        for n, m in layers.items():
            if layer_kind(m, n) == "depthwise":
                raise AccelsimError(f"pen_ultimate: depthwise layer {n!r} is not supported")
        acts = _calibrate(model, every, self._inputs(data))
        rel = {q: relative_importance(m.weight.detach().cpu().numpy(), np.abs(acts[q][0]).mean(axis=0))
               for q, m in every.items()}
        out = {}
        for n, q in names.items():
            units = int(layers[n].weight.shape[0])
            last = q == order[-1]
            k = units if last and self.keep_output else pca_components(acts[q][1], self.variance)
            nxt = None if last else order[order.index(q) + 1]
            per = None if nxt is None else _columns_per_unit(units, rel[nxt].shape[1])
            if per is not None:
                c = rel[nxt].reshape(rel[nxt].shape[0], units, per, -1)
                score = c.sum(axis=(0, 2, 3))
            else:  # the model's output layer, or a next layer we cannot map: its own output drive
                score = np.abs(acts[q][1]).mean(axis=0)
            out[n] = dict(k=k, units=units, rel=rel[q], score=score, next=nxt, per=per)
        return out

    def scores(self, model, layers, *, seed, data=None):
        """Relative importance of every connection (the ranking of the connection variant)."""
        return {n: a["rel"].reshape(tuple(layers[n].weight.shape))
                for n, a in self.analyse(model, layers, data=data).items()}

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        info = self.analyse(model, layers, data=data)
        masks = PenUltimateMasks()
        masks.widths = {n: (a["k"], a["units"]) for n, a in info.items()}
        masks.notes = {}
        how = f"PCA {self.variance:.3g} of the variance"
        if self.granularity == "connection":
            for n, a in info.items():
                shape = tuple(layers[n].weight.shape)
                s = 1.0 - a["k"] / a["units"]
                if s <= 0.0:
                    masks[n] = np.ones(shape, dtype=bool)
                else:
                    kind = layer_kind(layers[n], n)
                    masks[n] = np.asarray(pattern.mask(a["rel"].reshape(shape), s, kind=kind, name=n), bool)
                masks.notes[n] = f"pen_ultimate: {a['k']} of {a['units']} units' share of connections ({how})"
            return masks
        by_qual = {q: n for n, m in layers.items() for q, mm in model.named_modules() if mm is m}
        for n in layers:
            masks[n] = np.ones(tuple(layers[n].weight.shape), dtype=bool)
        for n, a in info.items():
            order = np.argsort(-a["score"], kind="stable")
            dropped = np.sort(order[a["k"]:])
            masks[n][dropped] = False
            nxt = by_qual.get(a["next"])
            if nxt is not None and a["per"] is not None and dropped.size:
                cols = (dropped[:, None] * a["per"] + np.arange(a["per"])[None, :]).ravel()
                masks[nxt][:, cols] = False
            masks.notes[n] = f"pen_ultimate: kept {a['k']} of {a['units']} units ({how})"
        return masks
