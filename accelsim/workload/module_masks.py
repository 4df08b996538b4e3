"""Reading a module's weight mask, and the one-line error of a model a tracer cannot follow: shared
by the torch.export front end (accelsim.workload.export_trace) and the torch.fx one (tracing).

Weight masks are read, in this order, from a ``weight_mask`` buffer (torch.nn.utils.prune), the
``mask`` of parametrizations on ``weight`` (torch.ao.pruning; several are ANDed), an ASP
``__weight_mma_mask`` buffer, else the weight's exact zeros.  Masks are read-only numpy arrays.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
import operator
import traceback
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from accelsim.errors import ConfigError, SimulationError

_TORCH_DIR = str(Path(torch.__file__).parent)
_HERE = str(Path(__file__).parent)


def weight_mask(mod: nn.Module, layer: str, model_name: str) -> np.ndarray:
    buffers = dict(mod.named_buffers(recurse=False))
    if "weight_mask" in buffers:
        masks = [buffers["weight_mask"]]
    else:
        params = mod.parametrizations.weight if parametrize.is_parametrized(mod, "weight") else ()
        masks = [p.mask for p in params if isinstance(getattr(p, "mask", None), torch.Tensor)]
    if not masks:  # an ASP mask, else the weight's exact zeros
        masks = [buffers.get("__weight_mma_mask", mod.weight)]
    weight_shape = tuple(mod.weight.shape)
    for m in masks:
        if tuple(m.shape) != weight_shape:
            raise ConfigError(model_name, [f"layer {layer!r}: weight mask shape {tuple(m.shape)} does not "
                                           f"match weight shape {weight_shape}"])
    array = functools.reduce(operator.and_, (m != 0 for m in masks)).detach().cpu().numpy()
    array.flags.writeable = False
    return array


def untraceable(model: nn.Module, name: str, exc: Exception,
                 front: str = "torch.fx cannot trace") -> SimulationError:
    """Name the module and the source line the tracer (torch.fx or torch.export) stopped at."""
    qualnames = {id(m): q for q, m in model.named_modules()}
    module, code = None, ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in qualnames:
            module = (qualnames[id(owner)], type(owner).__name__, frame.f_code.co_name)
        filename = frame.f_code.co_filename
        if not filename.startswith(_TORCH_DIR) and not filename.startswith(_HERE):
            source_line = linecache.getline(filename, lineno).strip()
            code = f"{Path(filename).name}:{lineno}" + (f" `{source_line}`" if source_line else "")
    if module is None:
        where = "the model"
    else:
        qual, cls, fn = module
        where = (f"module {qual!r} ({cls}.{fn})" if qual else f"the model's {cls}.{fn}")
    where += f" at {code}" if code else ""
    return SimulationError(
        f"{name}: {front} {where}: {first_line(exc)}. If that is data-dependent control flow, write it with "
        "torch.cond / torch.where, or wrap it in a function registered with torch.fx.wrap (accelsim's "
        "torch.fx fallback then keeps it one opaque call); check the input shape too.")


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: the sums of a multi-threaded conv depend on how the threads split it,
    and a sum that lands just either side of zero changes a measured activation density, so a workload
    would differ between a 2-core and a 16-core machine.  One thread gives one order."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

