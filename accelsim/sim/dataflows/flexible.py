"""Flexible arrays in the style of STONNE's MAERI and SIGMA (commit 22634b8): a GEMM's cycles from
operand delivery and reduction, counted on the real masks.

The array (``FlexibleArray``): ``num_ms`` multipliers (a power of two) under

* a distribution network of ``dn_bw`` SRAM read ports.  Port p feeds the w = num_ms / dn_bw
  contiguous multipliers [p*w, (p+1)*w) through a tree of D = log2(w) switch levels and delivers ONE
  package per cycle.  A multicast is copied to every port whose multipliers hold a destination, so
  a port's load is the number of distinct packages any of its multipliers needs;
* a reduction network: the ART (MAERI's augmented reduction tree) of L = log2(num_ms) adder levels
  over the multipliers, and a collection bus of ``rn_bw`` write lines, each taking ONE result per
  cycle.

Reduction (``art_root``).  A virtual neuron (VN) is a run of contiguous multipliers summed to one
result.  Going up one level its partial sums occupy a contiguous run of adders.  Adders 2i+1 and
2i+2 of a level (neighbours with no common parent) are joined by an augmented link: where the run
crosses such a link and ends within the two children of the adder on its shorter side, that side
is forwarded across the link (ties go left), so the run shrinks by one adder at that end.  The VN
completes at the first level whose run is one adder; that adder writes the result.  Its depth d is
the number of adder levels climbed.  Each linked pair of adders shares one collection-bus line
(the p-th pair, numbered level by level from the root, left to right, takes line p mod rn_bw); the
other adders (the root, the first and last of every level) take line (2P + s) mod rn_bw, P pairs,
s their index in the same order.  Results of one step that meet on a line leave one per cycle:
the line load l = the most results of one step sharing a line.

Latency (cycles from a port sending the last package of a phase to the next phase starting):

    lat = D + 1 (multiply) + d (adder levels, deepest VN) + l (collection bus) + 1 (SRAM write)
          [+ 1 through the accumulation buffer, MAERI]

SIGMA sparse GEMM (``sigma_sparse_gemm``; bitmaps on both operands, A stationary, B streamed).
A's rows are packed onto the multipliers in order, one row per VN of its nonzeros, whole rows while
they fit; a row with more than num_ms nonzeros folds: its first num_ms, then num_ms - 1 at a time
with one multiplier taking the partial sum read back from SRAM.  Each packing is one
reconfiguration and costs

    1 (configure) + max(N + 1, DN, RN) + lat
    N + 1 = the stationary nonzeros sent in one cycle, then one column of B per cycle (stream)
    DN    = max over ports of (stationary nonzeros on the port + N * distinct K indices on it
            [+ N partial sums on the port of a folded VN's first multiplier])  (distribution)
    RN    = N * l                                                                 (reduction)

For each column the element B[k, n] of every k a stationary nonzero needs is multicast to those
multipliers; STONNE sends it even where B[k, n] is zero, so B's mask sets the SRAM reads (every
nonzero of B in the packing's K range, per packing), not the deliveries.  A row of A with no
nonzero needs no VN and is skipped.

MAERI dense GEMM (``maeri_dense_gemm``, tiles T_M, T_N, T_K, with STONNE's accumulation buffer):
T_M * T_N VNs of T_K multipliers, VN n*T_M + m on multipliers [(n*T_M + m) * T_K, +T_K).  For each
of ceil(N/T_N) tiles of N: the B tile of each of F = ceil(K/T_K) K folds is sent once (element
(k, n) multicast to the T_M VNs of column n), then for each of ceil(M/T_M) tiles of M and each
fold an A tile (element (m, k) multicast to the T_N VNs of row m); partial sums accumulate beside
the tree and each output is written once.  The next N tile waits until every result is written:

    per N tile: max(S, DN, RN) + lat,   S = F + F * ceil(M/T_M) steps (one per cycle)
    DN = max over ports of the packages of all S steps on the port,  RN = ceil(M/T_M) * l

A layer on a flexible array (``pe_array.multipliers``, spec/pe_array.py) runs these through
flexible_compute.py.  Checked against STONNE runs in tests/test_stonne.py and
benchmarks/bench_stonne.py (reconfigurations, deliveries and SRAM counts equal STONNE's counters on
its own masks; cycles within 5 %).  Not
modelled: the few cycles more STONNE takes when a result crosses augmented links or when the
accumulation buffer releases a tile's outputs over several cycles, so a phase can be 1-4 cycles short.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from accelsim.errors import ConfigError
from accelsim.spec.pe_array import network_problems


@dataclass(frozen=True)
class FlexibleArray:
    num_ms: int  # multipliers, a power of two
    dn_bw: int  # distribution ports (SRAM read ports), a power of two <= num_ms
    rn_bw: int  # collection-bus lines (SRAM write ports), 1 to num_ms

    def __post_init__(self):
        problems = network_problems(self.num_ms, self.dn_bw, self.rn_bw)  # the config's rules
        if problems:
            raise ConfigError("flexible array", [f"{key}: {message}" for key, message in problems])

    @property
    def levels(self) -> int:
        """Adder levels of the reduction tree, log2(num_ms)."""
        return self.num_ms.bit_length() - 1

    @property
    def ms_per_port(self) -> int:
        return self.num_ms // self.dn_bw

    @property
    def dn_levels(self) -> int:
        """Switch levels between a read port and its multipliers, log2(num_ms / dn_bw)."""
        return self.ms_per_port.bit_length() - 1


@dataclass(frozen=True)
class GemmTile:
    t_m: int
    t_n: int
    t_k: int


@dataclass(frozen=True)
class FlexibleRun:
    """Cycles of one GEMM on a flexible array and the counts that explain them."""

    cycles: int
    reconfigurations: int
    packages_issued: int  # packages leaving the read ports' FIFOs toward the array, one per multicast
    packages_delivered: int  # port deliveries: a multicast counts once per port it is copied to
    reduction_outputs: int  # results leaving the reduction tree (partial sums of folds included)
    sram_writes: int  # results written to SRAM (with an accumulation buffer: each output once)
    sram_reads: dict[str, int]  # stationary, streamed, psums
    # cycles of the phases bounded by: the stream itself (one step a cycle), distribution, reduction
    bound_cycles: dict[str, int]

    @property
    def multicast_copies(self) -> int:
        """Deliveries beyond the first port of each package."""
        return self.packages_delivered - self.packages_issued

    @property
    def bound(self) -> str:
        """The network (or the stream itself) that bounded most cycles."""
        return max(self.bound_cycles, key=self.bound_cycles.get)


@lru_cache(maxsize=65536)
def art_root(lo: int, hi: int, num_ms: int) -> tuple[int, int]:
    """(level, adder) where the ART completes the VN on multipliers [lo, hi): level 0 is the root,
    level log2(num_ms) - 1 the adders over pairs of multipliers (module docstring)."""
    if not 0 <= lo < hi <= num_ms:
        raise ValueError(f"a VN needs 0 <= lo < hi <= num_ms, got [{lo}, {hi}) of {num_ms}")
    x, y, adders = lo, hi - 1, num_ms // 2
    for level in range(num_ms.bit_length() - 2, -1, -1):
        nx, ny = x // 2, y // 2
        # links sit between children b - 1 and b, b = 4, 8, ..., 2 * adders - 4; the run crosses one
        # when x < b <= y, and only a crossing within two children of an end can be forwarded
        for b in range(max(4, (x // 4 + 1) * 4), min(y, 2 * adders - 4) + 1, 4):
            if b - x >= y - b + 1:  # the right side is shorter: forwarded left
                if y <= b + 1:
                    ny = b // 2 - 1
            elif x >= b - 2:  # the left side is shorter: forwarded right
                nx, x = b // 2, b
        x, y = nx, ny
        if x == y:
            return level, x
        adders //= 2
    raise AssertionError("unreachable: the root holds every VN")


@lru_cache(maxsize=64)
def _bus_lines(num_ms: int, rn_bw: int) -> dict[tuple[int, int], int]:
    """Collection-bus line of every adder (level, index) (module docstring)."""
    lines, singles, pairs = {}, [(0, 0)], 0
    for level in range(1, num_ms.bit_length() - 1):
        width = 2 ** level
        singles += [(level, 0), (level, width - 1)]
        for j in range(2, width - 1, 2):
            lines[(level, j - 1)] = lines[(level, j)] = pairs % rn_bw
            pairs += 1
    for s, adder in enumerate(singles):
        lines[adder] = (2 * pairs + s) % rn_bw
    return lines


def bus_line(level: int, adder: int, array: FlexibleArray) -> int:
    """The collection-bus line adder ``adder`` of ``level`` writes its results to."""
    return _bus_lines(array.num_ms, array.rn_bw)[(level, adder)]


def reduction_of(vns: list[tuple[int, int]], array: FlexibleArray) -> tuple[int, int]:
    """(deepest VN's depth d, line load l) of VNs [lo, hi) reduced in the same steps."""
    depth, load = 0, {}
    for lo, hi in vns:
        level, adder = art_root(lo, hi, array.num_ms)
        depth = max(depth, array.levels - level)
        line = bus_line(level, adder, array)
        load[line] = load.get(line, 0) + 1
    return depth, max(load.values())


def latency(array: FlexibleArray, depth: int, line_load: int, accumulation_buffer: bool = False) -> int:
    """Cycles from the last package of a phase leaving its port to the next phase starting."""
    return array.dn_levels + 1 + depth + line_load + 1 + int(accumulation_buffer)


@dataclass(frozen=True)
class Packing:
    """One configuration of SIGMA: VNs (row of A, its K indices, whether a partial sum comes in)."""

    rows: tuple[int, ...]
    ks: tuple[np.ndarray, ...]
    psum_in: bool  # a folded row's continuation: multiplier 0 takes the partial sum
    k_range: tuple[int, int]  # the K indices streamed (B's reads)


def pack_rows(a_mask: np.ndarray, num_ms: int) -> list[Packing]:
    """A's rows packed onto ``num_ms`` multipliers, whole rows while they fit, long rows folded."""
    a = np.asarray(a_mask, dtype=bool)
    k = a.shape[1]
    nz = [np.flatnonzero(row) for row in a]
    counts = np.array([len(z) for z in nz], dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(counts)])
    out: list[Packing] = []
    i = 0
    while i < len(nz):
        if counts[i] == 0:
            i += 1
        elif counts[i] <= num_ms:
            r = int(np.searchsorted(cum, cum[i] + num_ms, side="right")) - 1  # rows i..r-1 fit
            rows = tuple(j for j in range(i, r) if counts[j])
            out.append(Packing(rows, tuple(nz[j] for j in rows), False, (0, k)))
            i = r
        else:  # fold: num_ms, then num_ms - 1 beside the partial sum
            start = 0
            while start < counts[i]:
                take = nz[i][start:start + (num_ms - 1 if start else num_ms)]
                end = start + len(take)
                k_lo = int(nz[i][start - 1]) + 1 if start else 0
                k_hi = int(take[-1]) + 1 if end < counts[i] else k
                out.append(Packing((i,), (take,), start > 0, (k_lo, k_hi)))
                start = end
            i += 1
    return out


def _port_loads(dest_ports: np.ndarray, package: np.ndarray, ports: int) -> np.ndarray:
    """Packages each port delivers: distinct ``package`` ids among the destinations on the port."""
    dest_ports, package = np.asarray(dest_ports, np.int64), np.asarray(package, np.int64)
    span = int(package.max()) + 1 if package.size else 1
    distinct = np.unique(dest_ports * span + package)  # one (port, package) pair each
    return np.bincount(distinct // span, minlength=ports)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of an int array (by sorting: numpy's hashed unique is slow on millions)."""
    s = np.sort(keys)
    return s[np.concatenate([[True], s[1:] != s[:-1]])] if len(s) else s


def _bound(spans: dict[str, int], cycles: dict[str, int], phase_cycles: int) -> None:
    cycles[max(spans, key=spans.get)] += phase_cycles


def sigma_sparse_gemm(a_mask: np.ndarray, b_mask: np.ndarray, array: FlexibleArray) -> FlexibleRun:
    """SIGMA: A (M x K) stationary, B (K x N) streamed, both as bitmaps (module docstring).  Every
    packing's phase in one vectorised pass; the reduction once per distinct VN layout."""
    a, b = np.asarray(a_mask, dtype=bool), np.asarray(b_mask, dtype=bool)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"A (M x K) and B (K x N) do not chain: {a.shape} and {b.shape}")
    n, w, k, ports = b.shape[1], array.ms_per_port, a.shape[1], array.dn_bw
    b_prefix = np.concatenate([[0], np.cumsum(np.count_nonzero(b, axis=1))])
    packings = pack_rows(a, array.num_ms)
    npk = len(packings)
    if npk == 0:
        return FlexibleRun(0, 0, 0, 0, 0, 0, dict.fromkeys(("stationary", "streamed", "psums"), 0),
                           dict.fromkeys(("stream", "distribution", "reduction"), 0))
    psum = np.array([p.psum_in for p in packings], np.int64)
    layouts = [(p.psum_in, tuple(len(x) for x in p.ks)) for p in packings]
    counts = np.array([sum(sizes) for _, sizes in layouts], np.int64)  # stationary nonzeros per packing
    ks = np.concatenate([x for p in packings for x in p.ks]).astype(np.int64)
    pk = np.repeat(np.arange(npk), counts)
    pos = np.arange(len(ks)) - np.repeat(np.cumsum(counts) - counts, counts) + psum[pk]  # slot 0: the psum
    slot = pk * ports + pos // w  # (packing, port) of each stationary value
    stationary = np.bincount(slot, minlength=npk * ports).reshape(npk, ports)
    span = k + 1
    per_column = np.bincount(_distinct(slot * span + ks) // span, minlength=npk * ports).reshape(npk, ports)
    per_column[:, 0] += psum
    distinct_k = np.bincount(_distinct(pk * span + ks) // span, minlength=npk)
    reductions: dict[tuple[int, tuple[int, ...]], tuple[int, int]] = {}
    depth, load = np.empty(npk, np.int64), np.empty(npk, np.int64)
    for i, layout in enumerate(layouts):
        r = reductions.get(layout)
        if r is None:
            psum_in, sizes = layout
            edges = np.cumsum([0, psum_in + sizes[0], *sizes[1:]]).tolist()  # VN j: [edges[j], edges[j+1])
            r = reductions[layout] = reduction_of(list(zip(edges[:-1], edges[1:], strict=True)), array)
        depth[i], load[i] = r
    spans = np.stack([np.full(npk, n + 1), (stationary + n * per_column).max(axis=1), n * load])
    phase = 1 + spans.max(axis=0) + latency(array, depth, load)
    bound_cycles = np.bincount(spans.argmax(axis=0), weights=phase, minlength=3)  # ties: the first
    k_lo = np.array([p.k_range[0] for p in packings])
    k_hi = np.array([p.k_range[1] for p in packings])
    outputs = n * sum(len(p.rows) for p in packings)
    reads = {"stationary": int(counts.sum()), "streamed": int((b_prefix[k_hi] - b_prefix[k_lo]).sum()),
             "psums": n * int(psum.sum())}
    return FlexibleRun(int(phase.sum()), npk, int(counts.sum() + n * (distinct_k + psum).sum()),
                       int(counts.sum() + n * per_column.sum()), outputs, outputs, reads,
                       {key: int(c) for key, c in zip(("stream", "distribution", "reduction"), bound_cycles,
                                                      strict=True)})


def maeri_dense_gemm(m: int, n: int, k: int, array: FlexibleArray, tile: GemmTile) -> FlexibleRun:
    """MAERI: a dense GEMM in tiles T_M x T_N x T_K with an accumulation buffer (module docstring)."""
    tm, tn, tk = tile.t_m, tile.t_n, tile.t_k
    if min(m, n, k, tm, tn, tk) < 1 or tm * tn * tk > array.num_ms:
        raise ConfigError("MAERI tile", [f"T_M * T_N * T_K = {tm * tn * tk} multipliers (each >= 1) must"
                                         f" fit the {array.num_ms} of the array"])
    folds, m_tiles, n_tiles = -(-k // tk), -(-m // tm), -(-n // tn)
    vn = np.arange(tm * tn).reshape(tn, tm)  # VN of (n, m) within the tile
    ms = vn[:, :, None] * tk + np.arange(tk)  # [n, m, k] multiplier
    ports = ms // array.ms_per_port
    # a B element (k, n) goes to the T_M VNs of column n, an A element (m, k) to the T_N VNs of row m
    b_load = _port_loads(ports.ravel(), (np.arange(tn)[:, None, None] * tk + np.arange(tk)).repeat(tm, 1)
                         .ravel(), array.dn_bw)
    a_load = _port_loads(ports.ravel(), np.broadcast_to(np.arange(tm)[None, :, None] * tk + np.arange(tk),
                                                         ms.shape).ravel(), array.dn_bw)
    depth, load = reduction_of([(v * tk, (v + 1) * tk) for v in range(tm * tn)], array)
    steps = folds + folds * m_tiles
    spans = {"stream": steps, "distribution": int((folds * b_load + folds * m_tiles * a_load).max()),
             "reduction": m_tiles * load}
    phase = max(spans.values()) + latency(array, depth, load, accumulation_buffer=True)
    bound = dict.fromkeys(spans, 0)
    _bound(spans, bound, n_tiles * phase)
    per_tile_issued = folds * tk * tn + folds * m_tiles * tm * tk
    per_tile_delivered = folds * int(b_load.sum()) + folds * m_tiles * int(a_load.sum())
    return FlexibleRun(
        cycles=n_tiles * phase, reconfigurations=1,  # the tile is configured once
        packages_issued=n_tiles * per_tile_issued, packages_delivered=n_tiles * per_tile_delivered,
        reduction_outputs=n_tiles * m_tiles * folds * tm * tn, sram_writes=m * n,
        sram_reads={"stationary": k * n, "streamed": m * k * n_tiles, "psums": 0}, bound_cycles=bound)


def stonne_mask(rng: np.random.Generator, rows: int, cols: int, sparsity_pct: int,
                min_ones: int = 3, along: str = "rows") -> np.ndarray:
    """A synthetic bitmap drawn by STONNE's rule from ``rng``: an element is zero when a draw from
    0..99 is <= ``sparsity_pct`` (so 0 gives ~1 % zeros); then every row (``along="rows"``, A) or
    column (``"cols"``, B) with fewer than ``min_ones`` ones gets ones in its first positions."""
    mask = rng.integers(0, 100, size=(rows, cols)) > sparsity_pct
    view = mask if along == "rows" else mask.T
    for line in view:
        short = min_ones - int(line.sum())
        if short > 0:
            line[np.flatnonzero(~line[:min_ones])[:short]] = True
    return mask


__all__ = ["FlexibleArray", "FlexibleRun", "GemmTile", "art_root", "bus_line", "latency", "maeri_dense_gemm",
           "pack_rows", "reduction_of", "sigma_sparse_gemm", "stonne_mask"]
