"""The base class of every pattern, the helpers behind the rules all patterns share (see the
package docstring), and the element-wise, N:M and block patterns.  numpy (and, for
large arrays of short groups, the numba kernel of accelsim.workload.pruning.kernels)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from accelsim.errors import ConfigError
from accelsim.registry import PATTERNS
from accelsim.spec.recipe import PatternSpec, check_sparsity, parse_pattern

FALLBACKS = ("unstructured", "dense", "nm", "error")
WEIGHT_KINDS = ("conv", "depthwise", "linear")


# ---------------------------------------------------------------- helpers shared by the patterns


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


def achieved(mask: np.ndarray) -> float:
    """Fraction of pruned (False) entries of a keep-mask."""
    mask = np.asarray(mask)
    return 0.0 if mask.size == 0 else 1.0 - np.count_nonzero(mask) / mask.size


def n_pruned(sparsity: float, groups: int) -> int:
    """How many of ``groups`` to prune for a target: round half up, at least one group kept."""
    return max(0, min(round_half_up(sparsity * groups), groups - 1))


def n_kept_in(density: float, size: int) -> int:
    """How many of ``size`` to keep in a fixed-count group (window, N:M with derived N): >= 1."""
    return max(1, min(round_half_up(density * size), size))


def keep_top(group_scores: np.ndarray, n_prune: int) -> np.ndarray:
    """Keep-mask over a 1-D array of group scores: the ``n_prune`` lowest are pruned, ties pruned in
    index order.  O(n) (np.partition), deterministic."""
    v = np.asarray(group_scores).ravel()
    if n_prune <= 0:
        return np.ones(v.shape, dtype=bool)
    thr = kth_smallest(v, n_prune - 1)
    keep = v > thr
    missing = v.size - n_prune - int(np.count_nonzero(keep))  # ties at thr still to keep: the last ones
    if missing > 0:
        ties = np.flatnonzero(v == thr)
        keep[ties[ties.size - missing:]] = True
    return keep


def kth_smallest(v: np.ndarray, k: int):
    """``np.partition(v, k)[k]`` of a 1-D array, 2x faster on large ones: a sorted strided sample
    brackets the k-th value, and only the scores inside the bracket are partitioned.  Exact: when
    the bracket misses (or holds a NaN) the whole array is partitioned."""
    n = v.size
    if n < 1 << 22 or not 0 <= k < n:
        return np.partition(v, k)[k]
    sample = np.sort(v[:: n >> 16])
    at, margin = k / n * sample.size, 8 * math.sqrt(sample.size) + 8
    lo, hi = sample[max(0, int(at - margin))], sample[min(sample.size - 1, int(at + margin))]
    below = np.count_nonzero(v < lo)  # NaN is neither below nor inside: it sorts last anyway
    inside = v[(v >= lo) & (v <= hi)]
    if below <= k < below + inside.size:
        return np.partition(inside, k - below)[k - below]
    return np.partition(v, k)[k]


def keep_top_per_row(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep-mask over a 2-D array [groups, L]: the ``n_keep`` highest of every row, ties kept in
    index order (stable sort)."""
    scores = np.asarray(scores)
    return keep_top_in_groups(scores.reshape(*scores.shape, 1), n_keep).reshape(scores.shape)


# Short groups go to the numba kernel (accelsim.workload.pruning.kernels, O(L^2) per group), longer
# ones to a stable argsort; benchmarks/results/prune_speed.md has the measurements behind both limits.
KERNEL_MAX_LENGTH = 49  # 13x faster at L = 4, 2x at 16, 1.2x at 49 (7x7 windows), even at 64
KERNEL_MIN_SIZE = 1 << 24  # numba import + cache load (0.5-1 s) pays off only from ~16 M scores
_KERNEL_DTYPES = frozenset(map(np.dtype, (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64)))


def _use_kernel(scores: np.ndarray, n_keep: int) -> bool:
    if not (1 <= scores.shape[1] <= KERNEL_MAX_LENGTH and n_keep >= 0 and scores.dtype in _KERNEL_DTYPES):
        return False
    if scores.size < KERNEL_MIN_SIZE and "accelsim.workload.pruning.kernels" not in sys.modules:
        return False
    # the argsort below negates: for the most negative integer -x == x; leave that case to it
    return scores.dtype.kind == "f" or scores.size == 0 or scores.min() > np.iinfo(scores.dtype).min


def keep_top_in_groups(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """Keep-mask over a 3-D array [A, L, B] whose groups are ``scores[a, :, b]``: the ``n_keep``
    highest of every group, ties kept in index order (what a stable descending sort keeps).  The
    [A, L, B] view spares the transposes: N:M along C of a C-contiguous [K, C, R, S] weight is its
    view [K * C / M, M, R * S]."""
    if _use_kernel(scores, n_keep):
        from accelsim.workload.pruning.kernels import top_in_groups

        return top_in_groups(scores, n_keep)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :n_keep]
    keep = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    return keep


def group_sum(abs_scores: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Group score: the sum of |score| over ``axes``, accumulated in float64."""
    return abs_scores.sum(axis=axes, dtype=np.float64)


# ---------------------------------------------------------------- the base class


@dataclass(frozen=True)
class Pattern:
    """Base of every pattern.  Subclasses (named by their registration) implement ``_mask4`` (on [K, C, R, S]
    |scores|, returning a bool [K, C, R, S]) and, if the pattern can fail to fit, ``fit_problem``."""

    fallback: str = "unstructured"
    nm_m: int = 4  # M of the N:M used by fallback "nm"

    name: ClassVar[str] = ""
    spelled: ClassVar[tuple[str, ...]] = ()  # the fields written in the spec (nm2:4: n, m)

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ConfigError(f"pattern {self.spec!r}", [f"fallback {self.fallback!r} is not one of "
                                                         f"{', '.join(FALLBACKS)}"])
        if self.nm_m < 1:
            raise ConfigError(f"pattern {self.spec!r}", [f"nm_m {self.nm_m!r} must be >= 1"])

    # --- naming
    @property
    def spec(self) -> str:
        """Canonical spec string, parsed back by make_pattern (fallback not included)."""
        return str(PatternSpec(self.name, tuple((f, getattr(self, f)) for f in self.spelled)))

    def target_for(self, sparsity: float) -> float:
        """The sparsity this pattern aims at for a requested target (N:M with a fixed N overrides)."""
        return check_sparsity(sparsity)

    # --- fitting
    def fit_problem(self, kcrs: tuple[int, int, int, int], kind: str) -> str | None:
        """Why the pattern has no structure on a [K, C, R, S] weight, or None when it fits."""
        return None

    def resolve(self, shape: tuple[int, ...], kind: str, name: str = "") -> tuple[Pattern | None, str]:
        """The pattern actually applied to a weight of ``shape`` (None = left dense) and a note
        saying why it is not this one ('' when it is)."""
        problem = self.fit_problem(_kcrs(shape), kind)
        if problem is None:
            return self, ""
        where = f"layer {name!r}" if name else "layer"
        if self.fallback == "error":
            raise ConfigError(f"pattern {self.spec!r} on {where}", [
                f"{problem}; choose another fallback (unstructured, dense, nm) or exclude the layer"])
        if self.fallback == "dense":
            return None, f"{self.spec}: {problem}; left dense"
        if self.fallback == "unstructured":
            return Unstructured(), f"{self.spec}: {problem}; unstructured at the same target"
        nm = NM(n=None, m=self.nm_m, fallback="dense")
        inner, inner_note = nm.resolve(shape, kind, name)
        note = f"{self.spec}: {problem}; {nm.spec} along C"
        return inner, note + (f" ({inner_note})" if inner_note else "")

    # --- masks
    def mask(self, scores: np.ndarray, sparsity: float, *, kind: str, name: str = "") -> np.ndarray:
        """Keep-mask (bool, shape of ``scores``) pruning about ``sparsity`` of the weights."""
        s = check_sparsity(sparsity)
        scores, nonnegative = _check_scores(scores, kind, name)
        pattern, _ = self.resolve(scores.shape, kind, name)
        if pattern is None:
            return np.ones(scores.shape, dtype=bool)
        # |scores| == scores when none is negative (a -0.0 compares equal to 0.0): no copy then
        a = (scores if nonnegative else np.abs(scores)).reshape(_kcrs(scores.shape))
        return pattern._mask4(a, s).reshape(scores.shape)

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:  # pragma: no cover - abstract
        """``a`` is |scores| as [K, C, R, S], possibly a view of the caller's scores: read it only."""
        raise NotImplementedError


def _kcrs(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A weight's shape as [K, C, R, S]: a linear (out, in) is [K, C, 1, 1]."""
    return (*shape, 1, 1)[:4]


def _check_scores(scores: np.ndarray, kind: str, name: str) -> tuple[np.ndarray, bool]:
    """``scores`` as an array, checked, and whether none is negative (one pass: the minimum)."""
    where = f"layer {name!r}" if name else "scores"
    if kind not in WEIGHT_KINDS:
        raise ConfigError(where, [f"kind {kind!r} has no weights to prune "
                                  f"(one of {', '.join(WEIGHT_KINDS)})"])
    scores = np.asarray(scores)
    want = 2 if kind == "linear" else 4
    if scores.ndim != want:
        raise ConfigError(where, [f"a {kind} weight has {want} dimensions, scores have shape {scores.shape}"])
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
        raise ConfigError(where, [f"scores must be real numbers, got dtype {scores.dtype}"])
    if scores.size == 0:
        return scores, True
    low = scores.min()  # NaN if any score is NaN (np.minimum propagates it)
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(low):
        raise ConfigError(where, ["scores contain NaN"])
    return scores, bool(low >= 0)


# ---------------------------------------------------------------- element, N:M, block


@PATTERNS.register("unstructured")
@dataclass(frozen=True)
class Unstructured(Pattern):
    """Element-wise: any single weight may be pruned."""

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        return keep_top(a.ravel(), n_pruned(sparsity, a.size)).reshape(a.shape)


@PATTERNS.register("nm")
@dataclass(frozen=True)
class NM(Pattern):
    """N kept of every M consecutive input channels at fixed (k, r, s) (NVIDIA 2:4 = nm2:4).

    ``n=None`` (spec ``nm:4``): N is derived from the target as round((1 - target) * M), at least 1.
    With a fixed N the density is N/M whatever the target (``target_for`` returns 1 - N/M)."""

    n: int | None = 2
    m: int = 4
    fallback: str = "dense"

    spelled: ClassVar[tuple[str, ...]] = ("n", "m")

    def __post_init__(self) -> None:
        problems = []
        if self.m < 1:
            problems.append(f"M={self.m} must be >= 1")
        if self.n is not None and not (1 <= self.n <= self.m):
            problems.append(f"N={self.n} kept must be between 1 and M={self.m} (N counts the kept weights)")
        if self.fallback == "nm":
            problems.append("fallback 'nm' makes no sense for an N:M pattern; "
                            "use dense, unstructured or error")
        if problems:
            raise ConfigError(f"pattern {self.spec!r}", problems)
        super().__post_init__()

    def target_for(self, sparsity: float) -> float:
        s = check_sparsity(sparsity)
        return s if self.n is None else 1.0 - self.n / self.m

    def kept_per_group(self, sparsity: float) -> int:
        return self.n if self.n is not None else n_kept_in(1.0 - sparsity, self.m)

    def fit_problem(self, kcrs, kind):
        return f"C={kcrs[1]} input channels is not a multiple of M={self.m}" if kcrs[1] % self.m else None

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        k, c, r, s = a.shape
        groups = a.reshape(k * c // self.m, self.m, r * s)  # group [g, :, rs]: M along C (a view)
        keep = keep_top_in_groups(groups, self.kept_per_group(sparsity))
        # The mask is laid out in (K, R, S, C) order as it always was: torch keeps a conv mask's
        # strides in weight_mask and in weight = weight_orig * weight_mask, and the strides choose
        # the conv algorithm, whose rounding moves activation densities.  A linear layer's is free.
        if r * s > 1:
            keep = np.ascontiguousarray(keep.reshape(k, c, r, s).transpose(0, 2, 3, 1))
        return keep.reshape(k, r, s, c).transpose(0, 3, 1, 2)


@PATTERNS.register("block")
@dataclass(frozen=True)
class Block(Pattern):
    """Blocks of rows x cols on the [K, R*S*C] GEMM view (columns in (r, s, c) order), rows along K."""

    rows: int = 4
    cols: int = 4
    fallback: str = "dense"

    spelled: ClassVar[tuple[str, ...]] = ("rows", "cols")

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ConfigError(f"pattern {self.spec!r}", ["block sides must be >= 1"])
        super().__post_init__()

    def fit_problem(self, kcrs, kind):
        k, c, r, s = kcrs
        bad = []
        if k % self.rows:
            bad.append(f"K={k} is not a multiple of {self.rows}")
        if (r * s * c) % self.cols:
            bad.append(f"R*S*C={r * s * c} is not a multiple of {self.cols}")
        return " and ".join(bad) or None

    def _mask4(self, a: np.ndarray, sparsity: float) -> np.ndarray:
        k, c, r, s = a.shape
        cols = r * s * c
        gemm = a.transpose(0, 2, 3, 1).reshape(k // self.rows, self.rows, cols // self.cols, self.cols)
        scores = group_sum(gemm, (1, 3))
        keep = keep_top(scores, n_pruned(sparsity, scores.size)).reshape(scores.shape)
        full = np.broadcast_to(keep[:, None, :, None], gemm.shape)
        return full.reshape(k, r, s, c).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- parsing


def make_pattern(spec: str | PatternSpec | Pattern, **overrides) -> Pattern:
    """The pattern a spec names (``unstructured``, ``nm2:4``, ``nm:4``, ``block4x4``, ``window``, ...;
    spelled as accelsim.spec.recipe.PatternSpec reads them).  ``overrides`` set dataclass fields
    (``fallback="error"``)."""
    if isinstance(spec, Pattern):
        return replace(spec, **overrides) if overrides else spec
    parsed = parse_pattern(spec)
    try:
        return PATTERNS.get(parsed.kind)(**dict(parsed.params), **overrides)
    except TypeError as exc:
        raise ConfigError(f"pattern {spec!r}", [f"bad option: {exc}"]) from None
