"""Mask studies on pruned workloads: how similar two methods' (or seeds') masks are, how much
structure an element-wise method grows, and what that structure buys on hardware.

* ``compare_masks(a, b)`` -- per layer, the Jaccard similarity |A and B| / |A or B| of the kept
  weights (1.0 when both keep nothing), beside the similarity two *independent random* masks of the
  same densities would have on average, ``p q / (p + q - p q)`` (E|A and B| = p q N and
  E|A or B| = (p + q - p q) N).  Paganini & Forde 2020 ask this of IMP with rewinding vs
  re-initialisation.
* ``mask_structure(w)`` -- per layer, the fraction of empty kernels W[k, c, :, :], empty input
  channels W[:, c] and empty filters W[k] against a random mask of the same density d: each of the
  g weights of a group is kept independently with probability d, so a group is empty with the
  binomial probability (1 - d)^g (g = R S, K R S and C R S).  For a linear layer a "kernel" is one
  weight (g = 1), an input channel a column, a filter a row.
* ``hardware_costs(w, hws)`` -- cycles, energy and metadata bits of one workload on each config
  (accelsim.sim.simulator.simulate).

Only layers that hold a weight mask take part (activation x activation layers have none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from accelsim.errors import AccelsimError


def layer_masks(workload) -> dict[str, np.ndarray]:
    """{layer name: bool keep-mask of the weight's own shape} for every layer that has one."""
    return {layer.name: np.asarray(layer.weight_mask, dtype=bool) for layer in workload.layers
            if layer.weight_mask is not None}


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|a and b| / |a or b| over kept (True) entries; 1.0 when neither keeps anything."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise AccelsimError(f"masks of shapes {a.shape} and {b.shape} cannot be compared")
    union = int(np.count_nonzero(a | b))
    return 1.0 if union == 0 else int(np.count_nonzero(a & b)) / union


def random_jaccard(p: float, q: float) -> float:
    """The Jaccard similarity two independent random masks of densities p and q have on average
    (large layers): p q / (p + q - p q); 1.0 when both are empty."""
    union = p + q - p * q
    return 1.0 if union <= 0 else p * q / union


@dataclass(frozen=True)
class LayerSimilarity:
    name: str
    shape: tuple[int, ...]
    density_a: float
    density_b: float
    jaccard: float
    random_jaccard: float


def compare_masks(a, b) -> list[LayerSimilarity]:
    """Per-layer similarity of two workloads' masks (the layers both have, matched by name and shape)."""
    ma, mb = layer_masks(a), layer_masks(b)
    common = [n for n in ma if n in mb]
    if not common:
        raise AccelsimError(f"workloads {a.name!r} and {b.name!r} have no weight layer in common")
    out = []
    for n in common:
        if ma[n].shape != mb[n].shape:
            raise AccelsimError(f"layer {n!r}: weight shapes {ma[n].shape} and {mb[n].shape} differ "
                                "(the two workloads are different models)")
        pa, pb = float(ma[n].mean()), float(mb[n].mean())
        out.append(LayerSimilarity(n, tuple(ma[n].shape), pa, pb, jaccard(ma[n], mb[n]),
                                   random_jaccard(pa, pb)))
    return out


def weighted_jaccard(rows: Sequence[LayerSimilarity]) -> float:
    """The layers' Jaccard similarities averaged with each layer's weight count as its weight."""
    sizes = np.array([int(np.prod(r.shape)) for r in rows], dtype=float)
    return float(np.dot(sizes, [r.jaccard for r in rows]) / sizes.sum()) if sizes.sum() else 1.0


def similarity_matrix(workloads: Sequence) -> np.ndarray:
    """Weighted-mean Jaccard similarity of every pair (symmetric, 1 on the diagonal)."""
    n = len(workloads)
    m = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            m[i, j] = m[j, i] = weighted_jaccard(compare_masks(workloads[i], workloads[j]))
    return m


@dataclass(frozen=True)
class LayerStructure:
    """Observed fraction of empty groups and the binomial expectation of a random mask of the same
    density (``kernels_*`` is None for layers whose kernel is one weight)."""

    name: str
    shape: tuple[int, ...]
    density: float
    kernels_empty: float | None
    kernels_random: float | None
    in_channels_empty: float
    in_channels_random: float
    filters_empty: float
    filters_random: float


def _kcrs(mask: np.ndarray) -> np.ndarray:
    return mask[:, :, None, None] if mask.ndim == 2 else mask


def mask_structure(workload) -> list[LayerStructure]:
    out = []
    for name, mask in layer_masks(workload).items():
        w = _kcrs(mask)
        k, c, r, s = w.shape
        d = float(w.mean()) if w.size else 1.0
        kept_kernel = w.any(axis=(2, 3))
        window = r * s > 1
        out.append(LayerStructure(
            name=name, shape=tuple(mask.shape), density=d,
            kernels_empty=float((~kept_kernel).mean()) if window else None,
            kernels_random=(1.0 - d) ** (r * s) if window else None,
            in_channels_empty=float((~kept_kernel.any(axis=0)).mean()),
            in_channels_random=(1.0 - d) ** (k * r * s),
            filters_empty=float((~kept_kernel.any(axis=1)).mean()), filters_random=(1.0 - d) ** (c * r * s)))
    return out


def empty_kernel_fraction(workload) -> float | None:
    """Empty kernels over all conv kernels (R S > 1) of the workload; None when it has none."""
    total = empty = 0
    for mask in layer_masks(workload).values():
        if mask.ndim == 4 and mask.shape[2] * mask.shape[3] > 1:
            kept = mask.any(axis=(2, 3))
            total += kept.size
            empty += int(np.count_nonzero(~kept))
    return empty / total if total else None


COST_KEYS = ("total_cycles", "energy_pj", "metadata_bits", "macs_issued")


def hardware_costs(workload, hardware: Mapping[str, object] | Sequence) -> dict[str, dict[str, float]]:
    """{config name: {total_cycles, energy_pj, metadata_bits, macs_issued}} of ``workload`` on each
    config (HardwareConfig objects, or names / paths for accelsim.spec.hardware.load_hardware)."""
    from accelsim.sim.simulator import simulate
    from accelsim.spec.hardware import load_hardware

    items = hardware.items() if isinstance(hardware, Mapping) else ((str(h), h) for h in hardware)
    out = {}
    for label, hw in items:
        config = load_hardware(hw) if isinstance(hw, str) else hw
        totals = simulate(config, workload).totals()
        out[getattr(config, "name", label) or label] = {k: totals[k] for k in COST_KEYS}
    return out
