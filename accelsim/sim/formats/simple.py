"""Formats that store any mask: dense, bitmask, CSR, COO (reference/sparsity.md section 4)."""

from __future__ import annotations

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, FormatParams, SparseFormat, pointer_bits


@SPARSE_FORMATS.register("dense")
class Dense(SparseFormat):
    """every value stored, no index: F * L * w bits"""

    name = "dense"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        return int(fibers.size) * value_bits, 0, 0

    def expected_bits(self, n_fibers, length, nnz, value_bits, params) -> Bits:
        return n_fibers * length * value_bits, 0, 0


@SPARSE_FORMATS.register("bitmask")
class Bitmask(SparseFormat):
    """one presence bit per element (Cambricon-X direct indexing, SparTen, SIGMA) + the nonzeros"""

    name = "bitmask"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        return int(np.count_nonzero(fibers)) * value_bits, int(fibers.size), 0

    def expected_bits(self, n_fibers, length, nnz, value_bits, params) -> Bits:
        return round(nnz) * value_bits, n_fibers * length, 0


def _csr(n_fibers: int, length: int, nnz: int, value_bits: int, params: FormatParams) -> Bits:
    meta = (n_fibers + 1) * pointer_bits(nnz) + nnz * params.coord_bits(length)
    return nnz * value_bits, meta, 0


@SPARSE_FORMATS.register("csr")
class CSR(SparseFormat):
    """compressed fibers: (F + 1) pointers of ceil(log2(nnz+1)) bits + one ceil(log2 L)-bit
    coordinate per nonzero (CSR over the [F, L] view; CSC of the [L, F] one)"""

    name = "csr"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        f, length = fibers.shape
        return _csr(f, length, int(np.count_nonzero(fibers)), value_bits, params)

    def expected_bits(self, n_fibers, length, nnz, value_bits, params) -> Bits:
        return _csr(n_fibers, length, round(nnz), value_bits, params)


def _coo(n_fibers: int, length: int, nnz: int, value_bits: int, params: FormatParams) -> Bits:
    return nnz * value_bits, nnz * (params.coord_bits(n_fibers) + params.coord_bits(length)), 0


@SPARSE_FORMATS.register("coo")
class COO(SparseFormat):
    """coordinate list: (fiber, position) per nonzero, ceil(log2 F) + ceil(log2 L) bits"""

    name = "coo"

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        f, length = fibers.shape
        return _coo(f, length, int(np.count_nonzero(fibers)), value_bits, params)

    def expected_bits(self, n_fibers, length, nnz, value_bits, params) -> Bits:
        return _coo(n_fibers, length, round(nnz), value_bits, params)
