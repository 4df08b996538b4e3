"""Metadata sizes from real masks: numpy reductions (see accelsim.sim.dataflows.kernels for why
not numba).  Each function has a numpy reference in tests/test_formats.py.  Masks are uint8 [F, L]
(0 / 1), C-contiguous.
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dataflows.kernels import pad_to


def rle_counts(flat: np.ndarray, run_bits: int) -> tuple[int, int]:
    """(nonzeros, padding zeros) of a run-length encoding of ``flat`` with ``run_bits``-bit runs.

    Each entry is (run, value): ``run`` zeros precede ``value``.  A gap of z zeros before a nonzero
    needs floor(z / 2**run_bits) padding entries (run = 2**run_bits - 1, value = an explicit zero),
    each consuming 2**run_bits positions.  Zeros after the last nonzero need no entry.
    """
    nz = np.nonzero(flat != 0)[0]  # on bool: 8x faster than np.flatnonzero on uint8
    gaps = np.diff(nz, prepend=-1)
    gaps -= 1
    gaps >>= run_bits
    return len(nz), int(gaps.sum())


def block_counts(fibers: np.ndarray, block_rows: int, block_cols: int) -> tuple[int, int]:
    """(nonempty blocks, in-bounds values they hold) of ``fibers`` [F, L] tiled by b_r x b_c blocks
    (b_r fibers, b_c consecutive positions; edge blocks are cut at the matrix border)."""
    f, length = fibers.shape
    n_br, n_bc = -(-f // block_rows), -(-length // block_cols)
    rows = pad_to(fibers, 0, block_rows).reshape(n_br, block_rows, length).max(axis=1)
    seen = pad_to(rows, 1, block_cols).reshape(n_br, n_bc, block_cols).max(axis=2) != 0
    heights = np.minimum(block_rows, f - np.arange(0, f, block_rows))
    widths = np.minimum(block_cols, length - np.arange(0, length, block_cols))
    return int(seen.sum()), int(heights @ seen @ widths)


def group_max(fibers: np.ndarray, group: int) -> int:
    """Most nonzeros in any run of ``group`` consecutive positions (aligned to 0) of any fiber."""
    if fibers.size == 0:
        return 0
    f, length = fibers.shape
    parts = pad_to(fibers, 1, group).reshape(f, -(-length // group), group)
    counts = parts[:, :, 0].astype(np.uint8 if group < 256 else np.int64)
    for j in range(1, group):  # strided adds: 5-10x faster than a sum over a short last axis
        counts += parts[:, :, j]
    return int(counts.max())


def packed_group_max(bits: np.ndarray, group: int) -> int:
    """``group_max`` of fibers given as packed bits (PackedFibers: every fiber starts on a byte), for
    ``group`` dividing 8, so that no group straddles a byte.  SWAR on 64-bit words: the ones of every
    aligned group summed in its own field, then, from ``group`` down, whether any field reaches t."""
    if bits.size == 0:
        return 0
    flat = bits.ravel()
    if flat.size % 8:
        flat = np.concatenate([flat, np.zeros(8 - flat.size % 8, np.uint8)])
    c = flat.view(np.uint64)
    if group == 1:
        return int(c.any())
    tmp = np.empty_like(c)
    for width, mask in ((1, 0x5555555555555555), (2, 0x3333333333333333), (4, 0x0F0F0F0F0F0F0F0F)):
        if width >= group:
            break
        m = np.uint64(mask)
        np.right_shift(c, np.uint64(width), out=tmp)
        tmp &= m
        c = c & m
        c += tmp
    ones = {2: 0x5555555555555555, 4: 0x1111111111111111, 8: 0x0101010101010101}[group]
    top = np.uint64(ones << (group - 1))
    for t in range(group, 0, -1):  # field + 2^(w-1) - t sets the field's top bit iff field >= t
        np.add(c, np.uint64(ones * ((1 << (group - 1)) - t)), out=tmp)
        tmp &= top
        if tmp.any():
            return t
    return 0
