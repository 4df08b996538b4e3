"""numba kernels for metadata sizes: loops over real masks that numpy cannot vectorise cheaply.

Free ``@njit(cache=True)`` functions over numpy arrays and scalars; each has a pure-numpy
reference in tests/test_formats.py and runs unchanged with NUMBA_DISABLE_JIT=1.  Masks are uint8
[F, L] (0 / 1), C-contiguous.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def rle_counts(flat: np.ndarray, run_bits: int) -> tuple[int, int]:
    """(nonzeros, padding zeros) of a run-length encoding of ``flat`` with ``run_bits``-bit runs.

    Each entry is (run, value): ``run`` zeros precede ``value``.  A gap of z zeros before a nonzero
    needs floor(z / 2**run_bits) padding entries (run = 2**run_bits - 1, value = an explicit zero),
    each consuming 2**run_bits positions.  Zeros after the last nonzero need no entry.
    """
    span = 1 << run_bits
    nnz = 0
    pad = 0
    gap = 0
    for i in range(flat.shape[0]):
        if flat[i] != 0:
            nnz += 1
            pad += gap // span
            gap = 0
        else:
            gap += 1
    return nnz, pad


@njit(cache=True)
def block_counts(fibers: np.ndarray, block_rows: int, block_cols: int) -> tuple[int, int]:
    """(nonempty blocks, in-bounds values they hold) of ``fibers`` [F, L] tiled by b_r x b_c blocks
    (b_r fibers, b_c consecutive positions; edge blocks are cut at the matrix border)."""
    f, length = fibers.shape
    n_bc = (length + block_cols - 1) // block_cols
    seen = np.zeros(n_bc, np.uint8)
    blocks = 0
    values = 0
    for r0 in range(0, f, block_rows):
        r1 = min(r0 + block_rows, f)
        seen[:] = 0
        for r in range(r0, r1):
            for j in range(length):
                if fibers[r, j] != 0:
                    seen[j // block_cols] = 1
        for b in range(n_bc):
            if seen[b]:
                blocks += 1
                width = min(block_cols, length - b * block_cols)
                values += width * (r1 - r0)
    return blocks, values


@njit(cache=True)
def group_max(fibers: np.ndarray, group: int) -> int:
    """Most nonzeros in any run of ``group`` consecutive positions (aligned to 0) of any fiber."""
    f, length = fibers.shape
    best = 0
    for r in range(f):
        for g0 in range(0, length, group):
            c = 0
            for j in range(g0, min(g0 + group, length)):
                c += fibers[r, j]
            if c > best:
                best = c
    return best
