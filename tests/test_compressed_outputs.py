"""Outputs written back in a compressed format, at the density the next layer reads."""

import numpy as np
import pytest

from accelsim import simulate
from accelsim.errors import ConfigError
from accelsim.sim.simulator import output_densities
from accelsim.spec.hardware import hardware_from_dict
from accelsim.workload.layer import Layer, Workload


def hw(outputs=None, inputs=None):
    sparsity = {"inputs": inputs or {"format": "bitmask", "skip": "gate"}}
    if outputs is not None:
        sparsity["outputs"] = outputs
    raw = {"version": 1, "name": "t", "clock": "1 GHz", "pe_array": {"rows": 8, "cols": 8, "dataflow": "os"},
           "memories": [{"name": "glb", "size": "1 MiB"}], "dram": {"bandwidth": "8 B/cycle"},
           "sparsity": sparsity}
    return hardware_from_dict(raw, "test")


def two_layers(d_between=0.25):
    a = Layer("a", "linear", 64, 32, 48, weight_mask=np.ones((32, 48), bool), input_from=("",))
    b = Layer("b", "linear", 64, 16, 32, weight_mask=np.ones((16, 32), bool), activation_density=d_between,
              activation_density_source="test", input_from=("a",))
    return Workload("two", (a, b))


def test_output_density_is_what_the_next_layer_reads():
    assert output_densities(two_layers(0.25).layers) == {"": 1.0, "a": 0.25}


def test_a_bitmask_output_is_written_compressed():
    wl = two_layers(0.25)
    dense = simulate(hw(), wl).layers[0]
    packed = simulate(hw({"format": "bitmask"}), wl).layers[0]
    elements = 64 * 32
    # bitmask: one bit per element plus the expected nonzeros at 8 bits
    assert packed.storage["outputs"].total_bits == elements + round(0.25 * elements) * 8
    assert dense.dram_write_bytes == elements
    assert packed.dram_write_bytes == packed.storage["outputs"].total_bits // 8
    # each output encoded once
    assert packed.energy_by_action_pj["index_decode"] > dense.energy_by_action_pj.get("index_decode", 0.0)


@pytest.mark.parametrize("outputs, inputs, message", [
    ({"format": "rle"}, None, "same format"),
    ({"format": "bitmask", "skip": "skip"}, None, "only 'format'"),
])
def test_outputs_the_next_layer_could_not_read_are_refused(outputs, inputs, message):
    with pytest.raises(ConfigError, match=message):
        hw(outputs, inputs)
