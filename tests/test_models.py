"""Model zoo: shapes, parameter counts, torchvision key names, seeding, checkpoints, references."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import accelsim.workload.models
from accelsim.errors import AccelsimError, ConfigError, UnknownNameError
from accelsim.workload.models import MODELS, ModelSpec, build_model

# Reference parameter counts (torchvision for resnet/mobilenet; BERT-base layer for bert_block).
PARAMS = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "bert_block": 7_087_872,
    "vgg16": 14_728_266,
    "lenet5": 61_706,
    "mlp_digits": 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,
}
# published counts less the input embedding (the zoo's decoders take token embeddings)
LLAMA_PARAMS = {"llama2_7b": 6_738_415_616 - 32_000 * 4096, "llama_1b": 1_100_048_384 - 32_000 * 2048}
TOO_BIG = ("llama_1b", "llama2_7b")  # built on the meta device only here


@functools.cache
def built(name: str):
    """A zoo model built once per test session (seed 0); tests must not change it."""
    return build_model(name)


@pytest.fixture(scope="module")
def resnet50():
    return built("resnet50")[0]


def test_zoo_names():
    assert set(MODELS) == {"lenet5", "lenet5_digits", "mlp_digits", "vgg16", "resnet18", "resnet50",
                           "mobilenet_v2", "bert_block", "llama_125m_prefill", "llama_125m_decode",
                           "llama_1b_prefill", "llama_1b_decode", "llama2_7b_prefill", "llama2_7b_decode"}
    for name in MODELS:
        spec = MODELS.get(name)
        assert isinstance(spec, ModelSpec) and spec.description and callable(spec.factory)


@pytest.mark.parametrize("name", [n for n in MODELS.names() if n.startswith(TOO_BIG)])
def test_large_decoders_have_their_published_shapes(name):
    model, shape = build_model(name, meta=True)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == LLAMA_PARAMS[name.rpartition("_")[0]]
    assert MODELS.get(name).streamed and shape[-1] == model.lm_head.in_features


@pytest.mark.parametrize("name", [n for n in MODELS.names() if n != "resnet50" and not n.startswith(TOO_BIG)])
def test_every_model_builds_and_runs(name):
    model, shape = built(name)
    assert shape == MODELS.get(name).input_shape
    assert not any(m.training for m in model.modules())
    with torch.no_grad():
        out = model(torch.randn(2, *shape))
    classes = {"vgg16": 10, "lenet5": 10, "lenet5_digits": 10, "mlp_digits": 10}.get(name, 1000)
    if name.startswith("llama"):  # logits over the vocabulary for every token of the input
        classes = (shape[0], 32000)
    assert out.shape == ((2, *shape) if name == "bert_block" else (2, *np.atleast_1d(classes)))
    if name in PARAMS:
        assert sum(p.numel() for p in model.parameters()) == PARAMS[name]


def test_resnet50_counts_and_torchvision_keys(resnet50):
    assert sum(p.numel() for p in resnet50.parameters()) == 25_557_032
    weights = sum(m.weight.numel() for m in resnet50.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert weights == 25_502_912
    keys = resnet50.state_dict().keys()
    assert len(keys) == 320
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
                "layer1.0.downsample.1.num_batches_tracked", "layer4.2.bn3.bias", "fc.weight", "fc.bias"):
        assert key in keys
    assert resnet50.layer2[0].conv2.stride == (2, 2)  # v1.5: stride on the 3x3 conv
    assert resnet50.layer2[0].conv1.stride == (1, 1)


def test_mobilenet_v2_torchvision_keys():
    model, _ = built("mobilenet_v2")
    keys = model.state_dict().keys()
    for key in ("features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight",
                "features.1.conv.1.weight", "features.1.conv.2.bias", "features.2.conv.0.0.weight",
                "features.2.conv.1.0.weight", "features.2.conv.2.weight", "features.2.conv.3.weight",
                "features.18.0.weight", "classifier.1.weight"):
        assert key in keys
    dw = model.features[2].conv[1][0]
    assert dw.groups == dw.in_channels == dw.out_channels == 96


def test_digit_variants_take_8x8_inputs():
    lenet, shape = build_model("lenet5_digits")
    assert shape == (1, 8, 8)
    assert lenet.fc1.in_features == 64 and lenet.conv1.kernel_size == (5, 5)
    mlp, shape = build_model("mlp_digits")
    assert shape == (64,)
    assert mlp(torch.randn(3, 64)).shape == mlp(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_seeded_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, _ = build_model("lenet5", seed=0)
    assert torch.equal(torch.random.get_rng_state(), before)
    b, _ = build_model("lenet5", seed=0)
    c, _ = build_model("lenet5", seed=1)
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_unknown_name_lists_close_names():
    with pytest.raises(UnknownNameError) as info:
        build_model("resnet5")
    message = str(info.value)
    assert "'resnet50'" in message and "did you mean" in message and "mobilenet_v2" in message


def test_checkpoint_roundtrip(tmp_path):
    source, _ = build_model("lenet5", seed=7)
    path = tmp_path / "lenet.pt"
    torch.save(source.state_dict(), path)
    loaded, _ = build_model("lenet5", seed=0, checkpoint=path)
    assert torch.equal(loaded.fc3.weight, source.fc3.weight)
    torch.save({"state_dict": source.state_dict(), "epoch": 3}, path)
    loaded, _ = build_model("lenet5", checkpoint=str(path))
    assert torch.equal(loaded.conv2.weight, source.conv2.weight)
    assert not loaded.training


def test_checkpoint_mismatch_is_a_config_error(tmp_path):
    state = build_model("lenet5")[0].state_dict()
    state["fc3.weight"] = torch.zeros(5, 84)
    del state["fc3.bias"]
    state["head.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ConfigError) as info:
        build_model("lenet5", checkpoint=path)
    err = info.value
    assert err.source == str(path) and len(err.problems) == 1
    problem = err.problems[0]
    assert "1 missing key (fc3.bias)" in problem
    assert "1 unexpected key (head.weight)" in problem
    assert "fc3.weight: checkpoint [5, 84] vs model [10, 84]" in problem


def test_checkpoint_not_found_and_not_a_state_dict(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        build_model("lenet5", checkpoint=tmp_path / "missing.pt")
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(ConfigError, match="is not a state_dict"):
        build_model("lenet5", checkpoint=path)
    torch.save(build_model("lenet5")[0], path)  # the whole model, not its state_dict
    with pytest.raises(ConfigError, match="save model.state_dict"):
        build_model("lenet5", checkpoint=path)
    path.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=r"cannot be read by torch.load\(weights_only=True\): \w"):
        build_model("lenet5", checkpoint=path)


def test_pruned_checkpoint_is_folded(tmp_path):
    model, _ = build_model("lenet5")
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    path = tmp_path / "pruned.pt"
    torch.save(model.state_dict(), path)  # holds fc1.weight_orig and fc1.weight_mask
    loaded, _ = build_model("lenet5", checkpoint=path)
    assert torch.equal(loaded.fc1.weight, model.fc1.weight)
    assert float((loaded.fc1.weight == 0).float().mean()) == pytest.approx(0.5, abs=1e-3)


def _write_module(tmp_path, monkeypatch, body: str) -> None:
    (tmp_path / "user_models.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("user_models", None)


def test_module_function_reference(tmp_path, monkeypatch):
    _write_module(tmp_path, monkeypatch, """
        import torch
        def tiny():
            return torch.nn.Linear(4, 3)
        def not_a_model():
            return 42
        """)
    model, shape = build_model("user_models:tiny", seed=3)
    assert shape is None and isinstance(model, nn.Linear) and not model.training
    again, _ = build_model("user_models:tiny", seed=3)
    assert torch.equal(model.weight, again.weight)
    with pytest.raises(AccelsimError, match="returned int, not a torch.nn.Module"):
        build_model("user_models:not_a_model")
    with pytest.raises(AccelsimError, match="has no attribute 'tinny'.*did you mean 'tiny'"):
        build_model("user_models:tinny")
    with pytest.raises(AccelsimError, match="cannot import module 'no_such_module_xyz'"):
        build_model("no_such_module_xyz:f")
    with pytest.raises(AccelsimError, match="must look like"):
        build_model("user_models:")
    by_file, _ = build_model(f"{tmp_path / 'user_models.py'}:tiny", seed=3)  # a .py file works too
    assert torch.equal(by_file.weight, model.weight)
    with pytest.raises(AccelsimError, match="cannot import module .*nowhere.py"):
        build_model(f"{tmp_path / 'nowhere.py'}:tiny")


def test_importing_the_zoo_does_not_import_torch():
    code = "import sys, accelsim.workload.models; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_torchvision():
    build_model("lenet5")
    assert "torchvision" not in sys.modules
    for file in Path(accelsim.workload.models.__file__).parent.glob("*.py"):
        text = file.read_text()
        assert "import torchvision" not in text and "from torchvision" not in text
