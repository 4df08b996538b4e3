"""N:M: at most N nonzeros in every M consecutive positions of a fiber (along C for weights)."""

from __future__ import annotations

import numpy as np

from accelsim.registry import SPARSE_FORMATS
from accelsim.sim.formats.base import Bits, FormatParams, SparseFormat, as_fibers, kernels, n_choose_k_bits


def nm_fit_problem(fibers: np.ndarray, params: FormatParams) -> str | None:
    """Why the mask is not N:M along its fibers (None when every group of M holds <= N)."""
    n, m = params.nm
    most = int(kernels().group_max(as_fibers(fibers), m))
    if most <= n:
        return None
    along = "C" if params.channels and params.channels % m == 0 else "K"
    return f"mask is not {n}:{m} along {along} (a group of {m} holds {most} nonzeros)"


@SPARSE_FORMATS.register("nm")
class NM(SparseFormat):
    """N slots per group of M (explicit zeros fill a group with fewer), positional or minimal index

    Groups are M consecutive positions of a fiber, aligned to its start (a last partial group
    counts as a full one).  Per group: N values; metadata N * ceil(log2 M) bits (``positional``,
    NVIDIA: 2 bits per kept value of 2:4) or ceil(log2 C(M, N)) (``minimal``: 3 bits for 2:4).
    A mask with more than N nonzeros in some group does not fit (``fit_problem``).
    """

    name = "nm"
    general = False

    def fit_problem(self, fibers: np.ndarray, params: FormatParams) -> str | None:
        return nm_fit_problem(fibers, params)

    def bits(self, fibers: np.ndarray, value_bits: int, params: FormatParams) -> Bits:
        n, m = params.nm
        f, length = fibers.shape
        groups = f * (-(-length // m))
        if params.nm_encoding == "minimal":
            meta = groups * n_choose_k_bits(m, n)
        else:
            meta = groups * n * params.coord_bits(m)
        slots = groups * n
        return slots * value_bits, meta, slots - int(np.count_nonzero(fibers))
