"""Formats that store any mask: dense, bitmask, CSR, COO (reference/sparsity.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, Indexed, SparseFormat, pointer_bits


@SPARSE_FORMATS.register("dense")
@dataclass(frozen=True)
class Dense(SparseFormat):
    """every value stored, no index: F * L * w bits"""

    stores_activations = True
    takes_packed = True
    exploitable = ()

    def expected_bits(self, n_fibers, length, nnz, value_bits) -> Bits:
        return n_fibers * length * value_bits, 0, 0


@SPARSE_FORMATS.register("bitmask")
@dataclass(frozen=True)
class Bitmask(SparseFormat):
    """one presence bit per element (Cambricon-X direct indexing, SparTen, SIGMA) + the nonzeros"""

    stores_activations = True
    takes_packed = True

    def expected_bits(self, n_fibers, length, nnz, value_bits) -> Bits:
        return round(nnz) * value_bits, n_fibers * length, 0


@SPARSE_FORMATS.register("csr")
@dataclass(frozen=True)
class CSR(Indexed):
    """compressed fibers: (F + 1) pointers of ceil(log2(nnz+1)) bits + one ceil(log2 L)-bit
    coordinate per nonzero (CSR over the [F, L] view; CSC of the [L, F] one)"""

    stores_activations = True

    def expected_bits(self, n_fibers, length, nnz, value_bits) -> Bits:
        nnz = round(nnz)
        meta = (n_fibers + 1) * pointer_bits(nnz) + nnz * self.coord_bits(length)
        return nnz * value_bits, meta, 0


@SPARSE_FORMATS.register("coo")
@dataclass(frozen=True)
class COO(Indexed):
    """coordinate list: (fiber, position) per nonzero, ceil(log2 F) + ceil(log2 L) bits"""

    stores_activations = True

    def expected_bits(self, n_fibers, length, nnz, value_bits) -> Bits:
        nnz = round(nnz)
        return nnz * value_bits, nnz * (self.coord_bits(n_fibers) + self.coord_bits(length)), 0
