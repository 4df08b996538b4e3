"""accelsim's default ("accelsim") dense timing model: the measured timing of the rtl_ref arrays.

The formula itself lives in accelsim/dataflows/timing.py (imported here); tests/test_rtl.py
checks it against the cycle counts measured on the Verilog (README.md).

One GEMM group, dataflow in {os, ws, is}, on an R x C array. (Sr, Sc, T) are the spatial and
temporal dims: os (M, N, K), ws (K, N, M), is (K, M, N).

    row_folds = ceil(Sr / R), col_folds = ceil(Sc / C), F = row_folds * col_folds
    P         = max(T, R)                      fold slot: folds are pipelined back to back
    c_last    = Sc - (col_folds - 1) * C       columns used by the last column fold
    W         = c_last                                      if col_folds == 1
                max(c_last, C - row_folds * P)              otherwise
    os:      cycles = F * P + 2R + W
    ws, is:  cycles = (F - 1) * P + T + 2R + W

W is the width of the skew tail: column j finishes j cycles after column 0. Usually W = c_last
(the last fold's used columns); when the last column fold is narrow and its folds are short, the
full-width fold before it (row_folds * P cycles earlier) finishes its column C-1 later still.

Counted, not indexed: cycle 0 is the cycle in which start is high; the count ends with the cycle
at whose end the last result is written. Assumptions (the RTL):

* Edge operands are read from single-cycle register-file buffers and skewed (row i / column j
  enter i / j cycles late); a fold's T steps stream in T consecutive cycles.
* os: two accumulators per PE; a bank bit travelling with the data swaps them at each fold, so a
  fold computes while the previous fold's results shift down the columns (2 registers per PE,
  R results per column in R consecutive cycles). Draining needs R cycles, hence P = max(T, R);
  after the last fold one more bank swap drains it (2R + W).
* ws/is: shadow + active weight registers; a "first" tag travelling with the data commits the
  shadow weight diagonally, and the next fold's weights shift in (R steps, row i from step i
  on) while the current fold streams, hence P = max(T, R). Only the first fold's R-cycle load
  is exposed. Partial sums of row folds are accumulated in the output buffer at the bottom.
* Partial folds feed zeros to idle rows/columns and mask their writes; the end of the run is the
  last in-range write (hence W, not C).
"""

from __future__ import annotations

from accelsim.sim.dataflows.timing import accelsim_total_cycles  # the one copy of the formula

__all__ = ["accelsim_total_cycles", "channel_ws_total_cycles", "nm_ws_total_cycles", "window_ws_total_cycles"]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def nm_ws_total_cycles(rows: int, cols: int, m: int, n: int, k: int, kept: int = 2, group: int = 4) -> int:
    """Cycles of Y[m x n] = A[m x k] * B[k x n] on the rtl_ref N:M weight-sparse WS array.

    B keeps ``kept`` of every ``group`` consecutive k; each PE holds one kept weight and its index
    and muxes its activation out of the group, so the array rows take the kept slots
    Sr = kept * ceil(k / group) and the timing is the dense WS one (measured for 2:4).
    """
    return accelsim_total_cycles("ws", rows, cols, kept * _ceil_div(k, group), n, m)


def window_ws_total_cycles(rows: int, cols: int, m: int, n: int, k: int, rs: int, keep: int,
                           bus: int = 9) -> int:
    """Cycles on the rtl_ref window-sparse WS array (ws_window_array.v): a window of rs positions
    is cut into ceil(rs / bus) sub-windows of the bus's width, each keeps ``keep`` slots, so the
    rows take Sr = keep * ceil(rs / bus) * (k / rs) kept slots; the timing is the dense WS one."""
    return accelsim_total_cycles("ws", rows, cols, keep * _ceil_div(rs, bus) * (k // rs), n, m)


def channel_ws_total_cycles(rows: int, cols: int, m: int, n: int, nonzero, rs: int, gather: int) -> int:
    """Cycles on the rtl_ref channel-sparse WS array (ws_channel_array.v).  ``nonzero``: bool
    [k, n] (B's nonzeros, k = rs * channels, channel fastest).  Channels are cut into blocks of
    ``gather`` (the row bus); a compressed filter holds, per block, as many windows as the filter
    with the most nonempty windows there: Sr = rs * sum over blocks of that maximum."""
    import numpy as np

    nz = np.asarray(nonzero, dtype=bool)
    k = nz.shape[0]
    nonempty = nz.reshape(rs, k // rs, n).any(axis=0)  # [channels, n]
    per_block = [int(nonempty[c0:c0 + gather].sum(axis=0).max()) for c0 in range(0, k // rs, gather)]
    return accelsim_total_cycles("ws", rows, cols, rs * sum(per_block), n, m)
