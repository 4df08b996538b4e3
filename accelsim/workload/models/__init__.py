"""The model zoo (pure torch, never torchvision) and ``build_model``.

``MODELS`` maps a name to a ``ModelSpec``.  Importing this package does not import torch: each
factory imports its family module on first call, so ``accelsim list models`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError, did_you_mean
from accelsim.registry import MODELS


@dataclass(frozen=True)
class ModelSpec:
    factory: Callable[[], Any]  # -> torch.nn.Module
    input_shape: tuple[int, ...]  # one sample, without the batch dimension
    description: str
    streamed: bool = False  # built on the meta device and traced one part at a time (stream_build)


def _lazy(module: str, function: str, **kwargs: Any) -> Callable[[], Any]:
    def factory() -> Any:
        return getattr(importlib.import_module(f"accelsim.workload.models.{module}"), function)(**kwargs)

    factory.__qualname__ = f"{module}.{function}"
    return factory


_TINYLLAMA = {"hidden": 2048, "layers": 22, "heads": 32, "kv_heads": 4, "ffn": 5632}
_LLAMA2_7B = {"hidden": 4096, "layers": 32, "heads": 32, "kv_heads": 32, "ffn": 11008}

for _name, _factory, _shape, _description in (
    ("lenet5", _lazy("lenet", "LeNet5"), (1, 32, 32),
     "LeNet-5 (ReLU, max-pool): 2 convs 5x5 + 3 linear, 1x32x32 input, 10 classes"),
    ("lenet5_digits", _lazy("lenet", "LeNet5", in_size=8), (1, 8, 8),
     "LeNet-5 with padded convs for scikit-learn's 8x8 digits, 10 classes"),
    ("mlp_digits", _lazy("mlp", "MLPDigits"), (64,),
     "MLP 64-128-64-10 for scikit-learn's 8x8 digits (flattened)"),
    ("vgg16", _lazy("vgg", "VGG"), (3, 32, 32),
     "VGG-16 with batch norm for CIFAR-10: 13 convs 3x3, classifier 512 -> 10"),
    ("resnet18", _lazy("resnet", "resnet18"), (3, 224, 224),
     "ResNet-18, torchvision layout and key names, 1000 classes"),
    ("resnet50", _lazy("resnet", "resnet50"), (3, 224, 224),
     "ResNet-50 v1.5, torchvision layout and key names, 1000 classes"),
    ("mobilenet_v2", _lazy("mobilenet", "MobileNetV2"), (3, 224, 224),
     "MobileNetV2 1.0, torchvision layout (depthwise 3x3 convs), 1000 classes"),
    ("bert_block", _lazy("transformer", "TransformerBlock"), (128, 768),
     "one BERT-base encoder block: hidden 768, 12 heads, FFN 3072, sequence 128"),
    ("llama_125m_prefill", _lazy("llama", "LlamaStack", phase="prefill"), (256, 768),
     "Llama-style decoder, 125M-class shapes (hidden 768, 12 layers, 12 heads / 4 KV heads, SwiGLU 2048, "
     "RoPE, RMSNorm, LM head 32000): prefill of 256 tokens (input: token embeddings)"),
    ("llama_125m_decode", _lazy("llama", "LlamaStack", phase="decode", cache_tokens=256), (1, 768),
     "the same decoder: decode of one token with a KV cache of 256 tokens (read as an activation)"),
    ("llama_1b_prefill", _lazy("llama", "LlamaStack", **_TINYLLAMA, phase="prefill"), (256, 2048),
     "Llama-style decoder, TinyLlama-1.1B shapes (hidden 2048, 22 layers, 32 heads / 4 KV heads, SwiGLU "
     "5632, LM head 32000): prefill of 256 tokens"),
    ("llama_1b_decode", _lazy("llama", "LlamaStack", **_TINYLLAMA, phase="decode", cache_tokens=2048),
     (1, 2048), "the same decoder: decode of one token with a KV cache of 2048 tokens"),
    ("llama2_7b_prefill", _lazy("llama", "LlamaStack", **_LLAMA2_7B, phase="prefill"), (256, 4096),
     "Llama-2-7B shapes (hidden 4096, 32 layers, 32 heads, SwiGLU 11008, LM head 32000): prefill of 256 "
     "tokens; built one decoder layer at a time"),
    ("llama2_7b_decode", _lazy("llama", "LlamaStack", **_LLAMA2_7B, phase="decode", cache_tokens=2048),
     (1, 4096), "Llama-2-7B shapes: decode of one token with a KV cache of 2048 tokens; built one decoder "
     "layer at a time"),
):
    MODELS.add(_name, ModelSpec(_factory, _shape, _description, streamed=_name.startswith("llama")))


def build_model(name_or_ref: str, *, seed: int = 0, checkpoint: str | Path | None = None,
                meta: bool = False) -> tuple[Any, tuple[int, ...] | None]:
    """(model in eval mode, input shape without batch) for a zoo name or a ``module:function``
    (``file.py:function`` too).

    The factory runs under ``torch.manual_seed(seed)`` without disturbing the global RNG.  For a
    ``module:function`` reference the input shape is unknown and returned as None.  ``checkpoint``
    is a ``torch.save``-d state_dict (or a dict with a 'state_dict' key) loaded strictly.  ``meta``
    builds it on the meta device, without weights (stream_build fills it part by part).
    """
    import torch
    from torch import nn

    from accelsim.workload.models._checkpoint import load_checkpoint

    if ":" in name_or_ref:
        factory, input_shape = _resolve_ref(name_or_ref), None
    else:
        spec = MODELS.get(name_or_ref)
        factory, input_shape = spec.factory, spec.input_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            if meta or (input_shape is not None and MODELS.get(name_or_ref).streamed):
                with torch.device("meta"):
                    model = factory()
                if not meta:
                    _fits_whole(model, name_or_ref)
                    model = factory()
            else:
                model = factory()
        except AccelsimError:
            raise
        except Exception as exc:
            if input_shape is not None:  # a zoo model failing is a bug, not a user error
                raise
            raise AccelsimError(f"model factory {name_or_ref!r} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise AccelsimError(f"model factory {name_or_ref!r} returned {type(model).__name__}, "
                            "not a torch.nn.Module")
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, name_or_ref)
    elif input_shape is not None and not meta:
        no_accidental_zeros(model)
    return model.eval(), input_shape


WHOLE_BUILD_MAX_BYTES = 8 << 30


def _fits_whole(model: Any, name: str) -> None:
    """A zoo decoder too large to build whole here (the 1B model takes 4 GB, the 7B 26 GB) is refused:
    load_workload / ``accelsim run`` build it one part at a time."""
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    if size > WHOLE_BUILD_MAX_BYTES:
        raise AccelsimError(f"model {name!r} has {size / 2**30:.0f} GiB of weights: it is built one decoder "
                            "layer at a time by accelsim.workload.load_workload (accelsim run / trace), "
                            "not whole; build_model(..., meta=True) gives its shapes")


def no_accidental_zeros(model: Any) -> None:
    """Every conv and linear weight of a freshly initialised zoo model without an exact 0.0
    (``_init.nonzero_weights``): the tracer would read it as pruned."""
    from torch import nn

    from accelsim.workload.models._init import nonzero_weights

    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nonzero_weights(module.weight)


def _forget_user_modules(module_name: str, keep: set[str] = frozenset()) -> None:
    """Drop the already imported modules of the user's tree (the model file's directory) so that an
    edited import is read again; the cache key hashes the same files (accelsim.workload.source_hash)."""
    from accelsim.workload.source_hash import module_file

    located = module_file(f"{module_name}:x")
    if located is None:
        return
    root = str(located[1]) + os.sep
    installed = {str(Path(p).resolve()) + os.sep for p in (sys.prefix, sys.base_prefix)}
    if any(root.startswith(p) for p in installed) or "-packages" + os.sep in root:
        return  # an installed package, not the user's tree
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(root) and not name.startswith("accelsim") and name not in keep:
            del sys.modules[name]


def _resolve_ref(ref: str) -> Callable[[], Any]:
    from torch import nn

    module_name, _, attr = ref.rpartition(":")
    if not module_name or not attr:
        raise AccelsimError(f"model reference {ref!r} must look like 'package.module:function' "
                            "or 'file.py:function'")
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path  # console scripts do not put '.' on the path
    if added:
        sys.path.insert(0, cwd)
    _forget_user_modules(module_name)
    before = set(sys.modules)
    try:
        if module_name.endswith(".py"):  # a file: nets/mine.py:build
            spec = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            obj: Any = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(obj)
        else:
            obj = importlib.import_module(module_name)
    except Exception as exc:
        raise AccelsimError(f"cannot import module {module_name!r} for model {ref!r}: "
                            f"{type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(cwd)
        _forget_user_modules(module_name, keep=before)  # the next reference (another tree) imports afresh
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = [n for n in dir(obj) if not n.startswith("_")]
            raise AccelsimError(f"{module_name!r} has no attribute {attr!r}{did_you_mean(part, public)}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        return lambda: obj
    if not callable(obj):
        raise AccelsimError(f"model reference {ref!r} names a {type(obj).__name__}, not a function "
                            "returning a torch.nn.Module")
    return obj
