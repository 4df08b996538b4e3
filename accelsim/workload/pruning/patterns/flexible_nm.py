"""Flexible N:M (VEGETA, Jeong et al., HPCA 2023: one M = 4 engine runs 1:4, 2:4 or 4:4 per layer).

``nmflex`` is N:M along C with M = 4 whose N is the layer's own: the supported N (the powers of two
up to M: 1, 2, 4) nearest to (1 - target) * M, ties to the larger.  With ``scope: layer`` every
layer gets the same N; with ``scope: global`` (recipe resnet50_nmflex_global) one magnitude
threshold over the model sets each layer's target first, so N is picked per layer: the recipe
that picks N per layer.  The achieved density is N / M (``target_for`` says so).  A layer whose C
is not a multiple of M is left dense (N:M's fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from accelsim.registry import PATTERNS
from accelsim.spec.recipe import check_sparsity
from accelsim.workload.pruning.patterns.base import NM


def supported_n(m: int) -> tuple[int, ...]:
    """The N a flexible M engine runs: the powers of two up to M (VEGETA: 1, 2, 4 of 4)."""
    return tuple(1 << i for i in range(m.bit_length()) if 1 << i <= m)


@PATTERNS.register("nmflex")
@dataclass(frozen=True)
class NMFlex(NM):
    """N:M along C, N per layer from {1, 2, 4} of M = 4: the supported N nearest the layer's target"""

    n: int | None = None
    m: int = 4

    spelled: ClassVar[tuple[str, ...]] = ()

    def kept_per_group(self, sparsity: float) -> int:
        if self.n is not None:
            return self.n
        want = (1.0 - check_sparsity(sparsity)) * self.m
        return min(supported_n(self.m), key=lambda n: (abs(n - want), -n))

    def target_for(self, sparsity: float) -> float:
        return 1.0 - self.kept_per_group(sparsity) / self.m
