"""HardwareConfig and its parts: frozen dataclasses built from YAML by one strict loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelsim import units
from accelsim.spec import config as cfg
from accelsim.spec.config import Reader

OPERANDS = ("inputs", "weights", "outputs")
DATAFLOW_NAMES = ("os", "ws", "is")
TIMING_NAMES = ("accelsim", "scalesim")
FORMAT_NAMES = ("dense", "bitmask", "csr", "coo", "rle", "nm", "block", "window", "channel")
SKIP_NAMES = ("none", "gate", "skip")
EXPLOITABLE = ("unstructured", "nm", "block", "window", "channel", "combined", "kernel", "vector",
               "filter", "input_channel")
HW_DIR = Path(__file__).resolve().parent.parent / "data" / "hw_configs"


@dataclass(frozen=True)
class PEArray:
    rows: int
    cols: int
    dataflow: str
    precision_bits: int = 8
    accumulator_bits: int = 32


@dataclass(frozen=True)
class MemoryLevel:
    """One buffer level.  ``per_pe`` levels (register files) exist once per PE with this size."""

    name: str
    size_bytes: int
    holds: tuple[str, ...] = OPERANDS
    per_pe: bool = False
    double_buffered: bool = True
    bandwidth_bytes_per_cycle: float | None = None


@dataclass(frozen=True)
class DramConfig:
    bandwidth_bytes_per_cycle: float = 16.0
    latency_cycles: int = 100
    channels: int = 1


@dataclass(frozen=True)
class OperandSparsity:
    """How one operand's zeros are stored (``format``) and what the datapath does about them."""

    format: str = "dense"
    skip: str = "none"
    exploits: tuple[str, ...] = ()
    index_bits: int | None = None
    run_bits: int = 4
    nm: tuple[int, int] = (2, 4)
    nm_encoding: str = "positional"
    block: tuple[int, int] = (4, 4)


@dataclass(frozen=True)
class SparseSupport:
    weights: OperandSparsity = field(default_factory=OperandSparsity)
    inputs: OperandSparsity = field(default_factory=OperandSparsity)


@dataclass(frozen=True)
class HardwareConfig:
    name: str
    clock_mhz: float
    pe_array: PEArray
    memories: tuple[MemoryLevel, ...]
    dram: DramConfig
    sparsity: SparseSupport = field(default_factory=SparseSupport)
    energy_table: str = "horowitz_45nm"
    timing: str = "accelsim"
    mapping_objective: str = "dram"
    description: str = ""
    source: str = ""
    version: int = 1
    raw: Any = field(default=None, compare=False, repr=False)

    def memory(self, name: str) -> MemoryLevel:
        for level in self.memories:
            if level.name == name:
                return level
        raise KeyError(name)

    def buffer_for(self, operand: str) -> MemoryLevel | None:
        """The outermost on-chip (not per-PE) level holding ``operand``."""
        for level in reversed(self.memories):
            if operand in level.holds and not level.per_pe:
                return level
        return None


_TOP_KEYS = ("version", "name", "description", "source", "clock", "timing", "mapping_objective", "pe_array",
             "memories", "dram", "sparsity", "energy")
MAPPING_OBJECTIVES = ("dram", "cycles", "energy", "edp")


def _dims(value: Any) -> tuple[int, int]:
    parts = str(value).lower().replace(":", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{value!r} is not two sizes; write e.g. '4x4' or '2:4'")
    return int(parts[0]), int(parts[1])


def _operand_sparsity(r: Reader, raw: Any, path: str) -> OperandSparsity:
    keys = ("format", "skip", "exploits", "index_bits", "run_bits", "nm", "nm_encoding", "block")
    m = r.mapping(raw, path, keys)
    d = OperandSparsity()
    return OperandSparsity(
        format=r.get(m, "format", path, cfg.choice(*FORMAT_NAMES), d.format),
        skip=r.get(m, "skip", path, cfg.choice(*SKIP_NAMES), d.skip),
        exploits=r.get(m, "exploits", path, cfg.string_list(EXPLOITABLE), d.exploits),
        index_bits=r.get(m, "index_bits", path, cfg.positive_int, d.index_bits),
        run_bits=r.get(m, "run_bits", path, cfg.positive_int, d.run_bits),
        nm=r.get(m, "nm", path, _dims, d.nm),
        nm_encoding=r.get(m, "nm_encoding", path, cfg.choice("positional", "minimal"), d.nm_encoding),
        block=r.get(m, "block", path, _dims, d.block),
    )


def _memory(r: Reader, raw: Any, path: str, clock_mhz: float) -> MemoryLevel:
    keys = ("name", "size", "holds", "per_pe", "double_buffered", "bandwidth")
    m = r.mapping(raw, path, keys, required=("name", "size"))
    bw = r.get(m, "bandwidth", path, lambda v: units.parse_bandwidth_bytes_per_cycle(v, clock_mhz), None)
    return MemoryLevel(
        name=r.get(m, "name", path, cfg.text, "?"),
        size_bytes=r.get(m, "size", path, _positive_size, 1),
        holds=r.get(m, "holds", path, cfg.string_list(OPERANDS), OPERANDS),
        per_pe=r.get(m, "per_pe", path, cfg.boolean, False),
        double_buffered=r.get(m, "double_buffered", path, cfg.boolean, True),
        bandwidth_bytes_per_cycle=bw,
    )


def _positive_size(value: Any) -> int:
    n = units.parse_size_bytes(value)
    if n <= 0:
        raise ValueError(f"{value!r}: a buffer size must be larger than 0")
    return n


def hardware_from_dict(raw: Any, source: str) -> HardwareConfig:
    """Build and validate a HardwareConfig; every problem is reported at once in a ConfigError."""
    r = Reader(source)
    top = r.mapping(raw, "", _TOP_KEYS, required=("version", "name", "pe_array"))
    version = r.get(top, "version", "", _version, 1)
    clock = r.get(top, "clock", "", units.parse_frequency_mhz, 1000.0)

    pa_raw = r.mapping(top.get("pe_array"), "pe_array",
                       ("rows", "cols", "dataflow", "precision", "accumulator"), required=("rows", "cols"))
    pe = PEArray(
        rows=r.get(pa_raw, "rows", "pe_array", cfg.positive_int, 1),
        cols=r.get(pa_raw, "cols", "pe_array", cfg.positive_int, 1),
        dataflow=r.get(pa_raw, "dataflow", "pe_array", cfg.choice(*DATAFLOW_NAMES), "ws"),
        precision_bits=r.get(pa_raw, "precision", "pe_array", _bits, 8),
        accumulator_bits=r.get(pa_raw, "accumulator", "pe_array", _bits, 32),
    )

    mem_raw = top.get("memories", [])
    memories: list[MemoryLevel] = []
    if not isinstance(mem_raw, list):
        r.problem("memories", "expected a list of levels, innermost first")
    else:
        for i, level in enumerate(mem_raw):
            memories.append(_memory(r, level, f"memories[{i}]", clock))
        names = [lv.name for lv in memories]
        for name in {n for n in names if names.count(n) > 1}:
            r.problem("memories", f"level name {name!r} is used twice; names must be unique")
        for op in OPERANDS:
            if memories and not any(op in lv.holds and not lv.per_pe for lv in memories):
                r.problem("memories", f"no on-chip buffer holds {op}; add it to some level's 'holds'")

    d_raw = r.mapping(top.get("dram"), "dram", ("bandwidth", "latency", "channels"))
    dram = DramConfig(
        bandwidth_bytes_per_cycle=r.get(d_raw, "bandwidth", "dram", lambda v: _positive(
            units.parse_bandwidth_bytes_per_cycle(v, clock)), 16.0),
        latency_cycles=r.get(d_raw, "latency", "dram", lambda v: units.parse_latency_cycles(v, clock), 100),
        channels=r.get(d_raw, "channels", "dram", cfg.positive_int, 1),
    )

    s_raw = r.mapping(top.get("sparsity"), "sparsity", ("weights", "inputs"))
    sparsity = SparseSupport(
        weights=_operand_sparsity(r, s_raw.get("weights"), "sparsity.weights"),
        inputs=_operand_sparsity(r, s_raw.get("inputs"), "sparsity.inputs"),
    )
    hw = HardwareConfig(
        name=r.get(top, "name", "", cfg.text, "?"),
        clock_mhz=clock,
        pe_array=pe,
        memories=tuple(memories) or default_memories(),
        dram=dram,
        sparsity=sparsity,
        energy_table=r.get(top, "energy", "", cfg.text, "horowitz_45nm"),
        timing=r.get(top, "timing", "", cfg.choice(*TIMING_NAMES), "accelsim"),
        mapping_objective=r.get(top, "mapping_objective", "", cfg.choice(*MAPPING_OBJECTIVES), "dram"),
        description=r.get(top, "description", "", str, ""),
        source=r.get(top, "source", "", str, ""),
        version=version,
        raw=raw,
    )
    _check_sparsity(r, hw)
    r.finish()
    return hw


def _check_sparsity(r: Reader, hw: HardwareConfig) -> None:
    """Combinations that cannot work: say so at load time, not in the middle of a run."""
    for op in ("weights", "inputs"):
        s: OperandSparsity = getattr(hw.sparsity, op)
        path = f"sparsity.{op}"
        if s.skip == "skip" and s.format == "dense":
            r.problem(f"{path}.skip", "'skip' needs the positions of nonzeros, but format 'dense' stores"
                                      " none; use format bitmask, csr, rle, nm, block, window or channel,"
                                      " or skip: gate")
        if s.format == "nm" and s.nm[0] > s.nm[1]:
            r.problem(f"{path}.nm", f"N:M with N={s.nm[0]} > M={s.nm[1]}; N (kept) must be <= M")
        if s.skip == "none" and s.exploits:
            r.problem(f"{path}.exploits", "a datapath with skip: none exploits no pattern; remove 'exploits'"
                                          " or set skip: skip / gate")
        elif s.format == "dense" and s.exploits:
            r.problem(f"{path}.exploits", "format 'dense' stores no positions, so no pattern can be"
                                          " exploited; remove 'exploits' or choose a sparse format"
                                          " (bitmask, csr, rle, ...)")
        if s.format == "nm" and set(s.exploits) - {"nm"}:
            others = ", ".join(x for x in s.exploits if x != "nm")
            r.problem(f"{path}.exploits", f"format 'nm' can only exploit N:M masks, not {others}; write"
                                          " exploits: [nm] or choose a general format (bitmask, csr, rle)")
        if "nm" in s.exploits and s.format != "nm":
            r.problem(f"{path}.exploits", f"exploiting nm needs the N:M positions, which format {s.format!r}"
                                          " does not keep; set format: nm or remove nm from 'exploits'")
        if op == "weights" and s.skip == "skip" and s.format != "dense" and not s.exploits:
            r.problem(f"{path}.exploits", "skip: skip needs the patterns the datapath can skip; write e.g."
                                          " exploits: [unstructured] (or [nm] with format: nm)")
        if op == "inputs" and s.format in ("nm", "block", "window", "channel"):
            r.problem(f"{path}.format", f"activations have no {s.format} structure (only their density is"
                                        " known); use bitmask, rle, csr, coo or dense")


def _version(value: Any) -> int:
    if value != 1:
        raise ValueError(f"{value!r} is not a supported version; this accelsim reads version: 1")
    return 1


def _bits(value: Any) -> int:
    if isinstance(value, str) and value.lower().startswith(("int", "uint", "fp")):
        digits = value.lower().lstrip("uintfp")
        if digits.isdigit():
            return int(digits)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64:
        return value
    raise ValueError(f"{value!r} is not a precision; write e.g. 8, int8 or fp16")


def _positive(x: float) -> float:
    if x <= 0:
        raise ValueError("must be larger than 0")
    return x


def default_memories() -> tuple[MemoryLevel, ...]:
    return (MemoryLevel("glb", 192 * 1024),)


def shipped_hardware_names() -> list[str]:
    return sorted(p.stem for p in HW_DIR.glob("*.yaml"))


def resolve_hardware_path(ref: str) -> tuple[Path, str | None]:
    """A path, or a shipped name; a missing path falls back to the shipped file of the same name.

    Returns (path, note) where note says a fallback happened."""
    p = Path(ref)
    if p.is_file():
        return p, None
    stem = p.stem if p.suffix in (".yaml", ".yml") else p.name
    shipped = HW_DIR / f"{stem}.yaml"
    if shipped.is_file():
        note = None if p.name == stem and len(p.parts) == 1 else f"{ref} not found; using shipped {stem}.yaml"
        return shipped, note
    from accelsim.errors import UnknownNameError

    raise UnknownNameError("hardware config", ref, shipped_hardware_names(),
                           hint="Give a path to a YAML file or one of the shipped names")


def load_hardware(ref: str | Path, overrides: dict[str, Any] | None = None) -> HardwareConfig:
    """Load ``ref`` (path or shipped name), apply dotted-path ``overrides``, validate."""
    ref = str(ref)
    if ref.endswith(".cfg"):
        from accelsim.spec.scalesim import read_scalesim_config

        raw = read_scalesim_config(ref)
        path = Path(ref)
    else:
        path, _ = resolve_hardware_path(ref)
        raw = cfg.read_yaml(path)
    for dotted, value in (overrides or {}).items():
        raw = cfg.set_dotted(raw, dotted, value, str(path))
    return hardware_from_dict(raw, str(path))
