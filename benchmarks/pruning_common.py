"""Shared by the pruning benchmarks: one seeded prune-and-train run on digits, the statistics (mean,
sample std, the two-standard-error mark) and the machine line.  Worker processes import this."""

from __future__ import annotations

import datetime
import math
import os
import platform
import time
from pathlib import Path

POST_TRAINING = ("magnitude", "random", "pen_ultimate", "l1_filter")
AT_INIT = ("snip", "synflow")
LAYOUT = {"mlp_digits": "flat", "lenet5_digits": "image"}

_CACHE: dict = {}


def data_for(seed: int, layout: str):
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per worker process is fastest
    from accelsim.workload.pruning.training import load_digits_split

    if ("data", seed) not in _CACHE:
        _CACHE[("data", seed)] = load_digits_split(seed=seed)
    return _CACHE[("data", seed)].as_layout(layout)


def layers_of(model):
    from torch import nn

    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}


def dense_state(model_name: str, seed: int, epochs: int):
    """(trained dense state_dict, test accuracy, (wall, cpu) seconds), once per worker, model, seed."""
    from accelsim.workload.models import build_model
    from accelsim.workload.pruning.training import evaluate, train

    key = ("dense", model_name, seed, epochs)
    if key not in _CACHE:
        t0, c0 = time.perf_counter(), time.process_time()
        data = data_for(seed, LAYOUT[model_name])
        model, _ = build_model(model_name, seed=seed)
        train(model, data, epochs, 1e-2, seed=seed)
        _CACHE[key] = ({k: v.clone() for k, v in model.state_dict().items()}, evaluate(model, data),
                       (time.perf_counter() - t0, time.process_time() - c0))
    return _CACHE[key]


def run_one(task: tuple) -> dict:
    """One (model, method, pattern, target, seed, cfg) run; pen_ultimate's pattern is its granularity
    and its target its variance."""
    model_name, method, pattern_name, target, seed, cfg = task
    data = data_for(seed, LAYOUT[model_name])
    from accelsim.workload.models import build_model
    from accelsim.workload.pruning.methods import METHODS
    from accelsim.workload.pruning.methods.iterative import model_sparsity, overall_sparsity
    from accelsim.workload.pruning.patterns import make_pattern
    from accelsim.workload.pruning.training import apply_masks, evaluate, train

    t0, c0 = time.perf_counter(), time.process_time()
    base = dict(model=model_name, method=method, pattern=pattern_name, target=target, seed=seed, widths=None)
    model, _ = build_model(model_name, seed=seed)
    if method == "dense":
        state, acc, (wall, cpu) = dense_state(model_name, seed, cfg["dense"])
        model.load_state_dict(state)
        t1, c1 = time.perf_counter(), time.process_time()
        train(model, data, cfg["finetune"], 1e-3, seed=seed + 1)
        return dict(base, achieved=0.0, before=acc, final=evaluate(model, data),
                    seconds=wall + time.perf_counter() - t1, cpu=cpu + time.process_time() - c1)
    layers = layers_of(model)
    if method in POST_TRAINING:  # the shared dense training is not this run's cost
        state, _, _ = dense_state(model_name, seed, cfg["dense"])
        model.load_state_dict(state)
        t0, c0 = time.perf_counter(), time.process_time()
    params: dict = {}
    pattern = make_pattern("unstructured" if method == "pen_ultimate" else pattern_name)
    sparsity = target
    if method == "pen_ultimate":
        params, sparsity = {"variance": target, "granularity": pattern_name}, 0.5
    elif method in ("imp", "imp_reinit"):
        params = {"epochs": cfg["imp_epochs"]}
    elif method in ("agp", "drop") and cfg["quick"]:
        params = {"pretrain_epochs": 4, "finetune_epochs": 4, "steps": 4}
    masks = METHODS.get(method).prune(model, layers, pattern, sparsity, seed=seed, data=data, **params)
    before = None
    if method in POST_TRAINING or method in AT_INIT:
        apply_masks(model, masks)
        if method in POST_TRAINING:
            before = evaluate(model, data)
            train(model, data, cfg["finetune"], 1e-3, masks=masks, seed=seed + 1)
        else:
            train(model, data, cfg["dense"], 1e-2, masks=masks, seed=seed + 1)
    widths = getattr(masks, "widths", None)
    return dict(base, achieved=overall_sparsity(masks), zeros=model_sparsity(layers), before=before,
                final=evaluate(model, data), seconds=time.perf_counter() - t0, cpu=time.process_time() - c0,
                widths=None if widths is None else " ".join(f"{k}/{n}" for k, n in widths.values()))


# ---------------------------------------------------------------- statistics and formatting


def stats(values) -> tuple[float, float, int]:
    """(mean, sample standard deviation (0 for one value), n)."""
    v = [float(x) for x in values]
    n = len(v)
    if n == 0:
        return (math.nan, math.nan, 0)
    mean = sum(v) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1)) if n > 1 else 0.0
    return (mean, sd, n)


def mark(a: tuple[float, float, int], b: tuple[float, float, int]) -> tuple[float, str]:
    """(mean_a - mean_b, "yes" if it exceeds two Welch standard errors else "no")."""
    delta = a[0] - b[0]
    se = math.sqrt(a[1] ** 2 / max(a[2], 1) + b[1] ** 2 / max(b[2], 1))
    return delta, "yes" if abs(delta) > 2 * se else "no"


def summarise(s: tuple[float, float, int]) -> str:
    return f"{100 * s[0]:.1f} ± {100 * s[1]:.1f}"


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(workers: int) -> str:
    import torch

    return (f"Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; machine: "
            f"{platform.machine()} ({_cpu_model()}), {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, "
            f"torch {torch.__version__}, {workers} worker processes x 1 torch thread  ")
