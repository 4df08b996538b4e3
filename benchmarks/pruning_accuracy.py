"""Test accuracy of every pruning method x pattern x sparsity on scikit-learn's digits (offline).

    python benchmarks/pruning_accuracy.py                 # prints the markdown table
    python benchmarks/pruning_accuracy.py --record        # also writes benchmarks/results/pruning_accuracy.md
    python benchmarks/pruning_accuracy.py --quick         # two sparsities, fewer epochs (smoke run)

Models: the zoo's ``mlp_digits`` (64-128-64-10, flat input) and ``lenet5_digits`` (LeNet-5 with
padded 5x5 convs on 1x8x8).  Every conv/linear layer is pruned (first and last included).  One
stratified split (seed 0: 1,347 train / 450 test), one seed per run: on 450 test images one image
is 0.22 %, so differences of about 1 % are noise.

Protocols (accuracy is always measured on the held-out test split):
* magnitude, random, taylor -- prune the trained dense model (``dense`` epochs), report the test
  accuracy right after pruning ("one-shot") and after ``finetune`` epochs with the mask ("final").
* snip, synflow -- pruning at initialisation: prune the untrained model, then train it with the
  mask for ``dense`` epochs ("final").  SynFlow uses its default n = 100 iterations.
* agp, imp, drop -- the methods' own training loops from initialisation (defaults of
  accelsim.workload.pruning.methods.iterative; imp prunes 20 % of the remaining weights per round with
  ``imp_epochs`` epochs per round and rewinds to step 20).
The ``nm2:4`` pattern is 50 % whatever the target, so it runs once, at 50 %.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METHODS_ORDER = ("magnitude", "random", "taylor", "snip", "synflow", "agp", "imp", "drop")
POST_TRAINING = ("magnitude", "random", "taylor")
AT_INIT = ("snip", "synflow")
MODELS = {"mlp_digits": ("flat", ("unstructured", "nm2:4")),
          "lenet5_digits": ("image", ("unstructured", "nm2:4", "window", "channel"))}

_CACHE: dict = {}


def _setup(quick: bool):
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per worker process is fastest
    from accelsim.workload.pruning.training import load_digits_split

    if "data" not in _CACHE:
        _CACHE["data"] = load_digits_split(seed=0)
    return _CACHE["data"]


def _layers(model):
    from torch import nn

    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}


def _dense(model_name: str, layout: str, cfg: dict):
    """(trained dense state_dict, its test accuracy), once per worker and model."""
    from accelsim.workload.models import build_model
    from accelsim.workload.pruning.training import evaluate, train

    key = ("dense", model_name)
    if key not in _CACHE:
        t0, c0 = time.perf_counter(), time.process_time()
        data = _CACHE["data"].as_layout(layout)
        model, _ = build_model(model_name, seed=0)
        train(model, data, cfg["dense"], 1e-2, seed=0)
        _CACHE[key] = ({k: v.clone() for k, v in model.state_dict().items()}, evaluate(model, data))
        spent = (time.perf_counter() - t0, time.process_time() - c0)
        _CACHE["dense_time"] = _CACHE[("time", model_name)] = spent
    return _CACHE[key]


def run_one(task: tuple) -> dict:
    model_name, layout, method, pattern_name, target, cfg = task
    data = _setup(cfg["quick"]).as_layout(layout)
    from accelsim.workload.models import build_model
    from accelsim.workload.pruning.methods import METHODS
    from accelsim.workload.pruning.methods.iterative import model_sparsity, overall_sparsity
    from accelsim.workload.pruning.patterns import make_pattern
    from accelsim.workload.pruning.training import apply_masks, evaluate, train

    t0, c0 = time.perf_counter(), time.process_time()
    if method == "dense":  # the post-training protocol at 0 %: dense training, then fine-tuning
        state, acc = _dense(model_name, layout, cfg)
        wall, cpu = _CACHE[("time", model_name)]
        model, _ = build_model(model_name, seed=0)
        model.load_state_dict(state)
        t1, c1 = time.perf_counter(), time.process_time()
        train(model, data, cfg["finetune"], 1e-3, seed=1)
        return dict(model=model_name, method="dense", pattern="-", target=0.0, achieved=0.0,
                    before=acc, final=evaluate(model, data), seconds=wall + time.perf_counter() - t1,
                    cpu=cpu + time.process_time() - c1)
    pattern = make_pattern(pattern_name)
    model, _ = build_model(model_name, seed=0)
    layers = _layers(model)
    before = None
    params = {}
    if method in POST_TRAINING:  # the shared dense training is not this run's cost
        _CACHE.pop("dense_time", None)
        state, _ = _dense(model_name, layout, cfg)
        wall, cpu = _CACHE.pop("dense_time", (0.0, 0.0))
        t0, c0 = t0 + wall, c0 + cpu
        model.load_state_dict(state)
    if method == "imp":
        params = {"epochs": cfg["imp_epochs"]}
    elif method in ("agp", "drop") and cfg["quick"]:
        params = {"pretrain_epochs": 5, "finetune_epochs": 5, "steps": 5}
    masks = METHODS.get(method).prune(model, layers, pattern, target, seed=0, data=data, **params)
    if method in POST_TRAINING or method in AT_INIT:
        apply_masks(model, masks)
        if method in POST_TRAINING:
            before = evaluate(model, data)
            train(model, data, cfg["finetune"], 1e-3, masks=masks, seed=1)
        else:
            train(model, data, cfg["dense"], 1e-2, masks=masks, seed=1)
    return dict(model=model_name, method=method, pattern=pattern_name, target=target,
                achieved=overall_sparsity(masks), zeros=model_sparsity(layers), before=before,
                final=evaluate(model, data), seconds=time.perf_counter() - t0, cpu=time.process_time() - c0)


def tasks(cfg: dict) -> list[tuple]:
    out = []
    for model_name, (layout, patterns) in MODELS.items():
        out.append((model_name, layout, "dense", "-", 0.0, cfg))
        for method in METHODS_ORDER:
            for pattern in patterns:
                for target in (0.5,) if pattern.startswith("nm") else cfg["sparsities"]:
                    out.append((model_name, layout, method, pattern, target, cfg))
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def table(rows: list[dict]) -> str:
    lines = ["| model | method | pattern | target % | achieved % | test acc after pruning % | "
             "test acc final % | wall s | CPU s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    order = {m: i for i, m in enumerate(("dense", *METHODS_ORDER))}
    pats = {p: i for i, p in enumerate(("-", "unstructured", "nm2:4", "window", "channel"))}
    models = list(MODELS)
    for r in sorted(rows, key=lambda r: (models.index(r["model"]), order[r["method"]], pats[r["pattern"]],
                                         r["target"])):
        cells = (r["model"], r["method"], r["pattern"], _pct(r["target"]), _pct(r["achieved"]),
                 _pct(r["before"]), _pct(r["final"]), f"{r['seconds']:.1f}", f"{r['cpu']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--record", action="store_true", help="write benchmarks/results/pruning_accuracy.md")
    args = ap.parse_args(argv)
    cfg = dict(quick=args.quick, sparsities=(0.5, 0.9) if args.quick else (0.5, 0.8, 0.9),
               dense=10 if args.quick else 15, finetune=5 if args.quick else 10,
               imp_epochs=4 if args.quick else 5)
    todo = tasks(cfg)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    # the expensive methods first, so the two workers finish together
    cost = {"imp": 0, "drop": 1, "agp": 2}
    todo.sort(key=lambda t: (cost.get(t[2], 9), -t[4]))
    if args.workers <= 1:  # in-process (debugging, or a 1-core machine)
        rows = [run_one(t) for t in todo]
    else:
        with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
            rows = list(pool.map(run_one, todo))
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    cpu = sum(r["cpu"] for r in rows)
    import torch

    command = "python benchmarks/pruning_accuracy.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    head = [
        "# Pruning methods x patterns: test accuracy on scikit-learn digits",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}  ",
        f"Machine: {platform.machine()} ({_cpu_model()}), {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}, {args.workers} worker processes "
        "x 1 torch thread  ",
        f"Total: {wall:.0f} s wall for {len(rows)} runs; {cpu:.0f} s of CPU inside the runs (imports "
        "excluded; each worker trains the dense models once and reuses them: that training is shown in "
        "the dense rows and left out of the others). 1-minute load average "
        f"{load_before:.1f} at the start, {load_after:.1f} at the end (other jobs shared the machine: "
        "the CPU column is the steadier measure; wall time on an idle machine is about CPU / workers).",
        "",
        "Split: stratified, seed 0, 1,347 train / 450 test; one seed per run (1 test image = 0.22 %). "
        "Achieved = pruned fraction of all conv/linear weights. \"after pruning\" is the trained dense "
        "model pruned one-shot, before any fine-tuning (post-training methods only; for dense: before "
        "the fine-tuning epochs). Protocols: "
        f"magnitude/random/taylor prune the dense model trained {cfg['dense']} epochs (Adam, lr 1e-2), "
        f"then fine-tune {cfg['finetune']} epochs (lr 1e-3) -- the dense row is that protocol at 0 %; "
        f"snip/synflow prune at initialisation and train {cfg['dense']} epochs "
        f"with the mask; agp/imp/drop use their own loops (imp: {cfg['imp_epochs']} epochs per round, "
        "20 % of the remaining per round). nm2:4 is 50 % whatever the target (run once); on lenet5_digits "
        "conv1 has C = 1, so nm2:4 leaves it dense and channel falls back to unstructured there; "
        "window/channel fall back to unstructured on the linear layers.",
        "",
    ]
    text = "\n".join(head) + "\n" + table(rows) + "\n"
    print(text)
    if args.record:
        out = ROOT / "benchmarks" / "results" / "pruning_accuracy.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
