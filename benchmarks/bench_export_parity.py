"""MAC parity of the torch.export front end on full-size models: the README's table.

    python benchmarks/bench_export_parity.py             # print the table
    python benchmarks/bench_export_parity.py --record    # also write benchmarks/results/export_parity.md
    python benchmarks/bench_export_parity.py --only zoo  # one group: zoo, timm, hf

For each model: trace it as ``accelsim trace`` does (``trace_model``: torch.export, coverage), count
its MACs independently (``accelsim.workload.mac_count.count_macs``: PyTorch's FlopCounterMode, plus
SDPA on CPU and nn.LSTM counted by PyTorch's / a hand formula), and report accelsim MACs, counter
MACs, their ratio, the simulated share of MACs and of parameters, and the trace's wall time.

Models: the zoo (batch 1); timm resnet50, efficientnet_b0, mobilenetv3_large_100, convnext_tiny,
vit_small_patch16_224 (fused attention: F.scaled_dot_product_attention), swin_tiny_patch4_window7_224
(224 x 224, batch 1, random init); Hugging Face BERT-base, GPT-2 (124 M), a Llama (hidden 1024,
8 layers, 16 heads, 4 KV heads, FFN 2816) and ViT-base/16 built from their configs (no download;
token ids (1, 128)).  timm needs torchvision at import: installed without dependencies
(``pip install --no-deps timm torchvision``), the two ``torchvision::`` op schemas its import
registers kernels for are defined first with torch.library (the wheel's compiled ops do not load
against this torch).  Neither is a dependency of accelsim; uninstall them afterwards
(``pip uninstall -y timm torchvision``): with torchvision present, ``import transformers`` fails on
those schemas unless they are defined first (this script's timm group does it, so run ``--only hf``
before installing them).  Recorded: ``--only hf --record``, then the two installed, ``--only timm
--record``, uninstalled; ``--only zoo --record``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelsim.workload.mac_count import count_macs  # noqa: E402
from accelsim.workload.models import build_model  # noqa: E402
from accelsim.workload.tracing import trace_model  # noqa: E402

TIMM = ["resnet50", "efficientnet_b0", "mobilenetv3_large_100", "convnext_tiny", "vit_small_patch16_224",
        "swin_tiny_patch4_window7_224"]


def zoo():
    from accelsim.registry import MODELS

    for name in MODELS.names():
        model, shape = build_model(name)
        yield f"zoo {name}", model, torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))


def timm_models():
    os.environ.setdefault("TIMM_FUSED_ATTN", "1")
    lib = torch.library.Library("torchvision", "DEF")  # noqa: F841 (kept alive while timm imports)
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import timm

    for name in TIMM:
        torch.manual_seed(0)
        yield f"timm {name}", timm.create_model(name, pretrained=False).eval(), torch.randn(1, 3, 224, 224)


def hf_models():
    import transformers as tf

    ids = torch.randint(0, 1000, (1, 128), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    yield "HF BERT-base", tf.BertModel(tf.BertConfig()).eval(), ids
    yield "HF GPT-2 (124M)", tf.GPT2LMHeadModel(tf.GPT2Config()).eval(), ids
    llama = tf.LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8,
                           num_attention_heads=16, num_key_value_heads=4, vocab_size=32000)
    yield "HF Llama (1024 x 8, GQA 16/4)", tf.LlamaForCausalLM(llama).eval(), ids
    yield "HF ViT-base/16", tf.ViTModel(tf.ViTConfig()).eval(), torch.randn(1, 3, 224, 224)


def measure(label, model, x):
    start = time.perf_counter()
    workload = trace_model(model, None, input_tensor=x, name=label)
    seconds = time.perf_counter() - start
    counted = count_macs(model, x)
    cov = workload.coverage
    return {"model": label, "accelsim": workload.macs, "counter": counted, "ratio": workload.macs / counted,
            "macs_cov": 1 - cov.mac_share_not_simulated, "params_cov": 1 - cov.param_share_not_simulated,
            "layers": len(workload.layers), "seconds": seconds, "front_end": cov.front_end}


def table(rows) -> str:
    lines = ["| model | accelsim MACs | counter MACs | ratio | MACs simulated | parameters simulated as "
             "weights | layers | trace s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['accelsim']:,} | {r['counter']:,} | {r['ratio']:.4f} | "
                     f"{100 * r['macs_cov']:.2f} % | {100 * r['params_cov']:.2f} % | {r['layers']} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--only", choices=["zoo", "timm", "hf"])
    args = parser.parse_args()
    groups = {"zoo": zoo, "timm": timm_models, "hf": hf_models}
    rows = []
    for key, gen in groups.items():
        if args.only and key != args.only:
            continue
        for label, model, x in gen():
            rows.append(measure(label, model, x))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            del model
    text = table(rows)
    print(text)
    if args.record:  # the rows measured now replace theirs; the other recorded rows are kept
        path = ROOT / "benchmarks" / "results" / "export_parity.md"
        old = path.read_text().splitlines() if path.exists() else []
        lines = {line.split(" | ")[0][2:]: line for line in old
                 if line.startswith("| ") and not line.startswith("| model")}
        for r in rows:  # in place, or appended in the order measured
            lines[r["model"]] = table([r]).splitlines()[-1]
        text = "\n".join([*table([]).splitlines(), *lines.values()])
        header = (f"# MAC parity of the torch.export front end (bench_export_parity.py)\n\n"
                  f"Recorded {datetime.date.today()} on {platform.machine()}, torch {torch.__version__}, "
                  f"command `python benchmarks/bench_export_parity.py --record`.  accelsim MACs: the traced "
                  "workload's (every layer's groups x M x N x K); counter MACs: "
                  "accelsim.workload.mac_count.count_macs (PyTorch's FlopCounterMode / 2, SDPA on CPU by "
                  "PyTorch's SDPA formula, nn.LSTM by hand).  Ratio within 1 % is the target.  'parameters "
                  "simulated as weights': the rest are biases, norms' scales and embedding tables (no MACs), "
                  "listed by `accelsim trace`.  'trace s': torch.export + one run of the graph, 2 shared "
                  "cores.\n\n")
        path.write_text(header + text + "\n")


if __name__ == "__main__":
    main()
