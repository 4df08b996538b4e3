"""Skipping zero activations only where the schedule allows it (sim/dataflows/input_skip.py)."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from accelsim.sim.dataflows import TIMING_MODELS, plan_folds
from accelsim.sim.dataflows.compute import dense_compute
from accelsim.sim.dataflows.input_skip import expected_max_binomial, step_fraction
from accelsim.sim.dataflows.sparse import sparse_compute
from accelsim.spec.hardware import OperandSparsity, SparseSupport, load_hardware
from accelsim.workload.layer import Layer

ACCELSIM = TIMING_MODELS.get("accelsim")


@pytest.mark.parametrize("n, p, count", [(1, 0.5, 1), (3, 0.3, 2), (2, 0.7, 3), (4, 0.5, 2)])
def test_expected_max_equals_enumerating_every_outcome(n, p, count):
    """Every outcome of count x n independent coin flips, with its probability."""
    want = 0.0
    for bits in itertools.product((0, 1), repeat=n * count):
        prob = np.prod([p if b else 1 - p for b in bits])
        want += prob * max(sum(bits[i * n:(i + 1) * n]) for i in range(count))
    assert expected_max_binomial(np.array([n]), p, count)[0] == pytest.approx(want, rel=1e-12)


def test_expected_max_edges():
    assert expected_max_binomial(np.array([0, 5]), 0.5, 8).tolist() == [0.0, pytest.approx(
        expected_max_binomial(np.array([5]), 0.5, 8)[0])]
    assert expected_max_binomial(np.array([7]), 1.0, 4)[0] == 7
    assert expected_max_binomial(np.array([7]), 0.0, 4)[0] == 0
    # one queue: the mean
    assert expected_max_binomial(np.array([40]), 0.3, 1)[0] == pytest.approx(12.0)


def hw(dataflow: str, rows: int = 8, cols: int = 8):
    base = load_hardware("dense_ws")
    return replace(base, pe_array=replace(base.pe_array, dataflow=dataflow, rows=rows, cols=cols),
                   sparsity=SparseSupport(inputs=OperandSparsity(format="bitmask", skip="skip")))


def layer(m=40, n=8, k=8, d=0.5) -> Layer:
    return Layer("fc", "linear", m=m, n=n, k=k, weight_mask=np.ones((n, k), bool), activation_density=d,
                 activation_density_source="test")


def test_ws_skips_only_all_zero_vectors():
    """WS: a step of M is dropped only when all 8 activations entering the rows are zero."""
    lay, h = layer(m=400, k=8, d=0.5), hw("ws")
    t = sparse_compute(lay, h, ACCELSIM)
    kept = int(np.ceil(400 * (1 - 0.5**8) - 1e-9))
    plan = replace(plan_folds("ws", 8, 8, 400, 8, 8), t=kept)
    assert t.compute_cycles == ACCELSIM.layer_cycles(plan, 1)
    # the kept steps carry the rest of the zero inputs: issued, and gated
    assert t.macs_issued == round(lay.macs * step_fraction(0.5, 8))
    assert t.macs_gated == t.macs_issued - round(lay.macs * 0.5)
    assert "all-zero vectors of 8 inputs" in t.notes[-1]


def test_ws_with_many_rows_saves_next_to_nothing():
    lay = layer(m=64, n=8, k=32, d=0.5)
    assert sparse_compute(lay, hw("ws", rows=32), ACCELSIM).compute_cycles == dense_compute(
        lay, hw("ws", rows=32), ACCELSIM).compute_cycles


def test_os_fold_lasts_as_long_as_its_slowest_queue():
    """OS: K in time; each PE row drops its own zeros; the fold takes the slowest of 64 PEs."""
    lay, h = layer(m=8, n=8, k=100, d=0.3), hw("os")
    t = sparse_compute(lay, h, ACCELSIM)
    steps = int(np.ceil(expected_max_binomial(np.array([100]), 0.3, 64)[0] - 1e-9))
    assert 30 < steps < 100  # slower than the mean, faster than dense
    assert t.compute_cycles == ACCELSIM.layer_cycles(replace(plan_folds("os", 8, 8, 8, 8, 100), t=steps), 1)
    assert t.macs_issued == round(lay.macs * 0.3) and t.macs_gated == 0


def test_stationary_inputs_save_no_time():
    lay, h = layer(m=40, n=8, k=8, d=0.3), hw("is")
    assert sparse_compute(lay, h, ACCELSIM).compute_cycles == dense_compute(lay, h, ACCELSIM).compute_cycles


def test_os_with_a_recorded_input_mask_is_exact():
    """K in time, per-PE queues, the input's real mask: each fold lasts its busiest PE's nonzero pairs
    and the issued MACs are the exact pair count (a loop over every PE)."""
    from accelsim.workload.layer import ConvShape

    rng = np.random.default_rng(7)
    shape = ConvShape(batch=1, in_channels=3, out_channels=10, in_h=5, in_w=5, out_h=5, out_w=5,
                      kernel_h=3, kernel_w=3, pad_h=1, pad_w=1)
    w = rng.random((10, 3, 3, 3)) < 0.4
    x = rng.random((1, 3, 5, 5)) < 0.5
    lay = Layer("c", "conv", m=25, n=10, k=27, weight_mask=w, conv=shape, input_mask=x,
                activation_density=float(x.mean()), activation_density_source="test", pattern="unstructured")
    base = load_hardware("unstructured_skip")
    h = replace(base, pe_array=replace(base.pe_array, rows=8, cols=4))
    t = sparse_compute(lay, h, ACCELSIM)
    # brute force: im2col by loops, K in (r, s, c) order
    pad = np.zeros((3, 7, 7), bool)
    pad[:, 1:6, 1:6] = x[0]
    a = np.array([[pad[c, oy + r, ox + s] for r in range(3) for s in range(3) for c in range(3)]
                  for oy in range(5) for ox in range(5)])  # [M, K]
    wf = w.transpose(0, 2, 3, 1).reshape(10, 27)  # [N, K]
    work = np.array([[int((a[i] & wf[j]).sum()) for j in range(10)] for i in range(25)])
    assert t.macs_issued == work.sum() and t.macs_gated == 0
    folds = [work[r0:r0 + 8, c0:c0 + 4].max() for c0 in range(0, 10, 4) for r0 in range(0, 25, 8)]
    assert t.schedule.fold_t[0].tolist() == folds
    assert "skipped exactly" in t.notes[-1]
