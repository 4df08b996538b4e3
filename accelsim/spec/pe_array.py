"""The ``pe_array`` of a hardware config: a grid of PEs, or a flexible array of multipliers.

A grid (``rows``, ``cols``, ``dataflow``) is timed by its dataflow's row of the dims table and the
timing model.  A flexible array (``multipliers``; STONNE's MAERI and SIGMA fabric, commit 22634b8)
is a line of multipliers under two networks (sim/dataflows/flexible.py has the model):

    multipliers          a power of two, at most MAX_PES (STONNE's num_ms)
    distribution.ports   SRAM read ports, each feeding multipliers / ports of them (dn_bw; a power
                         of two, at most multipliers; default multipliers)
    reduction.ports      collection-bus lines writing results (rn_bw; 1 to multipliers, default
                         multipliers)
    tile: {m, n, k}      T_M x T_N x T_K, the dense controller's tile (MAERI; STONNE takes it as input,
                         so does accelsim), at most multipliers MACs

Its controller follows from ``sparsity.weights.skip`` (STONNE's mem_ctrl): ``skip`` packs each
filter's nonzero weights (SIGMA's sparse GEMM, bitmaps) and takes no tile; ``none`` or ``gate`` runs
dense tiles (MAERI) and needs ``tile``.  Both hold the weights and stream the activations, the row
of ``ws``: ``dataflow`` may only name a weight-stationary row.  It is stored as ``rows`` =
multipliers, ``cols`` = 1 (so PE counts stay rows x cols), and takes its cycles from its networks,
not from a timing model, so ``timing`` is refused; memory stalls are simulated as with the default.

A grid with ``dataflow: row_stationary`` (a conv-native dataflow, ``CONV_DATAFLOWS``) is a
``RowStationaryPEArray``: Eyeriss v1's row-stationary array (sim/dataflows/row_stationary.py), its
per-PE scratchpads the per-PE memory levels holding each operand.  It maps the convolution itself
and gates zero activations only, so ``timing``, weight sparsity and input skipping are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accelsim.registry import DATAFLOWS
from accelsim.spec import config as cfg
from accelsim.spec.config import Reader

_GRID_KEYS = ("rows", "cols")
# Upper limits: 16 x the largest array built (TPU v1, 256 x 256 = 65,536 MACs) in PEs and multipliers,
# and 16 x its side per side: a larger value is a typo (100000 for 1000), not a design.
MAX_PES = 2**20
MAX_SIDE = 4096
# Widths a datapath has: integers of 1 to 32 bits (binary and ternary nets to int32), the float
# formats of DNN hardware; accumulators also 24 and 48 bits (DSP slices) and 64.
INT_BITS = (1, 2, 4, 8, 16, 32)
FLOAT_BITS = {"fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}
ACCUMULATOR_BITS = (8, 16, 24, 32, 48, 64)
_FLEXIBLE_KEYS = ("multipliers", "distribution", "reduction", "tile")
CONV_DATAFLOWS = ("row_stationary",)  # conv-native: not a row of the GEMM dims table
_TWO_SIDED_KEYS = ("cartesian", "inner_join")
BALANCE = ("none", "greedy")


@dataclass(frozen=True)
class PEArray:
    rows: int
    cols: int
    dataflow: str
    precision_bits: int = 8
    accumulator_bits: int = 32


@dataclass(frozen=True)
class RowStationaryPEArray(PEArray):
    """Eyeriss v1's row-stationary array of ``rows`` x ``cols`` PEs (module docstring)."""


@dataclass(frozen=True)
class FlexiblePEArray(PEArray):
    """A line of ``rows`` multipliers (``cols`` = 1) under distribution and reduction networks."""

    distribution_ports: int = 1
    reduction_ports: int = 1
    tile: tuple[int, int, int] | None = None  # (T_M, T_N, T_K) of the dense controller (MAERI)

    @property
    def multipliers(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True)
class CartesianPEArray(PEArray):
    """SCNN's PE grid (sim/dataflows/scnn.py): ``rows`` x ``cols`` here count multipliers, the grid of
    pe_rows x pe_cols PEs each holding an ``f`` x ``i`` multiplier array (so PE counts, utilization and
    static energy are per multiplier), and ``banks`` accumulator banks of ``bank_entries`` sums."""

    f: int = 4
    i: int = 4
    banks: int = 32
    bank_entries: int = 32
    weight_fifo: int = 50  # F-wide entries of the weight FIFO in every PE
    bank_queues: bool = True  # a queue in front of each accumulator bank (else conflicts stall the cycle)

    @property
    def pe_rows(self) -> int:
        return self.rows // self.f

    @property
    def pe_cols(self) -> int:
        return self.cols // self.i


@dataclass(frozen=True)
class InnerJoinPEArray(PEArray):
    """SparTen's compute units (sim/dataflows/sparten.py): a ``rows`` x ``cols`` grid of CUs, each a
    bitmask inner join and one MAC per cycle over ``chunk``-long fibers; ``balance`` the filter
    balancing (``greedy``: SparTen's GB-S pairing, ``none``)."""

    chunk: int = 128
    balance: str = "greedy"


def network_problems(multipliers: int, distribution_ports: int, reduction_ports: int,
                     tile: tuple[int, int, int] | None = None) -> list[tuple[str, str]]:
    """(key, message) of every parameter a flexible array cannot have."""
    problems = []
    if multipliers < 2 or multipliers & (multipliers - 1) or multipliers > MAX_PES:
        problems.append(("multipliers", f"{multipliers} is not a power of two between 2 and {MAX_PES:,}"
                                        " (2^20, 16 x TPU v1's 65,536 MACs)"))
    dn = distribution_ports
    if dn < 1 or dn & (dn - 1) or dn > multipliers:
        problems.append(("distribution.ports", f"{dn} is not a power of two between 1 and the {multipliers}"
                                               " multipliers"))
    if not 1 <= reduction_ports <= multipliers:
        problems.append(("reduction.ports", f"{reduction_ports} is not between 1 and the {multipliers}"
                                            " multipliers"))
    if tile is not None and tile[0] * tile[1] * tile[2] > multipliers:
        problems.append(("tile", f"T_M * T_N * T_K = {tile[0] * tile[1] * tile[2]} MACs must fit the"
                                 f" {multipliers} multipliers"))
    return problems


def read_pe_array(r: Reader, raw: Any) -> PEArray:
    """A grid, or a flexible array when ``multipliers`` is given (module docstring)."""
    head = raw if isinstance(raw, Mapping) else {}
    if "multipliers" not in head:
        other = "applies to a flexible array (pe_array.multipliers), not a rows x cols grid"
        keys = (*_GRID_KEYS, "dataflow", "precision", "accumulator", *_TWO_SIDED_KEYS)
        m = r.mapping(raw, "pe_array", keys,
                      required=_GRID_KEYS, elsewhere=dict.fromkeys(_FLEXIBLE_KEYS, other))
        rows, cols = (r.get(m, key, "pe_array", _side, 1) for key in _GRID_KEYS)
        if rows * cols > MAX_PES:
            r.problem("pe_array", f"rows x cols = {rows} x {cols} = {rows * cols:,} PEs is more than"
                                  f" {MAX_PES:,} (2^20, 16 x TPU v1's 256 x 256); check for a typo")
        if "cartesian" in m and "inner_join" in m:
            r.problem("pe_array", "a PE is a Cartesian product (SCNN) or an inner join (SparTen), not both;"
                                  " keep one of cartesian and inner_join")
        if "cartesian" in m:
            keys = ("f", "i", "banks", "bank_entries", "weight_fifo")
            c = r.mapping(m["cartesian"], "pe_array.cartesian", (*keys, "bank_queues"), required=keys)
            f, i, banks, entries, fifo = (r.get(c, key, "pe_array.cartesian", cfg.positive_int, 1)
                                          for key in keys)
            queues = r.get(c, "bank_queues", "pe_array.cartesian", cfg.boolean, True)
            return CartesianPEArray(rows * f, cols * i, *_common(r, m), f, i, banks, entries, fifo, queues)
        if "inner_join" in m:
            j = r.mapping(m["inner_join"], "pe_array.inner_join", ("chunk", "balance"), required=("chunk",))
            path = "pe_array.inner_join"
            chunk = r.get(j, "chunk", path, cfg.positive_int, 128)
            return InnerJoinPEArray(rows, cols, *_common(r, m), chunk,
                                    r.get(j, "balance", path, cfg.choice(*BALANCE), "greedy"))
        common = _common(r, m)
        return (RowStationaryPEArray if common[0] in CONV_DATAFLOWS else PEArray)(rows, cols, *common)
    grid = "a flexible array is a line of multipliers, not rows x cols; remove it"
    m = r.mapping(raw, "pe_array", (*_FLEXIBLE_KEYS, "dataflow", "precision", "accumulator"),
                  elsewhere=dict.fromkeys(_GRID_KEYS, grid))
    before = len(r.problems)
    ms = r.get(m, "multipliers", "pe_array", cfg.positive_int, 2)
    ports = [r.get(r.mapping(m.get(net), f"pe_array.{net}", ("ports",)), "ports", f"pe_array.{net}",
                   cfg.positive_int, ms) for net in ("distribution", "reduction")]
    tile = None
    if "tile" in m:
        t = r.mapping(m["tile"], "pe_array.tile", ("m", "n", "k"), required=("m", "n", "k"))
        tile = tuple(r.get(t, d, "pe_array.tile", cfg.positive_int, 1) for d in "mnk")
    if len(r.problems) == before:
        for key, message in network_problems(ms, *ports, tile):
            r.problem(f"pe_array.{key}", message)
    return FlexiblePEArray(ms, 1, *_common(r, m), *ports, tile)


def _common(r: Reader, m: dict) -> tuple[str, int, int]:
    return (r.get(m, "dataflow", "pe_array", cfg.choice(*DATAFLOWS, *CONV_DATAFLOWS), "ws"),
            r.get(m, "precision", "pe_array", _bits(INT_BITS), 8),
            r.get(m, "accumulator", "pe_array", _bits(ACCUMULATOR_BITS), 32))


def _side(value: Any) -> int:
    if cfg.positive_int(value) > MAX_SIDE:
        raise ValueError(f"{value} is more than {MAX_SIDE} PEs per side (16 x TPU v1's 256); check for a"
                         " typo")
    return value


def check_flexible(r: Reader, hw: Any, timing_given: bool) -> None:
    """What a flexible array's controller cannot run (``hw``: the HardwareConfig; module docstring)."""
    pe = hw.pe_array
    if isinstance(pe, CartesianPEArray | InnerJoinPEArray):
        _check_two_sided(r, pe, timing_given)
        return
    if not isinstance(pe, FlexiblePEArray):
        return
    if timing_given:
        r.problem("timing", "a flexible array takes its cycles from its distribution and reduction networks,"
                            " not from a timing model (memory stalls are simulated); remove 'timing'")
    if pe.dataflow in CONV_DATAFLOWS or (pe.dataflow in DATAFLOWS
                                         and DATAFLOWS.get(pe.dataflow).stationary != "weights"):
        r.problem("pe_array.dataflow", f"{pe.dataflow!r} does not hold the weights; a flexible array's"
                                       " controllers (SIGMA, MAERI) hold the weights and stream the"
                                       " activations: write dataflow: ws, or leave it out")
    sparse = hw.sparsity.weights.skip == "skip"
    if sparse and pe.tile is not None:
        r.problem("pe_array.tile", "with sparsity.weights.skip: skip the array packs each filter's nonzeros"
                                   " (SIGMA) and takes no tile; remove it, or set skip: none / gate for"
                                   " dense tiles (MAERI)")
    if not sparse and pe.tile is None:
        r.problem("pe_array.tile", "a flexible array running dense GEMMs (MAERI; sparsity.weights.skip:"
                                   f" {hw.sparsity.weights.skip}) needs its tile, e.g. tile: {{m: 4, n: 4,"
                                   " k: 16}; or set sparsity.weights.skip: skip to pack nonzeros (SIGMA)")
    if sparse and hw.sparsity.weights.exploits and tuple(hw.sparsity.weights.exploits) != ("unstructured",):
        r.problem("sparsity.weights.exploits", "SIGMA packs nonzero weights one by one, whatever their"
                                               " pattern: write exploits: [unstructured]")
    if hw.sparsity.inputs.skip == "skip":
        r.problem("sparsity.inputs.skip", "a flexible array sends every activation a stationary weight needs,"
                                          " zero or not (STONNE); use skip: none or gate")


def check_row_stationary(r: Reader, hw: Any, timing_given: bool) -> None:
    """What a row-stationary array cannot run (``hw``: the HardwareConfig; module docstring)."""
    if not isinstance(hw.pe_array, RowStationaryPEArray):
        return
    if timing_given:
        r.problem("timing", "a row-stationary array takes its cycles from its processing passes, not from a"
                            " timing model (memory stalls are simulated); remove 'timing'")
    for op, spad in (("inputs", "ifmap"), ("weights", "filter"), ("outputs", "psum")):
        if not any(lv.per_pe and op in lv.holds for lv in hw.memories):
            r.problem("memories", f"a row-stationary PE keeps its {spad} rows in a scratchpad: add a"
                                  f" per-PE level holding {op}, e.g. - {{name: {spad}_spad, size: 24 B,"
                                  f" per_pe: true, holds: [{op}]}}")
    if hw.sparsity.weights.skip != "none":
        r.problem("sparsity.weights.skip", "a row-stationary array (Eyeriss v1) does nothing about zero"
                                           " weights; write skip: none")
    if hw.sparsity.inputs.skip == "skip":
        r.problem("sparsity.inputs.skip", "a row-stationary array (Eyeriss v1) gates zero activations, it"
                                          " cannot skip them (its passes are fixed); use skip: gate or none")


def _check_two_sided(r: Reader, pe: PEArray, timing_given: bool) -> None:
    """A two-sided array takes its cycles from its own datapath, and runs one dataflow."""
    name, held = (("cartesian", "inputs") if isinstance(pe, CartesianPEArray) else ("inner_join", "outputs"))
    if timing_given:
        r.problem("timing", f"an array with pe_array.{name} takes its cycles from its datapath, not from a"
                            " timing model (memory stalls are simulated); remove 'timing'")
    if pe.dataflow in DATAFLOWS and DATAFLOWS.get(pe.dataflow).stationary != held:
        want = next(d for d in DATAFLOWS.names() if DATAFLOWS.get(d).stationary == held)
        r.problem("pe_array.dataflow", f"{pe.dataflow!r} does not hold the {held}; pe_array.{name} holds"
                                       f" them in its PEs: write dataflow: {want}")


def _bits(widths: tuple[int, ...]):
    """The parser of a width: a number of bits in ``widths``, written 8, int8 or uint8, or a float
    format of FLOAT_BITS (fp16, bf16; stored as its bits)."""
    names = {**{f"{sign}int{b}": b for b in widths for sign in ("", "u")}, **FLOAT_BITS}

    def parse(value: Any) -> int:
        if isinstance(value, str) and value.strip().lower() in names:
            return names[value.strip().lower()]
        if isinstance(value, int) and not isinstance(value, bool) and value in widths:
            return value
        ints = ", ".join(map(str, widths))
        raise ValueError(f"{value!r} is not a width a datapath has; write one of {ints} (bits; or int8,"
                         f" uint8, ...) or {', '.join(FLOAT_BITS)}")

    return parse
