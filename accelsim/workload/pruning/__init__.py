"""Pruning: patterns (granularities, numpy only) and applying them to torch models.

``patterns`` is imported eagerly (no torch); ``apply`` (torch) is loaded on first use of one of its
names, so reading a cached workload never imports torch.
"""

from __future__ import annotations

from accelsim.workload.pruning.patterns import (
    FALLBACKS,
    PATTERNS,
    Pattern,
    achieved,
    check_sparsity,
    make_pattern,
    pattern_names,
)

_APPLY_NAMES = ("prunable_layers", "apply_masks", "prune_model", "PruneResult", "LayerPrune", "RULES")

__all__ = ["FALLBACKS", "PATTERNS", "Pattern", "achieved", "check_sparsity", "make_pattern",
           "pattern_names", *_APPLY_NAMES]


def __getattr__(name: str):
    if name in _APPLY_NAMES:
        from accelsim.workload.pruning import apply

        return getattr(apply, name)
    raise AttributeError(f"module 'accelsim.workload.pruning' has no attribute {name!r}")
