"""The two-sided kernels against brute-force loops over (m, n, k) on random masks, every dataflow."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.registry import DATAFLOWS
from accelsim.sim.dataflows.two_sided_kernels import fold_slowest, intersection_counts, pack_bits, pe_work


def _brute_pe_work(a, w, dataflow):
    flow = DATAFLOWS.get(dataflow)
    m, k = a.shape
    n = w.shape[1]
    size = {"m": m, "n": n, "k": k}
    out = np.zeros((size[flow.rows_dim], size[flow.cols_dim]), np.int64)
    for i in range(m):
        for j in range(n):
            for q in range(k):
                if a[i, q] and w[q, j]:
                    idx = {"m": i, "n": j, "k": q}
                    out[idx[flow.rows_dim], idx[flow.cols_dim]] += 1
    return out


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pe_work_and_slowest_fold_match_brute_force(dataflow, seed):
    rng = np.random.default_rng(seed)
    m, n, k = rng.integers(1, 23, size=3)
    a = rng.random((m, k)) < rng.uniform(0.1, 0.9)
    w = rng.random((k, n)) < rng.uniform(0.1, 0.9)
    work = pe_work(a, w, dataflow)
    ref = _brute_pe_work(a, w, dataflow)
    np.testing.assert_array_equal(work, ref)
    assert work.sum() == int((a.astype(np.int64) @ w.astype(np.int64)).sum())  # every pair counted once
    rows, cols = 4, 3
    slow = fold_slowest(work, rows, cols)
    rf, cf = -(-ref.shape[0] // rows), -(-ref.shape[1] // cols)
    expect = [ref[r * rows:(r + 1) * rows, c * cols:(c + 1) * cols].max()
              for c in range(cf) for r in range(rf)]
    np.testing.assert_array_equal(slow, expect)


def test_popcount_over_word_boundaries():
    rng = np.random.default_rng(5)
    a = rng.random((7, 200)) < 0.5  # 200 bits: 4 words, the last one partial
    b = rng.random((5, 200)) < 0.5
    counts = intersection_counts(pack_bits(a), pack_bits(b), block=1)
    np.testing.assert_array_equal(counts, (a[:, None, :] & b[None, :, :]).sum(axis=2))
    assert pack_bits(a).dtype == np.uint64 and pack_bits(a).shape == (7, 4)
