"""MAC parity: the traced workload's MACs against an independent count (PyTorch's FLOP counter, with
SDPA and LSTM counted beside it: accelsim.workload.mac_count) on every zoo model and on Hugging Face
BERT, GPT-2, Llama and ViT built from small configs (no download), each fed as a user would:
``module:function`` and token ids.  The README's parity table (full-size models) is recorded by
benchmarks/bench_export_parity.py."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from accelsim.registry import MODELS
from accelsim.workload.mac_count import count_macs
from accelsim.workload.models import build_model
from accelsim.workload.tracing import trace_model


@pytest.mark.parametrize("name", [n for n in MODELS.names() if not n.startswith("llama")])
def test_zoo_mac_parity(name):
    """(The Llama family's 100 M-parameter shapes are in bench_export_parity; its small shapes below.)"""
    model, shape = build_model(name)
    workload = trace_model(model, shape)
    x = torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))
    assert workload.macs == count_macs(model, x)  # exact: every MAC of the zoo is a GEMM layer's
    assert workload.coverage.mac_share_not_simulated == 0


HF_MODELS = '''
import transformers as tf


def bert():
    return tf.BertModel(tf.BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=128, vocab_size=500))


def gpt2():
    return tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=500,
                                            bos_token_id=0, eos_token_id=0))


def llama():
    return tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                                              num_attention_heads=4, num_key_value_heads=2, vocab_size=500))


def vit():
    return tf.ViTModel(tf.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=128, image_size=32, patch_size=8))
'''


@pytest.fixture(scope="module")
def hf_file(tmp_path_factory):
    pytest.importorskip("transformers")
    path = tmp_path_factory.mktemp("hf") / "hf_models.py"
    path.write_text(HF_MODELS)
    return path


@pytest.mark.parametrize("name,inputs,attention", [
    ("bert", ["--input-ids", "2,16"], 2), ("gpt2", ["--input-ids", "2,16"], 2),
    ("llama", ["--input-ids", "2,16"], 2), ("vit", ["--input-shape", "3,32,32", "--batch", "2"], 2)])
def test_hf_models_unchanged_and_mac_parity(hf_file, tmp_path, monkeypatch, name, inputs, attention):
    from accelsim.workload.load import load_workload
    from accelsim.workload.models import build_model as build

    monkeypatch.chdir(hf_file.parent)
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    from accelsim.cli.app import cli

    traced = CliRunner().invoke(cli, ["trace", "--model", f"hf_models.py:{name}", *inputs])
    assert traced.exit_code == 0, traced.output
    printed = " ".join(traced.stdout.split())  # the coverage lines wrap at 100 columns
    assert "coverage (torch.export): 100.00 % of" in printed and "WARNING" not in traced.stderr
    ids = name != "vit"
    workload = load_workload(f"hf_models.py:{name}", input_ids=(2, 16) if ids else None,
                             input_shape=None if ids else (3, 32, 32), batch=None if ids else 2,
                             cache_dir=tmp_path / "cache")
    model, _ = build(f"hf_models.py:{name}")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 500, (2, 16), generator=g) if ids else torch.randn(2, 3, 32, 32, generator=g)
    counted = count_macs(model, x)
    assert abs(workload.macs / counted - 1) < 0.01
    sdpa = [layer for layer in workload.layers if layer.name.endswith((".qk", ".pv"))]
    assert len(sdpa) == 2 * attention and all(layer.weight_mask is None for layer in sdpa)
    assert all(layer.weight_mask is not None for layer in workload.layers if layer.kind == "linear")
