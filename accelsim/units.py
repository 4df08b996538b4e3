"""Parse quantities written with their units: "256 KiB", "1 GHz", "16 GB/s", "32 B/cycle", "100 ns".

Each parser returns a number in the unit its name says, or raises ValueError whose message is a
complete hint ("'64KB' is not a size; write e.g. '64 KiB'").
"""

from __future__ import annotations

import math
import re

_NUM = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_SIZE_UNITS = {
    "B": 1, "bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "kB": 1000, "MB": 1000**2, "GB": 1000**3,
}
_FREQ_UNITS = {"hz": 1e-6, "khz": 1e-3, "mhz": 1.0, "ghz": 1e3}
_TIME_UNITS_NS = {"ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6}


def _split(text: object) -> tuple[float, str]:
    """(number, unit as written); the unit is '' for a bare number and for anything not a finite quantity."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text), ""
    m = re.fullmatch(_NUM + r"\s*([A-Za-z/]*)", str(text).strip())
    value, unit = (float(m.group(1)), m.group(2)) if m else (0.0, "")
    return (value, unit) if math.isfinite(value) else (0.0, "")


def parse_size_bytes(text: object) -> int:
    """'256 KiB' -> 262144.  Binary (KiB, MiB, GiB) and decimal (kB, MB, GB) units; 'KB' is refused
    as ambiguous.  A bare number is refused too: a size always says its unit."""
    value, unit = _split(text)
    if unit in _SIZE_UNITS and value >= 0 and float(value * _SIZE_UNITS[unit]).is_integer():
        return int(value * _SIZE_UNITS[unit])
    raise ValueError(f"{text!r} is not a size; write e.g. '64 KiB', '2 MiB' or '512 B'")


def parse_frequency_mhz(text: object) -> float:
    """'1 GHz' -> 1000.0; a clock of 0 is refused: every rate in GB/s and time in ns divides by it."""
    value, unit = _split(text)
    if unit.lower() in _FREQ_UNITS and value > 0:
        return value * _FREQ_UNITS[unit.lower()]
    raise ValueError(f"{text!r} is not a frequency larger than 0; write e.g. '1 GHz' or '800 MHz'")


def parse_bandwidth_bytes_per_cycle(text: object, clock_mhz: float) -> float:
    """'32 B/cycle' as is; 'N GB/s' (decimal) converted with the clock: bytes/s / Hz.  0 is refused
    (nothing would ever arrive)."""
    value, unit = _split(text)
    unit = unit.lower() if value > 0 else ""
    rates = {"b/s": 1.0, "kb/s": 1e3, "mb/s": 1e6, "gb/s": 1e9, "tb/s": 1e12,
             "kib/s": 1024.0, "mib/s": 1024.0**2, "gib/s": 1024.0**3}
    if unit in ("b/cycle", "bytes/cycle", "byte/cycle"):
        return value
    if unit in rates:
        return value * rates[unit] / (clock_mhz * 1e6)
    raise ValueError(f"{text!r} is not a bandwidth larger than 0; write e.g. '16 GB/s' or '32 B/cycle'")


def parse_latency_cycles(text: object, clock_mhz: float) -> int:
    """'100 cycles' as is; '50 ns' converted with the clock and rounded up."""
    value, unit = _split(text)
    if unit.lower() in ("cycle", "cycles") and value.is_integer():
        return int(value)
    if unit.lower() in _TIME_UNITS_NS:
        ns = value * _TIME_UNITS_NS[unit.lower()]
        return int(-(-ns * clock_mhz // 1000))
    raise ValueError(f"{text!r} is not a latency; write e.g. '100 cycles' or '50 ns'")


def format_size(n_bytes: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= scale and n_bytes % scale == 0:
            return f"{n_bytes // scale} {unit}"
    return f"{n_bytes} B"
