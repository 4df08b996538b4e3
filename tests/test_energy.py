"""Energy tables (sources, required actions, capacity scaling) and energy = action counts x table."""

import math

import numpy as np
import pytest
import yaml

from accelsim.errors import ConfigError, UnknownNameError
from accelsim.sim.actions import count_actions
from accelsim.sim.dataflows import TIMING_MODELS
from accelsim.sim.dataflows.compute import dense_compute
from accelsim.sim.energy import (
    ACTIONS,
    breakdown,
    load_energy_table,
    table_from_dict,
)
from accelsim.sim.simulator import simulate
from accelsim.sim.storage import storage_of
from accelsim.sim.traces import MemoryTraffic
from accelsim.spec.hardware import load_hardware
from accelsim.workload.layer import Layer, Workload

KIB = 1024


def minimal_table(**overrides):
    actions = {"mac": {"pj": 1.0}, "gated_mac": {"pj": 0.1}, "rf_access": {"pj": 1, "bits": 16},
               "noc": {"pj": 2, "bits": 16}, "buffer_read": {"pj": 6, "bits": 16},
               "buffer_write": {"same_as": "buffer_read", "scale": 1.5},
               "metadata_read": {"same_as": "buffer_read"},
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


def test_eyeriss_table_keeps_the_papers_ratios():
    t = load_energy_table("eyeriss_65nm")
    mac = t.mac_pj
    names = ("rf_access", "noc", "buffer_read", "dram_read")
    per16 = {a: t.cost(a).pj_per_bit(100 * KIB) * 16 / mac for a in names}
    assert per16 == pytest.approx({"rf_access": 1, "noc": 2, "buffer_read": 6, "dram_read": 200})
    assert mac == pytest.approx(0.208)
    flat = t.cost("buffer_read")
    assert flat.pj_per_access(10 * KIB) == flat.pj_per_access(10 * 1024 * KIB)


def test_missing_actions_are_listed_in_one_error():
    raw = minimal_table(noc=None, dram_write=None, metadata_read=None)
    with pytest.raises(ConfigError) as err:
        table_from_dict(raw, "t.yaml")
    msg = str(err.value)
    assert "noc" in msg and "dram_write" in msg and "metadata_read" in msg
    assert msg.count("missing") == 1


def test_every_problem_at_once_with_hints():
    raw = minimal_table(mac={"pj": 1, "bits": 8}, rf_access={"pj": 1}, noc={"pj": -1, "bits": 16},
                        buffer_write={"same_as": "metadata_read"})
    raw["actions"]["dram_reed"] = {"pj": 1, "bits": 8}
    del raw["node_nm"]
    with pytest.raises(ConfigError) as err:
        table_from_dict(raw, "t.yaml")
    problems = err.value.problems
    text = "\n".join(problems)
    assert "actions.mac.bits" in text and "actions.rf_access.bits" in text and "actions.noc.pj" in text
    assert "did you mean 'dram_read'" in text and "node_nm" in text and "is itself a same_as" in text
    assert len(problems) >= 6


def test_capacity_exponent_scales_a_user_table(tmp_path):
    raw = minimal_table(buffer_read={"pj": 20, "bits": 64, "capacity": "32 KiB", "capacity_exponent": 0.5})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    t = load_energy_table(str(path))
    assert t.cost("buffer_read").pj_per_access(128 * KIB) == pytest.approx(40)
    assert t.cost("buffer_write").pj_per_access(128 * KIB) == pytest.approx(60)  # same_as x 1.5
    assert t.cost("metadata_read").pj_per_access(8 * KIB) == pytest.approx(10)


def test_capacity_only_on_buffer_actions():
    with pytest.raises(ConfigError, match="only buffer actions"):
        table_from_dict(minimal_table(dram_read={"pj": 1, "bits": 64, "capacity": "1 MiB",
                                                 "capacity_exponent": 0.5}), "t.yaml")


def test_unknown_table_lists_known_ones():
    with pytest.raises(UnknownNameError, match="horowitz_45nm"):
        load_energy_table("horowitz_46nm")


def _layer():
    return Layer("fc", "linear", 64, 48, 100, weight_mask=np.ones((48, 100), bool))


def test_energy_is_counts_times_table():
    hw = load_hardware("dense_ws")
    layer = _layer()
    compute = dense_compute(layer, hw, TIMING_MODELS.get("accelsim"))
    storage = storage_of(layer, hw)
    fills = {"dram": {}, "filter_sram": {"weights": {"write_data_bytes": 4800, "write_metadata_bytes": 0}}}
    traffic = MemoryTraffic(10_000, 3_000, 0, fills)
    acts = count_actions(hw, compute, traffic, storage)
    assert {a.action for a in acts} <= set(ACTIONS)
    table = load_energy_table("horowitz_45nm")
    priced = dict(((a.component, a.action, a.bits), pj) for a, pj in breakdown(acts, hw, table).items)
    assert priced[("dram", "dram_read", 8)] == pytest.approx(10_000 * 8 * 1950 / 64)
    assert priced[("pe_array", "mac", 0)] == pytest.approx(layer.macs * 0.3)
    assert priced[("filter_sram", "buffer_write", 8)] == pytest.approx(
        4800 * 8 * table.sram_pj_per_bit(64 * KIB, write=True))
    noc = [a for a in acts if a.action == "noc"]
    assert sorted(a.bits for a in noc) == [8, 32] and all(a.count == compute.macs_issued for a in noc)
    b = breakdown(acts, hw, table)
    assert b.total_pj == pytest.approx(sum(b.by_component_pj.values()))


def test_report_has_energy_by_component_and_action_and_edp():
    hw = load_hardware("dense_ws")
    report = simulate(hw, Workload("w", (_layer(),)))
    t = report.totals()
    assert set(t["energy_by_action_pj"]) <= set(ACTIONS)
    components = {"pe_array", "noc", "dram", "ifmap_sram", "filter_sram", "ofmap_sram"}
    assert components <= set(t["energy_by_component_pj"])
    assert t["pj_per_mac"] == pytest.approx(t["energy_pj"] / t["macs_dense"])
    assert t["edp_pj_cycles"] == pytest.approx(t["energy_pj"] * t["total_cycles"])


def test_energy_table_of_the_hardware_is_used():
    wl = Workload("w", (_layer(),))
    a = simulate(load_hardware("dense_ws"), wl)
    b = simulate(load_hardware("dense_ws", {"energy": "eyeriss_65nm"}), wl)
    assert b.energy_pj < a.energy_pj
    assert b.provenance["energy_table"] == "eyeriss_65nm"
    assert b.energy_by_component_pj()["noc"] > 0 and a.energy_by_component_pj()["noc"] == 0
