"""A decoder built, pruned and traced one part at a time equals the same decoder built whole: layers,
masks, densities, input masks, input_from, coverage and the prune report; and it never holds more
than one part's weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from accelsim.errors import ConfigError
from accelsim.workload import stream_build
from accelsim.workload.cache import build_workload
from accelsim.workload.models.llama import LlamaStack
from accelsim.workload.pruning.apply import prune_model
from accelsim.workload.recipes import resolve_recipe
from accelsim.workload.stream_build import stream_workload
from accelsim.workload.tracing import trace_input, trace_model, workload_fingerprint

SHAPE = {"hidden": 64, "layers": 3, "heads": 4, "kv_heads": 2, "ffn": 128, "vocab": 50}
PRUNINGS = {
    "dense": None,
    "magnitude 2:4": {"pattern": "nm2:4", "sparsity": 0.5, "method": "magnitude"},
    "wanda unstructured, head dense": {"pattern": "unstructured", "sparsity": 0.6, "method": "wanda",
                                       "exclude": ("lm_head",), "method_params": {"calibration": 3}},
    "random, down_proj dense": {"pattern": "unstructured", "sparsity": 0.3, "method": "random",
                                "exclude": ("*.down_proj",)},
}


def _args(prune, shape):
    if prune is None:
        return None
    args = {"scope": "layer", "first_conv": "dense", "seed": 0, "data": None, **prune}
    if args["method"] == "wanda":
        args["method_params"] = {**args["method_params"], "input_shape": shape}
    return args


def _both(phase: str, prune, batch=2):
    tokens = 5 if phase == "prefill" else 1
    shape = (tokens, SHAPE["hidden"])
    kwargs = {**SHAPE, "phase": phase, "cache_tokens": 7}
    with torch.random.fork_rng():
        torch.manual_seed(11)
        whole = LlamaStack(**kwargs).eval()
    args = _args(prune, shape)
    result = None if args is None else prune_model(whole, **args)
    expected = trace_model(whole, shape, batch=batch, name="t", seed=3)
    with torch.random.fork_rng(), torch.device("meta"):
        torch.manual_seed(11)
        meta = LlamaStack(**kwargs).eval()
    x, source = trace_input(meta, shape, batch=batch, name="t", input_tensor=None, seed=3, input_source=None)
    got, got_result = stream_workload(meta, x, name="t", source=source, prune=args, where="test")
    return expected, result, replace(got, fingerprint=workload_fingerprint(got)), got_result


@pytest.mark.parametrize("phase", ["prefill", "decode"])
@pytest.mark.parametrize("how", PRUNINGS)
def test_streamed_build_equals_whole_build(phase, how):
    expected, result, got, got_result = _both(phase, PRUNINGS[how])
    assert [layer.name for layer in got.layers] == [layer.name for layer in expected.layers]
    for a, b in zip(expected.layers, got.layers, strict=True):
        assert (a.kind, a.m, a.n, a.k, a.groups, a.input_from, a.activation_density) == \
            (b.kind, b.m, b.n, b.k, b.groups, b.input_from, b.activation_density), a.name
        for field in ("weight_mask", "input_mask"):
            x, y = getattr(a, field), getattr(b, field)
            assert (x is None) == (y is None) and (x is None or np.array_equal(np.asarray(x), np.asarray(y)))
    assert got.fingerprint == expected.fingerprint
    assert got.output_from == expected.output_from == ("lm_head",)
    assert got.coverage.to_dict() | {"front_end": ""} == expected.coverage.to_dict() | {"front_end": ""}
    assert (got.input_shape, got.batch) == (expected.input_shape, expected.batch)
    if result is None:
        assert got_result is None
    else:
        assert got_result.layers == result.layers and got_result.achieved == result.achieved
        assert (got_result.pattern, got_result.method, got_result.target) == \
            (result.pattern, result.method, result.target)


def test_a_part_at_a_time(monkeypatch):
    """While a part is traced, only its own weights exist: every other part is on the meta device."""
    seen = []
    trace = stream_build.export_workload

    def spy(part, x, **kwargs):
        real = [n.split(".") for n, p in meta.named_parameters() if not p.is_meta]
        seen.append({".".join(n[:2]) if n[0] == "layers" else n[0] for n in real})
        return trace(part, x, **kwargs)

    monkeypatch.setattr(stream_build, "export_workload", spy)
    with torch.device("meta"):
        meta = LlamaStack(**SHAPE, phase="decode", cache_tokens=7)
    x = torch.randn(1, 1, SHAPE["hidden"])
    stream_workload(meta, x, name="t", source="s", prune=_args(PRUNINGS["magnitude 2:4"], (1, 64)), where="t")
    assert seen == [{"layers.0"}, {"layers.1"}, {"layers.2"}, {"norm", "lm_head"}]
    assert all(p.is_meta for p in meta.parameters())


@pytest.mark.parametrize("change, message", [
    ({"method": "snip"}, "'snip' needs the whole model at once"),
    ({"scope": "global"}, "scope: 'global' needs every layer's scores at once"),
    ({"exclude": ("layers.9.*",)}, "exclude: 'layers.9.*' matches no Conv2d/Linear layer"),
])
def test_what_needs_the_whole_model_is_refused(change, message):
    with torch.device("meta"):
        meta = LlamaStack(**SHAPE, phase="decode", cache_tokens=7)
    args = {**_args(PRUNINGS["magnitude 2:4"], (1, 64)), **change}
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace(".", r"\.")):
        stream_workload(meta, torch.randn(1, 1, 64), name="t", source="s", prune=args, where="recipe.yaml")


def test_zoo_decoders_are_streamed_through_recipes():
    recipe = replace(resolve_recipe("llama_125m_decode_2of4"), input_shape=(1, 768))
    workload, result = build_workload(recipe)
    assert "one part at a time" in workload.source and workload.coverage.front_end == stream_build.FRONT_END
    q = next(layer for layer in workload.layers if layer.name == "layers.11.self_attn.q_proj")
    assert str(q.pattern) == "nm2:4" and q.weight_density == 0.5
    head = next(layer for layer in workload.layers if layer.name == "lm_head")
    assert type(head.weight_mask).__name__ == "PackedMask" and head.weight_density == 0.5  # 24.6 M weights
    assert result.achieved == pytest.approx(0.5) and not result.masks
