"""No dead knob: every field of every shipped hardware config acts on some output, or the loader
refuses the changed value.

For each shipped config, every field it sets is changed (numbers scaled, sizes and bandwidths
multiplied or divided, names swapped for another registered name, lists shortened, flags flipped),
and every optional field it leaves out is added with a non-default value; the simulation of a small
pruned model must then differ somewhere in report.json (cycles, traffic, energy, storage, names), or
the loader must refuse the value with a ConfigError.  ``description`` and ``source`` are prose.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import pytest

from accelsim.errors import AccelsimError
from accelsim.registry import DATAFLOWS, ENERGY_MODELS, SPARSE_FORMATS, TIMING_MODELS
from accelsim.sim.simulator import simulate
from accelsim.spec.config import read_yaml
from accelsim.spec.hardware import HW_DIR, hardware_from_dict, shipped_hardware_names
from accelsim.workload.load import load_workload

PROSE = {"description", "source"}
OPTIONAL = {  # fields a shipped config may leave out, each with a value that is not the default
    "mapping_objective": "dram",
    "dram.channels": 3,
    "keep_activations": True,
    "memories[-1].double_buffered": False,
    "memories[-1].bandwidth": "2 B/cycle",
    "memories[-1].read_bandwidth": "2 B/cycle",
    "memories[-1].write_bandwidth": "1 B/cycle",
    "sparsity.inputs": {"format": "bitmask", "skip": "gate"},
}


@cache
def _workload(name: str):
    return load_workload(name)


def _run(raw) -> str:
    """report.json of two small pruned models (unstructured and 4x4 blocks), hardware echo aside."""
    hw = hardware_from_dict(raw, "knob.yaml")
    reports = []
    for name in ("lenet5_93pct", "lenet5_70pct_block4x4"):
        report = simulate(hw, _workload(name)).to_json_dict()
        report.pop("provenance")
        report.pop("hardware")
        reports.append(report)
    return json.dumps(reports, sort_keys=True, default=str)


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path, node


def _scaled(text: str, factor: float) -> str:
    number, _, unit = str(text).partition(" ")
    return f"{float(number) * factor:g} {unit}".strip()


def _changes(key: str, value):
    """Other values for a field (tried in order until one acts)."""
    if isinstance(value, bool):
        return [not value]
    if key == "ports":  # twice, half, or one port: a tile may leave half a network's lines idle
        return [value * 2, max(1, value // 2), 1]
    if isinstance(value, int):
        return [value * 2, max(1, value // 2)]
    if isinstance(value, list):
        return [value[1:], value[:1]] if len(value) > 1 else [[]]
    names = {"dataflow": DATAFLOWS, "timing": TIMING_MODELS, "format": SPARSE_FORMATS,
             "energy": ENERGY_MODELS}
    if key in names:
        return [n for n in names[key].names() if n != value][:3]
    if key == "skip":
        return [s for s in ("none", "gate", "skip") if s != value]
    if key == "precision":
        return ["int16", "int4"]
    if key in ("nm", "block"):
        return ["1:4"] if key == "nm" else ["2x2", "8x8"]
    if key == "name":
        return [f"{value}_renamed"]
    if isinstance(value, str) and value[:1].isdigit():
        return [_scaled(value, 4), _scaled(value, 0.25)]
    return [f"{value}x"]


def _set(raw, path, value):
    node = raw
    for p in path[:-1]:
        node = node.setdefault(p, {}) if isinstance(p, str) else node[p]
    node[path[-1]] = value


def _path(dotted: str):
    out = []
    for part in dotted.split("."):
        if "[" in part:
            name, idx = part[:-1].split("[")
            out += [name, int(idx)]
        else:
            out.append(part)
    return tuple(out)


def _resolved(raw, path):
    """``path`` with a -1 index replaced by the last index of its list in ``raw``."""
    out, node = [], raw
    for p in path:
        if p == -1 and isinstance(node, list):
            p = len(node) - 1
        out.append(p)
        node = node[p] if isinstance(node, list) or (isinstance(node, dict) and p in node) else {}
    return tuple(out)


def _knobs():
    for name in shipped_hardware_names():
        raw = read_yaml(HW_DIR / f"{name}.yaml")
        for path, value in _leaves(raw):
            if path[0] not in PROSE:
                yield pytest.param(name, path, _changes(str(path[-1]), value),
                                   id=f"{name}:{'.'.join(map(str, path))}")
        given = dict(_leaves(raw))
        for dotted, value in OPTIONAL.items():
            path = _path(dotted)
            if (len(path) == 1 and path[0] in raw) or given.get(_resolved(raw, path), not value) == value:
                continue  # the config sets it (to this value): changed above
            yield pytest.param(name, path, [value], id=f"{name}:+{dotted}")


@cache
def _base(name: str) -> str:
    return _run(read_yaml(HW_DIR / f"{name}.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("name,path,values", list(_knobs()))
def test_every_field_acts_or_is_refused(name, path, values):
    base = _base(name)
    tried = []
    for value in values:
        raw = copy.deepcopy(read_yaml(HW_DIR / f"{name}.yaml"))
        _set(raw, path, value)
        try:
            if _run(raw) != base:
                return
        except AccelsimError:
            return
        tried.append(value)
    pytest.fail(f"{name}: {'.'.join(map(str, path))} changed to {tried} moved no output and was not refused")
