"""Load a state_dict checkpoint into a model, with one clear problem line when it does not fit.

Pruned checkpoints are folded first when the model does not expect their extra entries:
``X_orig`` + ``X_mask`` (torch.nn.utils.prune), ``P.parametrizations.X.original`` + ``...N.mask``
(torch.ao) and ``P.__X_mma_mask`` (NVIDIA ASP) become ``X = original * mask``, so the zeros are
baked in and tracing reads them back as exact zeros.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from accelsim.errors import ConfigError

_PARAMETRIZED = re.compile(r"^(.*?)parametrizations\.(\w+)\.original$")
_ASP_MASK = re.compile(r"^(.*?)__(\w+)_mma_mask$")
_SHOWN = 3


def load_checkpoint(model: nn.Module, path: str | Path, model_name: str) -> None:
    source = str(path)
    if not Path(path).is_file():
        raise ConfigError(source, ["checkpoint file not found"])
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's problem to fix
        raise ConfigError(source, [_load_problem(exc)]) from exc
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(source, ["is not a state_dict (a dict of tensors, or a dict with a "
                                   "'state_dict' key holding one)"])
    expected = model.state_dict()
    state = _fold_masks(_strip_prefix(dict(obj), expected), expected)
    problem = _mismatch(expected, state, model_name)
    if problem:
        raise ConfigError(source, [problem])
    model.load_state_dict(state, strict=False)  # _mismatch was the strict check


def _load_problem(exc: Exception) -> str:
    text = str(exc)
    marker = "WeightsUnpickler error:"
    lines = text[text.index(marker) + len(marker):] if marker in text else text
    detail = next((line.strip() for line in lines.splitlines() if line.strip()), type(exc).__name__)
    detail = detail.split(". ")[0].rstrip(".")
    if "Unsupported global" in detail:
        return (f"holds Python objects that torch.load(weights_only=True) refuses ({detail}); "
                "save model.state_dict() rather than the model")
    not_torch = detail.startswith(("Unsupported operand", "invalid load key"))
    hint = "; is it a file written by torch.save?" if not_torch else ""
    return f"cannot be read by torch.load(weights_only=True): {detail}{hint}"


def _strip_prefix(state: dict, expected: Mapping) -> dict:
    """Drop the 'module.' prefix DataParallel/DDP checkpoints carry."""
    if state and all(k.startswith("module.") for k in state) and not any(k in expected for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


def _fold_masks(state: dict, expected: Mapping) -> dict:
    out = dict(state)
    for key in list(state):
        if key in expected or key not in out:
            continue
        if key.endswith("_orig") and key[:-5] + "_mask" in out:
            base = key[:-5]
            out[base] = out.pop(key) * out.pop(base + "_mask")
        elif m := _PARAMETRIZED.match(key):
            prefix = f"{m.group(1)}parametrizations.{m.group(2)}."
            rest = [k for k in out if k.startswith(prefix) and k != key]
            if all(re.fullmatch(re.escape(prefix) + r"\d+\.mask", k) for k in rest):
                value = out.pop(key)
                for k in rest:
                    value = value * out.pop(k)
                out[m.group(1) + m.group(2)] = value
        elif (m := _ASP_MASK.match(key)) and m.group(1) + m.group(2) in out:
            target = m.group(1) + m.group(2)
            out[target] = out[target] * out.pop(key)
    return out


def _mismatch(expected: Mapping, state: Mapping, model_name: str) -> str:
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: checkpoint {list(state[k].shape)} vs model {list(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    parts = [_some(missing, "missing key"), _some(unexpected, "unexpected key"),
             _some(shapes, "shape mismatch", "shape mismatches")]
    parts = [p for p in parts if p]
    return f"does not fit model {model_name!r}: " + "; ".join(parts) if parts else ""


def _some(items: list[str], one: str, many: str = "") -> str:
    if not items:
        return ""
    noun = one if len(items) == 1 else (many or one + "s")
    more = f", ... {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} {noun} ({', '.join(items[:_SHOWN])}{more})"
