"""N:M: at most N nonzeros in every M consecutive positions of a fiber (along C for weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats import kernels
from accelsim.sim.formats.base import (
    Bits,
    Geometry,
    Indexed,
    PackedFibers,
    as_fibers,
    n_choose_k_bits,
    nonzeros,
)
from accelsim.spec.config import choice, config_key, dims

ENCODINGS = ("positional", "minimal")


def nm_ratio(value: Any) -> tuple[int, int]:
    """``2:4`` -> (2, 4); N (kept) must be <= M."""
    n, m = dims(value)
    if n > m:
        raise ValueError(f"N:M with N={n} > M={m}; N (kept) must be <= M")
    return n, m


@SPARSE_FORMATS.register("nm")
@dataclass(frozen=True)
class NM(Indexed):
    """N slots per group of M (explicit zeros fill a group with fewer), positional or minimal index

    Groups are M consecutive positions of a fiber, aligned to its start (a last partial group
    counts as a full one).  Per group: N values; metadata N * ceil(log2 M) bits (``nm_encoding:
    positional``, NVIDIA: 2 bits per kept value of 2:4) or ceil(log2 C(M, N)) (``minimal``: 3 bits
    for 2:4).  A mask with more than N nonzeros in some group does not fit (``fit_problem``).
    """

    nm: tuple[int, int] = config_key((2, 4), nm_ratio)
    nm_encoding: str = config_key("positional", choice(*ENCODINGS))

    @property
    def bus_lanes(self) -> int:
        """The positions the datapath's mux picks a kept weight's activation from: a group of M."""
        return self.nm[1]

    general = False
    exploitable = ("nm",)
    takes_packed = True

    def packs(self, length: int) -> bool:
        """Packed fibers when no group straddles a byte: M divides 8 and every fiber starts on a byte."""
        return 8 % self.nm[1] == 0 and length % 8 == 0

    def fit_problem(self, fibers: np.ndarray, geometry: Geometry) -> str | None:
        """Why the mask is not N:M along its fibers (None when every group of M holds <= N)."""
        n, m = self.nm
        if isinstance(fibers, PackedFibers):
            most = kernels.packed_group_max(fibers.bits, m)
        else:
            most = int(kernels.group_max(as_fibers(fibers), m))
        if most <= n:
            return None
        along = "C" if geometry.channels and geometry.channels % m == 0 else "K"
        return f"mask is not {n}:{m} along {along} (a group of {m} holds {most} nonzeros)"

    def bits(self, fibers: np.ndarray, value_bits: int, geometry: Geometry) -> Bits:
        n, m = self.nm
        f, length = fibers.shape
        groups = f * (-(-length // m))
        if self.nm_encoding == "minimal":
            meta = groups * n_choose_k_bits(m, n)
        else:
            meta = groups * n * self.coord_bits(m)
        slots = groups * n
        return slots * value_bits, meta, slots - nonzeros(fibers)
