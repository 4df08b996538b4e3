"""Dense fold plans and the SCALE-Sim timing, on cases worked by hand; the vectorised forms."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.sim.dataflows import DATAFLOWS, TIMING_MODELS, plan_folds

SCALESIM = TIMING_MODELS.get("scalesim")


def test_os_hand_worked():
    # test.csv Inc5b_3x3 on scale.cfg: 7x7x192 input, 3x3 filters, 384 of them -> M=25, N=384, K=1728.
    p = plan_folds("os", 32, 32, m=25, n=384, k=1728)
    assert (p.sr, p.sc, p.t, p.row_folds, p.col_folds) == (25, 384, 1728, 1, 12)
    assert SCALESIM.fold_cycles(p) == 1728 + 32 + 32 - 2
    assert SCALESIM.layer_cycles(p, 1) == 12 * 1790 - 1 == 21479
    acc = SCALESIM.sram_accesses(p, 25, 384, 1728)
    assert acc.inputs_reads == 25 * 1728 * 12
    assert acc.weights_reads == 1728 * 384 * 1
    assert acc.outputs_writes == 25 * 384 + 12 * 64


def test_ws_hand_worked():
    # M=128, N=64, K=256 on 32x32: rows take K (8 folds), cols N (2 folds), M streams.
    p = plan_folds("ws", 32, 32, m=128, n=64, k=256)
    assert (p.row_folds, p.col_folds, p.t) == (8, 2, 128)
    assert SCALESIM.fold_cycles(p) == 2 * 32 + 32 + 128 - 2 == 222
    assert SCALESIM.layer_cycles(p, 1) == 16 * 222 - 1
    acc = SCALESIM.sram_accesses(p, 128, 64, 256)
    assert (acc.inputs_reads, acc.weights_reads, acc.outputs_writes) == (
        128 * 256 * 2, 256 * 64, 128 * 64 * 8)


def test_is_hand_worked():
    p = plan_folds("is", 32, 32, m=128, n=64, k=256)
    assert (p.row_folds, p.col_folds, p.t) == (8, 4, 64)
    assert SCALESIM.layer_cycles(p, 1) == 32 * (64 + 32 + 64 - 2) - 1 == 5055


def test_mapping_efficiency_partial_folds():
    p = plan_folds("os", 4, 4, m=6, n=4, k=3)  # folds: rows 4 + 2 used
    assert p.folds == 2
    assert p.mapping_efficiency == pytest.approx((6 * 4) / (2 * 16))


@given(st.sampled_from(DATAFLOWS.names()), st.integers(1, 64), st.integers(1, 64),
       st.integers(1, 500), st.integers(1, 500), st.integers(1, 500))
def test_dense_cycles_at_least_ideal(df, r, c, m, n, k):
    """Every timing model needs at least M*N*K / (R*C) cycles; more of any dim never takes less time."""
    for name in TIMING_MODELS:
        model = TIMING_MODELS.get(name)
        p = plan_folds(df, r, c, m, n, k)
        cycles = model.layer_cycles(p, 1)
        assert cycles + 1 >= m * n * k / (r * c)
        assert model.layer_cycles(plan_folds(df, r, c, m + 1, n, k), 1) >= cycles
        assert model.layer_cycles(plan_folds(df, r, c, m, n, k + 1), 1) >= cycles


@given(st.sampled_from(DATAFLOWS.names()), st.integers(1, 40), st.integers(1, 40),
       st.lists(st.tuples(*[st.integers(0, 300)] * 3), min_size=1, max_size=8))
def test_vectorised_forms_are_the_scalar_methods(df, r, c, shapes):
    """fold_cycles_at / group_cycles_at / fill_drain_cycles (what tiles cost) equal the scalar methods
    shape by shape, for every timing model (0 for an empty tile)."""
    sr, sc, t = (np.array(x) for x in zip(*shapes, strict=True))
    for name in TIMING_MODELS:
        model = TIMING_MODELS.get(name)
        p = plan_folds(df, r, c, 1, 1, 1)
        plans = [replace(p, sr=a, sc=b, t=d) for a, b, d in shapes]
        live = [min(s) > 0 for s in shapes]
        fold = [model.fold_cycles(q) if ok else 0 for q, ok in zip(plans, live, strict=True)]
        group = [model.group_cycles(q) if ok else 0 for q, ok in zip(plans, live, strict=True)]
        assert model.fold_cycles_at(p, sr, sc, t).tolist() == fold, name
        assert model.group_cycles_at(p, sr, sc, t).tolist() == group, name
        fill = [g - q.folds * f if ok else 0 for g, f, q, ok in zip(group, fold, plans, live, strict=True)]
        assert model.fill_drain_cycles(p, sr, sc, t).tolist() == fill, name
