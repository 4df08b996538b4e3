"""What a dataflow is: which GEMM dimension goes to the array's rows, its columns, and time.

A dataflow is data (SCALE-Sim's three-row table), not a class hierarchy of copied simulators:

    dataflow  rows (Sr)  cols (Sc)  time (T)   stationary
    os        M          N          K          outputs
    ws        K          N          M          weights
    is        K          M          N          inputs

Operands index the dims inputs (M, K), weights (K, N), outputs (M, N).  Every rule that differs
between dataflows follows from a row; none looks at a dataflow's name:

* the stationary operand is the one the time dim does not index (checked against the declared one);
* an operand is read (outputs: written) once per fold of the dim it does not index: the
  stationary operand once;
* outputs stationary: sums stay in the PEs and the results drain; otherwise the stationary operand
  is preloaded and partial sums flow through the array, and (accelsim timing) are read back from
  the buffer once per fold of K after the first;
* a sparse weight schedule shrinks where N and K sit (sim/dataflows/sparse.py).

Folds: row_folds = ceil(Sr / R), col_folds = ceil(Sc / C); column fold outer; each fold is padded
to the full R x C array.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.errors import ConfigError
from accelsim.registry import DATAFLOWS

OPERAND_DIMS = {"inputs": "mk", "weights": "kn", "outputs": "mn"}


@dataclass(frozen=True)
class Dataflow:
    name: str
    rows_dim: str  # one of "m", "n", "k"
    cols_dim: str
    time_dim: str
    stationary: str  # operand held in the PEs: inputs / weights / outputs; must match the row
    description: str

    def __post_init__(self):
        dims = (self.rows_dim, self.cols_dim, self.time_dim)
        if sorted(dims) != ["k", "m", "n"]:
            raise ConfigError(f"dataflow {self.name!r}", [f"rows, cols, time dims {dims} are not m, n, k"])
        held = next(op for op, d in OPERAND_DIMS.items() if self.time_dim not in d)
        if self.stationary != held:
            raise ConfigError(f"dataflow {self.name!r}", [
                f"stationary: {self.stationary!r}, but with {self.time_dim} in time the PEs hold {held!r}"])

    def spatial(self, m: int, n: int, k: int) -> tuple[int, int, int]:
        """(Sr, Sc, T) of one GEMM group."""
        dims = {"m": m, "n": n, "k": k}
        return dims[self.rows_dim], dims[self.cols_dim], dims[self.time_dim]

    def axis(self, dim: str) -> str:
        """"rows", "cols" or "time": where ``dim`` (m, n or k) sits."""
        return {self.rows_dim: "rows", self.cols_dim: "cols", self.time_dim: "time"}[dim]

    def streams(self, operand: str) -> bool:
        """True if ``operand`` flows through the array in time (it indexes the time dim)."""
        return self.time_dim in OPERAND_DIMS[operand]

    @property
    def outputs_stationary(self) -> bool:
        """Sums stay in the PEs and drain (os); else partial sums flow and the stationary operand preloads."""
        return not self.streams("outputs")


for _row in (  # the dims table above, one row per dataflow
    Dataflow("os", "m", "n", "k", "outputs",
             "output stationary: rows take output pixels (M), columns filters (N), K streams in time"),
    Dataflow("ws", "k", "n", "m", "weights",
             "weight stationary: rows take the reduction (K), columns filters (N), output pixels stream"),
    Dataflow("is", "k", "m", "n", "inputs",
             "input stationary: rows take the reduction (K), columns output pixels (M), filters stream"),
):
    DATAFLOWS.add(_row.name, _row)


@dataclass(frozen=True)
class FoldPlan:
    """The dense tile plan of one GEMM group on an R x C array."""

    dataflow: str
    rows: int
    cols: int
    sr: int
    sc: int
    t: int

    @property
    def flow(self) -> Dataflow:
        """This plan's row of the dims table."""
        return DATAFLOWS.get(self.dataflow)

    @property
    def row_folds(self) -> int:
        return -(-self.sr // self.rows)

    @property
    def col_folds(self) -> int:
        return -(-self.sc // self.cols)

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    @property
    def mapping_efficiency(self) -> float:
        """Mean over folds of used PEs / (R * C)."""
        return (self.sr * self.sc) / (self.folds * self.rows * self.cols)

    def width(self, dim: str) -> int:
        """PEs along the array axis that holds ``dim`` (0 if ``dim`` is in time)."""
        return {"rows": self.rows, "cols": self.cols, "time": 0}[self.flow.axis(dim)]

    def folds_of(self, dim: str) -> int:
        """Folds of the array axis that holds ``dim`` (1 if ``dim`` is in time)."""
        return {"rows": self.row_folds, "cols": self.col_folds, "time": 1}[self.flow.axis(dim)]

    def passes(self, operand: str) -> int:
        """Times each element of ``operand`` is read (outputs: written): once per fold of the dim it
        does not index; once if that dim is in time (the stationary operand)."""
        return self.folds_of(next(d for d in "mnk" if d not in OPERAND_DIMS[operand]))


def plan_folds(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> FoldPlan:
    sr, sc, t = DATAFLOWS.get(dataflow).spatial(m, n, k)
    return FoldPlan(dataflow, rows, cols, sr, sc, t)
