"""Operands of the Campfire arrays (ws_window_array, ws_channel_array): seeded sparse B and its
compressed form, as the testbenches read it.  Pure numpy; no accelsim import.

B is K x N with K = RS * CH in (position p, channel c) order, channel fastest (accelsim's fiber
order): window (c, n) is ``B[p * CH + c, n]`` for p = 0 .. RS-1.
"""

from __future__ import annotations

import numpy as np

WINDOW_BUS = 9  # tb_ws_window's BW: the row bus carries one 3x3 window


def clog2(x: int) -> int:
    return (int(x) - 1).bit_length() if x > 1 else 0


def _nonzero_values(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.integers(1, 128, size=shape) * rng.choice([-1, 1], size=shape)


def window_b(rng: np.random.Generator, k: int, n: int, rs: int, keep: int,
             bw: int = WINDOW_BUS) -> np.ndarray:
    """Keep ``keep`` random positions of every sub-window (bw positions of one window) per column;
    column 0 keeps exactly ``keep`` nonzeros in its first sub-window, other kept values may be 0."""
    ch = k // rs
    b = np.zeros((k, n), dtype=np.int64)
    for col in range(n):
        for c in range(ch):
            for j0 in range(0, rs, bw):
                size = min(bw, rs - j0)
                pos = j0 + rng.choice(size, size=min(keep, size), replace=False)
                vals = _nonzero_values(rng, len(pos))
                if col or c or j0:
                    vals[rng.random(len(pos)) < 0.15] = 0
                b[pos * ch + c, col] = vals
    return b


def window_slots(k: int, rs: int, keep: int, bw: int = WINDOW_BUS) -> int:
    """Rows of the window array: keep slots per sub-window, ceil(rs / bw) sub-windows per window."""
    return keep * -(-rs // bw) * (k // rs)


def compress_window(b: np.ndarray, rs: int, keep: int, bw: int = WINDOW_BUS) -> tuple[np.ndarray, np.ndarray]:
    """(values, positions), each window_slots x N: slot s = (c * J + j) * keep + q."""
    k, n = b.shape
    ch, j_count = k // rs, -(-rs // bw)
    values = np.zeros((window_slots(k, rs, keep, bw), n), dtype=np.int64)
    index = np.zeros_like(values)
    for c in range(ch):
        for j in range(j_count):
            for col in range(n):
                nz = [e for e in range(bw) if j * bw + e < rs and b[(j * bw + e) * ch + c, col] != 0]
                if len(nz) > keep:
                    raise ValueError(f"window {c} sub-window {j} of column {col} has {len(nz)} nonzeros,"
                                     f" more than {keep}")
                for q, e in enumerate(nz):
                    s = (c * j_count + j) * keep + q
                    values[s, col], index[s, col] = b[(j * bw + e) * ch + c, col], e
    return values, index


def channel_b(rng: np.random.Generator, k: int, n: int, rs: int, keep: int) -> np.ndarray:
    """Every filter keeps ``keep`` random whole windows (its own channels); some kept values are 0."""
    ch = k // rs
    b = np.zeros((k, n), dtype=np.int64)
    for col in range(n):
        for c in rng.choice(ch, size=keep, replace=False):
            vals = _nonzero_values(rng, rs)
            vals[rng.random(rs) < 0.15] = 0
            b[np.arange(rs) * ch + c, col] = vals
    return b


def channel_block_rows(nonempty: np.ndarray, g: int) -> np.ndarray:
    """Windows per block in the compressed filters: for each block of g channels, the most
    nonempty windows any filter has there.  ``nonempty``: bool [N, CH]."""
    n, ch = nonempty.shape
    starts = np.arange(0, ch, g)
    if n == 0 or ch == 0:
        return np.zeros(len(starts), dtype=np.int64)
    return np.add.reduceat(nonempty.astype(np.int64), starts, axis=1).max(axis=0)


def channel_slots(b: np.ndarray, rs: int, g: int) -> int:
    """Rows of the channel array: rs slots per window row of every block."""
    k, _ = b.shape
    nonempty = (b.reshape(rs, k // rs, -1) != 0).any(axis=0).T  # [N, CH]
    return rs * int(channel_block_rows(nonempty, g).sum())


def compress_channel(b: np.ndarray, rs: int, g: int):
    """(values, indices, rbase, rlen): values/indices S x N, the row table S entries.  Slots in
    order (block, window row, position); filter n's w-th nonempty window of block b fills row w."""
    k, n = b.shape
    ch = k // rs
    nonempty = (b.reshape(rs, ch, n) != 0).any(axis=0).T  # [N, CH]
    rows = channel_block_rows(nonempty, g)
    s_total = rs * int(rows.sum())
    values = np.zeros((s_total, n), dtype=np.int64)
    index = np.zeros_like(values)
    rbase = np.zeros(s_total, dtype=np.int64)
    rlen = np.zeros(s_total, dtype=np.int64)
    s0 = 0
    for blk, count in enumerate(rows):
        c0 = blk * g
        for w in range(count):
            for p in range(rs):
                rbase[s0 + w * rs + p], rlen[s0 + w * rs + p] = p * ch + c0, min(g, ch - c0)
        for col in range(n):
            kept = [c for c in range(c0, min(c0 + g, ch)) if nonempty[col, c]]
            for w, c in enumerate(kept):
                for p in range(rs):
                    values[s0 + w * rs + p, col] = b[p * ch + c, col]
                    index[s0 + w * rs + p, col] = c - c0
        s0 += rs * int(count)
    return values, index, rbase, rlen


def nm_b(rng: np.random.Generator, k: int, n: int, keep: int) -> np.ndarray:
    """Keep ``keep`` random entries of every group of 4 consecutive k per column; column 0's first
    group keeps exactly min(keep, its size) nonzeros, other kept values may be 0."""
    b = np.zeros((k, n), dtype=np.int64)
    for g0 in range(0, k, 4):
        size = min(4, k - g0)
        for col in range(n):
            pos = g0 + rng.choice(size, size=min(keep, size), replace=False)
            vals = _nonzero_values(rng, len(pos))
            if col or g0:
                vals[rng.random(len(pos)) < 0.15] = 0
            b[pos, col] = vals
    return b


def compress_nm(b: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, indices), each keep*ceil(K/4) x N: slot s holds a kept weight of group s // keep."""
    k, n = b.shape
    groups = -(-k // 4)
    values = np.zeros((keep * groups, n), dtype=np.int64)
    index = np.zeros_like(values)
    for g in range(groups):
        for col in range(n):
            nz = [e for e in range(4) if 4 * g + e < k and b[4 * g + e, col] != 0]
            if len(nz) > keep:
                raise ValueError(f"group {g} of column {col} has {len(nz)} nonzeros, more than {keep}")
            for q, e in enumerate(nz):
                values[keep * g + q, col], index[keep * g + q, col] = b[4 * g + e, col], e
    return values, index
