"""Mask-aware work per PE and per fold, on the real weight masks: numpy reductions.

Masks are uint8 [groups, N, K] (0 / 1, C-contiguous): ``groups`` GEMM groups, N filters (one
fiber each), K the reduction in (r, s, c) order -- ``accelsim.sim.storage.weight_fibers`` reshaped.
A "group id" array ``gid[K]`` maps each K position to a pruning group of one filter (a window, a
kernel row, a block column, ...).  Each function has a loop reference in tests/test_sparse_kernels.py.

Plain numpy on purpose: these take milliseconds per model, while numba cost every process ~0.6 s
to import and load its cache, and a first run 2 s more to compile (benchmarks/results/coldstart.md).
"""

from __future__ import annotations

import numpy as np


def pad_to(a: np.ndarray, axis: int, multiple: int) -> np.ndarray:
    """``a`` with zeros appended along ``axis`` up to a multiple of ``multiple`` (``a`` itself if none)."""
    extra = -a.shape[axis] % multiple
    if not extra:
        return a
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, extra)
    return np.pad(a, widths)


def _count(mask: np.ndarray, axis: int) -> np.ndarray:
    """int64 sums of a 0 / 1 array along ``axis``, added in uint16 when that cannot overflow (5x faster)."""
    return mask.sum(axis=axis, dtype=np.uint16 if mask.shape[axis] < 1 << 16 else np.int64).astype(np.int64)


def fiber_sums(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nonzeros per filter (int64 [groups, N]) and per reduction position (int64 [groups, K])."""
    return _count(mask, 2), _count(mask, 1)


def group_any(mask: np.ndarray, gid: np.ndarray, n_groups: int) -> np.ndarray:
    """uint8 [groups, N, n_groups]: 1 where filter n has a nonzero in pruning group q."""
    g, n, k = mask.shape
    sizes = np.bincount(gid, minlength=n_groups)
    order = np.argsort(gid, kind="stable")
    if k and (sizes == sizes[0]).all():  # equal groups: member j of every group side by side, max over j
        order = order.reshape(n_groups, k // n_groups).T.ravel()  # a window's gid (k % c) is in this order
        mask = mask if np.array_equal(order, np.arange(k)) else mask[:, :, order]
        return (mask.reshape(g, n, k // n_groups, n_groups).max(axis=2) != 0).view(np.uint8)
    out = np.zeros((g, n, n_groups), np.uint8)
    if k:
        ordered = gid[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        mask = mask if np.array_equal(order, np.arange(k)) else mask[:, :, order]
        out[:, :, ordered[starts]] = np.maximum.reduceat(mask, starts, axis=2) != 0
    return out


def block_rows_any(mask: np.ndarray, block_rows: int) -> np.ndarray:
    """uint8 [groups, N, K]: position (n, k) is 1 if any filter of n's block-row (``block_rows``
    consecutive filters, cut at the edge) has a nonzero at k."""
    g, n, k = mask.shape
    rows = pad_to(mask, 1, block_rows).reshape(g, -(-n // block_rows), block_rows, k).max(axis=2)
    return np.ascontiguousarray(np.repeat(rows, block_rows, axis=1)[:, :n], dtype=np.uint8)


def chunk_max_sum(work: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk of ``width`` consecutive units (one array fold): the slowest unit's work and the
    total work.  ``work`` int64 [groups, L] -> (max, sum), each int64 [groups, ceil(L / width)]."""
    g, length = work.shape
    chunks = pad_to(work, 1, width).reshape(g, -(-length // width), width)
    return chunks.max(axis=2, initial=0), chunks.sum(axis=2, dtype=np.int64)


def chunk_union(issued: np.ndarray, sizes: np.ndarray, width: int) -> np.ndarray:
    """Reduction positions a fold of filters needs: for each chunk of ``width`` filters, the sum of
    ``sizes[q]`` over the groups q issued by at least one filter of the chunk.
    ``issued`` uint8 [groups, N, Q] -> int64 [groups, ceil(N / width)]."""
    g, n, q = issued.shape
    full = n - n % width
    seen = issued[:, :full].reshape(g, full // width, width, q).max(axis=2)  # no copy; the last chunk apart
    if full < n:
        seen = np.concatenate([seen, issued[:, full:].max(axis=1, keepdims=True)], axis=1)
    return (seen != 0) @ np.asarray(sizes, dtype=np.int64)
