"""Import a SCALE-Sim v2 ``.cfg`` as a raw hardware mapping (the topology ``.csv`` reader is
``accelsim.workload.scalesim_topology``).

What SCALE-Sim v2 (``scalesim==2.0.2``, read from its source and checked against its outputs, see
``tests/data/scalesim_golden/README.md``) does, and what this importer does about it:

* Config: an INI file read by ``configparser`` (keys case-insensitive, ``:`` or ``=``).  SRAM sizes
  are in "kB" that SCALE-Sim multiplies by 1024, so they become KiB here.  CALC mode (the shipped
  configs) never stalls and is what ``timing: scalesim`` reproduces; USER mode (SCALE-Sim's DRAM
  stall model) is refused with a message, not run stall-free.
* Topology, conv form: the first line is a header and is skipped; SCALE-Sim splits each row on
  commas and drops the *last* field, so every row must end with a comma (a row without one loses
  its stride and crashes SCALE-Sim; here a missing trailing comma is accepted).  A 9th value is a
  separate horizontal stride; columns after it are ignored (``Resnet50.csv`` carries notes there,
  and a row of empty fields, which both crash SCALE-Sim 2.0.2; here they are ignored).
* Output size: ``E = ceil((H - F + s) / s)``, which is ``ceil((H - F) / s) + 1``, *not* PyTorch's
  ``floor((H - F) / s) + 1``: when ``s`` does not divide ``H - F`` SCALE-Sim adds one more output
  row/column whose window hangs over the edge (AlexNet Conv1 224/11/4 gives 55, not 54).  The
  ConvShape keeps SCALE-Sim's value with no padding, so ``out_h`` may exceed the PyTorch rule by 1.
* Depthwise: a conv row whose name contains ``DP`` (case-sensitive, anywhere in the name) is run
  by SCALE-Sim as ``Channels`` separate layers ``<name>Channel_<i>``, each with one input channel
  and all ``Num Filter`` filters.  Here it is one Layer of kind "depthwise" with ``groups =
  Channels``, ``n = Num Filter`` (the channel multiplier), ``k = F_h * F_w``.  Other rows with
  ``Num Filter`` 1 (as in ``mobilenet.csv``) are ordinary convs, as in SCALE-Sim.
* GEMM form (SCALE-Sim needs ``-i gemm``; here recognised by the header ``Layer, M, N, K``): a row
  ``name, M, N, K`` is SCALE-Sim's conv [H=M, W=K, F=1xK, C=1, N filters, stride 1], i.e. the GEMM
  M x N x K; it becomes a "linear" Layer.
"""

from __future__ import annotations

import configparser
import difflib
from pathlib import Path
from typing import Any

from accelsim.errors import ConfigError, did_you_mean
from accelsim.registry import DATAFLOWS
from accelsim.spec.config import read_text

# Canonical spelling of every key SCALE-Sim v2 reads, per section (configparser lower-cases keys).
_REQUIRED = {
    "general": ("run_name",),
    "architecture_presets": ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB",
                             "Dataflow"),
    "run_presets": ("InterfaceBandwidth",),
}
_OPTIONAL = {
    "general": (),
    "architecture_presets": ("IfmapOffset", "FilterOffset", "OfmapOffset", "Bandwidth", "MemoryBanks"),
    "run_presets": (),
    "network_presets": ("TopologyCsvLoc",),
}
BANDWIDTH_MODES = ("CALC", "USER")
# SCALE-Sim's CALC mode feeds its ifmap/filter buffers at 10 words/cycle when no Bandwidth is given.
DEFAULT_BANDWIDTH_WORDS = 10



# --- config ------------------------------------------------------------------------------------

def read_scalesim_config(path: str | Path) -> dict[str, Any]:
    """A SCALE-Sim v2 ``.cfg`` as a raw mapping in accelsim's hardware schema (for hardware_from_dict).

    Every problem (missing file, section or key, misspelled key, bad number or dataflow) is reported
    at once in one ConfigError naming the file."""
    p = Path(path)
    source = str(p)
    text = read_text(p, expected="a SCALE-Sim .cfg (INI text)")

    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep the spelling for messages; keys are compared case-insensitively below
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ConfigError(source, [_configparser_problem(exc)]) from None

    problems: list[str] = []
    sections = {name.lower(): name for name in parser.sections()}
    known_sections = tuple(_OPTIONAL)
    for low, name in sections.items():
        if low not in known_sections:
            hint = did_you_mean(low, known_sections) or f" (SCALE-Sim v2 has {', '.join(known_sections)})"
            problems.append(f"[{name}]: unknown section{hint}")

    values: dict[str, dict[str, str]] = {}
    for section in known_sections:
        required = _REQUIRED.get(section, ())
        allowed = required + _OPTIONAL[section]
        canon = {k.lower(): k for k in allowed}
        if section not in sections:
            if required:
                problems.append(f"[{section}]: required section is missing")
            continue
        present: dict[str, str] = {}
        for key, value in parser.items(sections[section]):
            low = key.lower()
            if low in present:
                problems.append(f"[{section}] {key}: given twice (keys are case-insensitive)")
            elif low not in canon:
                problems.append(f"[{section}] {key}: unknown key{_suggest(low, canon, allowed)}")
            present[low] = value
        for key in required:
            if key.lower() not in present:
                problems.append(f"[{section}] {key}: required key is missing")
        values[section] = {canon[k]: v.strip() for k, v in present.items() if k in canon}

    arch = values.get("architecture_presets", {})
    rows = _positive(arch, "ArrayHeight", problems)
    cols = _positive(arch, "ArrayWidth", problems)
    sizes = {key: _positive(arch, key, problems)
             for key in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")}
    for key in ("IfmapOffset", "FilterOffset", "OfmapOffset", "MemoryBanks"):
        if key in arch:
            _whole(arch, key, problems, minimum=0)

    dataflow = arch.get("Dataflow")
    if dataflow is not None and dataflow.lower() not in DATAFLOWS:
        known = DATAFLOWS.names()
        problems.append(f"[architecture_presets] Dataflow: {dataflow!r} is not one of {', '.join(known)}"
                        f"{did_you_mean(dataflow.lower(), known)}")

    mode = values.get("run_presets", {}).get("InterfaceBandwidth")
    if mode is not None and mode.upper() not in BANDWIDTH_MODES:
        problems.append(f"[run_presets] InterfaceBandwidth: {mode!r} is not CALC or USER")
    bandwidth = DEFAULT_BANDWIDTH_WORDS
    if "Bandwidth" in arch:
        # SCALE-Sim reads a comma-separated list and uses only its first element.
        first = arch["Bandwidth"].split(",")[0].strip()
        if first.isdigit() and int(first) > 0:
            bandwidth = int(first)
        else:
            problems.append(f"[architecture_presets] Bandwidth: {arch['Bandwidth']!r} is not a positive whole"
                            " number of words per cycle")
    if mode is not None and mode.upper() == "USER":
        problems.append("[run_presets] InterfaceBandwidth: USER (SCALE-Sim's DRAM stall model) is not"
                        " reproduced: a .cfg runs as SCALE-Sim's stall-free CALC mode; set"
                        " InterfaceBandwidth: CALC, or write a YAML config with dram.bandwidth to have"
                        " accelsim's memory model add the stalls")

    if problems:
        raise ConfigError(source, problems)

    name = values["general"]["run_name"] or p.stem
    return {
        "version": 1,
        "name": name,
        "description": f"SCALE-Sim v2 config {p.name} (InterfaceBandwidth {mode.upper()}), imported",
        "source": source,
        "clock": "1 GHz",
        "timing": "scalesim",
        "pe_array": {"rows": rows, "cols": cols, "dataflow": dataflow.lower(), "precision": 8},
        "memories": [
            {"name": "ifmap_sram", "size": f"{sizes['IfmapSramSzkB']} KiB", "holds": ["inputs"],
             "double_buffered": True},
            {"name": "filter_sram", "size": f"{sizes['FilterSramSzkB']} KiB", "holds": ["weights"],
             "double_buffered": True},
            {"name": "ofmap_sram", "size": f"{sizes['OfmapSramSzkB']} KiB", "holds": ["outputs"],
             "double_buffered": True},
        ],
        "dram": {"bandwidth": f"{bandwidth} B/cycle"},
    }


def _suggest(low_key: str, canon: dict[str, str], allowed: tuple[str, ...]) -> str:
    """' (did you mean 'ArrayHeight'?)' in the canonical spelling, or the list of known keys."""
    if not did_you_mean(low_key, canon):
        return f" (known keys: {', '.join(allowed)})"
    best = difflib.get_close_matches(low_key, list(canon), n=1, cutoff=0.5)[0]
    return f" (did you mean {canon[best]!r}?)"


def _configparser_problem(exc: configparser.Error) -> str:
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno}: {exc.line.strip()!r} comes before any [section] header"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"line {exc.lineno}: key {exc.option!r} is given twice in [{exc.section}]"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"line {exc.lineno}: section [{exc.section}] is given twice"
    if isinstance(exc, configparser.ParsingError):
        lines = ", ".join(f"line {n}: {text.strip()!r}" for n, text in exc.errors)
        return f"not a 'key: value' line: {lines}"
    return f"not a valid INI file: {exc}"


def _whole(values: dict[str, str], key: str, problems: list[str], minimum: int) -> int | None:
    raw = values.get(key)
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = None
    if n is None or n < minimum:
        what = "positive whole number" if minimum > 0 else "whole number >= 0"
        problems.append(f"[architecture_presets] {key}: {raw!r} is not a {what}")
        return None
    return n


def _positive(values: dict[str, str], key: str, problems: list[str]) -> int | None:
    return _whole(values, key, problems, minimum=1)
