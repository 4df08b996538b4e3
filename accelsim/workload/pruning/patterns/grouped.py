"""Patterns whose groups are whole slices of W[K, C, R, S]: vector, kernel, filter, input channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from accelsim.registry import PATTERNS
from accelsim.workload.pruning.patterns.base import Pattern, group_sum, keep_top, n_pruned


@dataclass(frozen=True)
class _Grouped(Pattern):
    """Whole groups formed by summing |scores| over ``axes`` of [K, C, R, S]."""

    axes: ClassVar[tuple[int, ...]] = ()

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        scores = group_sum(a, self.axes)
        keep = keep_top(scores, n_pruned(sparsity, scores.size)).reshape(scores.shape)
        return np.broadcast_to(np.expand_dims(keep, self.axes), a.shape).copy()


@PATTERNS.register("vector")
@dataclass(frozen=True)
class Vector(_Grouped):
    """Kernel rows W[k,c,r,:] pruned whole (Mao et al. 2017 "1-D")."""

    axes: ClassVar[tuple[int, ...]] = (3,)

    def fit_problem(self, kcrs, kind):
        return None if kcrs[3] > 1 else f"kernel width S={kcrs[3]}: a kernel row is a single weight"


@PATTERNS.register("kernel")
@dataclass(frozen=True)
class Kernel(_Grouped):
    """Whole R x S windows W[k,c,:,:] pruned (Mao et al. 2017 "kernel-level")."""

    axes: ClassVar[tuple[int, ...]] = (2, 3)

    def fit_problem(self, kcrs, kind):
        return None if kcrs[2] * kcrs[3] > 1 else "1x1 kernel (or linear layer): a window is a single weight"


@PATTERNS.register("filter")
@dataclass(frozen=True)
class Filter(_Grouped):
    """Whole filters W[k,:,:,:] pruned (Li et al. 2017); removes GEMM rows."""

    axes: ClassVar[tuple[int, ...]] = (1, 2, 3)


@PATTERNS.register("input_channel")
@dataclass(frozen=True)
class InputChannel(_Grouped):
    """Whole input channels W[:,c,:,:] pruned; removes R*S GEMM columns each."""

    axes: ClassVar[tuple[int, ...]] = (0, 2, 3)

    def fit_problem(self, kcrs, kind):
        return None if kcrs[1] > 1 else f"C={kcrs[1]} input channel per group (depthwise): nothing to choose"


