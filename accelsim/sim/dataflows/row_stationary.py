"""Row stationary (Eyeriss v1, Chen, Krishna, Emer, Sze, ISCA 2016 / JSSC 2017): a convolution
mapped as 1-D row convolutions, one per PE, and what one layer costs on it.

Notation (Eyeriss's): a group of a conv has C input channels, M filters, N images, filters of
R rows x S taps, ofmaps of E rows x F columns, stride U (rows) and U_w (columns).

PE set.  Filter row i (0 <= i < R) and ofmap row j (0 <= j < e) meet in PE (i, j) of a logical set of
R x e PEs: the PE convolves ifmap row U*j + i with filter row i into a psum row of F values.  Filter
row i is sent to every PE of set row i (horizontal reuse), ifmap row h to the PEs on the diagonal
U*j + i = h (multicast), and the psums of a column are summed upward (vertical accumulation): the
top PE of column j holds ofmap row j.  A PE runs ``p`` filters x ``q`` channels at once (one ifmap
value read from its scratchpad serves the p filters): its scratchpads hold q*S ifmap values (the
sliding window of q rows), p*q*S filter weights and p psums.

Folding onto the physical Ph x Pw array (Eyeriss's mapper): filter rows beyond Ph are cut into
``row_chunks`` chunks of at most Ph rows, each run in its own passes, their psums summed through the
global buffer; a set wider than Pw is strip-mined into ceil(e / Pw) segments of at most Pw columns
stacked vertically (AlexNet CONV2: 5 x 27 as 5 x 14 over 5 x 13, 135 PEs).  ``r`` sets taking
different channels are stacked in the same columns, so the psums climb through all of them
(r x block rows <= Ph); ``t`` such stacks, taking different filters, sit side by side or above each
other where they fit.  A ragged last block of filters (channels) is spread evenly over the sets it
needs.

Processing pass: the array computes p*t filters x q*r channels x e ofmap rows (all F columns, one
image, one chunk of filter rows).  Passes = N x ceil(M / pt) x ceil(C / qr) x ceil(E / e) x chunks.
Within a pass a PE runs, for each of the F output columns, q*S*p MACs (one a cycle), then adds the
p psums coming from the PE below (or, for the bottom PE, read back from the global buffer) with
the same adder: p cycles.  Whether the PEs accumulate is set per layer: when any pass has psums to
add (a column of more than one PE, more than one channel pass or chunk).  Before a pass the PE's
filter scratchpad is filled (p*q*S words, one a cycle: it is single-buffered and full during a
pass), unless the pass keeps the filters of the one before: ``reuse`` consecutive passes (the
images and strips of a global-buffer block, row_stationary_memory.py) share one load.  So

    cycles = passes x F * (p*q*S + p * accumulate) + passes / reuse x p*q*S   (busiest PE)

The mapper (``shortlist``) estimates cycles and array energy (scratchpads, NoC, buffer, MACs,
static, at the config's energy table: ``RSCosts``) of every (e, p, q, r, t) the scratchpads allow
(q*S <= ifmap words, p*q*S <= filter words, p <= psum words) and returns the best; the compute
stage counts those exactly with their buffer blocking and DRAM traffic and keeps the best by the
config's objective (row_stationary_compute.py).

Accesses of one pass (``counts``; a hop is one word delivered to one PE):

* global buffer reads: ifmaps q*r x rows x cols of the strip, once (the t filter sets share them);
  filters p*t x q*r x R x S per load; psums p*t x e x F read back unless the pass is the first into
  them; writes: p*t x e x F psums (the last pass of each: the ofmap);
* NoC hops: ifmaps, cols per channel per PE; filters, R x S x channels x filters per load, each to
  the e PEs of its set row; psums, one per psum added to another (climbing a column, or read back);
* scratchpads: ifmap writes = its hops, reads q*S*F per PE (one per tap: reused across p filters);
  filter writes = its hops, reads one per MAC; psum one read and one write per MAC and per psum
  added.

Zero ifmaps are gated (Eyeriss's zero buffer): the MAC, its filter read and its psum update are not
done (energy), the cycle is (time unchanged): the compute stage counts that.  Dilation is not
modelled (a dilated layer is priced as its undilated twin).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from accelsim.errors import SimulationError


@dataclass(frozen=True)
class RSArray:
    """The physical array and its per-PE scratchpads (in words)."""

    rows: int
    cols: int
    ifmap_words: int
    filter_words: int
    psum_words: int


@dataclass(frozen=True)
class ConvProblem:
    """One group of a convolution in Eyeriss's notation (rows: the padded ifmap's)."""

    n: int  # images
    c: int  # input channels
    m: int  # filters
    r: int  # filter rows
    s: int  # filter taps per row
    e: int  # ofmap rows
    f: int  # ofmap columns
    u: int = 1  # stride between ofmap rows
    u_w: int = 1  # stride between ofmap columns
    h: int = 0  # ifmap rows (padded); 0: (e - 1) * u + r
    w: int = 0  # ifmap columns (padded); 0: (f - 1) * u_w + s

    @property
    def macs(self) -> int:
        return self.n * self.m * self.c * self.e * self.f * self.r * self.s

    @property
    def row_span(self) -> int:
        """ifmap columns a PE's row convolution reads."""
        return min(self.w or 10**9, (self.f - 1) * self.u_w + self.s, self.f * self.s)

    def ifmap_rows(self, e: int, rows: int) -> int:
        """ifmap rows ``e`` ofmap rows read through ``rows`` filter rows."""
        return min(self.h or 10**9, (e - 1) * self.u + rows, e * rows)


@dataclass(frozen=True)
class RSMapping:
    """Eyeriss's mapping parameters and how the set folds onto the array."""

    e: int  # ofmap rows per set
    p: int  # filters per PE
    q: int  # channels per PE
    r: int  # sets on different channels
    t: int  # sets on different filters
    chunk_rows: int  # filter rows per set (R, or R cut into chunks)
    row_chunks: int
    segments: int  # a set wider than the array: strips stacked vertically
    block_rows: int  # rows x cols of one folded set on the array
    block_cols: int
    passes: int
    filter_passes: int
    channel_passes: int
    strips: int

    @property
    def active_pes(self) -> int:
        """PEs a pass uses: R x e per set, r * t sets."""
        return self.chunk_rows * self.e * self.r * self.t

    def describe(self) -> str:
        fold = (f"{self.chunk_rows} x {self.e} sets"
                + (f" in {self.segments} strips" if self.segments > 1 else "")
                + (f", filter rows in {self.row_chunks} chunks" if self.row_chunks > 1 else ""))
        return (f"row stationary: {fold}, r={self.r} x t={self.t} sets ({self.active_pes} PEs),"
                f" p={self.p} filters x q={self.q} channels per PE, {self.passes:,} passes"
                f" ({self.filter_passes} filter x"
                f" {self.channel_passes} channel x {self.strips} strip per image and chunk)")


@dataclass(frozen=True)
class RSCounts:
    """What one layer group costs under a mapping (module docstring); MACs are dense slots."""

    cycles: int
    macs: int
    glb_reads: dict[str, int]  # inputs, weights, outputs (psums read back)
    glb_writes: dict[str, int]  # outputs (psums and the final ofmap)
    hops: dict[str, int]  # inputs, weights, outputs (psum words delivered PE to PE or buffer to PE)
    spad_reads: dict[str, int]  # per operand, dense (before gating)
    spad_writes: dict[str, int]
    psum_accumulations: int  # psums added to a psum that came from below or from the buffer



def _fold(prob: ConvProblem, arr: RSArray, e: int) -> tuple[int, int, int, int, int] | None:
    """(chunk rows, chunks, segments, block rows, block cols) of an R x e set, or None if it cannot fold."""
    chunks = -(-prob.r // arr.rows)
    chunk_rows = -(-prob.r // chunks)
    segments = -(-e // arr.cols)
    block_rows, block_cols = chunk_rows * segments, min(e, arr.cols)
    if block_rows > arr.rows:
        return None
    return chunk_rows, chunks, segments, block_rows, block_cols


def _check(prob: ConvProblem, arr: RSArray) -> None:
    if prob.s > arr.ifmap_words:
        raise SimulationError(f"a filter row of {prob.s} taps does not fit the ifmap scratchpad of"
                              f" {arr.ifmap_words} words; give it at least {prob.s} words")
    if prob.s > arr.filter_words or arr.psum_words < 1:
        raise SimulationError(f"a filter row of {prob.s} taps needs a filter scratchpad of at least"
                              f" {prob.s} words and a psum scratchpad of at least 1 word (have"
                              f" {arr.filter_words} and {arr.psum_words})")


def _ceil(a, b):
    return -(-a // b)


def _pass_cycles(pu, qu, s: int, f: int, acc):
    """Cycles of a pass whose busiest PE runs pu filters x qu channels (module docstring)."""
    work = pu * qu * s
    return work + f * (work + pu * acc)


def _split(total: int, per_pe, sets):
    """(full blocks, per-PE share of a full block, ragged rest (0: none), per-PE share of the rest):
    ``total`` cut into blocks of per_pe x sets, a ragged block spread evenly over the sets it needs."""
    full, rest = total // (per_pe * sets), total % (per_pe * sets)
    used = np.minimum(sets, _ceil(rest, per_pe))
    return full, per_pe, rest, _ceil(rest, np.maximum(used, 1))


def _cycles_all(prob: ConvProblem, e, p, q, r, t, chunks):
    """Cycles of every candidate (numpy arrays of mapping parameters)."""
    fp, pu, rest_f, pu_r = _split(prob.m, p, t)
    cp, qu, rest_c, qu_r = _split(prob.c, q, r)
    chunk_rows = _ceil(prob.r, chunks)
    acc = ((chunk_rows * r > 1) | (_ceil(prob.c, q * r) > 1) | (chunks > 1)).astype(np.int64)
    cyc = 0
    for nf, pp in ((fp, pu), ((rest_f > 0).astype(np.int64), pu_r)):
        for nc, qq in ((cp, qu), ((rest_c > 0).astype(np.int64), qu_r)):
            cyc = cyc + nf * nc * _pass_cycles(pp, qq, prob.s, prob.f, acc)
    return prob.n * chunks * _ceil(prob.e, e) * cyc


def candidates(prob: ConvProblem, arr: RSArray) -> dict[str, np.ndarray]:
    """Every mapping the array and its scratchpads allow, as arrays of (e, p, q, r, t).  The r sets of
    one filter group are stacked in the same columns (their psums climb through them); t such
    stacks sit side by side or above each other where they fit."""
    _check(prob, arr)
    out: dict[str, list] = {k: [] for k in "epqrt"}
    qmax = min(prob.c, arr.ifmap_words // prob.s)
    for e in range(1, prob.e + 1):
        fold = _fold(prob, arr, e)
        if fold is None:
            continue
        high, wide = arr.rows // fold[3], arr.cols // fold[4]
        for q in range(1, qmax + 1):
            pmax = min(prob.m, arr.psum_words, arr.filter_words // (q * prob.s))
            for p in range(1, pmax + 1):
                tmax = _ceil(prob.m, p)
                for r in range(1, min(high, _ceil(prob.c, q)) + 1):
                    ts = range(1, min(tmax, (high // r) * wide) + 1)
                    out["e"] += [e] * len(ts)
                    out["p"] += [p] * len(ts)
                    out["q"] += [q] * len(ts)
                    out["r"] += [r] * len(ts)
                    out["t"] += list(ts)
    return {k: np.array(v, np.int64) for k, v in out.items()}


def mapping_of(prob: ConvProblem, arr: RSArray, e: int, p: int, q: int, r: int, t: int) -> RSMapping:
    """The RSMapping of these parameters (no check that the scratchpads hold them: ``candidates``)."""
    fold = _fold(prob, arr, e)
    if fold is None:
        raise SimulationError(f"a set of {prob.r} x {e} PEs does not fold onto a {arr.rows} x {arr.cols}"
                              " array")
    chunk_rows, chunks, segments, block_rows, block_cols = fold
    fp, cp, strips = _ceil(prob.m, p * t), _ceil(prob.c, q * r), _ceil(prob.e, e)
    return RSMapping(e, p, q, r, t, chunk_rows, chunks, segments, block_rows, block_cols,
                     prob.n * fp * cp * strips * chunks, fp, cp, strips)


def _blocks(total: int, size: int) -> list[tuple[int, int]]:
    """(block size, count) of ``total`` cut into blocks of ``size`` (the last one ragged)."""
    full, rest = divmod(total, size)
    return [(size, full)] * bool(full) + [(rest, 1)] * bool(rest)


def counts(prob: ConvProblem, mp: RSMapping, reuse: int = 1) -> RSCounts:
    """Cycles and accesses of one group under ``mp``, ragged last blocks (fewer filters, channels or
    ofmap rows) at their real size (module docstring).  ``reuse``: consecutive passes (images and
    strips of a global-buffer block) that keep the filters in the scratchpads, so the filters are
    delivered and preloaded once per ``reuse`` passes."""
    s, ff, span = prob.s, prob.f, prob.row_span
    rows = [min(mp.chunk_rows, prob.r - i * mp.chunk_rows) for i in range(mp.row_chunks)]
    acc = int(mp.chunk_rows * mp.r > 1 or mp.channel_passes > 1 or mp.row_chunks > 1)
    glb_r = dict.fromkeys(("inputs", "weights", "outputs"), 0)
    glb_w = {"outputs": 0}
    hops = dict.fromkeys(("inputs", "weights", "outputs"), 0)
    sp_r = dict.fromkeys(("inputs", "weights", "outputs"), 0)
    sp_w = dict.fromkeys(("inputs", "weights", "outputs"), 0)
    cycles = accum = 0
    for (mf, nf), (ee, ns) in itertools.product(_blocks(prob.m, mp.p * mp.t), _blocks(prob.e, mp.e)):
        pu = _ceil(mf, min(mp.t, _ceil(mf, mp.p)))  # filters per PE, spread over the sets
        st = _ceil(mf, pu)  # filter sets busy
        first = True
        for cc, nc in _blocks(prob.c, mp.q * mp.r):
            qu = _ceil(cc, min(mp.r, _ceil(cc, mp.q)))
            sr = _ceil(cc, qu)  # channel sets busy
            for rr in rows:
                times = prob.n * nf * ns * nc
                later = times - (prob.n * nf * ns if first else 0)  # passes adding to a stored psum
                first = False
                out = mf * ee * ff  # psums of one pass
                work = pu * qu * s
                cycles += times * (_pass_cycles(pu, qu, s, ff, acc) - work) + _ceil(times, reuse) * work
                glb_r["inputs"] += times * cc * prob.ifmap_rows(ee, rr) * span
                loads = _ceil(times, reuse)  # filter loads into the scratchpads
                glb_r["weights"] += loads * mf * cc * rr * s
                glb_r["outputs"] += later * out
                glb_w["outputs"] += times * out
                climbs = times * out * (rr * sr - 1) + later * out  # psums added to one from below
                accum += climbs
                hops["inputs"] += times * cc * span * rr * ee * st
                hops["weights"] += loads * mf * cc * rr * s * ee
                hops["outputs"] += climbs
                sp_r["inputs"] += times * cc * s * ff * rr * ee * st
                macs = times * mf * cc * rr * s * ee * ff
                sp_r["weights"] += macs
                sp_r["outputs"] += macs
                sp_w["outputs"] += macs
    sp_w["inputs"], sp_w["weights"] = hops["inputs"], hops["weights"]
    sp_r["outputs"] += accum
    sp_w["outputs"] += accum
    return RSCounts(int(cycles), prob.macs, glb_r, glb_w, hops, sp_r, sp_w, int(accum))


@dataclass(frozen=True)
class RSCosts:
    """pJ per word (or per cycle) the mapper weighs, from the config's energy table."""

    mac: float
    glb: float  # one word read or written at the global buffer
    noc: float  # one word delivered to one PE
    rf: tuple[float, float, float]  # one scratchpad access: ifmap, filter, psum
    static_per_cycle: float  # leakage and clock of the whole chip for one cycle
    dram: float = 0.0  # one word read or written at DRAM


def _estimates(prob: ConvProblem, arr: RSArray, c: dict[str, np.ndarray], costs: RSCosts):
    """(cycles, energy pJ) of every candidate, full-size blocks (ragged ones at full cost) for the
    accesses, exact for the cycles."""
    e, p, q, r, t = (c[k] for k in "epqrt")
    chunks = _ceil(prob.r, arr.rows)
    rows = _ceil(prob.r, chunks)
    cyc = _cycles_all(prob, e, p, q, r, t, chunks)
    cp = _ceil(prob.c, q * r)
    passes = prob.n * _ceil(prob.m, p * t) * cp * _ceil(prob.e, e) * chunks
    span = prob.row_span
    in_rows = np.minimum.reduce([np.full(e.shape, prob.h or 10**9), (e - 1) * prob.u + rows, e * rows])
    out = p * t * e * prob.f
    readback = 1.0 - 1.0 / (cp * chunks)
    glb = passes * (q * r * in_rows * span + p * t * q * r * rows * prob.s + out * (1.0 + readback))
    climbs = passes * out * (rows * r - 1 + readback)
    hops_in = passes * q * r * span * rows * e * t
    hops_w = passes * p * t * q * r * rows * prob.s * e
    macs = prob.macs
    rf = (costs.rf[0] * (hops_in + macs / p) + costs.rf[1] * (hops_w + macs)
          + costs.rf[2] * 2 * (macs + climbs))
    energy = costs.mac * macs + costs.glb * glb + costs.noc * (hops_in + hops_w + climbs) + rf
    return cyc, energy + costs.static_per_cycle * cyc


OBJECTIVES = ("cycles", "energy", "edp")


@lru_cache(maxsize=1024)
def shortlist(prob: ConvProblem, arr: RSArray, costs: RSCosts, objective: str = "edp",
              size: int = 32) -> tuple[RSMapping, ...]:
    """The ``size`` mappings with the least estimated ``objective`` (cycles, array energy or their
    product), best first: what the caller counts exactly (``counts``) with its buffer blocking."""
    c = candidates(prob, arr)
    if not len(c["e"]):
        raise SimulationError(f"no row-stationary mapping: a set of {prob.r} filter rows does not fold onto"
                              f" a {arr.rows} x {arr.cols} array")
    if objective not in OBJECTIVES:
        raise SimulationError(f"row-stationary mapping objective {objective!r} is not one of"
                              f" {', '.join(OBJECTIVES)}")
    cyc, energy = _estimates(prob, arr, c, costs)
    score = {"cycles": cyc + energy * 1e-12 / max(float(energy.max()), 1.0), "energy": energy,
             "edp": energy * cyc}[objective]
    return tuple(mapping_of(prob, arr, *(int(c[k][i]) for k in "epqrt"))
                 for i in np.argsort(score, kind="stable")[:size])


def array_energy(n: RSCounts, costs: RSCosts) -> float:
    """pJ of the array side of ``n`` (MACs, scratchpads, NoC, global buffer, static), ungated."""
    glb = sum(n.glb_reads.values()) + sum(n.glb_writes.values())
    rf = sum(cost * (n.spad_reads[op] + n.spad_writes[op])
             for cost, op in zip(costs.rf, ("inputs", "weights", "outputs"), strict=True))
    return (costs.mac * n.macs + costs.glb * glb + costs.noc * sum(n.hops.values()) + rf
            + costs.static_per_cycle * n.cycles)
