"""Energy tables (sources, required actions, capacity scaling) and energy = action counts x table.

The hand-worked layer: fc 64 x 48 x 100 (M x N x K) on 32 x 32 arrays of int8 / int32.
"""

import math

import numpy as np
import pytest
import yaml

from accelsim.errors import ConfigError, UnknownNameError
from accelsim.registry import DATAFLOWS
from accelsim.sim.actions import count_actions
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.sim.energy import ACTIONS, breakdown, load_energy_table, table_from_dict
from accelsim.sim.simulator import simulate
from accelsim.sim.storage import storage_of
from accelsim.sim.traces import MemoryTraffic
from accelsim.spec.hardware import load_hardware
from accelsim.workload.layer import Layer, Workload

KIB = 1024
M, N, K = 64, 48, 100
MACS = M * N * K
STATIC = ("pe_static", "buffer_static")
NO_RF = [{"name": "ifmap_sram", "size": "64 KiB", "holds": ["inputs"]},
         {"name": "filter_sram", "size": "64 KiB", "holds": ["weights"]},
         {"name": "ofmap_sram", "size": "64 KiB", "holds": ["outputs"]}]


def minimal_table(**overrides):
    actions = {"mac": {"pj": 1.0}, "gated_mac": {"pj": 0.1}, "index_decode": {"pj": 0.2},
               "operand_select": {"pj": 0.1}, "intersection": {"same_as": "mac", "scale": 0.3},
               "pe_static": {"pj": 0.05}, "window_select": {"pj": 0.07}, "channel_gather": {"pj": 0.07},
               "scatter_xbar": {"pj": 0.1},
               "rf_access": {"pj": 1, "bits": 16},
               "pipeline_reg": {"pj": 0.01, "bits": 1}, "noc": {"pj": 2, "bits": 16},
               "buffer_read": {"pj": 6, "bits": 16}, "buffer_write": {"same_as": "buffer_read", "scale": 1.5},
               "metadata_read": {"same_as": "buffer_read"}, "buffer_static": {"pj": 0.00001, "bits": 1},
               "dram_read": {"pj": 200, "bits": 16}, "dram_write": {"same_as": "dram_read"}}
    actions.update(overrides)
    return {"version": 1, "name": "t", "source": "a test", "node_nm": 28,
            "actions": {k: v for k, v in actions.items() if v is not None}}


def test_horowitz_sram_cost_follows_capacity_points():
    t = load_energy_table("horowitz_45nm")
    read = t.cost("buffer_read")
    assert read.pj_per_access(8 * KIB) == pytest.approx(10)
    assert read.pj_per_access(32 * KIB) == pytest.approx(20)
    assert read.pj_per_access(1024 * KIB) == pytest.approx(100)
    assert read.pj_per_access(1 * KIB) == pytest.approx(10) and read.pj_per_access(64 * 1024 * KIB) == 100
    mid = read.pj_per_access(16 * KIB)
    assert mid == pytest.approx(math.sqrt(10 * 20))  # log-log halfway
    assert t.energy_pj("buffer_read", 10, 8, 32 * KIB) == pytest.approx(10 * 8 * 20 / 64)
    assert t.energy_pj("dram_read", 3, 64) == pytest.approx(3 * 1950)
    assert t.energy_pj("mac", 7) == pytest.approx(7 * 0.3)


def test_register_file_cost_follows_its_size():
    rf = load_energy_table("horowitz_45nm").cost("rf_access")  # per 32-bit access
    assert rf.pj_per_access(4) == pytest.approx(32 * 0.009)  # one 32-bit register (Aladdin)
    assert rf.pj_per_access(512) == pytest.approx(1)  # EIE's RF, at Eyeriss's 0.5 kB
    assert rf.pj_per_access(8 * KIB) == pytest.approx(5) and rf.pj_per_access(1024 * KIB) == pytest.approx(50)
    assert rf.pj_per_access(64) == pytest.approx(0.288 * (1 / 0.288) ** (4 / 7))  # log2: 4 of 7 steps
    assert rf.pj_per_access(1) < rf.pj_per_access(64) < rf.pj_per_access(1024 * KIB)


def test_eyeriss_table_keeps_the_papers_ratios():
    t = load_energy_table("eyeriss_65nm")
    mac = t.cost("mac").pj_per_access()
    per16 = {a: t.cost(a).pj_per_bit(c) * 16 / mac
             for a, c in (("rf_access", 512), ("noc", None), ("buffer_read", 100 * KIB), ("dram_read", None))}
    assert per16 == pytest.approx({"rf_access": 1, "noc": 2, "buffer_read": 6, "dram_read": 200})
    assert t.cost("rf_access").pj_per_bit(100 * KIB) == pytest.approx(t.cost("buffer_read").pj_per_bit())
    assert mac == pytest.approx(0.208)
    flat = t.cost("buffer_read")
    assert flat.pj_per_access(10 * KIB) == flat.pj_per_access(10 * 1024 * KIB)


def test_missing_actions_are_listed_in_one_error():
    raw = minimal_table(noc=None, dram_write=None, pe_static=None, operand_select=None)
    with pytest.raises(ConfigError) as err:
        table_from_dict(raw, "t.yaml")
    msg = str(err.value)
    assert all(a in msg for a in ("noc", "dram_write", "pe_static", "operand_select"))
    assert msg.count("missing") == 1


def test_every_problem_at_once_with_hints():
    raw = minimal_table(mac={"pj": 1, "bits": 8}, rf_access={"pj": 1}, noc={"pj": -1, "bits": 16},
                        buffer_write={"same_as": "metadata_read"}, pipeline_reg={"same_as": "rf_access"},
                        pe_static={"same_as": "noc"})
    raw["actions"]["dram_reed"] = {"pj": 1, "bits": 8}
    del raw["node_nm"]
    with pytest.raises(ConfigError) as err:
        table_from_dict(raw, "t.yaml")
    problems = err.value.problems
    text = "\n".join(problems)
    assert "actions.mac.bits" in text and "actions.rf_access.bits" in text and "actions.noc.pj" in text
    assert "did you mean 'dram_read'" in text and "node_nm" in text and "is itself a same_as" in text
    assert "actions.pipeline_reg.same_as" in text and "actions.pe_static.same_as" in text  # other kinds
    assert len(problems) >= 8


def test_capacity_exponent_scales_a_user_table(tmp_path):
    raw = minimal_table(buffer_read={"pj": 20, "bits": 64, "capacity": "32 KiB", "capacity_exponent": 0.5})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    t = load_energy_table(str(path))
    assert t.cost("buffer_read").pj_per_access(128 * KIB) == pytest.approx(40)
    assert t.cost("buffer_write").pj_per_access(128 * KIB) == pytest.approx(60)  # same_as x 1.5
    assert t.cost("metadata_read").pj_per_access(8 * KIB) == pytest.approx(10)
    assert t.cost("intersection").pj_per_access() == pytest.approx(0.3)


def test_capacity_only_on_buffer_actions():
    for action in ("dram_read", "buffer_static", "pipeline_reg"):
        with pytest.raises(ConfigError, match="only rf_access, buffer_read"):
            table_from_dict(minimal_table(**{action: {"pj": 1, "bits": 64, "capacity": "1 MiB",
                                                      "capacity_exponent": 0.5}}), "t.yaml")


def test_unknown_table_lists_known_ones():
    with pytest.raises(UnknownNameError, match="horowitz_45nm"):
        load_energy_table("horowitz_46nm")


# ---------------------------------------------------------------- counts x table, by hand


def _layer(mask=None):
    return Layer("fc", "linear", M, N, K, weight_mask=np.ones((N, K), bool) if mask is None else mask)


def _priced(hw, stall_cycles=0, mask=None):
    """{(component, action, bits): pJ} of the hand-worked layer, and its compute trace."""
    layer = _layer(mask)
    storage = storage_of(layer, hw)
    compute = sparse_compute(layer, hw, TIMING_MODELS.get("accelsim"), storage)
    acts = count_actions(hw, compute, MemoryTraffic(10_000, 3_000, stall_cycles), storage)
    assert {a.action for a in acts} <= set(ACTIONS)
    out = {}
    for a, pj in breakdown(acts, hw, load_energy_table(hw.energy_table)).items:
        out[(a.component, a.action, a.bits)] = out.get((a.component, a.action, a.bits), 0.0) + pj
    return out, compute


def test_energy_is_counts_times_table():
    hw = load_hardware("dense_ws")
    layer = _layer()
    compute = dense_compute(layer, hw, TIMING_MODELS.get("accelsim"))
    storage = storage_of(layer, hw)
    fills = {"dram": {}, "filter_sram": {"weights": {"write_data_bytes": 4800, "write_metadata_bytes": 0}}}
    traffic = MemoryTraffic(10_000, 3_000, 0, fills)
    acts = count_actions(hw, compute, traffic, storage)
    table = load_energy_table("horowitz_45nm")
    priced = dict(((a.component, a.action, a.bits), pj) for a, pj in breakdown(acts, hw, table).items)
    assert priced[("dram", "dram_read", 8)] == pytest.approx(10_000 * 8 * 1950 / 64)
    assert priced[("pe_array", "mac", 0)] == pytest.approx(layer.macs * 0.3)
    assert priced[("filter_sram", "buffer_write", 8)] == pytest.approx(
        4800 * 8 * table.cost("buffer_write").pj_per_bit(64 * KIB))
    b = breakdown(acts, hw, table)
    assert b.total_pj == pytest.approx(sum(b.by_component_pj.values()))


def test_ws_hand_worked_registers_noc_and_static():
    # ws: rows = K (4 folds, 25 PEs used on average), cols = N (2 folds, 24), time = M;
    # accelsim cycles (F - 1) P + T + 2R + W = 7 * 64 + 64 + 64 + 16 = 592, plus 100 stall cycles
    priced, compute = _priced(load_hardware("dense_ws"), stall_cycles=100)
    assert compute.compute_cycles == 592
    noc = 0.6 / 16  # pJ per bit
    ins_hops = (M * K * 2) * 24  # inputs read once per column fold, passed across the 24 used columns
    w_hops = (K * N) * (25 + 1) / 2  # weights shifted down the columns to their row
    psum_hops = (M * N * 4) * 25  # one write per row fold, the sum passed down the 25 used rows
    assert ins_hops == MACS and psum_hops == MACS
    assert priced[("noc", "noc", 8)] == pytest.approx((ins_hops + w_hops) * 8 * noc)
    assert priced[("noc", "noc", 32)] == pytest.approx(psum_hops * 32 * noc)
    assert priced[("pe_array", "pipeline_reg", 32)] == pytest.approx(psum_hops * 32 * 0.009)
    rf_64b = 0.288 * (1 / 0.288) ** (4 / 7)  # pJ per 32-bit access of the 64 B RF
    assert priced[("rf", "rf_access", 8)] == pytest.approx(MACS * 8 * rf_64b / 32)  # the held weight
    cycles = 592 + 100
    assert priced[("pe_array", "pe_static", 0)] == pytest.approx(cycles * 1024 * 0.055)
    sram_bits, rf_bits = 64 * KIB * 8, 1024 * 64 * 8  # a 64 KiB buffer; a 64 B RF in each of 1024 PEs
    assert priced[("ifmap_sram", "buffer_static", sram_bits)] == pytest.approx(cycles * sram_bits * 1e-5)
    assert priced[("rf", "buffer_static", rf_bits)] == pytest.approx(cycles * rf_bits * 1e-5)
    assert not any(key[1] in ("index_decode", "operand_select", "intersection") for key in priced)


def test_os_hops_follow_the_dataflow():
    # os: rows = M (2 folds of 32), cols = N (2 folds, 24 used), time = K: both operands stream,
    # the sums stay and drain down the columns, (32 + 1) / 2 hops each; no sum flows between PEs
    priced, _ = _priced(load_hardware("dense_os"))
    noc = 0.6 / 16
    assert priced[("noc", "noc", 8)] == pytest.approx((M * K * 2 * 24 + K * N * 2 * 32) * 8 * noc)
    assert priced[("noc", "noc", 32)] == pytest.approx(M * N * 16.5 * 32 * noc)
    rf_64b = 0.288 * (1 / 0.288) ** (4 / 7)
    assert priced[("rf", "rf_access", 32)] == pytest.approx(2 * MACS * rf_64b)  # sum read and written


@pytest.mark.parametrize("dataflow", DATAFLOWS.names())
def test_dense_hops_of_each_streamed_operand_and_flowing_sum_equal_the_macs(dataflow):
    hw = load_hardware("dense_ws", {"pe_array.dataflow": dataflow})
    layer = _layer()
    compute = dense_compute(layer, hw, TIMING_MODELS.get("accelsim"))
    acts = count_actions(hw, compute, MemoryTraffic(0, 0), storage_of(layer, hw))
    hops = [a.count for a in acts if a.action == "noc"]  # inputs, weights, outputs
    flow = DATAFLOWS.get(dataflow)
    moving = [op for op in ("inputs", "weights", "outputs") if flow.streams(op)]
    assert [h for h, op in zip(hops, ("inputs", "weights", "outputs"), strict=True) if op in moving] \
        == [MACS] * len(moving)


def test_register_file_size_changes_energy_and_nothing_else():
    wl = Workload("w", (_layer(),))
    small, big = (simulate(load_hardware("dense_ws", {"memories.rf.size": s}), wl) for s in ("1 B", "1 MiB"))
    assert small.total_cycles == big.total_cycles
    a, b = small.energy_by_action_pj(), big.energy_by_action_pj()
    assert a["rf_access"] < b["rf_access"] and a["buffer_static"] < b["buffer_static"]
    assert {k: v for k, v in a.items() if k not in ("rf_access", "buffer_static")} == pytest.approx(
        {k: v for k, v in b.items() if k not in ("rf_access", "buffer_static")})


def test_without_a_per_pe_level_only_pipeline_registers():
    hw = load_hardware("dense_os", {"memories": NO_RF})
    priced, _ = _priced(hw)
    assert not any(key[1] == "rf_access" for key in priced)
    hops_32 = M * N * 16.5
    assert priced[("pe_array", "pipeline_reg", 32)] == pytest.approx((MACS + hops_32) * 32 * 0.009)


def test_sparse_logic_of_each_datapath():
    mask = np.ones((N, K), bool)
    mask[:, ::2] = False  # half of the weights: an unstructured mask (no pattern label)
    nnz = int(mask.sum())
    priced, compute = _priced(load_hardware("sparse_pe"), mask=mask)  # bitmask weights, skip
    assert compute.macs_issued == nnz * M
    # a 32:1 mux on the 32-word input bus (ifmap_sram: 32 B/cycle of int8) per issued MAC
    assert priced[("sparse_logic", "operand_select", 0)] == pytest.approx(nnz * M * 32 * 0.0773)
    assert priced[("sparse_logic", "index_decode", 0)] == pytest.approx(nnz * 0.05)  # each weight read once
    priced, compute = _priced(load_hardware("unstructured_skip"), mask=mask)  # both operands skip
    assert priced[("sparse_logic", "intersection", 0)] == pytest.approx(compute.macs_issued * 0.1)
    assert ("sparse_logic", "operand_select", 0) not in priced
    priced, compute = _priced(load_hardware("zero_gated"), mask=mask)  # gated: rle inputs decoded only
    assert priced[("sparse_logic", "index_decode", 0)] == pytest.approx(compute.sram_reads["inputs"] * 0.05)
    assert not any(key[1] in ("operand_select", "intersection") for key in priced)


def test_the_operand_mux_is_as_wide_as_the_bus_it_picks_from():
    from accelsim.sim.actions import select_lanes

    assert select_lanes(load_hardware("sparse_pe"), "weights") == 32  # 32 B/cycle of int8 activations
    assert select_lanes(load_hardware("sparse_pe", {"memories.ifmap_sram.bandwidth": "64 B/cycle"}),
                        "weights") == 64
    assert select_lanes(load_hardware("nm_tensor_core"), "weights") == 4  # 2 of a group of 4
    assert select_lanes(load_hardware("sigma_like"), "weights") == 1  # the networks deliver it


def test_stalls_cost_the_static_rate_times_the_extra_cycles():
    wl = Workload("w", (Layer("fc", "linear", 16, 256, 512, weight_mask=np.ones((256, 512), bool)),))
    fast = simulate(load_hardware("dense_ws"), wl)
    slow = simulate(load_hardware("dense_ws", {"dram.bandwidth": "2 GB/s"}), wl)
    extra = slow.total_cycles - fast.total_cycles
    assert extra > 0 and slow.layers[0].compute_cycles == fast.layers[0].compute_cycles
    a, b = fast.energy_by_action_pj(), slow.energy_by_action_pj()
    assert {k: v for k, v in a.items() if k not in STATIC} == pytest.approx(
        {k: v for k, v in b.items() if k not in STATIC})
    stored_bits = 3 * 64 * KIB * 8 + 1024 * 64 * 8  # three 64 KiB buffers and a 64 B RF per PE
    rate_pj = 1024 * 0.055 + stored_bits * 1e-5  # per cycle
    assert slow.energy_pj - fast.energy_pj == pytest.approx(extra * rate_pj)


def test_report_has_energy_by_component_and_action_and_edp():
    hw = load_hardware("dense_ws")
    report = simulate(hw, Workload("w", (_layer(),)))
    t = report.totals()
    assert set(t["energy_by_action_pj"]) <= set(ACTIONS)
    components = {"pe_array", "rf", "noc", "dram", "ifmap_sram", "filter_sram", "ofmap_sram"}
    assert components <= set(t["energy_by_component_pj"])
    assert t["pj_per_mac"] == pytest.approx(t["energy_pj"] / t["macs_dense"])
    assert t["edp_pj_cycles"] == pytest.approx(t["energy_pj"] * t["total_cycles"])


def test_energy_table_of_the_hardware_is_used():
    wl = Workload("w", (_layer(),))
    a = simulate(load_hardware("dense_ws"), wl)
    b = simulate(load_hardware("dense_ws", {"energy": "eyeriss_65nm"}), wl)
    assert b.energy_pj < a.energy_pj
    assert b.provenance["energy_table"] == "eyeriss_65nm"
    assert b.energy_by_component_pj()["noc"] / a.energy_by_component_pj()["noc"] == pytest.approx(0.208 / 0.3)
