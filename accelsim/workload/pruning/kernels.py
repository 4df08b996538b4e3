"""The numba kernel behind ``patterns.base.keep_top_in_groups`` for short groups (N:M, Campfire windows).

``top_in_groups(scores, n_keep)``: ``scores`` is [A, L, B], a group is ``scores[a, :, b]`` (L long);
the bool keep-mask holds the ``n_keep`` highest of every group, ties kept in index order -- exactly
what a stable ``np.argsort(-group)`` keeps: rank_i = #{j < i: s_j >= s_i} + #{j > i: s_j > s_i}
(a NaN sorts after every number and after the NaNs before it; -0.0 == 0.0), kept iff rank_i <
n_keep.  O(L^2) comparisons per group, no sort, no index array: for short groups 5-20x faster than
the argsort + put_along_axis it replaces (benchmarks/results/prune_speed.md).  N:M along C of a
C-contiguous [K, C, R, S] weight is the view [K * C / M, M, R * S]: no transpose, no copy.

One thread: numba's prange over groups took 0.039 s instead of 0.064 s on 45 M scores with both
cores idle, no less with the cores shared, i.e. <= 0.1 s of a 7B layer's ~1.4 s, and tripled the
compile time (2.3 s); torch keeps its own thread pool beside it.  numba is imported only here;
patterns/base.py imports this module only for arrays large enough to repay numba's start-up
(compiled code is cached on disk, one compile of ~1-2 s per dtype).  Tested against the argsort
reference in tests/test_nm_kernel.py.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always")
def _group(scores, out, a, b, length, n_keep):  # pragma: no cover - compiled by numba (tests run it)
    """Keep-mask of one group scores[a, :, b]: rank_i = #{j < i: s_j >= s_i} + #{j > i: s_j > s_i};
    a NaN sorts after every number and after the NaNs before it."""
    for i in range(length):
        si = scores[a, i, b]
        r = 0
        if si == si:
            for j in range(i):
                r += scores[a, j, b] >= si
            for j in range(i + 1, length):
                r += scores[a, j, b] > si
        else:
            for j in range(length):
                sj = scores[a, j, b]
                r += (sj == sj) or j < i
        out[a, i, b] = r < n_keep


@numba.njit(inline="always")
def _group4(scores, out, a, b, n_keep):  # pragma: no cover - compiled by numba (tests run it)
    """``_group`` for L = 4 (2:4, 1:4) by pairs: 6 comparisons instead of 12 (2x faster).  ``pij``:
    element i precedes a later j, i.e. s_i >= s_j or s_j is NaN; rank_i counts who precedes i."""
    s0, s1, s2, s3 = scores[a, 0, b], scores[a, 1, b], scores[a, 2, b], scores[a, 3, b]
    p01, p02, p03 = (s0 >= s1) | (s1 != s1), (s0 >= s2) | (s2 != s2), (s0 >= s3) | (s3 != s3)
    p12, p13, p23 = (s1 >= s2) | (s2 != s2), (s1 >= s3) | (s3 != s3), (s2 >= s3) | (s3 != s3)
    out[a, 0, b] = 3 - p01 - p02 - p03 < n_keep
    out[a, 1, b] = p01 + 2 - p12 - p13 < n_keep
    out[a, 2, b] = p02 + p12 + 1 - p23 < n_keep
    out[a, 3, b] = p03 + p13 + p23 < n_keep


@numba.njit(cache=True, nogil=True)
def _top_in_groups(scores, n_keep, out):  # pragma: no cover - compiled by numba (tests run it)
    n_a, length, n_b = scores.shape
    for a in range(n_a):
        # a constant length lets LLVM unroll the comparisons (2-3x faster than a loop bound)
        if length == 4:
            for b in range(n_b):
                _group4(scores, out, a, b, n_keep)
        elif length == 8:
            for b in range(n_b):
                _group(scores, out, a, b, 8, n_keep)
        elif length == 9:
            for b in range(n_b):
                _group(scores, out, a, b, 9, n_keep)
        else:
            for b in range(n_b):
                _group(scores, out, a, b, length, n_keep)


def top_in_groups(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """Bool keep-mask of ``scores`` [A, L, B]: the ``n_keep`` highest of every ``scores[a, :, b]``,
    ties kept in index order."""
    scores = np.ascontiguousarray(scores)  # one compiled layout per dtype (N:M views already are)
    out = np.empty(scores.shape, dtype=bool)
    _top_in_groups(scores, int(n_keep), out)
    return out

