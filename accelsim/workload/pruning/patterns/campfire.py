"""Campfire-style patterns (Gamboa et al., arXiv 2001.03253) -- accelsim's *readings* of them.

The paper's exact group definitions and its rule for 1x1 convs and FC layers are not public in
text we could read (reference/sparsity.md section 1), so these are clearly named, parametrised
options, not claims about the paper:

* ``window`` (intra-kernel, fixed count): inside every window W[k,c,:,:] keep exactly
  m = round((1 - target) * R*S) of the R*S weights (at least 1).  A 70 % target on a 3x3 conv
  keeps 3 of 9, i.e. 66.7 % achieved.  Equivalent to N:M with M = R*S along the window.
* ``channel`` (within a filter): whole windows W[k,c,:,:] are dropped, the **same number**
  d = round(target * C) in every filter k (at least one window kept), so every compressed filter
  has the same size.  On a 1x1 conv or a linear layer a window is one weight, and the pattern is
  a row-balanced element pruning (the same count per output channel); it needs C >= 2.
* ``combined``: ``channel`` then ``window`` inside the windows that survive.  The target density
  1 - target is split between the two as (1 - target) ** split for the window part (m rounded to a
  whole count) and the rest for the channel part; ``split`` = 0.5 by default (equal factors).

Default ``fallback`` is ``unstructured`` where the pattern has no structure (R*S == 1 for
window/combined, C == 1 for channel/combined).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.errors import ConfigError
from accelsim.registry import PATTERNS
from accelsim.workload.pruning.patterns.base import Pattern, group_sum, keep_top_per_row, n_kept_in, n_pruned


def window_keep(a: np.ndarray, m: int) -> np.ndarray:
    """Keep the m highest |scores| inside every R x S window of a [K, C, R, S] array."""
    k, c, r, s = a.shape
    return keep_top_per_row(a.reshape(k * c, r * s), m).reshape(a.shape)


def channel_keep(a: np.ndarray, dropped_per_filter: int) -> np.ndarray:
    """Bool [K, C]: the windows kept in every filter (the same count in each)."""
    windows = group_sum(a, (2, 3))
    return keep_top_per_row(windows, windows.shape[1] - dropped_per_filter)


@PATTERNS.register("window")
@dataclass(frozen=True)
class Window(Pattern):
    """Campfire intra-kernel (reading): exactly m of R*S kept in every window."""

    def fit_problem(self, kcrs, kind):
        return None if kcrs[2] * kcrs[3] > 1 else "1x1 kernel (or linear layer): a window is a single weight"

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        return window_keep(a, n_kept_in(1.0 - sparsity, a.shape[2] * a.shape[3]))


@PATTERNS.register("channel")
@dataclass(frozen=True)
class Channel(Pattern):
    """Campfire within-filter (reading): whole windows, the same count dropped per filter."""

    def fit_problem(self, kcrs, kind):
        return None if kcrs[1] > 1 else f"C={kcrs[1]} window per filter (depthwise): nothing to choose"

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        keep = channel_keep(a, n_pruned(sparsity, a.shape[1]))
        return np.broadcast_to(keep[:, :, None, None], a.shape).copy()


@PATTERNS.register("combined")
@dataclass(frozen=True)
class Combined(Pattern):
    """Campfire combined (reading): channel, then window inside the surviving windows."""

    split: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.split <= 1.0:
            raise ConfigError("pattern 'combined'", [f"split {self.split!r} must be in [0, 1]"])
        super().__post_init__()

    def counts(self, sparsity: float, c: int, window_size: int) -> tuple[int, int]:
        """(windows dropped per filter, weights kept per window) for a target."""
        density = 1.0 - sparsity
        m = n_kept_in(density**self.split, window_size)
        channel_density = min(1.0, density * window_size / m)
        return n_pruned(1.0 - channel_density, c), m

    def fit_problem(self, kcrs, kind):
        if kcrs[2] * kcrs[3] == 1:
            return "1x1 kernel (or linear layer): a window is a single weight"
        if kcrs[1] == 1:
            return f"C={kcrs[1]} window per filter (depthwise): no channel part"
        return None

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        dropped, m = self.counts(sparsity, a.shape[1], a.shape[2] * a.shape[3])
        return window_keep(a, m) & channel_keep(a, dropped)[:, :, None, None]
