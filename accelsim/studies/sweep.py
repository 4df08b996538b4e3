"""Sweep specs: axes over hardware fields (by dotted path) and over workloads, their expansion into
points (Cartesian product or ``zip``), and the validation of every point before anything runs.

    spec = SweepSpec("dense_ws", "resnet50", axes=(parse_axis("pe_array.rows=8,16,32"),))
    tasks = plan(spec)            # ConfigError naming the axis if any point does not load

A hardware axis is any dotted path the loader accepts (``pe_array.rows``, ``memories.glb.size``,
``memories[1].size``, ``sparsity.weights.format``); its values are YAML scalars (``8`` is an int,
``128 KiB`` stays a string for the loader).  Workload axes are ``model``, ``batch``, and ``density``
/ ``pattern``, which name the recipe ``<model>_<pct>pct_<pattern>`` (pct = percent of weights pruned).
``accelsim.studies.run.run_sweep`` runs a spec on an executor (executors.py) into a result store
(store.py).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.errors import AccelsimError, ConfigError
from accelsim.spec import config as cfg
from accelsim.spec import recipe as grammar
from accelsim.spec.hardware import HardwareConfig, hardware_from_dict, resolve_hardware_path

WORKLOAD_AXES = ("model", "density", "pattern", "batch")


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class WorkloadRef:
    """How a worker loads a workload by name (never the workload itself: it stays out of the scheduler)."""

    ref: str
    batch: int | None = None
    input_shape: tuple[int, ...] | None = None
    checkpoint: str | None = None
    fingerprint: str = ""

    def identity(self) -> dict[str, Any]:
        return {"ref": self.ref, "batch": self.batch, "input_shape": list(self.input_shape or ()),
                "checkpoint": self.checkpoint, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class SweepSpec:
    hw: str
    model: str
    axes: tuple[Axis, ...] = ()
    zip: bool = False
    batch: int | None = None
    input_shape: tuple[int, ...] | None = None
    checkpoint: str | None = None


@dataclass(frozen=True)
class Task:
    """One validated point: what a worker needs to simulate it, and the key its result is stored under."""

    index: int
    key: str
    params: dict[str, Any]
    hardware: HardwareConfig
    workload: WorkloadRef


# --- parsing ------------------------------------------------------------------------------------

def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets, so ``holds=[inputs,weights],[weights]`` has two values."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_axis(text: str) -> Axis:
    """``PATH=V1,V2,...`` -> Axis.  Raises AccelsimError naming the axis."""
    if "=" not in text:
        raise AccelsimError(f"--axis {text!r}: write PATH=V1,V2,..., e.g. --axis pe_array.rows=8,16,32")
    name, raw = (s.strip() for s in text.split("=", 1))
    if not name:
        raise AccelsimError(f"--axis {text!r}: the path before '=' is empty")
    try:
        values = tuple(cfg.parse_scalar(v) for v in _split_values(raw))
    except ValueError:
        raise AccelsimError(f"--axis {text!r}: a value is empty; separate values with single commas"
                            ) from None
    if len(set(map(repr, values))) != len(values):
        raise AccelsimError(f"--axis {text!r}: a value is given twice")
    return Axis(name, values)


# --- expansion ----------------------------------------------------------------------------------

def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """The points as ``{axis name: value}`` dicts, in a stable order (the last axis varies fastest)."""
    names = [a.name for a in spec.axes]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise AccelsimError(f"--axis {sorted(dup)[0]} is given twice; put all its values in one --axis")
    if not spec.axes:
        return [{}]
    if spec.zip:
        lengths = {a.name: len(a.values) for a in spec.axes}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{n} has {k}" for n, k in lengths.items())
            raise AccelsimError(f"--zip needs axes with equal numbers of values: {detail}")
        combos = zip(*(a.values for a in spec.axes), strict=True)
    else:
        combos = itertools.product(*(a.values for a in spec.axes))
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def workload_ref(spec: SweepSpec, params: dict[str, Any]) -> WorkloadRef:
    """The workload a point names: ``model`` replaces --model; ``density``/``pattern`` make a recipe name."""
    model = str(params.get("model", spec.model))
    if "density" in params or "pattern" in params:
        model = recipe_name(model, params.get("density"), params.get("pattern"))
    if model.endswith(".csv"):
        model = str(Path(model).resolve())  # the same file from another directory is the same point
    batch = params.get("batch", spec.batch)
    return WorkloadRef(model, batch, spec.input_shape, spec.checkpoint)


def recipe_name(model: str, density: Any, pattern: Any) -> str:
    """The recipe name (accelsim.spec.recipe's grammar) of ``model`` at ``density`` (0.3 -> ``70pct``)
    with ``pattern``.  A base name already of that form gives the missing part: ``resnet50_70pct``
    with pattern=window -> ``resnet50_70pct_window``."""
    base = grammar.recipe_from_name(model)
    sparsity = 0.0
    if base is not None and base.name != base.model:  # a pruned grammar name
        model, sparsity = base.model, base.sparsity
        pattern = base.pattern if pattern is None else pattern
    elif density is None:
        raise AccelsimError(f"--axis pattern needs a density: add --axis density=0.3, or give --model "
                            f"as {model}_70pct")
    if density is not None:
        if isinstance(density, bool) or not isinstance(density, int | float) or not 0 < density <= 1:
            raise AccelsimError(f"--axis density={density}: a density is a number in (0, 1], e.g. 0.3")
        sparsity = 1 - float(density)
    return grammar.recipe_name(model, "unstructured" if pattern is None else str(pattern), sparsity)


# --- validation ---------------------------------------------------------------------------------

def base_hardware_raw(ref: str) -> tuple[Any, str]:
    """The raw mapping ``load_hardware`` starts from, read once for every point."""
    if ref.endswith(".cfg"):
        from accelsim.spec.scalesim import read_scalesim_config

        return read_scalesim_config(ref), ref
    path, _ = resolve_hardware_path(ref)
    return cfg.read_yaml(path), str(path)


def set_path(raw: Any, dotted: str, value: Any, source: str) -> Any:
    """``config.set_dotted``, creating missing intermediate mappings first, so that
    ``sparsity.weights.format`` can be swept on a config without a ``sparsity:`` section.  A
    misspelt intermediate key then becomes an unknown key that the loader reports with a hint."""
    parts = dotted.replace("[", ".").replace("]", "").split(".")
    root = copy.deepcopy(raw)
    node = root
    for part in parts[:-1]:
        if not isinstance(node, dict):
            break
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    return cfg.set_dotted(root, dotted, value, source)


def check_workload_axes(spec: SweepSpec) -> list[str]:
    problems: list[str] = []
    for axis in spec.axes:
        if axis.name == "batch":
            bad = [v for v in axis.values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
            if bad:
                problems.append(f"--axis batch={bad[0]}: not a batch size (a whole number >= 1)")
        elif axis.name == "density":
            for v in axis.values:
                try:
                    recipe_name("m", v, None)
                except AccelsimError as exc:
                    problems.append(str(exc))
                    break
    return problems


def _loader_path(raw: Any, dotted: str) -> str:
    """The path the loader reports for ``dotted``: ``memories.glb.size`` -> ``memories[2].size``."""
    out, node = "", raw
    for part in dotted.replace("[", ".").replace("]", "").split("."):
        if isinstance(node, list):
            names = [m.get("name") if isinstance(m, dict) else None for m in node]
            idx = int(part) if part.isdigit() else names.index(part) if part in names else None
            if idx is None or idx >= len(node):
                return dotted
            out, node = f"{out}[{idx}]", node[idx]
        else:
            out = f"{out}.{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out


def explain(failures: dict[str, list[dict[str, Any]]], axes: tuple[Axis, ...], raw: Any,
            n_points: int) -> list[str]:
    """One line per distinct problem, naming the axis (and value) it comes from where it can tell:
    an axis whose path the problem is about, and the values every failing point shares."""
    lines = []
    hw_axes = [a for a in axes if a.name not in WORKLOAD_AXES]
    for problem, plist in failures.items():
        shared = {a.name: plist[0][a.name] for a in hw_axes
                  if all(p[a.name] == plist[0][a.name] for p in plist)}
        named = [a.name for a in hw_axes
                 if problem.startswith((f"{a.name}:", f"{_loader_path(raw, a.name)}:", f"{a.name}."))]
        where = f"{len(plist)} of {n_points} points" if n_points > 1 else "the only point"
        if named:
            axis = named[0]
            value = f"={shared[axis]}" if axis in shared and len(plist) < n_points else ""
            varying = {a.name for a in hw_axes if len(a.values) > 1}
            others = ", ".join(f"{k}={v}" for k, v in shared.items() if k != axis and k in varying)
            lines.append(f"--axis {axis}{value}: {problem} ({where}{', with ' + others if others else ''})")
        else:
            combo = ", ".join(f"{k}={v}" for k, v in shared.items()) or "various values"
            lines.append(f"{problem} ({where}, with {combo})")
    return lines


def point_key(hw: HardwareConfig, workload: WorkloadRef, version: str = __version__) -> str:
    """The store key: hash of (resolved hardware, workload reference + fingerprint, accelsim version)."""
    from accelsim.spec.hardware import hardware_dict

    blob = json.dumps({"hardware": hardware_dict(hw), "workload": workload.identity(), "version": version},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def plan(spec: SweepSpec) -> list[Task]:
    """Expand and validate every point (hardware loads with its overrides) before any runs.

    Workload fingerprints are not known yet (``with_fingerprints`` adds them once loaded)."""
    raw, source = base_hardware_raw(spec.hw)
    points = expand(spec)
    problems = check_workload_axes(spec)
    if problems:
        raise AccelsimError("\n".join(problems) if len(problems) == 1
                            else f"{len(problems)} problems\n" + "\n".join(f"  - {p}" for p in problems))
    tasks: list[Task] = []
    failures: dict[str, list[dict[str, Any]]] = {}
    for index, params in enumerate(points):
        point_raw = raw
        try:
            for dotted, value in params.items():
                if dotted not in WORKLOAD_AXES:
                    point_raw = set_path(point_raw, dotted, value, source)
            hw = hardware_from_dict(point_raw, source)
        except ConfigError as exc:
            for p in list(exc.problems) or [str(exc)]:
                failures.setdefault(p, []).append(params)
            continue
        wl = workload_ref(spec, params)
        tasks.append(Task(index, point_key(hw, wl), params, hw, wl))
    problems = explain(failures, spec.axes, raw, len(points))
    if problems:
        if len(problems) > 12:
            problems = problems[:12] + [f"... and {len(problems) - 12} more"]
        raise ConfigError(source, problems)
    return tasks


def with_fingerprints(tasks: list[Task], fingerprints: dict[WorkloadRef, str]) -> list[Task]:
    """The same points with their workloads' fingerprints in the WorkloadRef and so in the key."""
    out = []
    for t in tasks:
        fp = fingerprints.get(replace(t.workload, fingerprint=""), t.workload.fingerprint)
        wl = replace(t.workload, fingerprint=fp)
        out.append(replace(t, workload=wl, key=point_key(t.hardware, wl)))
    return out


def workload_refs(spec: SweepSpec) -> list[WorkloadRef]:
    """The distinct workloads a sweep needs, in first-use order."""
    seen: dict[WorkloadRef, None] = {}
    for params in expand(spec):
        seen.setdefault(workload_ref(spec, params), None)
    return list(seen)


def check_workload_names(refs: list[WorkloadRef]) -> None:
    """Every workload name resolves (a recipe, a zoo name, a file) -- cheaply, without building any."""
    problems = []
    for ref in refs:
        if ref.ref.endswith(".csv"):
            if not Path(ref.ref).is_file():
                problems.append(f"{ref.ref}: file not found")
            continue
        from accelsim.workload.recipes import resolve_recipe

        try:
            resolve_recipe(ref.ref, validate_method=False)
        except AccelsimError as exc:
            text = str(exc) if ref.ref in str(exc) else f"workload {ref.ref!r}: {exc}"
            if text not in problems:
                problems.append(text)
    if len(problems) == 1:
        raise AccelsimError(problems[0])
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise AccelsimError(f"{len(problems)} workloads do not resolve:\n{lines}")


# --- Pareto frontier ----------------------------------------------------------------------------

def pareto_mask(xs: list[float], ys: list[float]) -> list[bool]:
    """True where no other point is at least as good in both (minimised) and better in one."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    mask = [False] * len(xs)
    best_y = float("inf")
    last: tuple[float, float] | None = None  # the last frontier point; its duplicates are on it too
    for i in order:
        here = (xs[i], ys[i])
        if ys[i] < best_y or here == last:
            mask[i], best_y, last = True, ys[i], here
    return mask
