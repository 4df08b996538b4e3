"""SparTen's inner join (sim/dataflows/sparten.py): hand-worked cycles, greedy balancing on and off,
the chunk join against a loop, im2col against a direct convolution of the masks."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.sim.dataflows.sparten import chunk_join_cycles, im2col, sparten_compute
from accelsim.sim.simulator import simulate
from accelsim.spec.config import read_yaml
from accelsim.spec.hardware import HW_DIR, hardware_from_dict
from accelsim.workload.layer import ConvShape, Layer


def _hw(rows=1, cols=2, chunk=4, balance="greedy", **sparsity):
    raw = read_yaml(HW_DIR / "sparten_like.yaml")
    raw["pe_array"].update(rows=rows, cols=cols, inner_join={"chunk": chunk, "balance": balance})
    for op, skip in sparsity.items():
        raw["sparsity"][op] = {"format": "dense", "skip": skip}
    return hardware_from_dict(raw, "sparten_like.yaml")


def _linear(acts, filters):
    """A linear layer with this input mask [M, K] and these filters [N, K] (the weight layout)."""
    acts, filters = np.asarray(acts, bool), np.asarray(filters, bool)
    layer = Layer("fc", "linear", acts.shape[0], filters.shape[0], acts.shape[1], weight_mask=filters,
                  activation_density=float(acts.mean()), activation_density_source="hand")
    object.__setattr__(layer, "input_mask", acts)
    return layer


# one cluster of 2 CUs, chunk 4: a dense input row against filters of 4, 1, 4, 1 nonzeros
UNEVEN = _linear([[1, 1, 1, 1]], [[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 1]])


def test_greedy_balancing_by_hand():
    # model order: folds (f0, f1) and (f2, f3) each wait for a 4-match CU: 4 + 4 = 8 cycles
    off = sparten_compute(UNEVEN, _hw(balance="none"))
    assert off.compute_cycles == 8 and off.load_imbalance == pytest.approx(8 / 5)
    # sorted by density: (f0, f2) take 4, (f1, f3) take 1: 5 cycles, balanced
    on = sparten_compute(UNEVEN, _hw(balance="greedy"))
    assert on.compute_cycles == 5 and on.load_imbalance == 1.0
    assert on.macs_issued == off.macs_issued == 10 and on.macs_skipped == 6


def test_an_empty_chunk_still_takes_its_cycle():
    layer = _linear([[1, 1, 0, 0, 0, 0, 0, 0]], [[1] * 8])
    trace = sparten_compute(layer, _hw(cols=1))
    assert trace.compute_cycles == 3  # chunk 1: 2 matches; chunk 2: none, 1 cycle
    assert trace.macs_issued == 2
    dense = sparten_compute(layer, _hw(cols=1, inputs="none", weights="none"))
    assert dense.compute_cycles == 8 and dense.macs_issued == 8


def test_chunk_join_against_a_loop():
    rng = np.random.default_rng(3)
    a = rng.random((9, 300)) < 0.4
    w = rng.random((300, 7)) < 0.3
    got = chunk_join_cycles(a, w, 128, block=4)
    for i in range(9):
        for j in range(7):
            want = sum(max(1, int((a[i, c:c + 128] & w[c:c + 128, j]).sum())) for c in range(0, 300, 128))
            assert got[i, j] == want


def test_im2col_matches_a_direct_convolution():
    rng = np.random.default_rng(4)
    c = ConvShape(2, 4, 6, 7, 6, 4, 3, 3, 2, 2, 2, 1, 1, groups=2)
    mask = rng.random((2, 4, 7, 6)) < 0.5
    weights = rng.random((6, 2, 3, 2)) < 0.5
    layer = Layer("c", "conv", 2 * 4 * 3, 3, 2 * 3 * 2, groups=2, weight_mask=weights, conv=c)
    a = im2col(layer, mask).astype(np.int64)
    w = layer.gemm_weight_mask().astype(np.int64)
    pairs = np.einsum("gmk,gkn->gmn", a, w)  # nonzero pairs per output, via the GEMM view
    padded = np.pad(mask, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.int64)
    for g in range(2):
        for n in range(3):
            f = weights[g * 3 + n].astype(np.int64)  # [2, 3, 2]
            for b in range(2):
                for oy in range(4):
                    for ox in range(3):
                        win = padded[b, g * 2:(g + 1) * 2, oy * 2:oy * 2 + 3, ox * 2:ox * 2 + 2]
                        assert pairs[g, (b * 4 + oy) * 3 + ox, n] == int((win * f).sum())


def test_sparten_end_to_end_and_balancing_never_hurts_here():
    from accelsim.workload.load import load_workload

    wl = load_workload("lenet5_93pct")
    on, off = (simulate(_hw(rows=8, cols=8, chunk=128, balance=b), wl) for b in ("greedy", "none"))
    assert on.layers[2].compute_cycles <= off.layers[2].compute_cycles  # fc1: 120 filters, 15 column folds
    assert all(x.macs_issued + x.macs_skipped == x.macs_dense for x in on.layers)
    assert "intersection" in on.layers[0].energy_by_action_pj
