"""What a dataflow is: which GEMM dimension goes to the array's rows, its columns, and time.

A dataflow is data (SCALE-Sim's three-row table), not a class hierarchy of copied simulators:

    dataflow  rows (Sr)  cols (Sc)  time (T)   stationary
    os        M          N          K          outputs
    ws        K          N          M          weights
    is        K          M          N          inputs

Folds: row_folds = ceil(Sr / R), col_folds = ceil(Sc / C); column fold outer; each fold is padded
to the full R x C array.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.registry import DATAFLOWS


@dataclass(frozen=True)
class Dataflow:
    name: str
    rows_dim: str  # one of "m", "n", "k"
    cols_dim: str
    time_dim: str
    stationary: str  # operand held in the PEs: inputs / weights / outputs
    description: str

    def spatial(self, m: int, n: int, k: int) -> tuple[int, int, int]:
        """(Sr, Sc, T) of one GEMM group."""
        dims = {"m": m, "n": n, "k": k}
        return dims[self.rows_dim], dims[self.cols_dim], dims[self.time_dim]


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




def plan_folds(dataflow: str, rows: int, cols: int, m: int, n: int, k: int) -> FoldPlan:
    sr, sc, t = DATAFLOWS.get(dataflow).spatial(m, n, k)
    return FoldPlan(dataflow, rows, cols, sr, sc, t)
