"""Storage tiers: tiles at every on-chip level, traffic between levels, ports, bypass.

The traffic between tiers is checked against a brute-force walk of the loop nest; the compute of a
multi-tier mapping is exactly that of its innermost tiles; ports and bypass act on the outputs.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import load_hardware, simulate
from accelsim.errors import ConfigError
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute, tiling_cycles
from accelsim.sim.inner_tiling import boundary_elements
from accelsim.sim.mapping import LOOP_ORDERS, tile_model
from accelsim.sim.storage import storage_of
from accelsim.spec.hardware import hardware_from_dict
from accelsim.workload.layer import Layer, Workload

RELEVANT = {"inputs": "mk", "weights": "kn", "outputs": "mn"}


def two_tier_hw(l1="2 KiB", glb="64 KiB", l1_holds=("inputs", "weights", "outputs"), glb_port=None,
                l1_double=True, rows=8, cols=8):
    l1_levels = [{"name": f"{op}_l1", "size": l1, "holds": [op], "double_buffered": l1_double}
                 for op in l1_holds]
    glb_level = {"name": "glb", "size": glb, **(glb_port or {})}
    raw = {"version": 1, "name": "tiers", "clock": "1 GHz",
           "pe_array": {"rows": rows, "cols": cols, "dataflow": "ws"},
           "memories": [*l1_levels, glb_level], "dram": {"bandwidth": "8 B/cycle", "latency": "20 cycles"}}
    return hardware_from_dict(raw, "test")


def linear(m, n, k) -> Layer:
    return Layer("fc", "linear", m, n, k, weight_mask=np.ones((n, k), bool))


def brute_force(extent, t0, o0, t1, o1):
    """Walk the two-tier loop nest; per operand the elements fetched into tier 1 (one resident tile
    each), and the output element visits (every change of the resident output tile writes it up)."""
    trips0 = {d: -(-extent[d] // t0[d]) for d in "mnk"}
    moved = dict.fromkeys(RELEVANT, 0)
    resident = dict.fromkeys(RELEVANT)
    for i0 in itertools.product(*(range(trips0[d]) for d in o0)):
        start0 = {d: i0[o0.index(d)] * t0[d] for d in "mnk"}
        ext0 = {d: min(t0[d], extent[d] - start0[d]) for d in "mnk"}
        trips1 = {d: -(-ext0[d] // t1[d]) for d in "mnk"}
        for i1 in itertools.product(*(range(trips1[d]) for d in o1)):
            start = {d: start0[d] + i1[o1.index(d)] * t1[d] for d in "mnk"}
            ext = {d: min(t1[d], start0[d] + ext0[d] - start[d]) for d in "mnk"}
            for op, dims in RELEVANT.items():
                key = tuple(start[d] for d in dims)
                if key != resident[op]:
                    resident[op] = key
                    moved[op] += ext[dims[0]] * ext[dims[1]]
    return moved


@settings(max_examples=120, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2),
       st.sampled_from(range(6)), st.sampled_from(range(6)))
def test_boundary_traffic_equals_a_walk_of_the_loop_nest(a_m, a_n, a_k, b_m, b_n, b_k, s_m, s_n, s_k, o0, o1):
    """Tiles that divide the layer: the closed form of the traffic into tier 1 equals the walk, for
    every loop order at both tiers (ws on 1x1 'folds' so any tile size is whole folds)."""
    t1 = {"m": s_m, "n": s_n, "k": s_k}
    t0 = {"m": s_m * b_m, "n": s_n * b_n, "k": s_k * b_k}
    extent = {"m": t0["m"] * a_m, "n": t0["n"] * a_n, "k": t0["k"] * a_k}
    hw = two_tier_hw(rows=1, cols=1)
    layer = linear(extent["m"], extent["n"], extent["k"])
    model = tile_model(layer, hw, dense_compute(layer, hw, TIMING_MODELS.get("accelsim")),
                       storage_of(layer, hw))
    got = boundary_elements(model, [t0, t1], [LOOP_ORDERS[o0], LOOP_ORDERS[o1]], 1)
    want = brute_force(extent, t0, LOOP_ORDERS[o0], t1, LOOP_ORDERS[o1])
    assert {op: int(v) for op, v in got.items()} == want


def test_the_closed_form_bounds_a_ragged_nest():
    """A layer the tiles do not divide: the closed form never undercounts the walk."""
    extent, t0, t1 = {"m": 7, "n": 5, "k": 9}, {"m": 4, "n": 2, "k": 6}, {"m": 2, "n": 1, "k": 3}
    hw = two_tier_hw(rows=1, cols=1)
    layer = linear(7, 5, 9)
    model = tile_model(layer, hw, dense_compute(layer, hw, TIMING_MODELS.get("accelsim")),
                       storage_of(layer, hw))
    for o0, o1 in itertools.product(LOOP_ORDERS, LOOP_ORDERS):
        got = boundary_elements(model, [t0, t1], [o0, o1], 1)
        want = brute_force(extent, t0, o0, t1, o1)
        assert all(got[op] >= want[op] for op in want)


def run(hw, layer):
    return simulate(hw, Workload("w", (layer,))).layers[0]


def test_compute_is_that_of_the_innermost_tiles():
    """Small first-level buffers force small array tiles: the layer's compute cycles are exactly the
    tiled-compute sum of the innermost tile, not of the DRAM-facing one."""
    hw = two_tier_hw(l1="1 KiB", glb="256 KiB")
    layer = linear(256, 64, 256)
    rep = run(hw, layer)
    (tier,) = rep.mapping.inner
    outer = rep.mapping
    assert (tier.tile_m, tier.tile_n, tier.tile_k) != (outer.tile_m, outer.tile_n, outer.tile_k)
    s = dense_compute(layer, hw, TIMING_MODELS.get("accelsim")).schedule
    inner = {"m": tier.tile_m, "n": tier.tile_n, "k": tier.tile_k}
    flow = s.plan.flow
    want = tiling_cycles(s, 1, np.array([inner[flow.rows_dim]]), np.array([inner[flow.cols_dim]]),
                         np.array([inner[flow.time_dim]]))[0]
    assert rep.compute_cycles == int(round(want))
    # the tiles fit: every level's occupancy is within its size
    for name, used in tier.buffer_bytes.items():
        assert used <= hw.memory(name).size_bytes


def test_traffic_into_each_tier_is_a_read_above_and_a_write_below():
    hw = two_tier_hw(l1="1 KiB", glb="256 KiB")
    rep = run(hw, linear(256, 64, 256))
    t = rep.memory.by_level
    fills = t["inputs_l1"]["inputs"]["write_data_bytes"]
    assert fills > 0
    # the glb's input reads are the fills of inputs_l1; its writes are DRAM's reads of inputs
    assert t["glb"]["inputs"]["read_data_bytes"] == fills
    assert t["glb"]["inputs"]["write_data_bytes"] == t["dram"]["inputs"]["read_data_bytes"]
    assert rep.energy_by_component_pj["inputs_l1"] > 0


def test_bypass_an_operand_the_first_level_does_not_hold():
    """Weights not held at tier 1: nothing of them crosses into it; the array reads them from the glb."""
    both = run(two_tier_hw(l1="1 KiB"), linear(256, 64, 256))
    bypass = run(two_tier_hw(l1="1 KiB", l1_holds=("inputs", "outputs")), linear(256, 64, 256))
    assert "weights_l1" not in bypass.memory.by_level
    assert set(bypass.mapping.inner[0].levels) == {"inputs", "outputs"}
    # the array's weight reads now land on the glb
    assert bypass.energy_by_component_pj["glb"] > both.energy_by_component_pj["glb"]
    assert "weights_l1" not in bypass.energy_by_component_pj


@pytest.mark.parametrize("port", ["bandwidth", "read_bandwidth"])
def test_a_narrow_glb_port_bounds_the_layer(port):
    layer = linear(256, 64, 256)
    wide = run(two_tier_hw(l1="4 KiB"), layer)
    narrow = run(two_tier_hw(l1="4 KiB", glb_port={port: "1 B/cycle"}), layer)
    assert narrow.total_cycles > wide.total_cycles
    # the port either bounds the layer or pushes the mapper to tiles that move less through it
    assert narrow.bound == "glb bandwidth" or narrow.mapping.inner != wide.mapping.inner


def test_a_write_port_only_limits_writes():
    """Outputs are written back once: a slow write port moves less than an equally slow read port."""
    layer = linear(256, 64, 256)
    free = run(two_tier_hw(l1="4 KiB"), layer)
    slow_read = run(two_tier_hw(l1="4 KiB", glb_port={"read_bandwidth": "2 B/cycle"}), layer)
    slow_write = run(two_tier_hw(l1="4 KiB", glb_port={"write_bandwidth": "2 B/cycle"}), layer)
    assert free.total_cycles < slow_write.total_cycles < slow_read.total_cycles


@pytest.mark.parametrize("level, message", [
    ({"name": "glb", "size": "64 KiB", "bandwidth": "8 B/cycle", "read_bandwidth": "8 B/cycle"}, "not both"),
    ({"name": "rf", "size": "64 B", "per_pe": True, "read_bandwidth": "8 B/cycle"}, "register file"),
])
def test_port_keys_that_cannot_act_are_refused(level, message):
    raw = {"version": 1, "name": "t", "clock": "1 GHz", "pe_array": {"rows": 8, "cols": 8, "dataflow": "ws"},
           "memories": [level, {"name": "buf", "size": "64 KiB"}]}
    with pytest.raises(ConfigError, match=message):
        hardware_from_dict(raw, "test")


def test_no_tile_fits_a_too_small_first_level():
    with pytest.raises(Exception, match="tier-1"):
        run(two_tier_hw(l1="16 B"), linear(64, 64, 64))


def test_the_shipped_glb_config_runs_resnet18_with_less_dram_than_without():
    glb = simulate(load_hardware("dense_ws_glb"), _resnet18())
    flat = simulate(load_hardware("dense_ws"), _resnet18())
    assert glb.total("dram_read_bytes") < flat.total("dram_read_bytes")


def _resnet18():
    from accelsim import load_workload

    return load_workload("resnet18")
