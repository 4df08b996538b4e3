"""Contract tests over every registry entry: a format, pattern, energy table, dataflow or timing
model added to its registry is checked by these invariants without editing a test.

The bit counts of each built-in format against its own brute-force encoder are in test_formats.py,
each pattern's group rule in test_patterns.py; here every entry meets the rules all of them share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from test_patterns import SETTINGS, conv_scores

from accelsim.cli.check import check_file, known_names
from accelsim.registry import DATAFLOWS, ENERGY_MODELS, PATTERNS, SPARSE_FORMATS, TIMING_MODELS
from accelsim.sim.energy import ACTIONS, BUFFER_ACTIONS, load_energy_table
from accelsim.sim.formats import Geometry, SparseFormat, get_format
from accelsim.sim.formats.base import Bits
from accelsim.spec.config import config_key, config_keys, positive_int
from accelsim.spec.hardware import hardware_from_dict
from accelsim.workload.pruning.patterns import achieved


def listed(what: str) -> set[str]:
    return {name for name, _ in known_names(what)}


def hw_dict(**sparsity) -> dict:
    return {"version": 1, "name": "t", "pe_array": {"rows": 4, "cols": 4},
            "memories": [{"name": "glb", "size": "64 KiB"}], "sparsity": sparsity}


# ---------------------------------------------------------------- sparse formats

# (mask shape [F, L], geometry): weights of 3x3 convs (L = 9 * C, (r, s, c) order) and of a linear layer
LAYOUTS = [((8, 9 * 4), Geometry(9, 4)), ((3, 9 * 2), Geometry(9, 2)), ((16, 9 * 8), Geometry(9, 8)),
           ((5, 24), Geometry(1, 24))]
DENSITIES = (0.05, 0.3, 0.7)
W = 8


def masks(shape):
    """Random masks at several densities, then the empty and the full mask."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    return [rng.random(shape) < d for d in DENSITIES] + [np.zeros(shape, bool), np.ones(shape, bool)]


def is_sentence(text) -> bool:
    return isinstance(text, str) and len(text.split()) >= 3 and "\n" not in text


@pytest.mark.parametrize("name", SPARSE_FORMATS.names())
def test_format_bits_hold_every_nonzero(name):
    fmt = get_format(name)
    for shape, geometry in LAYOUTS:
        for mask in masks(shape):
            problem = fmt.fit_problem(mask, geometry)
            assert problem is None or (is_sentence(problem) and not fmt.general), (name, problem)
            if problem is not None:  # stored dense instead; the storage trace carries the sentence
                continue
            nnz = int(mask.sum())
            data, meta, pad = (int(x) for x in fmt.bits(mask, W, geometry))
            assert data >= nnz * W and meta >= 0 and pad >= 0, (name, shape, nnz)
            if fmt.exploitable == ():  # keeps no positions: spends no index bits
                assert meta == 0
            if nnz == mask.size:  # a full mask: every value stored once, no explicit zero
                assert (data, pad) == (mask.size * W, 0), name
            if nnz == 0 and fmt.exploitable != ():  # an empty mask: whatever is stored is padding
                assert data == pad * W, name


@pytest.mark.parametrize("name", SPARSE_FORMATS.names())
def test_format_expected_bits_agree_with_bits_on_the_expected_count(name):
    """A format that stores activations sizes them from a count: on uniformly random masks with
    exactly that count its estimate is the mean of what ``bits`` measures (to 3 %)."""
    fmt = get_format(name)
    if not fmt.stores_activations:
        with pytest.raises(NotImplementedError):
            fmt.expected_bits(4, 36, 10.0, W)
        return
    rng = np.random.default_rng(0)
    f, length = 16, 72
    for nnz in (0, 29, 346, f * length):
        measured = np.zeros(3)
        for _ in range(30):
            flat = np.zeros(f * length, bool)
            flat[rng.choice(flat.size, nnz, replace=False)] = True
            measured += fmt.bits(flat.reshape(f, length), W, Geometry(1, length))
        expected = np.array(fmt.expected_bits(f, length, float(nnz), W), float)
        assert expected[0] >= nnz * W
        np.testing.assert_allclose(expected, measured / 30, rtol=0.03, atol=W, err_msg=f"{name} nnz={nnz}")


@pytest.mark.parametrize("name", SPARSE_FORMATS.names())
def test_format_declares_its_keys_and_loads_from_a_config(name):
    cls = SPARSE_FORMATS.get(name)
    assert (cls.__doc__ or "").strip() and name in listed("formats")
    keys = config_keys(cls)
    assert all(callable(f.metadata["parse"]) for f in keys.values())
    inputs = {"format": name, "skip": "gate"} if cls.stores_activations else None
    hw = hardware_from_dict(hw_dict(weights={"format": name, "skip": "gate"},
                                    **({"inputs": inputs} if inputs else {})), "hw.yaml")
    assert hw.sparsity.weights.options == {k: f.default for k, f in keys.items()}
    assert get_format(name, hw.sparsity.weights.options) == cls()
    for key in keys:  # a key of this format is refused under another one, which names this one
        other = "dense" if name != "dense" else "bitmask"
        if key not in config_keys(SPARSE_FORMATS.get(other)):
            with pytest.raises(Exception, match=rf"{key}: applies to .*'{name}'.*, not '{other}'"):
                hardware_from_dict(hw_dict(weights={"format": other, key: keys[key].default}), "hw.yaml")


# ---------------------------------------------------------------- pruning patterns

TARGETS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)


@pytest.mark.parametrize("name", PATTERNS.names())
def test_pattern_meets_its_target_within_one_group(name):
    """On an 8x8x3x3 weight every pattern fits and no group is more than 1/8 of the weight (a filter,
    an input channel, one of 9 positions of every window), so it lands within 1/8 of its target."""
    pattern = PATTERNS.get(name)()
    assert name in listed("patterns") and (type(pattern).__doc__ or "").strip()
    scores = (np.random.default_rng(1).permutation(8 * 8 * 9) + 1.0).reshape(8, 8, 3, 3)
    assert pattern.resolve(scores.shape, "conv")[0] is pattern
    for target in TARGETS:
        mask = pattern.mask(scores, target, kind="conv")
        assert abs(achieved(mask) - pattern.target_for(target)) <= 1 / 8 + 1e-12, (name, target)


@pytest.mark.parametrize("name", PATTERNS.names())
@SETTINGS
@given(case=conv_scores())
def test_pattern_masks_keep_the_important_weights(name, case):
    """On any conv weight: a bool mask of its shape, the same on every call, never the whole layer
    pruned, and the kept weights score at least as high as the pruned ones on average."""
    scores, target = case
    pattern = PATTERNS.get(name)()
    mask = pattern.mask(scores, target, kind="conv")
    assert mask.shape == scores.shape and mask.dtype == bool and mask.any()
    np.testing.assert_array_equal(mask, pattern.mask(scores, target, kind="conv"))
    if not mask.all():
        assert scores[mask].mean() >= scores[~mask].mean()


# ---------------------------------------------------------------- energy tables


@pytest.mark.parametrize("name", ENERGY_MODELS.names())
def test_energy_table_prices_every_action_and_names_its_source(name):
    table = load_energy_table(name)
    assert table.name == name and table.source.strip() and table.node_nm > 0
    assert set(table.costs) == set(ACTIONS)
    for action, cost in table.costs.items():
        capacities = (1024, 64 * 1024, 4 * 1024 * 1024) if action in BUFFER_ACTIONS else (None,)
        assert all(cost.pj_per_access(c) >= 0 for c in capacities), action
        assert cost.bits is None or cost.bits > 0
        assert cost.note.strip(), f"{action}: say where the figure comes from (or that it is assumed)"
    rf = table.cost("rf_access")
    assert rf.pj_per_access(1) < rf.pj_per_access(1024 * 1024)  # a register file's cost follows its size
    assert table.cost("noc").pj_per_access() > 0 and table.cost("pe_static").pj_per_access() > 0
    assert check_file(str(ENERGY_MODELS.get(name))) == "energy table"
    assert name in listed("energy-tables")
    assert hardware_from_dict({**hw_dict(), "energy": name}, "hw.yaml").energy_table == name


# ---------------------------------------------------------------- dataflows and timing models


@pytest.mark.parametrize("name", DATAFLOWS.names())
def test_every_dataflow_is_listed_and_loads(name):
    assert DATAFLOWS.get(name).description and name in listed("dataflows")
    hw = hardware_from_dict({**hw_dict(), "pe_array": {"rows": 4, "cols": 4, "dataflow": name}}, "hw.yaml")
    assert hw.pe_array.dataflow == name


@pytest.mark.parametrize("name", TIMING_MODELS.names())
def test_every_timing_model_is_listed_and_loads(name):
    assert TIMING_MODELS.get(name).description and name in listed("timing-models")
    assert hardware_from_dict({**hw_dict(), "timing": name}, "hw.yaml").timing == name


def test_lists_are_exactly_the_registries():
    lists = {"formats": SPARSE_FORMATS, "patterns": PATTERNS, "energy-tables": ENERGY_MODELS,
             "dataflows": DATAFLOWS, "timing-models": TIMING_MODELS}
    for what, registry in lists.items():
        assert [n for n, _ in known_names(what)] == registry.names()
    assert {"horowitz_45nm", "eyeriss_65nm"} <= set(ENERGY_MODELS.names())


# ---------------------------------------------------------------- a format registered at run time


@dataclass(frozen=True)
class TwoLevelBitmask(SparseFormat):
    """two-level bitmask: a presence bit per group of positions, then a bitmask of each nonempty group"""

    group: int = config_key(4, positive_int)

    name = "bitmask2"

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        f, length = fibers.shape
        groups = -(-length // self.group)
        padded = np.zeros((f, groups * self.group), bool)
        padded[:, :length] = fibers
        nonempty = int(padded.reshape(f, groups, self.group).any(axis=2).sum())
        return int(np.count_nonzero(fibers)) * value_bits, f * groups + nonempty * self.group, 0


@pytest.fixture
def bitmask2():
    SPARSE_FORMATS.add("bitmask2", TwoLevelBitmask)
    yield
    SPARSE_FORMATS.remove("bitmask2")


PLUGIN_YAML = """
version: 1
name: two_level
pe_array: {rows: 8, cols: 8, dataflow: ws}
memories:
  - {name: glb, size: 64 KiB}
sparsity:
  weights: {format: bitmask2, group: 3, skip: skip, exploits: [unstructured]}
"""


def test_a_format_registered_at_run_time_is_loaded_simulated_and_counted(bitmask2, tmp_path):
    from accelsim import load_hardware, load_workload, simulate
    from accelsim.errors import ConfigError
    from accelsim.sim.storage import weight_fibers

    path = tmp_path / "two_level.yaml"
    path.write_text(PLUGIN_YAML)
    hw = load_hardware(path)  # the loader asks the registry, and the format for its keys
    assert hw.sparsity.weights.format == "bitmask2" and hw.sparsity.weights.group == 3
    assert check_file(str(path)) == "hardware config" and "bitmask2" in listed("formats")
    with pytest.raises(ConfigError, match="group: applies to format 'bitmask2', not 'bitmask'"):
        load_hardware(path, {"sparsity.weights.format": "bitmask"})
    with pytest.raises(ConfigError, match="group: 0 is not a positive whole number"):
        load_hardware(path, {"sparsity.weights.group": 0})

    # hand-worked: groups of 4 over 8 positions; fiber 0 has one nonempty group, fiber 1 two
    mask = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 1]], bool)
    assert get_format("bitmask2").bits(mask, 8, Geometry()) == (4 * 8, (2 + 4) + (2 + 4 + 4), 0)
    # groups of 3: 3 per fiber (the last one padded to 3); fiber 0 -> 1 nonempty, fiber 1 -> 2
    assert get_format("bitmask2", {"group": 3}).bits(mask, 8, Geometry())[1] == (3 + 3) + (3 + 3 + 3)

    workload = load_workload("lenet5_93pct")
    report = simulate(hw, workload)
    fmt = TwoLevelBitmask(group=3)
    for layer, out in zip(workload.layers, report.layers, strict=True):
        weights = out.storage["weights"]
        assert weights.format == "bitmask2"
        assert weights.metadata_bits == fmt.bits(weight_fibers(layer), 8, Geometry())[1] > 0
    assert report.totals()["total_cycles"] > 0
