"""SCNN's scatter to accumulator banks, cycle by cycle, for one unit of work (scnn.py).

A unit is one PE's Cartesian product for one input channel and one output-channel group: vectors of
F nonzero weights (in (k, r, s) order, within a stride phase) against vectors of I nonzero activations
of its tile (row-major, same phase).  Each cycle the F x I products go through the scatter crossbar
to the accumulator banks, and a bank adds one product per cycle.  Two models of the conflicts (the
paper says the crossbar arbitrates them, and that 2 x F x I banks keep them rare, not how):

* unbuffered: a cycle whose products land on one bank b times takes b cycles (the array stalls);
* queued (``bank_queues: true``): each bank has a queue in front of it, so the array stalls only when
  a bank falls behind: the unit takes max(its cycles, the most products any one bank receives).

A product's sum lives at its linear address in the PE's accumulator tile -- (k_local, output row,
output column) over the tile plus halo -- and the banks interleave those addresses (address mod
banks: assumed).  A product that falls outside the output (at the plane's edge) is dropped before
the crossbar; a cycle of only those still takes a cycle.
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dataflows.scnn_geometry import ConvView


def unit_cycles(v: ConvView, acts_c: np.ndarray, weights_c: np.ndarray, tile: tuple[int, int, int, int],
                f: int, i: int, banks: int) -> tuple[int, int, int]:
    """(cycles without bank conflicts, unbuffered, queued: module docstring) of one unit.
    ``acts_c`` bool [H, W]: the channel's input plane; ``weights_c`` bool [Kc, R, S]: the group's
    filters at that channel; ``tile`` (y0, x0, th, tw) the PE's input tile."""
    y0, x0, th, tw = tile
    sy, sx = v.stride
    hh = (th - 1 + (v.r - 1) * v.dil[0]) // sy + 1  # rows and columns of sums the tile reaches
    hw = (tw - 1 + (v.s - 1) * v.dil[1]) // sx + 1
    ay, ax = np.nonzero(acts_c[y0:y0 + th, x0:x0 + tw])
    ay, ax = ay + y0, ax + x0
    wk, wr, ws = np.nonzero(weights_c)
    # the first output row / column the tile reaches: addresses count from there
    oy_min = -(-(y0 + v.pad[0] - (v.r - 1) * v.dil[0]) // sy)
    ox_min = -(-(x0 + v.pad[1] - (v.s - 1) * v.dil[1]) // sx)
    plain = unbuffered = queued = 0
    for p in range(sy):
        for q in range(sx):
            a_sel = ((ay + v.pad[0]) % sy == p) & ((ax + v.pad[1]) % sx == q)
            w_sel = ((wr * v.dil[0]) % sy == p) & ((ws * v.dil[1]) % sx == q)
            na, nw = int(a_sel.sum()), int(w_sel.sum())
            if not na or not nw:
                continue
            nav, nwv = -(-na // i), -(-nw // f)
            plain += nav * nwv
            oy = (ay[a_sel][None, :] + v.pad[0] - wr[w_sel][:, None] * v.dil[0]) // sy
            ox = (ax[a_sel][None, :] + v.pad[1] - ws[w_sel][:, None] * v.dil[1]) // sx
            valid = (oy >= 0) & (oy < v.out_h) & (ox >= 0) & (ox < v.out_w)
            addr = (wk[w_sel][:, None] * hh + (oy - oy_min)) * hw + (ox - ox_min)
            cycle = (np.arange(nw)[:, None] // f) * nav + np.arange(na)[None, :] // i
            per_bank = np.bincount((cycle * banks + addr % banks)[valid],
                                   minlength=nav * nwv * banks).reshape(nav * nwv, banks)
            unbuffered += int(np.maximum(per_bank.max(axis=1), 1).sum())
            queued += max(nav * nwv, int(per_bank.sum(axis=0).max()))
    return plain, unbuffered, queued
