"""SCNN's datapath (sim/dataflows/scnn.py) on tiny layers worked by hand: the Cartesian-product cycles,
the bank conflicts (unbuffered and queued), the stride phases, the barrier across PEs and the FIFO
cuts; and the configs end to end."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import ConfigError
from accelsim.sim.dataflows.scnn import scnn_compute
from accelsim.sim.dataflows.two_sided import input_mask
from accelsim.sim.simulator import simulate
from accelsim.spec.config import read_yaml
from accelsim.spec.hardware import HW_DIR, hardware_from_dict
from accelsim.workload.layer import ConvShape, Layer


def _hw(name="scnn_like", **cartesian):
    raw = read_yaml(HW_DIR / f"{name}.yaml")
    grid = cartesian.pop("grid", (1, 1))
    raw["pe_array"]["rows"], raw["pe_array"]["cols"] = grid
    raw["pe_array"]["cartesian"].update(cartesian)
    return hardware_from_dict(raw, f"{name}.yaml")


def _layer(acts, weights, stride=1, pad=0):
    """A conv layer with this input mask (C, H, W) and weight mask (K, C, R, S), batch 1."""
    acts, weights = np.asarray(acts, bool), np.asarray(weights, bool)
    c, h, w = acts.shape
    k, _, r, s = weights.shape
    oh, ow = (h + 2 * pad - r) // stride + 1, (w + 2 * pad - s) // stride + 1
    conv = ConvShape(1, c, k, h, w, oh, ow, r, s, stride, stride, pad, pad)
    layer = Layer("hand", "conv", oh * ow, k, c * r * s, weight_mask=weights,
                  activation_density=float(acts.mean()), activation_density_source="hand", conv=conv)
    object.__setattr__(layer, "input_mask", acts[None])  # a recorded mask, as the workload will give it
    return layer


# one PE, F = I = 2: a 1x1 conv of 2 filters over a 2x2 plane with 3 nonzero activations
HAND = _layer([[[1, 1], [1, 0]]], [[[[1]]], [[[1]]]])


def test_cartesian_product_and_unbuffered_bank_conflicts_by_hand():
    # 2 weights = 1 vector of F = 2; 3 activations = 2 vectors of I = 2: 1 x 2 = 2 cycles conflict-free.
    # Sums sit at k * 4 + y * 2 + x (a 2x2 tile, no halo).  Cycle 1: k0, k1 x (0,0), (0,1) -> addresses
    # 0, 1, 4, 5 -> banks (mod 4) 0, 1, 0, 1: two products on banks 0 and 1 -> 2 cycles.  Cycle 2:
    # (1,0) -> addresses 2, 6 -> bank 2 twice -> 2 cycles.  Unbuffered: 4 cycles.
    trace = scnn_compute(HAND, _hw(f=2, i=2, banks=4, bank_queues=False))
    assert trace.compute_cycles == 4
    assert trace.macs_issued == 6 and trace.macs_gated == 0 and trace.macs_skipped == 2
    assert "every unit walked" in trace.notes[1]
    # queued: banks 0, 1, 2 each receive 2 products over the unit: max(2 cycles, 2) = 2
    assert scnn_compute(HAND, _hw(f=2, i=2, banks=4, bank_queues=True)).compute_cycles == 2
    # 8 banks: addresses 0, 1, 4, 5 and 2, 6 never share a bank: the conflict-free 2 cycles
    assert scnn_compute(HAND, _hw(f=2, i=2, banks=8, bank_queues=False)).compute_cycles == 2


def test_dense_twin_multiplies_every_position():
    trace = scnn_compute(HAND, _hw("dcnn_like", f=2, i=2, banks=8, bank_queues=False))
    assert trace.compute_cycles == 2  # 4 activations = 2 vectors, 1 weight vector
    assert trace.macs_issued == 8 and trace.macs_skipped == 0


def test_stride_phases_pair_only_matching_taps():
    # 1x1 conv, stride 2, 4x4 plane all nonzero: only the 4 activations at even (y, x) meet the tap
    # (phase (0, 0)); 1 weight = 1 vector, 4 activations = 2 vectors of I = 2 -> 2 cycles, 4 MACs
    layer = _layer(np.ones((1, 4, 4)), np.ones((1, 1, 1, 1)), stride=2)
    trace = scnn_compute(layer, _hw(f=2, i=2, banks=8))
    assert trace.compute_cycles == 2 and trace.macs_issued == 4 == layer.macs


def test_slowest_pe_sets_each_fifo_full():
    # 1 x 2 PEs, each holding a 2x2 tile of a 2-channel 2x4 plane; one filter, F = I = 1:
    # PE0 has 2 / 1 nonzeros in channels 0 / 1, PE1 has 1 / 2 -> unit cycles (2, 1) and (1, 2).
    acts = np.zeros((2, 2, 4), bool)
    acts[0, 0, :2] = True  # PE0, channel 0: 2
    acts[1, 0, 0] = True  # PE0, channel 1: 1
    acts[0, 0, 2] = True  # PE1, channel 0: 1
    acts[1, 1, 2:] = True  # PE1, channel 1: 2
    layer = _layer(acts, np.ones((1, 2, 1, 1)))
    # FIFO of 1 entry: a barrier per channel, max(2, 1) + max(1, 2) = 4
    assert scnn_compute(layer, _hw(grid=(1, 2), f=1, i=1, banks=8, weight_fifo=1)).compute_cycles == 4
    # FIFO of 2 entries: both channels in one FIFO-full, max(2 + 1, 1 + 2) = 3
    trace = scnn_compute(layer, _hw(grid=(1, 2), f=1, i=1, banks=8, weight_fifo=2))
    assert trace.compute_cycles == 3 and trace.load_imbalance == 1.0


def test_output_groups_follow_the_accumulator_capacity():
    # 4 filters over a 2x2 tile (4 sums each): 8 bank entries in all hold 2 filters -> 2 output groups,
    # each reading the 3 activations again: 2 x (1 weight vector x 2 activation vectors) = 4 cycles
    layer = _layer([[[1, 1], [1, 0]]], np.ones((4, 1, 1, 1)))
    trace = scnn_compute(layer, _hw(f=2, i=2, banks=8, bank_entries=1))
    assert "Kc 2 of 4" in trace.notes[0] and trace.compute_cycles == 4
    assert trace.sram_reads["inputs"] == 6


def test_synthetic_mask_is_labelled_and_seeded():
    layer = Layer("fc", "linear", 4, 3, 50, weight_mask=np.ones((3, 50), bool), activation_density=0.3)
    mask, note = input_mask(layer)
    again, _ = input_mask(layer)
    assert mask.shape == (4, 50) and np.array_equal(mask, again) and "synthetic" in note
    assert "synthetic" in " ".join(scnn_compute(layer, _hw(f=2, i=2, banks=8)).notes)


def test_cartesian_array_refuses_other_dataflows_and_timing():
    raw = read_yaml(HW_DIR / "scnn_like.yaml")
    raw["pe_array"]["dataflow"] = "ws"
    with pytest.raises(ConfigError, match="write dataflow: is"):
        hardware_from_dict(raw, "x.yaml")
    raw = read_yaml(HW_DIR / "scnn_like.yaml")
    raw["timing"] = "accelsim"
    with pytest.raises(ConfigError, match="remove 'timing'"):
        hardware_from_dict(raw, "x.yaml")


def test_scnn_beats_its_twin_end_to_end():
    from accelsim.workload.load import load_workload

    wl = load_workload("lenet5_93pct")
    s, d = (simulate(hardware_from_dict(read_yaml(HW_DIR / f"{n}.yaml"), n), wl)
            for n in ("scnn_like", "dcnn_like"))
    assert s.total_cycles < d.total_cycles and s.energy_pj < d.energy_pj
    assert sum(x.macs_issued for x in s.layers) < sum(x.macs_issued for x in d.layers) == wl.macs
    assert all(x.macs_issued + x.macs_skipped == x.macs_dense for x in s.layers)
    assert "scatter_xbar" in s.layers[0].energy_by_action_pj
