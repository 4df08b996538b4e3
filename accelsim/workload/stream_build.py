"""Build, prune and trace a model one part at a time: a 7B-parameter decoder in one layer's memory.

A zoo model that offers ``parts()`` and ``init_part(i)`` (models/llama.py: each decoder layer, then
the final norm with the LM head) is built on the meta device, with no weights.  Then, part by part:

1. its modules are materialised and filled (``init_part``: the weights a whole build gives them, none
   exactly 0.0);
2. a method that calibrates on inputs (wanda) sees the dense part's inputs: the calibration batch
   runs through the dense part, as it runs through the dense model in a whole build;
3. the part is pruned with the recipe's rules (``prune_model`` on the part alone, its layers named as
   in the whole model);
4. the part is traced (torch.export) on the hidden state the pruned parts before it produce, and its
   modules go back to the meta device.

The layers, their masks (kept bit-packed above 4 Mi elements: PackedMask), densities, input masks,
``input_from`` and the coverage equal a whole build's (tests/test_stream_build.py): a part's input
("" in its own trace) is the previous parts' output.  Global scope and methods that score a layer
from more than its own weights and inputs (training, SNIP, SynFlow ...) need the whole model at once
and are refused.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from accelsim.errors import ConfigError, SimulationError
from accelsim.registry import METHODS
from accelsim.workload.coverage import Coverage
from accelsim.workload.export_trace import export_workload
from accelsim.workload.layer import Workload
from accelsim.workload.packed_mask import PackedMask
from accelsim.workload.pruning.apply import PruneResult, check_exclude, prunable_layers, prune_model

FRONT_END = "torch.export, one part at a time"


def streamable(model: nn.Module) -> bool:
    return callable(getattr(model, "parts", None)) and callable(getattr(model, "init_part", None))


class _Part(nn.Module):
    """The modules of one part at their qualified names in the whole model; forward = the part's run."""

    def __init__(self, modules: dict[str, nn.Module], run: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        for path, module in modules.items():
            parent: nn.Module = self
            *heads, leaf = path.split(".")
            for head in heads:
                if head not in parent._modules:
                    parent.add_module(head, nn.Module())
                parent = parent._modules[head]
            parent.add_module(leaf, module)
        self.run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def stream_workload(model: nn.Module, x: torch.Tensor, *, name: str, source: str,
                    prune: dict[str, Any] | None, where: str) -> tuple[Workload, PruneResult | None]:
    """(Workload, PruneResult without masks, or None) of a meta-device ``model`` with parts, traced on
    ``x``; ``prune`` holds prune_model's keyword arguments (None: dense).  ``where`` names the recipe
    in errors."""
    parts = [(_Part(modules, run)) for modules, run in model.parts()]
    plan = _PrunePlan(parts, prune, where) if prune else None
    layers, coverages, reports, before = [], [], [], ("",)
    spill, pool = _Spill(), _Pool()
    input_shape, batch = tuple(x.shape[1:]), int(x.shape[0])
    for index, part in enumerate(parts):
        pool.materialise(part)
        model.init_part(index)  # which leaves no weight exactly 0.0 (it would read as pruned)
        if plan is not None:
            reports += plan.prune(part, index).layers
        traced = export_workload(part, x, name=name, source=source, measure_activations=True)
        for layer in traced.layers:
            feeds = tuple(sorted({src for f in layer.input_from for src in (before if f == "" else (f,))}))
            layers.append(replace(layer, input_from=feeds, weight_mask=spill.keep(layer.weight_mask),
                                  input_mask=spill.keep(layer.input_mask)))
        before = tuple(sorted({src for f in traced.output_from for src in (before if f == "" else (f,))}))
        coverages.append(traced.coverage)
        with torch.no_grad():
            x = part(x)
        pool.release(part)  # the part's tensors back to the pool (its KV cache too), the part on meta
    workload = Workload(name=name, layers=tuple(layers),
                        source=f"torch.export trace of {type(model).__qualname__}, one part at a time",
                        input_shape=input_shape, batch=batch, coverage=Coverage.merge(coverages, FRONT_END),
                        output_from=before)
    result = None if plan is None else replace(plan.result_template, layers=tuple(reports))
    return workload, result


class _Pool:
    """The storage of the part done, handed to the next part of the same shapes (every decoder layer):
    a fresh 0.8 GB per 7B layer would cost its page faults again each time.  ``init_part`` overwrites
    every value, so nothing of the previous part is read."""

    def __init__(self):
        self.free: dict[tuple, list[torch.Tensor]] = {}

    def materialise(self, part: nn.Module) -> None:
        def take(t: torch.Tensor) -> torch.Tensor:
            free = self.free.get((tuple(t.shape), t.dtype))
            return free.pop() if free else torch.empty(t.shape, dtype=t.dtype)

        part._apply(take)  # what to_empty does, with reused storage

    def release(self, part: nn.Module) -> None:
        self.free.clear()  # only the last part's storage is kept
        seen = set()
        for t in [*part.parameters(), *part.buffers()]:  # a tensor two modules share is handed out once
            if t.data_ptr() not in seen:
                seen.add(t.data_ptr())
                self.free.setdefault((tuple(t.shape), t.dtype), []).append(t.data)
        part.to("meta")


class _Spill:
    """The packed masks of the parts done, in an unlinked temporary file and read back through a
    memory map: the 0.8 GB of a 7B model's masks stay out of the process's memory while the parts
    that follow are built (the simulator and the cache read them page by page)."""

    def __init__(self):
        self.file = tempfile.TemporaryFile(prefix="accelsim-masks-")

    def keep(self, mask):
        if not isinstance(mask, PackedMask):
            return mask
        self.file.seek(0, os.SEEK_END)
        offset = self.file.tell()
        self.file.write(memoryview(mask.bits))
        self.file.flush()
        bits = np.memmap(self.file, np.uint8, "r", offset=offset, shape=mask.bits.shape)
        return PackedMask(bits, mask.shape)


class _PrunePlan:
    """The recipe's pruning, applied one part at a time with the whole model's rules."""

    def __init__(self, parts: list[_Part], prune: dict[str, Any], where: str):
        self.prune_args = dict(prune)
        method_name = self.prune_args["method"]
        method = METHODS.get(method_name).with_params(**dict(self.prune_args.get("method_params") or {}))
        if not getattr(method, "layerwise", False):
            raise ConfigError(where, [f"method: {method_name!r} needs the whole model at once, and this "
                                      "model is built one part at a time (its weights do not fit in memory "
                                      "together); use a method that scores a layer from its own weights "
                                      "and inputs: magnitude, random or wanda"])
        if (self.prune_args.get("scope") or "layer") != "layer":
            raise ConfigError(where, ["scope: 'global' needs every layer's scores at once, and this model "
                                      "is built one part at a time; use scope: layer"])
        names = [[n for n in prunable_layers(p)] for p in parts]
        everything = [n for part_names in names for n in part_names]
        exclude = tuple(self.prune_args.get("exclude") or ())
        check_exclude(exclude, everything, where)  # against the whole model: a part has only its own layers
        self.exclude = [[g for g in exclude if any(fnmatch.fnmatchcase(n, g) for n in part_names)]
                        for part_names in names]
        convs = [n for p in parts for n, m in prunable_layers(p).items() if isinstance(m, nn.Conv2d)]
        rule = self.prune_args.get("first_conv", "dense")
        self.first_conv = [rule if convs and convs[0] in part_names else "pattern" for part_names in names]
        calibrate = getattr(method, "calibration_batch", None)
        self.calibration = None if calibrate is None else calibrate(self.prune_args.get("data"),
                                                                    self.prune_args.get("seed", 0))
        self.result_template: PruneResult | None = None

    def prune(self, part: _Part, index: int) -> PruneResult:
        args = dict(self.prune_args, exclude=self.exclude[index], first_conv=self.first_conv[index])
        calibration, seen = self.calibration, []
        if calibration is not None:  # the next part's calibration input: this part's dense output on it,
            args["data"] = calibration  # caught as the method runs the dense part on it
            hook = part.register_forward_hook(  # the method's passes over (chunks of) the batch
                lambda _m, inputs, out: seen.append(out) if _views(inputs[0], calibration) else None)
        try:
            result = prune_model(part, **args, register=False)  # weights zeroed, no second copy
        finally:
            if calibration is not None:
                hook.remove()
        if calibration is not None:
            if not seen and not result.masks:  # nothing pruned here: the part is dense as it is
                with torch.no_grad():
                    seen.append(part(calibration))
            if sum(len(out) for out in seen) != len(calibration):
                raise SimulationError(f"method {args['method']!r} gives a calibration batch but did not run "
                                      "the model on all of it once: its parts cannot be calibrated one "
                                      "at a time")
            self.calibration = torch.cat(seen) if len(seen) > 1 else seen[0]
        if self.result_template is None:
            self.result_template = replace(result, layers=(), masks={})
        return replace(result, masks={})


def _views(t: torch.Tensor, batch: torch.Tensor) -> bool:
    """``t`` is (a slice of) ``batch``: it shares its storage."""
    return isinstance(t, torch.Tensor) and \
        t.untyped_storage().data_ptr() == batch.untyped_storage().data_ptr()
