"""The numba kernel behind ``patterns.base.keep_top_per_row`` for short groups (N:M, Campfire windows).

``top_in_groups(scores, n_keep, out)``: ``scores`` is [A, L, B] (any strides; a group is
``scores[a, :, b]``, L long), ``out`` a bool array of the same shape.  It keeps the ``n_keep``
highest of every group, ties kept in index order -- exactly what a stable ``np.argsort(-group)``
keeps: element i precedes a later j iff ``s_i >= s_j`` (or s_j is NaN: NaN sorts last), so with one
comparison per pair, rank_i = #{j: j precedes i} and i is kept iff rank_i < n_keep.  O(L^2) per
group: for short groups it beats a sort (patterns/base.py chooses; benchmarks/bench_prune_speed.py
measures).  A [rows, L] array is the [A, L, 1] view; N:M on a [K, C, R, S] weight is the view
[K * C / M, M, R * S] of it, with no transpose and no copy.

numba is imported only here, and patterns/base.py imports this module only for arrays large enough
to repay numba's start-up (~0.5 s; compiled code is cached on disk, one compile per dtype).
Tested against the argsort reference in tests/test_nm_kernel.py.
"""

from __future__ import annotations

import numba
import numpy as np

_CHUNK = 1 << 14  # groups per parallel task


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


@numba.njit(cache=True, nogil=True)
def _top_in_groups(scores, n_keep, out):  # pragma: no cover - compiled by numba (tests run it)
    n_a, length, n_b = scores.shape
    for task in range((n_a + _CHUNK - 1) // _CHUNK):
        lo, hi = task * _CHUNK, min(n_a, (task + 1) * _CHUNK)
        # a constant length lets LLVM unroll the comparisons (2-3x faster than a loop bound)
        if length == 4:
            for a in range(lo, hi):
                for b in range(n_b):
                    _group(scores, out, a, b, 4, n_keep)
        elif length == 8:
            for a in range(lo, hi):
                for b in range(n_b):
                    _group(scores, out, a, b, 8, n_keep)
        elif length == 9:
            for a in range(lo, hi):
                for b in range(n_b):
                    _group(scores, out, a, b, 9, n_keep)
        else:
            for a in range(lo, hi):
                for b in range(n_b):
                    _group(scores, out, a, b, length, n_keep)


def top_in_groups(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """Bool keep-mask of ``scores`` [A, L, B]: the ``n_keep`` highest of every ``scores[a, :, b]``,
    ties kept in index order."""
    out = np.empty(scores.shape, dtype=bool)
    _top_in_groups(scores, int(n_keep), out)
    return out
