"""numba kernels: mask-aware work per PE and per fold, on the real weight masks.

Free ``@njit(cache=True)`` functions over numpy arrays and scalars; each has a pure-numpy
reference in tests/test_sparse_kernels.py and runs unchanged with NUMBA_DISABLE_JIT=1.
Masks are uint8 [groups, N, K] (0 / 1, C-contiguous): ``groups`` GEMM groups, N filters (one
fiber each), K the reduction in (r, s, c) order -- ``accelsim.sim.storage.weight_fibers`` reshaped.
A "group id" array ``gid[K]`` maps each K position to a pruning group of one filter (a window, a
kernel row, a block column, ...).

Compiled kernels are cached on disk (``cache=True``): next to this file when that directory is
writable, else in numba's user-wide cache; set ``NUMBA_CACHE_DIR`` to choose the place (a
read-only install, CI).  The first call in a process still pays numba's own start-up (seconds).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def fiber_sums(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzeros per filter (int64 [groups, N]) and per reduction position (int64 [groups, K])."""
    g, n, k = mask.shape
    cols = np.zeros((g, n), np.int64)
    rows = np.zeros((g, k), np.int64)
    for gi in range(g):
        for nn in range(n):
            c = 0
            for kk in range(k):
                v = mask[gi, nn, kk]
                c += v
                rows[gi, kk] += v
            cols[gi, nn] = c
    return cols, rows


@njit(cache=True)
def group_any(mask: np.ndarray, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """uint8 [groups, N, n_groups]: 1 where filter n has a nonzero in pruning group q."""
    g, n, k = mask.shape
    out = np.zeros((g, n, n_groups), np.uint8)
    for gi in range(g):
        for nn in range(n):
            for kk in range(k):
                if mask[gi, nn, kk] != 0:
                    out[gi, nn, gid[kk]] = 1
    return out


@njit(cache=True)
def block_rows_any(mask: np.ndarray, block_rows: int) -> np.ndarray:
    """uint8 [groups, N, K]: position (n, k) is 1 if any filter of n's block-row (``block_rows``
    consecutive filters, cut at the edge) has a nonzero at k."""
    g, n, k = mask.shape
    out = np.zeros((g, n, k), np.uint8)
    for gi in range(g):
        for n0 in range(0, n, block_rows):
            n1 = min(n0 + block_rows, n)
            for nn in range(n0, n1):
                for kk in range(k):
                    if mask[gi, nn, kk] != 0:
                        out[gi, n0, kk] = 1
            for nn in range(n0 + 1, n1):
                out[gi, nn, :] = out[gi, n0, :]
    return out


@njit(cache=True)
def chunk_max_sum(work: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk of ``width`` consecutive units (one array fold): the slowest unit's work and the
    total work.  ``work`` int64 [groups, L] -> (max, sum), each int64 [groups, ceil(L / width)]."""
    g, length = work.shape
    folds = (length + width - 1) // width
    mx = np.zeros((g, folds), np.int64)
    sm = np.zeros((g, folds), np.int64)
    for gi in range(g):
        for j in range(length):
            f = j // width
            w = work[gi, j]
            sm[gi, f] += w
            if w > mx[gi, f]:
                mx[gi, f] = w
    return mx, sm


@njit(cache=True)
def chunk_union(issued: np.ndarray, sizes: np.ndarray, width: int) -> np.ndarray:
    """Reduction positions a fold of filters needs: for each chunk of ``width`` filters, the sum of
    ``sizes[q]`` over the groups q issued by at least one filter of the chunk.
    ``issued`` uint8 [groups, N, Q] -> int64 [groups, ceil(N / width)]."""
    g, n, q_count = issued.shape
    folds = (n + width - 1) // width
    out = np.zeros((g, folds), np.int64)
    seen = np.zeros(q_count, np.uint8)
    for gi in range(g):
        for f in range(folds):
            seen[:] = 0
            for nn in range(f * width, min((f + 1) * width, n)):
                for q in range(q_count):
                    if issued[gi, nn, q] != 0:
                        seen[q] = 1
            total = 0
            for q in range(q_count):
                if seen[q]:
                    total += sizes[q]
            out[gi, f] = total
    return out
