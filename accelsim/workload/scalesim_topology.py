"""Read a SCALE-Sim v2 topology ``.csv`` (conv or GEMM form) as a Workload of dense layers.

The conventions SCALE-Sim itself follows and how this reader mirrors them are written in
``accelsim.spec.scalesim``'s docstring (output size, depthwise ``DP`` rows, the GEMM form).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from accelsim.errors import ConfigError
from accelsim.spec.config import read_text
from accelsim.workload.layer import ConvShape, Layer, Workload

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                "Num Filter", "Strides", "Stride Width")
GEMM_COLUMNS = ("Layer name", "M", "N", "K")
# A row whose input, weight or output matrix (GEMM view, all groups) holds more than 2^28 values is
# refused at load time: that is 28 x the largest row of the shipped topologies (9.4 M weights), and
# such a row is a typo; simulated, it runs for minutes and can end in a MemoryError.
MAX_VALUES = 2**28


def read_scalesim_topology(path: str | Path, *, name: str | None = None) -> Workload:
    """A SCALE-Sim topology ``.csv`` (conv or GEMM form) as a Workload of dense layers, batch 1.

    Bad rows raise one ConfigError naming the file, and each bad line and column; so does a row
    larger than MAX_VALUES, before anything of its size is allocated."""
    p = Path(path)
    source = str(p)
    text = read_text(p, encoding="utf-8-sig", expected="a SCALE-Sim topology .csv")

    lines = text.splitlines()
    if not lines:
        raise ConfigError(source, ["the file is empty; expected a header line and one row per layer"])
    header = [f.strip().lower() for f in lines[0].split(",")]
    gemm = header[1:4] == ["m", "n", "k"]

    problems: list[str] = []
    layers: list[Layer] = []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = [f.strip() for f in line.split(",")]
        if not any(fields):
            continue  # blank line, or a spacer row of empty fields (Resnet50.csv)
        row_problems: list[str] = []
        layer = _gemm_row(fields, lineno, row_problems) if gemm else _conv_row(fields, lineno, row_problems)
        problems += row_problems
        if layer is not None:
            layers.append(layer)  # names need not be unique: SCALE-Sim identifies layers by position
    if not layers and not problems:
        problems.append("no layers: expected one row per layer after the header")
    if problems:
        raise ConfigError(source, problems)

    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Workload(name=name or p.stem, layers=tuple(layers), source=source, batch=1,
                    fingerprint=f"scalesim-csv:{digest}")


def _ints(fields: list[str], columns: tuple[str, ...], lineno: int, problems: list[str]) -> list[int] | None:
    """Parse fields[1:len(columns)] as positive whole numbers; report each bad one with its column."""
    out: list[int] = []
    for col in range(1, len(columns)):
        raw = fields[col] if col < len(fields) else ""
        where = f"line {lineno}, column {col + 1} ({columns[col]})"
        if raw == "":
            problems.append(f"{where}: value is missing")
            continue
        try:
            value = int(raw)
        except ValueError:
            value = 0
            problems.append(f"{where}: {raw!r} is not a whole number")
        else:
            if value <= 0:
                problems.append(f"{where}: {raw!r} must be larger than 0")
        out.append(value)
    return out if len(out) == len(columns) - 1 and all(v > 0 for v in out) else None


def _layer_name(fields: list[str], lineno: int, problems: list[str]) -> str:
    if not fields[0]:
        problems.append(f"line {lineno}, column 1 (Layer name): the layer name is empty")
    return fields[0]


def _gemm_row(fields: list[str], lineno: int, problems: list[str]) -> Layer | None:
    name = _layer_name(fields, lineno, problems)
    values = _ints(fields, GEMM_COLUMNS, lineno, problems)
    if values is None or not name:
        return None
    m, n, k = values
    if _too_big(lineno, name, 1, m, n, k, "M, N, K", problems):
        return None
    return Layer(name=name, kind="linear", m=m, n=n, k=k, weight_mask=np.ones((n, k), dtype=bool))


def _conv_row(fields: list[str], lineno: int, problems: list[str]) -> Layer | None:
    name = _layer_name(fields, lineno, problems)
    values = _ints(fields, CONV_COLUMNS[:8], lineno, problems)
    stride_w = None
    if len(fields) > 8 and fields[8] != "":  # optional separate horizontal stride; later columns ignored
        try:
            stride_w = int(fields[8])
        except ValueError:
            stride_w = 0
        if stride_w <= 0:
            problems.append(f"line {lineno}, column 9 (Stride Width): {fields[8]!r} is not a whole number"
                            " larger than 0")
            return None
    if values is None or not name:
        return None
    in_h, in_w, f_h, f_w, channels, filters, stride_h = values
    stride_w = stride_w or stride_h
    too_big = [f"line {lineno}, column {col} (Filter {d.title()}): {f} is larger than the IFMAP {d} {size}"
               for col, d, f, size in ((4, "height", f_h, in_h), (5, "width", f_w, in_w)) if f > size]
    if too_big:
        problems += too_big
        return None
    out_h, out_w = scalesim_output_size(in_h, f_h, stride_h), scalesim_output_size(in_w, f_w, stride_w)
    depthwise = "DP" in name
    groups = channels if depthwise else 1
    out_channels = channels * filters if depthwise else filters
    k = f_h * f_w * (1 if depthwise else channels)
    if _too_big(lineno, name, groups, out_h * out_w, filters, k,
                "IFMAP Height and Width, Channels, Num Filter", problems):
        return None
    shape = ConvShape(batch=1, in_channels=channels, out_channels=out_channels, in_h=in_h, in_w=in_w,
                      out_h=out_h, out_w=out_w, kernel_h=f_h, kernel_w=f_w, stride_h=stride_h,
                      stride_w=stride_w, groups=groups)
    return Layer(
        name=name,
        kind="depthwise" if depthwise else "conv",
        m=out_h * out_w,
        n=filters,
        k=k,
        groups=groups,
        weight_mask=np.ones((out_channels, channels // groups, f_h, f_w), dtype=bool),
        conv=shape,
    )


def _too_big(lineno: int, name: str, groups: int, m: int, n: int, k: int, columns: str,
             problems: list[str]) -> bool:
    """Report the largest matrix of the GEMM view ``groups`` x (m x k) . (k x n) if it holds more than
    MAX_VALUES."""
    values, what, rows, cols = max((groups * r * c, what, r, c) for what, r, c in
                                   (("input", m, k), ("weight", k, n), ("output", m, n)))
    if values > MAX_VALUES:
        problems.append(f"line {lineno} ({name}): its {what} matrix holds {values:,} values ({groups} x"
                        f" {rows:,} x {cols:,}), more than {MAX_VALUES:,} (2^28); check {columns} for a typo")
    return values > MAX_VALUES


def scalesim_output_size(size: int, kernel: int, stride: int) -> int:
    """SCALE-Sim's output size without padding: ceil((size - kernel + stride) / stride).

    One more than PyTorch's floor((size - kernel) / stride) + 1 when stride does not divide
    size - kernel: SCALE-Sim keeps a last window that hangs over the edge."""
    return -(-(size - kernel + stride) // stride)

