"""Tracing: GEMM shapes, MACs, masks from every pruning API, activation density, errors, fingerprint."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn
from torch.ao.pruning.sparsifier.utils import FakeSparsity
from torch.nn.utils import parametrize, prune

from accelsim.errors import ConfigError, SimulationError
from accelsim.workload.models import MODELS, build_model
from accelsim.workload.tracing import trace_model, workload_fingerprint

SYNTHETIC = "measured on synthetic seeded N(0,1) input"


@functools.cache
def traced(name: str):
    """(model, input shape, workload) built and traced once per test session; do not mutate."""
    model, shape = build_model(name)
    return model, shape, trace_model(model, shape, name=name)


@pytest.fixture(scope="module")
def resnet50():
    return traced("resnet50")


def _by_name(workload):
    return {layer.name: layer for layer in workload.layers}


def _hook_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Independent reference: MACs of every conv/linear from forward hooks on real outputs."""
    total = 0

    def hook(mod, inputs, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        else:
            total += out.numel() * mod.in_features

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


# the 1B and 7B decoders (4 and 26 GB of weights) are built one layer at a time only: their shapes are
# checked on the meta device (test_models), the streamed build against a whole one (test_stream_build)
BUILT_ONE_PART_AT_A_TIME = ("llama_1b", "llama2_7b")


@pytest.mark.parametrize("name", [n for n in MODELS.names()
                                  if n != "resnet50" and not n.startswith(BUILT_ONE_PART_AT_A_TIME)])
def test_every_zoo_model_traces(name):
    model, shape, workload = traced(name)
    assert workload.layers and workload.name == name and workload.batch == 1
    assert workload.input_shape == shape
    matmul_macs = sum(layer.macs for layer in workload.layers if layer.kind == "matmul")
    assert workload.macs - matmul_macs == _hook_macs(model, torch.randn(1, *shape))
    for layer in workload.layers:
        assert 0.0 <= layer.activation_density <= 1.0
        assert layer.activation_density_source == SYNTHETIC
        if layer.weight_mask is not None:
            assert layer.weight_mask.dtype == bool and layer.weight_density == 1.0
            assert layer.gemm_weight_mask().shape == (layer.groups, layer.k, layer.n)


def test_resnet50_layers_and_macs(resnet50):
    model, _, workload = resnet50
    kinds = [layer.kind for layer in workload.layers]
    assert kinds.count("conv") == 53 and kinds.count("linear") == 1 and len(kinds) == 54
    assert workload.macs == 4_089_184_256  # torchvision's "4.09 GMACs", exactly
    assert workload.macs == _hook_macs(model, torch.randn(1, 3, 224, 224))
    layers = _by_name(workload)
    conv1 = layers["conv1"]
    assert (conv1.m, conv1.n, conv1.k, conv1.groups) == (112 * 112, 64, 3 * 7 * 7, 1)
    assert (conv1.conv.out_h, conv1.conv.stride_h, conv1.conv.pad_h) == (112, 2, 3)
    c2 = layers["layer2.0.conv2"]  # 3x3 stride 2, 128 -> 128, 56 -> 28
    assert (c2.m, c2.n, c2.k) == (28 * 28, 128, 128 * 9)
    down = layers["layer1.0.downsample.0"]
    assert (down.m, down.n, down.k) == (56 * 56, 256, 64)
    fc = layers["fc"]
    assert (fc.kind, fc.m, fc.n, fc.k, fc.weight_mask.shape) == ("linear", 1, 1000, 2048, (1000, 2048))
    assert conv1.activation_density == 1.0  # N(0,1) input has no zeros
    assert 0.3 < layers["layer1.0.conv2"].activation_density < 0.7  # after BN + ReLU
    assert len(workload.fingerprint) == 16


def test_batch_scales_m():
    model, shape = build_model("lenet5")
    one, four = trace_model(model, shape), trace_model(model, shape, batch=4)
    assert [layer.m * 4 for layer in one.layers] == [layer.m for layer in four.layers]
    assert four.batch == 4 and four.layers[0].conv.batch == 4


def test_mobilenet_v2_depthwise():
    workload = traced("mobilenet_v2")[2]
    depthwise = [layer for layer in workload.layers if layer.kind == "depthwise"]
    assert len(depthwise) == 17
    first = _by_name(workload)["features.1.conv.0.0"]
    assert first.kind == "depthwise"
    assert (first.groups, first.n, first.k, first.m) == (32, 1, 9, 112 * 112)
    assert first.gemm_weight_mask().shape == (32, 9, 1)
    assert all(dw.groups == dw.conv.in_channels and dw.n == 1 and dw.k == 9 for dw in depthwise)


def test_bert_block_attention_matmuls():
    workload = traced("bert_block")[2]
    matmuls = [layer for layer in workload.layers if layer.kind == "matmul"]
    assert [(mm.groups, mm.m, mm.n, mm.k) for mm in matmuls] == [(12, 128, 128, 64), (12, 128, 64, 128)]
    assert all(mm.weight_mask is None for mm in matmuls)
    linears = [layer for layer in workload.layers if layer.kind == "linear"]
    assert [layer.name for layer in linears] == ["query", "key", "value", "attn_out", "ffn_in", "ffn_out"]
    assert all(layer.m == 128 for layer in linears)
    assert workload.macs == 128 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 12 * 128 * 128 * 64


def test_matmul_spellings_and_broadcast():
    class Products(nn.Module):
        def forward(self, a, b):
            x = torch.bmm(a, b)  # (2, 4, 4) x (2, 4, 5) -> (2, 4, 5)
            y = x @ b.transpose(1, 2)  # -> (2, 4, 4)
            z = y.matmul(torch.ones_like(y).transpose(1, 2)[:1])  # batch 1 broadcast to 2
            return torch.matmul(z, z.transpose(-1, -2))

    class One(nn.Module):  # trace_model feeds one input: cut both operands from it
        def __init__(self):
            super().__init__()
            self.inner = Products()

        def forward(self, x):
            vector = torch.matmul(x[0, 0], x[0].transpose(0, 1))  # (5,) x (5, 4): m = 1
            return self.inner(torch.relu(x[:, :, :4]), x[:, :4, :5]), vector

    workload = trace_model(One(), (4, 5), batch=2)
    got = [(layer.kind, layer.groups, layer.m, layer.n, layer.k) for layer in workload.layers]
    assert got == [("matmul", 1, 1, 4, 5), ("matmul", 2, 4, 5, 4), ("matmul", 2, 4, 4, 5),
                   ("matmul", 2, 4, 4, 4), ("matmul", 2, 4, 4, 4)]
    assert 0.3 < workload.layers[1].activation_density < 0.7  # relu'd first operand


def test_conv_shape_stride_padding_dilation_groups():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=3, dilation=2, groups=2)
    x = torch.randn(1, 4, 17, 15)
    (layer,) = trace_model(conv, (4, 17, 15)).layers
    out = conv(x)
    c = layer.conv
    assert (c.out_h, c.out_w) == tuple(out.shape[2:])
    assert (c.out_h, c.out_w) == (10, 9)  # (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    assert (c.stride_h, c.pad_w, c.dilation_h, c.groups) == (2, 3, 2, 2)
    assert (layer.kind, layer.groups, layer.m, layer.n, layer.k) == ("conv", 2, c.out_h * c.out_w, 3, 2 * 9)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("padding", "expect"), [("same", (9, 10)), ("valid", (6, 7)), ((1, 2), (8, 11))])
def test_conv_string_and_tuple_padding(padding, expect):
    conv = nn.Conv2d(2, 3, (4, 4), padding=padding)
    (layer,) = trace_model(conv, (2, 9, 10)).layers
    assert (layer.conv.out_h, layer.conv.out_w) == expect == tuple(conv(torch.randn(1, 2, 9, 10)).shape[2:])
    assert layer.m == expect[0] * expect[1]


def test_linear_m_is_product_of_leading_dims():
    (layer,) = trace_model(nn.Linear(8, 5), (3, 7, 8), batch=2).layers
    assert (layer.kind, layer.m, layer.n, layer.k) == ("linear", 2 * 3 * 7, 5, 8)


def test_gemm_weight_mask_rsc_order():
    conv = nn.Conv2d(4, 2, 2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[1, 2, 0, 1] = 1.0  # out n=1, c=2, r=0, s=1
    (layer,) = trace_model(conv, (4, 5, 5)).layers
    gemm = layer.gemm_weight_mask()
    assert gemm.shape == (1, 16, 2)
    expected = np.zeros((1, 16, 2), dtype=bool)
    expected[0, (0 * 2 + 1) * 4 + 2, 1] = True  # K index = (r*S + s)*C + c
    np.testing.assert_array_equal(gemm, expected)

    grouped = nn.Conv2d(4, 4, 1, groups=2, bias=False)
    with torch.no_grad():
        grouped.weight.zero_()
        grouped.weight[3, 0, 0, 0] = 1.0  # group 1, its n=1, its c=0
    (layer,) = trace_model(grouped, (4, 3, 3)).layers
    gemm = layer.gemm_weight_mask()
    assert gemm.shape == (2, 2, 2) and gemm.sum() == 1 and gemm[1, 0, 1]


def test_mask_from_exact_zeros():
    linear = nn.Linear(6, 4)
    with torch.no_grad():
        linear.weight[:, ::2] = 0
    (layer,) = trace_model(linear, (6,)).layers
    np.testing.assert_array_equal(layer.weight_mask, (linear.weight != 0).numpy())
    assert layer.weight_density == 0.5
    assert not layer.weight_mask.flags.writeable


def test_mask_from_torch_prune():
    model, shape = build_model("lenet5")
    prune.l1_unstructured(model.conv2, "weight", amount=0.6)
    kept = model.conv2.weight_mask.flatten().nonzero()[0, 0]
    with torch.no_grad():  # a zero inside the kept set: the declared mask still counts it as kept
        model.conv2.weight_orig.view(-1)[kept] = 0.0
    layers = _by_name(trace_model(model, shape))
    np.testing.assert_array_equal(layers["conv2"].weight_mask, model.conv2.weight_mask.bool().numpy())
    assert layers["conv2"].weight_mask.flatten()[kept] and model.conv2.weight_orig.flatten()[kept] == 0
    assert layers["conv2"].weight_density == pytest.approx(0.4, abs=2e-3)
    assert layers["conv1"].weight_density == 1.0


def test_mask_from_parametrization():
    linear = nn.Linear(8, 4)
    mask = torch.rand(4, 8, generator=torch.Generator().manual_seed(1)) > 0.5
    parametrize.register_parametrization(linear, "weight", FakeSparsity(mask))
    (layer,) = trace_model(linear, (8,)).layers
    np.testing.assert_array_equal(layer.weight_mask, mask.numpy())


def test_mask_from_asp_buffer():
    linear = nn.Linear(8, 4)
    mask = torch.zeros(4, 8, dtype=torch.bool)
    mask[:, :4] = True
    linear.register_buffer("__weight_mma_mask", mask)
    (layer,) = trace_model(linear, (8,)).layers
    assert layer.weight_density == 0.5 and layer.weight_mask[:, :4].all()


def test_mask_shape_mismatch_is_a_config_error():
    linear = nn.Linear(8, 4)
    linear.register_buffer("weight_mask", torch.ones(4, 4))
    with pytest.raises(ConfigError) as info:
        trace_model(linear, (8,), name="tiny")
    assert info.value.source == "tiny"
    assert "(4, 4)" in str(info.value) and "(4, 8)" in str(info.value)


def test_activation_density_sources():
    model, shape = build_model("mlp_digits")
    x = torch.zeros(2, 64)
    x[:, :16] = 1.0
    layers = trace_model(model, None, input_tensor=x).layers
    assert layers[0].activation_density == 0.25
    assert layers[0].activation_density_source == "measured on user input tensor of shape (2, 64)"
    assert all(layer.m == 2 for layer in layers)
    assumed = trace_model(model, shape, measure_activations=False).layers
    assert all(layer.activation_density == 1.0 and layer.activation_density_source == "assumed dense"
               for layer in assumed)


def test_tracing_keeps_training_mode_and_running_stats():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    model[1].eval()  # a mixed-mode model stays mixed
    model[0].train()
    before = model[1].running_mean.clone()
    trace_model(model, (3, 8, 8))
    assert model[0].training and not model[1].training
    assert torch.equal(model[1].running_mean, before)


def test_repeated_module_gets_numbered_layers():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 5)

        def forward(self, x):
            return self.fc(self.fc(x))

    assert [layer.name for layer in trace_model(Twice(), (5,)).layers] == ["fc", "fc#2"]


def test_user_subclass_of_linear_is_one_layer():
    class MaskedLinear(nn.Linear):  # defined outside torch.nn: fx alone would trace into it
        def forward(self, x):
            return nn.functional.linear(x, self.weight * (self.weight.abs() > 0.1), self.bias)

    net = nn.Sequential(MaskedLinear(6, 3), nn.ReLU())
    (layer,) = trace_model(net, (6,)).layers
    assert (layer.name, layer.kind, layer.n, layer.k) == ("0", "linear", 3, 6)


def test_untraceable_model_names_module_and_line():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            if x.sum() > 0:
                return self.fc(x)
            return x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = Gate()

        def forward(self, x):
            return self.gate(x)

    with pytest.raises(SimulationError) as info:
        trace_model(Net(), (4,), name="gated")
    message = str(info.value)
    assert message.startswith("gated: torch.export cannot capture module 'gate' (Gate.forward)")
    assert "`if x.sum() > 0:`" in message and "test_tracing.py" in message
    assert "control flow" in message and "torch.fx.wrap" in message
    assert "\n" not in message


def test_wrong_input_shape_is_a_simulation_error():
    with pytest.raises(SimulationError, match="cannot capture module 'fc1' .Linear.forward.*input shape"):
        trace_model(build_model("mlp_digits")[0], (63,), name="mlp")


def test_fingerprint():
    model, shape = build_model("lenet5")
    a, b = trace_model(model, shape), trace_model(model, shape)
    assert a.fingerprint == b.fingerprint == workload_fingerprint(a)
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0
    prune.random_unstructured(model.fc1, "weight", amount=0.3)
    assert trace_model(model, shape).fingerprint != a.fingerprint
    assert trace_model(build_model("lenet5")[0], shape, batch=2).fingerprint != a.fingerprint


def test_each_layer_knows_which_layers_feed_it():
    """input_from follows activations through the ops between GEMMs (ReLU, pooling, residual adds);
    "" is the model input.  The memory model uses it to keep activations on chip between layers."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
            self.c, self.fc = nn.Conv2d(8, 8, 1), nn.Linear(8, 4)

        def forward(self, x):
            y = torch.relu(self.a(x))
            z = self.c(torch.max_pool2d(self.b(y) + y, 2))
            return self.fc(z.mean(dim=(2, 3)))

    from accelsim.workload.tracing import trace_model

    layers = {layer.name: layer.input_from for layer in trace_model(Residual(), (3, 8, 8)).layers}
    assert layers == {"a": ("",), "b": ("a",), "c": ("a", "b"), "fc": ("c",)}


def test_the_fingerprint_covers_which_layers_feed_each_one():
    """Two graphs with the same layers but other connections simulate differently when activations
    stay on chip, so they must not share a fingerprint (the sweep store's key)."""
    from dataclasses import replace

    from accelsim.workload.layer import Layer, Workload
    from accelsim.workload.tracing import workload_fingerprint

    a = Layer("a", "linear", 4, 4, 4, input_from=("",))
    b = Layer("b", "linear", 4, 4, 4, input_from=("a",))
    chain, branch = Workload("w", (a, b)), Workload("w", (a, replace(b, input_from=("",))))
    assert workload_fingerprint(chain) != workload_fingerprint(branch)


def test_activation_densities_are_measured_on_one_thread(monkeypatch):
    """The measuring pass runs on one thread (the sums of a multi-threaded conv depend on the thread
    split, so a density measured on 2 cores could differ from one on 16), and restores the setting."""
    import torch
    from torch import nn

    from accelsim.workload.tracing import trace_model

    seen = []
    count = torch.count_nonzero

    def spy(t, *a, **kw):  # the density is counted inside the measuring pass
        seen.append(torch.get_num_threads())
        return count(t, *a, **kw)

    monkeypatch.setattr(torch, "count_nonzero", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        trace_model(nn.Sequential(nn.ReLU(), nn.Linear(4, 4)), (4,), name="spy")
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
