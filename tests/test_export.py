"""The torch.export front end: every op with matrix work becomes layers with hand-worked shapes, the
MACs agree with PyTorch's own counter, and the masks are the real ones in the GEMM view."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune

from accelsim.workload.mac_count import count_macs
from accelsim.workload.tracing import trace_model


def _trace(model, x):
    torch.manual_seed(0)
    return trace_model(model, None, input_tensor=x, name="m", front_end="export")


def _by_name(workload):
    return {layer.name: layer for layer in workload.layers}


class Functional(nn.Module):
    """Only functional calls and einsum: the fx front end saw 0 layers here."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.fc = nn.Parameter(torch.randn(10, 8 * 6 * 6))
        self.proj = nn.Parameter(torch.randn(10, 4))

    def forward(self, x):
        y = F.relu(F.conv2d(x, self.w, stride=1))
        z = F.linear(y.flatten(1), self.fc)
        return torch.einsum("bi,ij->bj", z, self.proj)


def test_functional_conv_linear_einsum_are_layers():
    w = _trace(Functional(), torch.randn(2, 3, 8, 8))
    layers = _by_name(w)
    assert list(layers) == ["w", "fc", "proj"]
    conv, fc, proj = layers["w"], layers["fc"], layers["proj"]
    assert (conv.kind, conv.m, conv.n, conv.k) == ("conv", 2 * 6 * 6, 8, 27)
    assert (fc.kind, fc.m, fc.n, fc.k) == ("linear", 2, 10, 288)
    assert (proj.kind, proj.m, proj.n, proj.k) == ("linear", 2, 4, 10)
    assert proj.weight_mask.shape == (4, 10)  # (N, K): the einsum's weight transposed
    assert proj.input_from == ("fc",) and fc.input_from == ("w",) and conv.input_from == ("",)
    assert w.macs == count_macs(Functional(), torch.randn(2, 3, 8, 8))
    assert w.coverage.mac_share_not_simulated == 0 and w.coverage.param_share_not_simulated == 0


class Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 3, groups=2, padding=1)
        self.c3 = nn.Conv3d(2, 4, (2, 3, 3))
        self.ct = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
        self.dw = nn.Conv2d(4, 4, 3, groups=4)

    def forward(self, x):
        a = self.c1(x[:, :, 0, 0, :]).sum()
        b = self.c3(x[:, :2]).sum()
        c = self.ct(x[:, :, 0]).sum()
        return a + b + c + self.dw(x[:, :, 0]).sum()


def test_conv_family_shapes_and_macs():
    x = torch.randn(2, 4, 5, 7, 7)
    model = Convs()
    w = _trace(model, x)
    c1, c3, ct, dw = (_by_name(w)[n] for n in ("c1", "c3", "ct", "dw"))
    assert (c1.kind, c1.groups, c1.m, c1.n, c1.k) == ("conv", 2, 2 * 7, 3, 2 * 3)
    assert c1.conv.kernel_h == 1 and c1.conv.in_h == 1 and c1.conv.pad_w == 1
    assert c1.weight_mask.shape == (6, 2, 1, 3)
    assert (c3.m, c3.n, c3.k, c3.conv) == (2 * 4 * 5 * 5, 4, 2 * 18, None)
    # transposed: each of the 2*7*7 input pixels times in/g = 2 values into out/g * 3*3 = 27 outputs
    assert (ct.kind, ct.groups, ct.m, ct.n, ct.k) == ("conv_transpose", 2, 2 * 49, 27, 2)
    assert (dw.kind, dw.groups, dw.m, dw.n, dw.k) == ("depthwise", 4, 2 * 25, 1, 9)
    assert w.macs == count_macs(model, x)
    for layer in w.layers:  # the GEMM view of every mask is well formed
        assert layer.gemm_weight_mask().shape == (layer.groups, layer.k, layer.n)


def test_transposed_conv_mask_in_gemm_view():
    model = nn.Sequential(nn.ConvTranspose2d(4, 6, 2, groups=2))
    with torch.no_grad():
        model[0].weight[1, 2, 0, 1] = 0.0  # in-channel 1 (group 0), out-channel 2 of the group, tap (0, 1)
    layer = _trace(model, torch.randn(1, 4, 3, 3)).layers[0]
    gm = layer.gemm_weight_mask()  # [g, K = in/g, N = (out/g) * kh * kw]
    assert gm.shape == (2, 2, 12) and gm.sum() == gm.size - 1
    assert not gm[0, 1, 2 * 4 + 0 * 2 + 1]


def test_attention_sdpa_and_multihead():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

        def forward(self, x):
            y, _ = self.mha(x, x, x)
            q = y.unflatten(-1, (4, 8)).transpose(1, 2)
            return F.scaled_dot_product_attention(q, q, q, is_causal=True)

    model, x = Attn(), torch.randn(2, 10, 32)
    w = _trace(model, x)
    layers = _by_name(w)
    assert layers["mha.in_proj"].weight_mask.shape == (96, 32) and layers["mha.in_proj"].m == 20
    assert layers["mha.out_proj"].n == 32
    qk, pv = layers["scaled_dot_product_attention.qk"], layers["scaled_dot_product_attention.pv"]
    assert (qk.groups, qk.m, qk.n, qk.k) == (8, 10, 10, 8) and (pv.groups, pv.m, pv.n, pv.k) == (8, 10, 8, 10)
    assert pv.input_from == ("mha.out_proj", "scaled_dot_product_attention.qk") and qk.weight_mask is None
    bmm = [layer for layer in w.layers if layer.kind == "matmul" and layer.name.startswith("bmm")]
    assert len(bmm) == 2 and {b.groups for b in bmm} == {8}  # MHA's Q.K^T and P.V
    assert w.macs == count_macs(model, x)


@pytest.mark.parametrize("cls,gates", [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
def test_recurrent_gates_per_time_step(cls, gates):
    model = nn.Sequential()
    model.rnn = cls(6, 8, num_layers=2, batch_first=True, bidirectional=True)
    prune.l1_unstructured(model.rnn, "weight_hh_l0", amount=0.5)
    x = torch.randn(3, 5, 6)
    w = _trace(_First(model), x)
    layers = _by_name(w)
    ih0, ih1 = layers["m.rnn.ih_l0"], layers["m.rnn.ih_l1_reverse"]
    assert (ih0.m, ih0.n, ih0.k) == (15, gates * 8, 6) and (ih1.m, ih1.k) == (15, 16)
    steps = [n for n in layers if n.startswith("m.rnn.hh_l0@t")]
    assert len(steps) == 5 and all(layers[s].m == 3 and layers[s].k == 8 for s in steps)
    assert layers["m.rnn.hh_l0@t3"].input_from == ("m.rnn.hh_l0@t2", "m.rnn.ih_l0")
    assert layers["m.rnn.hh_l0@t0"].weight_density == pytest.approx(0.5)
    by_hand = 2 * 2 * 15 * gates * 8 * 8 + 2 * 15 * gates * 8 * (6 + 16)  # recurrent + input projections
    assert w.macs == count_macs(_First(model), x) == by_hand


class _First(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]


def test_hf_style_conv1d_addmm_mask():
    class Conv1D(nn.Module):  # transformers.pytorch_utils.Conv1D: weight (in, out), addmm
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(nx, nf))
            self.bias = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            out = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
            return out.view(*x.shape[:-1], -1)

    model = nn.Sequential(Conv1D(12, 8))
    prune.random_unstructured(model[0], "weight", amount=0.25)
    layer = _trace(model, torch.randn(2, 3, 8)).layers[0]
    assert (layer.name, layer.kind, layer.m, layer.n, layer.k) == ("0", "linear", 6, 12, 8)
    np.testing.assert_array_equal(layer.weight_mask, model[0].weight_mask.bool().numpy().T)


def test_einsum_contractions():
    class E(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 5, 6))  # heads, in, out

        def forward(self, x):  # x: (b, t, h, i)
            y = torch.einsum("bthi,hio->btho", x, self.w)
            return torch.einsum("bqhd,bkhd->bhqk", y, y)

    model, x = E(), torch.randn(2, 3, 4, 5)
    w = _trace(model, x)
    proj, scores = w.layers
    assert (proj.groups, proj.m, proj.n, proj.k) == (4, 6, 6, 5)
    assert proj.gemm_weight_mask().shape == (4, 5, 6)
    assert (scores.kind, scores.groups, scores.m, scores.n, scores.k) == ("matmul", 8, 3, 3, 6)
    assert w.macs == count_macs(model, x)


def test_tied_and_buffer_weights():
    emb = nn.Embedding(50, 16)
    head = nn.Linear(16, 50, bias=False)
    head.weight = emb.weight

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.head = emb, head

        def forward(self, ids):
            return self.head(self.emb(ids))

    w = _trace(LM(), torch.randint(0, 50, (2, 7)))
    assert [layer.name for layer in w.layers] == ["head"] or [layer.name for layer in w.layers] == ["emb"]
    assert w.coverage.params_total == 800 and w.coverage.param_share_not_simulated == 0


LM_FILE = '''
import torch
from torch import nn


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(40, 8)
        self.out = nn.Linear(8, 40)

    def forward(self, ids):
        assert ids.dtype == torch.int64
        return self.out(self.emb(ids))


def lm():
    return TinyLM()
'''


def test_input_ids_from_the_command_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from accelsim.cli.app import cli

    (tmp_path / "lm.py").write_text(LM_FILE)
    torch.save(torch.randint(0, 40, (3, 5)), tmp_path / "ids.pt")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    random_ids = runner.invoke(cli, ["trace", "--model", "lm.py:lm", "--input-ids", "2,7"])
    assert random_ids.exit_code == 0, random_ids.output
    assert "out   linear  14×40×8" in random_ids.stdout  # M = batch x tokens
    from_file = runner.invoke(cli, ["trace", "--model", "lm.py:lm", "--input-ids", "ids.pt"])
    assert from_file.exit_code == 0, from_file.output
    assert "15×40×8" in from_file.stdout
    floats = runner.invoke(cli, ["trace", "--model", "lm.py:lm", "--input-shape", "7"])
    assert floats.exit_code == 2 and floats.stderr.count("\n") == 1  # one line naming module, line, fix
    assert "cannot capture the model's TinyLM.forward at lm.py:13 `assert ids.dtype" in floats.stderr
    bad = runner.invoke(cli, ["trace", "--model", "lm.py:lm", "--input-ids", "7"])
    assert bad.exit_code == 2 and "--input-ids '7': write batch,tokens" in bad.stderr


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_llama_family_gqa_and_kv_cache(phase):
    from accelsim.workload.models.llama import LlamaStack

    torch.manual_seed(0)
    model = LlamaStack(hidden=64, layers=2, heads=8, kv_heads=2, ffn=96, vocab=100, phase=phase,
                       cache_tokens=12)
    t = 12 if phase == "prefill" else 1
    x = torch.randn(2, t, 64)
    w = _trace(model, x)
    layers = _by_name(w)
    assert layers["layers.0.self_attn.k_proj"].n == 2 * 8 and layers["layers.0.self_attn.q_proj"].n == 64
    qk, pv = layers["layers.1.self_attn.qk"], layers["layers.1.self_attn.pv"]
    keys = 12 if phase == "prefill" else 12 + 1  # decode: the cache plus the new token
    assert (qk.groups, qk.m, qk.n, qk.k) == (2 * 8, t, keys, 8) and (pv.m, pv.n, pv.k) == (t, 8, keys)
    assert layers["lm_head"].m == 2 * t and layers["layers.0.mlp.down_proj"].k == 96
    assert w.macs == count_macs(model, x)
    assert {p.why for p in w.coverage.params_not_simulated} == {"a norm's scale / shift (no MACs)"}


def test_lstm_with_projection():
    model = _First(nn.LSTM(8, 16, proj_size=4, num_layers=2, batch_first=True))
    x = torch.randn(2, 5, 8)
    layers = _by_name(_trace(model, x))
    hh, hr = layers["m.hh_l1@t4"], layers["m.hr_l1@t4"]
    assert (hh.n, hh.k, hr.n, hr.k, hr.m) == (64, 4, 4, 16, 2) and hr.input_from == ("m.hh_l1@t4",)
    assert layers["m.ih_l1"].k == 4 and hr.weight_mask.shape == (4, 16)
    assert sum(layer.macs for layer in layers.values()) == count_macs(model, x)
