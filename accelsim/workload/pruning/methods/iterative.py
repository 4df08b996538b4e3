"""Training pruning methods: ``agp`` (gradual), ``imp`` (iterative magnitude with rewinding) and
``drop`` (Drop Pruning, a reconstruction).  Registered in ``METHODS``.

**Small models only.**  These methods train ``model`` in place on a ``DigitsData``
(training.py: scikit-learn digits, a few seconds per run on a CPU for an MLP or a LeNet-5-style
CNN); ``data=None`` is an AccelsimError.  When ``prune`` returns, the model holds the fine-tuned
weights with every pruned weight at exactly zero, and the returned masks are the frozen final
masks; ``evaluate(model, data)`` then gives the held-out test accuracy.  Every intermediate mask
and the final one obey ``pattern`` (except drop's transient drop-away / drop-back perturbations,
see ``DropPruning``).  All epochs counts are parameters; the defaults suit the digits models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelsim.errors import AccelsimError
from accelsim.registry import METHODS
from accelsim.workload.pruning.methods.base import Method, register_method
from accelsim.workload.pruning.training import apply_masks, require_digits, train


def agp_sparsity(t: float, final: float, *, initial: float = 0.0, start: float = 0.0,
                 steps: int = 10, interval: float = 1.0) -> float:
    """Zhu & Gupta 2017: s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3 for
    t0 <= t <= t0 + n * dt; s_i before t0 and s_f after."""
    if steps < 1 or interval <= 0:
        raise AccelsimError(f"agp schedule needs steps >= 1 and interval > 0, got {steps}, {interval}")
    if t <= start:
        return float(initial)
    if t >= start + steps * interval:
        return float(final)
    frac = (t - start) / (steps * interval)
    return float(final + (initial - final) * (1.0 - frac) ** 3)


def agp_schedule(final: float, *, initial: float = 0.0, steps: int = 10) -> list[float]:
    """The n + 1 sparsities of the pruning events t = t0, t0 + dt, ..., t0 + n * dt."""
    return [agp_sparsity(k, final, initial=initial, steps=steps) for k in range(steps + 1)]


def _by_module_name(model, layers, masks):
    """Masks keyed by ``model.named_modules()`` names (what training.train expects)."""
    qual = {id(m): n for n, m in model.named_modules()}
    out = {}
    for name, mask in masks.items():
        if id(layers[name]) not in qual:
            raise AccelsimError(f"layer {name!r} is not a module of the model")
        out[qual[id(layers[name])]] = mask
    return out


def _magnitudes(layers, masks=None):
    out = {n: np.abs(m.weight.detach().cpu().double().numpy()) for n, m in layers.items()}
    return out if masks is None else {n: s * masks[n] for n, s in out.items()}


def overall_sparsity(masks) -> float:
    total = sum(m.size for m in masks.values())
    return 1.0 - sum(int(np.count_nonzero(m)) for m in masks.values()) / total if total else 0.0


@dataclass(frozen=True)
class _Training(Method):
    pretrain_epochs: int = 10  # dense training first (0 when the model is already trained)
    finetune_epochs: int = 10  # with the final masks frozen
    lr: float = 1e-2
    finetune_lr: float = 1e-3

    trains: ClassVar[bool] = True

    def scores(self, model, layers, *, seed, data=None):
        """The importance the method ranks by at its next pruning step: |w| of the current weights."""
        return _magnitudes(layers)

    def _train(self, model, layers, data, epochs, masks, seed, lr=None, **kw):
        return train(model, data, epochs, self.lr if lr is None else lr,
                     None if masks is None else _by_module_name(model, layers, masks), seed=seed, **kw)

    def _finish(self, model, layers, data, masks, seed):
        apply_masks(model, _by_module_name(model, layers, masks))
        self._train(model, layers, data, self.finetune_epochs, masks, seed + 10_000, lr=self.finetune_lr)
        return masks


@register_method("agp")
@dataclass(frozen=True)
class AGP(_Training):
    """Automated gradual pruning (Zhu & Gupta 2017): after ``pretrain_epochs`` dense epochs, the
    mask is recomputed at ``steps + 1`` events ``epochs_per_step`` epochs apart, at the cubic
    schedule ``agp_sparsity``, training with the mask in between; then the mask is frozen and the
    model fine-tuned.  ``score`` names the one-shot method that ranks the weights (magnitude)."""

    initial_sparsity: float = 0.0
    steps: int = 10
    epochs_per_step: int = 1
    score: str = "magnitude"

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        data = require_digits(data, self.name)
        scorer = METHODS.get(self.score)
        if scorer.trains:
            raise AccelsimError(f"agp: score {self.score!r} must be a one-shot method, not a training one")
        self._train(model, layers, data, self.pretrain_epochs, None, seed)
        masks = None
        for k, s in enumerate(agp_schedule(sparsity, initial=self.initial_sparsity, steps=self.steps)):
            scores = scorer.scores(model, layers, seed=seed + k, data=data)
            if masks is not None:  # pruned weights stay pruned
                scores = {n: v * masks[n] for n, v in scores.items()}
            masks = self._masks(pattern, scores, layers, s)
            apply_masks(model, _by_module_name(model, layers, masks))
            if k < self.steps:
                self._train(model, layers, data, self.epochs_per_step, masks, seed + 1 + k)
        return self._finish(model, layers, data, masks, seed)


@register_method("imp")
@dataclass(frozen=True)
class IMP(_Training):
    """Iterative magnitude pruning with rewinding (Frankle & Carbin 2019; rewinding to an early
    iterate, Frankle et al. 2020): train ``epochs`` epochs, prune ``prune_fraction`` of the
    *remaining* weights by magnitude, rewind the survivors to their values after ``rewind_step``
    optimiser steps of the first training (0 = the initialisation, the original lottery ticket),
    retrain, repeat until the target; the last round's training is the result (no separate
    fine-tune).  ``rounds`` (if set) overrides ``prune_fraction`` with 1 - (1 - sparsity) ** (1/rounds).
    The given weights are treated as the initialisation."""

    prune_fraction: float = 0.2
    rounds: int | None = None
    epochs: int = 10
    rewind_step: int = 20
    pretrain_epochs: int = 0  # unused: the first round's training is the dense training
    finetune_epochs: int = 0

    def schedule(self, sparsity: float) -> list[float]:
        """The sparsity after each round; the last one is exactly the target."""
        if sparsity <= 0:
            return [0.0]
        if self.rounds is not None:
            rounds = int(self.rounds)
            if rounds < 1:
                raise AccelsimError(f"imp: rounds must be >= 1, got {self.rounds!r}")
            keep = (1.0 - sparsity) ** (1.0 / rounds)
        else:
            if not 0.0 < self.prune_fraction < 1.0:
                raise AccelsimError(f"imp: prune_fraction must be in (0, 1), got {self.prune_fraction!r}")
            keep = 1.0 - self.prune_fraction
            rounds = max(1, math.ceil(math.log(1.0 - sparsity) / math.log(keep) - 1e-9))
        return [min(sparsity, 1.0 - keep**r) for r in range(1, rounds)] + [sparsity]

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        data = require_digits(data, self.name)
        out = self._train(model, layers, data, self.epochs, None, seed, snapshot_step=int(self.rewind_step))
        rewind = out["snapshot"]
        if rewind is None:  # rewind_step beyond the first training: rewind to its end
            rewind = {k: v.detach().clone() for k, v in model.state_dict().items()}
        masks = None
        for r, s in enumerate(self.schedule(sparsity), start=1):
            scores = _magnitudes(layers, masks)
            masks = self._masks(pattern, scores, layers, s)
            model.load_state_dict(rewind)
            self._train(model, layers, data, self.epochs, masks, seed + r)
        if self.finetune_epochs:
            return self._finish(model, layers, data, masks, seed)
        return masks


@dataclass(frozen=True)
class DropResult:
    masks: dict
    history: list  # one dict per step: step, target, achieved (after the drop perturbation)


@register_method("drop")
@dataclass(frozen=True)
class DropPruning(_Training):
    """Drop Pruning (Jia et al., arXiv 1812.02035) -- a **reconstruction**: the paper's exact
    probabilities and schedule are not available to us, so this is a clearly parametrised reading.

    Iterative prune-retrain over ``steps`` steps (``epochs_per_step`` epochs each) after
    ``pretrain_epochs`` dense epochs.  At step k the magnitude mask is computed for the cubic
    (AGP) schedule's sparsity, then perturbed: *drop away* -- each kept weight among the lowest
    ``candidate_fraction`` (alpha) of the kept scores of its layer is removed with probability
    ``p_out``; *drop back* -- each pruned weight is restored (at value 0, free to regrow) with
    probability ``p_in``.  Alone these moves drive the density of a layer towards
    p_in / (alpha * p_out + p_in); with ``anneal`` both probabilities shrink linearly to 0 by the last
    step, so the density converges to the target.  The last step is always unperturbed: the final
    mask is exactly the pattern's mask at the target, then frozen and fine-tuned.  The perturbed
    intermediate masks are element-wise and need not obey a structured pattern.
    """

    steps: int = 10
    epochs_per_step: int = 1
    p_out: float = 0.2
    p_in: float = 0.02
    candidate_fraction: float = 0.2
    anneal: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("p_out", "p_in", "candidate_fraction"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise AccelsimError(f"drop: {key} must be in [0, 1], got {getattr(self, key)!r}")
        if int(self.steps) < 1:
            raise AccelsimError(f"drop: steps must be >= 1, got {self.steps!r}")

    def perturb(self, masks, scores, rng, factor: float = 1.0):
        """One drop-away / drop-back move on every layer's mask (returns new masks)."""
        out = {}
        for name, keep in masks.items():
            keep = keep.copy()
            kept = np.flatnonzero(keep)
            if kept.size and self.candidate_fraction > 0:
                n_cand = int(round(self.candidate_fraction * kept.size))
                if n_cand:
                    vals = scores[name].ravel()[kept]
                    cand = kept[np.argpartition(vals, n_cand - 1)[:n_cand]]
                    keep.flat[cand[rng.random(cand.size) < self.p_out * factor]] = False
            pruned = np.flatnonzero(~masks[name])
            keep.flat[pruned[rng.random(pruned.size) < self.p_in * factor]] = True
            out[name] = keep
        return out

    def run(self, model, layers, pattern, sparsity, *, seed, data=None) -> DropResult:
        data = require_digits(data, self.name)
        rng = np.random.default_rng(int(seed))
        self._train(model, layers, data, self.pretrain_epochs, None, seed)
        masks, history = None, []
        targets = agp_schedule(sparsity, steps=int(self.steps))[1:]
        for k, s in enumerate(targets, start=1):
            scores = _magnitudes(layers)
            masks = self._masks(pattern, scores, layers, s)
            factor = (1.0 - k / self.steps) if self.anneal else 1.0
            if k < self.steps and factor > 0:
                masks = self.perturb(masks, scores, rng, factor)
            history.append({"step": k, "target": s, "achieved": overall_sparsity(masks)})
            apply_masks(model, _by_module_name(model, layers, masks))
            if k < self.steps:
                self._train(model, layers, data, self.epochs_per_step, masks, seed + k)
        masks = self._finish(model, layers, data, masks, seed)
        return DropResult(masks, history)

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        return self.run(model, layers, pattern, sparsity, seed=seed, data=data).masks


def model_sparsity(layers) -> float:
    """Fraction of exactly-zero weights over the given layers (what a trained model really holds)."""
    ws = [m.weight.detach() for m in layers.values()]
    total = sum(w.numel() for w in ws)
    return float(sum(int((w == 0).sum()) for w in ws)) / total if total else 0.0

