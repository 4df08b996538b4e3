"""IMP with **re-initialisation** (``imp_reinit``): the control of Frankle & Carbin 2019 and of
Paganini & Forde 2020 ("On iterative neural network pruning, reinitialization, and the similarity
of masks"): exactly ``imp``'s loop (same schedule, same magnitude ranking, same epochs), except that
after every pruning step the surviving weights are **re-drawn at random** (the modules' own
``reset_parameters`` under a seed that depends on (seed, round)) instead of rewound to an early
iterate.  Comparing its masks with ``imp``'s is what the mask-similarity study does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from accelsim.workload.pruning.methods.base import register_method
from accelsim.workload.pruning.methods.iterative import IMP, _magnitudes
from accelsim.workload.pruning.training import require_digits


def reinitialise(model: torch.nn.Module, seed: int) -> None:
    """Fresh random weights for every module that has ``reset_parameters`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset) and not isinstance(module, torch.nn.Sequential):
                reset()


@register_method("imp_reinit")
@dataclass(frozen=True)
class IMPReinit(IMP):
    """IMP (same parameters and schedule) re-initialising the survivors at random after every
    pruning step instead of rewinding them (see the module docstring)."""

    def _prune(self, model, layers, pattern, sparsity, *, seed, data):
        data = require_digits(data, self.name)
        self._train(model, layers, data, self.epochs, None, seed)
        masks = None
        for r, s in enumerate(self.schedule(sparsity), start=1):
            masks = self._masks(pattern, _magnitudes(layers, masks), layers, s)
            reinitialise(model, 7919 * (int(seed) + 1) + r)
            self._train(model, layers, data, self.epochs, masks, seed + r)
        if self.finetune_epochs:
            return self._finish(model, layers, data, masks, seed)
        return masks
