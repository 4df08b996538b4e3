"""Exact two-sided work on bit-packed masks: per-PE intersection counts with numpy popcounts.

A PE of a GEMM array does, over the time dim, the MACs whose two operands are both nonzero:

    os  PE (m, n), K in time:  |nz(A[m, :]) & nz(W[:, n])|   popcount of the AND of two packed rows
    ws  PE (k, n), M in time:  W[k, n] * |nz(A[:, k])|         a held weight meets a column of inputs
    is  PE (k, m), N in time:  A[m, k] * |nz(W[k, :])|         a held input meets a row of weights

``pe_work`` gives that count for every PE of the unrolled GEMM ([Sr, Sc], the dataflow's rows and
columns dims), and ``fold_slowest`` the slowest PE of each fold: a fold whose PEs each drain their
own work lasts as long as its busiest PE.  Masks are bool; A is [M, K] (the im2col view of the
input), W is [K, N].  Each function has a loop reference in tests/test_two_sided_kernels.py.
"""

from __future__ import annotations

import numpy as np

from accelsim.registry import DATAFLOWS

WORD_BITS = 64


def pack_bits(mask: np.ndarray) -> np.ndarray:
    """bool [R, L] -> uint64 [R, ceil(L / 64)]: bit j of row r at word j // 64, bit j % 64."""
    rows, length = mask.shape
    words = -(-length // WORD_BITS)
    padded = np.zeros((rows, words * WORD_BITS), bool)
    padded[:, :length] = mask
    return np.packbits(padded, axis=1, bitorder="little").view(np.uint64)


def intersection_counts(a_words: np.ndarray, b_words: np.ndarray, block: int = 1024) -> np.ndarray:
    """int64 [Ra, Rb]: popcount(a[i] & b[j]) summed over words, rows of ``a`` in blocks (bounded memory)."""
    out = np.empty((a_words.shape[0], b_words.shape[0]), np.int64)
    step = max(1, block * 64 // max(1, b_words.shape[0] * a_words.shape[1]))
    for i in range(0, a_words.shape[0], step):
        both = a_words[i:i + step, None, :] & b_words[None, :, :]
        out[i:i + step] = np.bitwise_count(both).sum(axis=2, dtype=np.int64)
    return out


def pe_work(a_mask: np.ndarray, w_mask: np.ndarray, dataflow: str) -> np.ndarray:
    """int64 [Sr, Sc]: nonzero-pair MACs each PE of ``dataflow``'s unrolled GEMM performs over its time
    dim (module docstring).  ``a_mask`` bool [M, K], ``w_mask`` bool [K, N]."""
    flow = DATAFLOWS.get(dataflow)
    a, w = np.asarray(a_mask, bool), np.asarray(w_mask, bool)
    if flow.time_dim == "k":
        counts = intersection_counts(pack_bits(a), pack_bits(w.T))  # [M, N]
        return counts if flow.rows_dim == "m" else counts.T
    if flow.time_dim == "m":  # PE (k, n) holds W[k, n]
        kn = w.astype(np.int64) * a.sum(axis=0, dtype=np.int64)[:, None]
        return kn if flow.rows_dim == "k" else kn.T
    km = a.T.astype(np.int64) * w.sum(axis=1, dtype=np.int64)[:, None]  # PE (k, m) holds A[m, k]
    return km if flow.rows_dim == "k" else km.T


def fold_slowest(work: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """int64 [col_folds * row_folds]: the busiest PE of each ``rows`` x ``cols`` fold of ``work``
    [Sr, Sc], column fold outer (the order of FoldPlan's folds)."""
    sr, sc = work.shape
    rf, cf = -(-sr // rows), -(-sc // cols)
    padded = np.zeros((rf * rows, cf * cols), np.int64)
    padded[:sr, :sc] = work
    return padded.reshape(rf, rows, cf, cols).max(axis=(1, 3)).T.reshape(-1)
