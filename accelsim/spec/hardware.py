"""HardwareConfig and its parts: frozen dataclasses built from YAML by one strict loader.

Every name in a config is checked against its registry (``accelsim.registry``: dataflow, timing
model, sparse format, exploited pattern, energy table), so a plug-in registered at run time is
accepted like a built-in; the keys under ``sparsity.<operand>`` beyond format / skip / exploits are
the ones the chosen format declares (``config_key`` fields of its class).  The ``pe_array`` (a grid
of PEs or a flexible array of multipliers) is read by spec/pe_array.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import Field, asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from accelsim import units
from accelsim.errors import ConfigError, UnknownNameError, did_you_mean
from accelsim.registry import ENERGY_MODELS, PATTERNS, SPARSE_FORMATS, TIMING_MODELS
from accelsim.spec import config as cfg
from accelsim.spec.config import Reader
from accelsim.spec.pe_array import PEArray, check_flexible, check_row_stationary, read_pe_array


class Operand(StrEnum):
    """The three operands of a layer; each equals its name, so it keys dicts and JSON as a string."""

    INPUTS = "inputs"
    WEIGHTS = "weights"
    OUTPUTS = "outputs"


OPERANDS = tuple(Operand)
SKIP_NAMES = ("none", "gate", "skip")
HW_DIR = Path(__file__).resolve().parent.parent / "data" / "hw_configs"


@dataclass(frozen=True)
class MemoryLevel:
    """One buffer level.  ``per_pe`` levels (register files) exist once per PE with this size.

    Ports: ``bandwidth`` is one port shared by reads and writes; ``read_bandwidth`` and
    ``write_bandwidth`` are separate ports (ports x width each); none of them: never a limit.  A level
    reads what it sends toward the array (operands, fills of a level below it, partial sums read
    back) and writes what comes back (outputs, spills); fills from the level above it land in the
    other bank of a double-buffered level, and on these ports only when it is not double-buffered.
    """

    name: str
    size_bytes: int
    holds: tuple[Operand, ...] = OPERANDS
    per_pe: bool = False
    double_buffered: bool = True
    bandwidth_bytes_per_cycle: float | None = None
    read_bandwidth_bytes_per_cycle: float | None = None
    write_bandwidth_bytes_per_cycle: float | None = None

    @property
    def limits_bandwidth(self) -> bool:
        ports = (self.bandwidth_bytes_per_cycle, self.read_bandwidth_bytes_per_cycle,
                 self.write_bandwidth_bytes_per_cycle)
        return any(b is not None for b in ports)

    def port_cycles(self, read_bytes, write_bytes):
        """Cycles the level's ports need to read and write these bytes (arrays broadcast)."""
        if self.bandwidth_bytes_per_cycle is not None:
            return (read_bytes + write_bytes) / self.bandwidth_bytes_per_cycle
        r_bw, w_bw = self.read_bandwidth_bytes_per_cycle, self.write_bandwidth_bytes_per_cycle
        return np.maximum(0.0 if r_bw is None else read_bytes / r_bw,
                          0.0 if w_bw is None else write_bytes / w_bw)


@dataclass(frozen=True)
class DramConfig:
    """Off-chip memory: ``channels`` interleaved channels of ``bandwidth_bytes_per_cycle`` each."""

    bandwidth_bytes_per_cycle: float = 16.0  # per channel
    latency_cycles: int = 100
    channels: int = 1

    @property
    def total_bandwidth_bytes_per_cycle(self) -> float:
        return self.bandwidth_bytes_per_cycle * self.channels


# A datapath that skips whole blocks needs their size whatever the format: exploits: [block] reads
# the ``block`` key of format block (pattern -> (format, key)).
EXPLOIT_KEYS = {"block": ("block", "block")}


def operand_keys(fmt: str, exploits: tuple[str, ...] = ()) -> dict[str, Field]:
    """The config keys of an operand stored in format ``fmt`` that exploits ``exploits``: the
    format's own (``cfg.config_keys``) and the datapath's (``EXPLOIT_KEYS``)."""
    keys = cfg.config_keys(SPARSE_FORMATS.get(fmt))
    for pattern in exploits:
        if pattern in EXPLOIT_KEYS:
            owner, key = EXPLOIT_KEYS[pattern]
            keys.setdefault(key, cfg.config_keys(SPARSE_FORMATS.get(owner))[key])
    return keys


@dataclass(frozen=True)
class OperandSparsity:
    """How one operand's zeros are stored (``format``) and what the datapath does about them.

    ``options`` holds the config keys the format declares (``run_bits`` of rle, ``nm`` and
    ``nm_encoding`` of nm, ...) and the datapath's (``block`` when it exploits block), every one
    filled with its default; each reads as an attribute too (``hw.sparsity.weights.nm``).
    """

    format: str = "dense"
    skip: str = "none"
    exploits: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = {k: f.default for k, f in operand_keys(self.format, self.exploits).items()}
        object.__setattr__(self, "options", defaults | dict(self.options))

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["options"][key]
        except KeyError:
            raise AttributeError(f"format {self.__dict__.get('format')!r} has no key {key!r}") from None


@dataclass(frozen=True)
class SparseSupport:
    weights: OperandSparsity = field(default_factory=OperandSparsity)
    inputs: OperandSparsity = field(default_factory=OperandSparsity)
    outputs: OperandSparsity = field(default_factory=OperandSparsity)  # the format outputs are written in


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
    mapping_objective: str = "cycles"
    keep_activations: bool = False  # outputs that fit stay on chip for the layers that read them
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
        """The outermost on-chip (not per-PE) level holding ``operand``: the one DRAM fills."""
        chain = self.levels_for(operand)
        return chain[0] if chain else None

    def array_level(self, operand: str) -> MemoryLevel | None:
        """The innermost on-chip (not per-PE) level holding ``operand``: the one the array reads."""
        chain = self.levels_for(operand)
        return chain[-1] if chain else None

    def levels_for(self, operand: str) -> tuple[MemoryLevel, ...]:
        """The shared (not per-PE) levels holding ``operand``, outermost first: its tiers."""
        return tuple(lv for lv in reversed(self.memories) if operand in lv.holds and not lv.per_pe)


_TOP_KEYS = ("version", "name", "description", "source", "clock", "timing", "mapping_objective",
             "keep_activations", "pe_array",
             "memories", "dram", "sparsity", "energy")
_OPERAND_KEYS = ("format", "skip", "exploits")
MAPPING_OBJECTIVES = ("dram", "cycles", "energy", "edp")


def _operand_sparsity(r: Reader, raw: Any, path: str) -> OperandSparsity:
    """One operand's sparsity: the keys its format (and what it exploits) declares, and only those."""
    head = raw if isinstance(raw, Mapping) else {}
    before = len(r.problems)
    fmt = r.get(head, "format", path, cfg.choice(*SPARSE_FORMATS), "dense")
    exploits = r.get(head, "exploits", path, cfg.string_list(PATTERNS), ())
    if len(r.problems) > before:  # an unknown format or pattern: which keys apply is unknown too
        r.mapping(raw, path, (*_OPERAND_KEYS, *head))
        return OperandSparsity()
    keys = operand_keys(fmt, exploits)
    m = r.mapping(raw, path, (*_OPERAND_KEYS, *keys), elsewhere=_keys_elsewhere(fmt))
    return OperandSparsity(
        format=fmt,
        skip=r.get(m, "skip", path, cfg.choice(*SKIP_NAMES), "none"),
        exploits=exploits,
        options={k: r.get(m, k, path, f.metadata["parse"], f.default) for k, f in keys.items()},
    )


def _keys_elsewhere(fmt: str) -> dict[str, str]:
    """Key -> 'applies to format 'rle', not 'bitmask'' for the keys other formats declare."""
    users: dict[str, list[str]] = {}
    for name in SPARSE_FORMATS:
        for key in cfg.config_keys(SPARSE_FORMATS.get(name)):
            users.setdefault(key, []).append(name)
    where = {key: [f"format{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}"]
             for key, names in users.items()}
    for pattern, (_, key) in EXPLOIT_KEYS.items():
        where.setdefault(key, []).append(f"exploits: [{pattern}]")
    return {key: f"applies to {' or '.join(w)}, not {fmt!r}" for key, w in where.items()}


def _memory(r: Reader, raw: Any, path: str, clock_mhz: float) -> MemoryLevel:
    ports = ("bandwidth", "read_bandwidth", "write_bandwidth")
    keys = ("name", "size", "holds", "per_pe", "double_buffered", *ports)
    m = r.mapping(raw, path, keys, required=("name", "size"))
    bw = {key: r.get(m, key, path, lambda v: units.parse_bandwidth_bytes_per_cycle(v, clock_mhz), None)
          for key in ports}
    per_pe = r.get(m, "per_pe", path, cfg.boolean, False)
    given = [key for key in ports if key in m]
    if "bandwidth" in m and len(given) > 1:
        r.problem(f"{path}.bandwidth", "one shared port ('bandwidth') or separate read and write ports"
                                       " ('read_bandwidth', 'write_bandwidth'), not both; remove one")
    if per_pe and given:
        r.problem(f"{path}.{given[0]}", "a per-PE register file is read by its own PE every cycle, so a"
                                        " bandwidth would change nothing; remove it (or make the level"
                                        " shared: per_pe: false)")
    return MemoryLevel(
        name=r.get(m, "name", path, cfg.text, "?"),
        size_bytes=r.get(m, "size", path, _positive_size, 1),
        holds=tuple(map(Operand, r.get(m, "holds", path, cfg.string_list(OPERANDS), OPERANDS))),
        per_pe=per_pe,
        double_buffered=r.get(m, "double_buffered", path, cfg.boolean, True),
        bandwidth_bytes_per_cycle=bw["bandwidth"],
        read_bandwidth_bytes_per_cycle=bw["read_bandwidth"],
        write_bandwidth_bytes_per_cycle=bw["write_bandwidth"],
    )


def _positive_size(value: Any) -> int:
    n = units.parse_size_bytes(value)
    if n <= 0:
        raise ValueError(f"{value!r}: a buffer size must be larger than 0")
    return n


def hardware_from_dict(raw: Any, source: str) -> HardwareConfig:
    """Build and validate a HardwareConfig; every problem is reported at once in a ConfigError."""
    r = Reader(source)
    top = r.mapping(raw, "", _TOP_KEYS, required=("version", "name", "pe_array", "memories"))
    version = r.get(top, "version", "", _version, 1)
    clock = r.get(top, "clock", "", units.parse_frequency_mhz, 1000.0)

    pe = read_pe_array(r, top.get("pe_array"))

    mem_raw = top.get("memories", [])
    memories: list[MemoryLevel] = []
    if not isinstance(mem_raw, list):
        r.problem("memories", "expected a list of levels, innermost first")
    elif "memories" in top and not mem_raw:
        r.problem("memories", "an empty list: the array needs at least one on-chip buffer; list the levels,"
                              " innermost first, e.g. - {name: glb, size: 256 KiB}")
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
        bandwidth_bytes_per_cycle=r.get(d_raw, "bandwidth", "dram",
                                        lambda v: units.parse_bandwidth_bytes_per_cycle(v, clock), 16.0),
        latency_cycles=r.get(d_raw, "latency", "dram", lambda v: units.parse_latency_cycles(v, clock), 100),
        channels=r.get(d_raw, "channels", "dram", cfg.positive_int, 1),
    )

    s_raw = r.mapping(top.get("sparsity"), "sparsity", ("weights", "inputs", "outputs"))
    sparsity = SparseSupport(
        weights=_operand_sparsity(r, s_raw.get("weights"), "sparsity.weights"),
        inputs=_operand_sparsity(r, s_raw.get("inputs"), "sparsity.inputs"),
        outputs=_operand_sparsity(r, s_raw.get("outputs"), "sparsity.outputs"),
    )
    hw = HardwareConfig(
        name=r.get(top, "name", "", cfg.text, "?"),
        clock_mhz=clock,
        pe_array=pe,
        memories=tuple(memories),
        dram=dram,
        sparsity=sparsity,
        energy_table=r.get(top, "energy", "", _energy_table, "horowitz_45nm"),
        timing=r.get(top, "timing", "", cfg.choice(*TIMING_MODELS), "accelsim"),
        mapping_objective=r.get(top, "mapping_objective", "", cfg.choice(*MAPPING_OBJECTIVES), "cycles"),
        keep_activations=r.get(top, "keep_activations", "", cfg.boolean, False),
        description=r.get(top, "description", "", str, ""),
        source=r.get(top, "source", "", str, ""),
        version=version,
        raw=raw,
    )
    _check_sparsity(r, hw)
    _check_stall_free(r, hw)
    check_flexible(r, hw, "timing" in top)
    check_row_stationary(r, hw, "timing" in top)
    r.finish()
    return hw


def _check_outputs(r: Reader, hw: HardwareConfig) -> None:
    """Outputs are written in a format and read back as the next layer's inputs: the same format."""
    out, ins = hw.sparsity.outputs, hw.sparsity.inputs
    if out.skip != "none" or out.exploits:
        r.problem("sparsity.outputs", "outputs are written, not multiplied: only 'format' (and its keys)"
                                      " applies; remove 'skip' and 'exploits'")
    elif out.format != "dense" and (out.format, out.options) != (ins.format, ins.options):
        r.problem("sparsity.outputs.format", f"outputs written as {out.format!r} are read back by the next"
                                             f" layer as its inputs, stored as {ins.format!r}: give"
                                             " sparsity.inputs the same format and keys")


def _check_sparsity(r: Reader, hw: HardwareConfig) -> None:
    """Combinations that cannot work, from what each format declares (``exploitable``,
    ``stores_activations``): say so at load time, not in the middle of a run."""
    _check_outputs(r, hw)
    formats = {name: SPARSE_FORMATS.get(name) for name in SPARSE_FORMATS}
    claimed = {p: name for name, f in formats.items() for p in (f.exploitable or ())}
    keeping = ", ".join(n for n, f in formats.items() if f.exploitable != ())
    general = ", ".join(n for n, f in formats.items() if f.exploitable is None)
    storing = ", ".join(n for n, f in formats.items() if f.stores_activations)
    for op in (Operand.WEIGHTS, Operand.INPUTS):
        s: OperandSparsity = getattr(hw.sparsity, op)
        fmt, path, name = formats[s.format], f"sparsity.{op}", repr(s.format)
        if s.skip == "skip" and fmt.exploitable == ():
            r.problem(f"{path}.skip", f"'skip' needs the positions of nonzeros, but format {name} stores"
                                      f" none; use format {keeping}, or skip: gate")
        if s.skip == "none" and s.exploits:
            r.problem(f"{path}.exploits", "a datapath with skip: none exploits no pattern; remove 'exploits'"
                                          " or set skip: skip / gate")
        elif fmt.exploitable == () and s.exploits:
            r.problem(f"{path}.exploits", f"format {name} stores no positions, so no pattern can be"
                                          " exploited; remove 'exploits' or choose a sparse format"
                                          f" ({general})")
        if fmt.exploitable and set(s.exploits) - set(fmt.exploitable):
            only = ", ".join(fmt.exploitable)
            others = ", ".join(x for x in s.exploits if x not in fmt.exploitable)
            r.problem(f"{path}.exploits", f"format {name} can only exploit {only}, not {others}; write"
                                          f" exploits: [{only}] or choose a general format ({general})")
        for pattern in s.exploits:
            owner = claimed.get(pattern, s.format)
            if owner != s.format:
                r.problem(f"{path}.exploits", f"exploiting {pattern} needs the positions only format"
                                              f" {owner!r} keeps, not {name}; set format: {owner} or remove"
                                              f" {pattern} from 'exploits'")
        if op == Operand.WEIGHTS and s.skip == "skip" and fmt.exploitable != () and not s.exploits:
            r.problem(f"{path}.exploits", "skip: skip needs the patterns the datapath can skip; write e.g."
                                          " exploits: [unstructured] (or [nm] with format: nm)")
        if op == Operand.INPUTS and s.exploits:
            r.problem(f"{path}.exploits", "activation zeros are found element by element (their pattern is"
                                          " not known ahead of time), so 'exploits' does not apply to"
                                          " inputs; remove it")
        if op == Operand.INPUTS and not fmt.stores_activations:
            r.problem(f"{path}.format", f"format {name} cannot store activations: it needs their mask, and"
                                        f" only their density is known; use {storing}")


def _check_stall_free(r: Reader, hw: HardwareConfig) -> None:
    """A timing model without stalls (SCALE-Sim's CALC mode, STONNE's mesh) never waits for a buffer:
    a buffer bandwidth would be a knob that moves nothing, so it is refused."""
    if hw.timing not in TIMING_MODELS or TIMING_MODELS.get(hw.timing).models_stalls:
        return
    for i, level in enumerate(hw.memories):
        if level.limits_bandwidth:
            key = ("bandwidth" if level.bandwidth_bytes_per_cycle is not None else "read_bandwidth"
                   if level.read_bandwidth_bytes_per_cycle is not None else "write_bandwidth")
            r.problem(f"memories[{i}].{key}", f"timing {hw.timing!r} models no stalls, so a buffer"
                                                  " bandwidth would change nothing; remove it, or use"
                                                  " timing: accelsim")


def _energy_table(value: Any) -> str:
    """A name in ENERGY_MODELS or the path of a YAML energy table."""
    if isinstance(value, str) and (value in ENERGY_MODELS or Path(value).is_file()):
        return value
    raise ValueError(f"{value!r} is not one of {', '.join(ENERGY_MODELS)}, nor the path of a YAML energy"
                     f" table{did_you_mean(str(value), ENERGY_MODELS)}")


def _version(value: Any) -> int:
    if value != 1:
        raise ValueError(f"{value!r} is not a supported version; this accelsim reads version: 1")
    return 1


def shipped_hardware_names() -> list[str]:
    return sorted(p.stem for p in HW_DIR.glob("*.yaml"))


def resolve_hardware_path(ref: str) -> tuple[Path, str | None]:
    """A path, a shipped name (``sparse_pe``), or ``configs/NAME.yaml``: the README's alias of the
    shipped NAME.  Returns (path, note), the note saying an alias was followed.  Any other missing
    path is a ConfigError that names it and the shipped config of that name, if there is one."""
    p = Path(ref)
    if p.is_file():
        return p, None
    stem = p.stem if p.suffix in (".yaml", ".yml") else p.name
    shipped = HW_DIR / f"{stem}.yaml"
    if p.name == stem and len(p.parts) == 1 and not p.exists():  # a name, not a path
        if shipped.is_file():
            return shipped, None
        raise UnknownNameError("hardware config", ref, shipped_hardware_names(),
                               hint="Give a path to a YAML file or one of the shipped names")
    if shipped.is_file() and p.parts == ("configs", f"{stem}.yaml"):
        return shipped, f"{ref} is the shipped {stem} (hw_configs/{stem}.yaml)"
    raise missing_hardware_file(p)


def missing_hardware_file(path: Path) -> ConfigError:
    """'PATH: file not found', with the path one typo away or else the shipped config of its name."""
    stem = path.stem
    shipped = (HW_DIR / f"{stem}.yaml").is_file()
    return cfg.not_found(path, f"did you mean hw_configs/{stem}.yaml or --hw {stem}?" if shipped else "")


def load_hardware(ref: str | Path, overrides: dict[str, Any] | None = None) -> HardwareConfig:
    """Load ``ref`` (path or shipped name), apply dotted-path ``overrides``, validate.  A problem the
    overrides bring is reported as theirs (``--set pe_array.rows=100000``), not the file's."""
    ref = str(ref)
    if ref.endswith(".cfg"):
        from accelsim.spec.scalesim import read_scalesim_config

        raw, source = read_scalesim_config(ref), ref
    else:
        path, _ = resolve_hardware_path(ref)
        raw, source = cfg.read_yaml(path), str(path)
    if not overrides:
        return hardware_from_dict(raw, source)
    sets = {dotted: f"--set {dotted}={value}" for dotted, value in overrides.items()}
    changed = raw
    for dotted, value in overrides.items():
        changed = cfg.set_dotted(changed, dotted, value, f"{sets[dotted]} (on {source})")
    try:
        return hardware_from_dict(changed, source)
    except ConfigError as err:
        raise _blame_overrides(err, raw, source, sets) from None


def _blame_overrides(err: ConfigError, raw: Any, source: str, sets: dict[str, str]) -> ConfigError:
    """``err`` (of the config with overrides) with each problem the file itself does not have put on
    the ``--set`` that brought it (on all of them when no single one did)."""
    try:
        hardware_from_dict(raw, source)
        in_file: tuple[str, ...] = ()
    except ConfigError as base:
        in_file = base.problems
    kept = [p for p in err.problems if p in in_file]  # the file's own, not fixed by an override
    theirs = [p for p in err.problems if p not in in_file]
    label = ", ".join(sets.values())
    if len(sets) > 1:
        label = next((s for d, s in sets.items() if all(p.startswith((f"{d}:", f"{d}.")) for p in theirs)),
                     label)
    if not kept:
        return ConfigError(f"{label} (on {source})", theirs)
    return ConfigError(source, [*kept, *(f"{label}: {p}" for p in theirs)])


def hardware_dict(hw: HardwareConfig) -> dict:
    """The resolved config as plain data (report.json's "hardware"; the sweep store's key)."""
    d = asdict(hw)
    d.pop("raw", None)
    return d


def hardware_hash(hw: HardwareConfig) -> str:
    blob = json.dumps(hardware_dict(hw), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
