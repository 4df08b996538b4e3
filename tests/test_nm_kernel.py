"""The fast paths of a magnitude prune against the code they replaced: the numba kernel of
accelsim.workload.pruning.kernels (hypothesis, against the stable-argsort reference kept below),
keep_top_per_row / the N:M and Campfire masks with the kernel forced on small arrays, the
no-copy path for non-negative scores, and apply_masks' numpy-converted float mask."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import ConfigError
from accelsim.workload.pruning.kernels import top_in_groups
from accelsim.workload.pruning.patterns import base, make_pattern
from accelsim.workload.pruning.patterns.base import keep_top_per_row, n_kept_in, n_pruned
from accelsim.workload.pruning.patterns.campfire import Combined


def ref_keep_top_per_row(scores: np.ndarray, n_keep: int) -> np.ndarray:
    """keep_top_per_row as it was (accelsim 5917584): a stable argsort of -scores, then put_along_axis."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :n_keep]
    keep = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    return keep


def ref_nm(scores: np.ndarray, n: int, m: int) -> np.ndarray:
    """NM._mask4 as it was: the (K, R, S, C) transpose, groups of M along C."""
    shape = scores.shape
    k, c, r, s = (*shape, 1, 1)[:4]
    groups = np.abs(scores).reshape(k, c, r, s).transpose(0, 2, 3, 1).reshape(-1, m)
    return ref_keep_top_per_row(groups, n).reshape(k, r, s, c).transpose(0, 3, 1, 2).reshape(shape)


def ref_window(scores: np.ndarray, keep: int) -> np.ndarray:
    k, c, r, s = scores.shape
    return ref_keep_top_per_row(np.abs(scores).reshape(k * c, r * s), keep).reshape(scores.shape)


def ref_channel(scores: np.ndarray, dropped: int) -> np.ndarray:
    windows = np.abs(scores).sum(axis=(2, 3), dtype=np.float64)
    keep = ref_keep_top_per_row(windows, windows.shape[1] - dropped)
    return np.broadcast_to(keep[:, :, None, None], scores.shape)


@pytest.fixture
def kernel_always(monkeypatch):
    """keep_top_in_groups takes the kernel for every size (the default waits for ~16 M scores)."""
    monkeypatch.setattr(base, "KERNEL_MIN_SIZE", 0)


# many ties, both zeros, infinities and NaN (the argsort sorts NaN last, in index order)
FLOATS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, np.inf, -np.inf, np.nan])
DTYPES = st.sampled_from([np.float32, np.float64, np.int64])


@st.composite
def score_arrays(draw, max_length=16):
    dtype = draw(DTYPES)
    rows, length, inner = draw(st.integers(1, 12)), draw(st.integers(1, max_length)), draw(st.integers(1, 3))
    n = rows * length * inner
    if dtype is np.int64:
        values = draw(st.lists(st.integers(-2, 2), min_size=n, max_size=n))
    else:
        values = draw(st.lists(FLOATS, min_size=n, max_size=n))
    return np.array(values, dtype=dtype).reshape(rows, length, inner), draw(st.integers(0, length))


@settings(max_examples=300, deadline=None)
@given(score_arrays())
def test_kernel_keeps_what_the_stable_argsort_keeps(case):
    scores, n_keep = case
    rows, length, inner = scores.shape
    got = top_in_groups(scores, n_keep)
    flat = scores.transpose(0, 2, 1).reshape(-1, length)  # group [a, :, b] as a row
    want = ref_keep_top_per_row(flat, n_keep).reshape(rows, inner, length).transpose(0, 2, 1)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == bool and got.shape == scores.shape


@settings(max_examples=100, deadline=None)
@given(score_arrays(max_length=40))
def test_keep_top_per_row_is_unchanged_on_either_path(case):
    scores, n_keep = case
    rows = scores[:, :, 0]
    want = ref_keep_top_per_row(rows, n_keep)
    np.testing.assert_array_equal(keep_top_per_row(rows, n_keep), want)  # argsort: small and no kernel yet
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(base, "KERNEL_MIN_SIZE", 0)
        np.testing.assert_array_equal(keep_top_per_row(rows, n_keep), want)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.float16])
def test_integer_extremes_and_other_dtypes_match_the_reference(kernel_always, dtype):
    """-x overflows at the most negative integer and wraps for unsigned ones: whatever the argsort of
    -scores kept there, keep_top_per_row still keeps (it leaves those to the argsort)."""
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    scores = rng.integers(0, 3, (50, 4)).astype(dtype)
    scores[::7, 1] = info.min
    scores[::5, 2] = info.max
    for n_keep in range(5):
        np.testing.assert_array_equal(keep_top_per_row(scores, n_keep), ref_keep_top_per_row(scores, n_keep))


# ---------------------------------------------------------------- pattern masks, seeded weights

WEIGHTS = [((64, 32, 3, 3), "conv"), ((48, 64), "linear"), ((32, 16, 1, 1), "conv"), ((8, 24, 5, 5), "conv")]


def _weights(seed: int, shape, variant: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if variant == "normal":
        return rng.standard_normal(shape)  # signed: the |scores| copy
    if variant == "magnitude32":
        return np.abs(rng.standard_normal(shape)).astype(np.float32)  # non-negative: no copy
    s = rng.integers(0, 3, shape).astype(np.float64)  # ties and signed zeros
    s[rng.random(shape) < 0.3] *= -0.0
    return s


@pytest.mark.parametrize("forced", [False, True], ids=["default", "kernel"])
@pytest.mark.parametrize("variant", ["normal", "magnitude32", "ties"])
@pytest.mark.parametrize("shape,kind", WEIGHTS)
def test_nm_masks_are_unchanged(monkeypatch, forced, variant, shape, kind):
    if forced:
        monkeypatch.setattr(base, "KERNEL_MIN_SIZE", 0)
    scores = _weights(sum(shape), shape, variant)
    before = scores.copy()
    specs = (("nm2:4", 2, 4), ("nm1:4", 1, 4), ("nm3:8", 3, 8), ("nm:4", None, 4), ("nmflex", None, 4))
    for spec, n, m in specs:
        pattern = make_pattern(spec)
        for sparsity in (0.3, 0.5, 0.8):
            keep = pattern.kept_per_group(sparsity) if n is None else n
            got, want = pattern.mask(scores, sparsity, kind=kind), ref_nm(scores, keep, m)
            np.testing.assert_array_equal(got, want, err_msg=f"{spec} at {sparsity}")
            assert got.strides == want.strides  # torch keeps them in weight_mask; they pick the conv kernel
    np.testing.assert_array_equal(scores, before)  # the caller's scores are only read


@pytest.mark.parametrize("forced", [False, True], ids=["default", "kernel"])
@pytest.mark.parametrize("variant", ["normal", "magnitude32", "ties"])
def test_campfire_masks_are_unchanged(monkeypatch, forced, variant):
    if forced:
        monkeypatch.setattr(base, "KERNEL_MIN_SIZE", 0)
    for shape in ((16, 8, 3, 3), (6, 40, 5, 5), (4, 3, 7, 7)):
        scores = _weights(7, shape, variant)
        rs = shape[2] * shape[3]
        for sparsity in (0.3, 0.5, 0.7):
            np.testing.assert_array_equal(make_pattern("window").mask(scores, sparsity, kind="conv"),
                                          ref_window(scores, n_kept_in(1 - sparsity, rs)))
            np.testing.assert_array_equal(make_pattern("channel").mask(scores, sparsity, kind="conv"),
                                          ref_channel(scores, n_pruned(sparsity, shape[1])))
            dropped, m = Combined().counts(sparsity, shape[1], rs)
            np.testing.assert_array_equal(make_pattern("combined").mask(scores, sparsity, kind="conv"),
                                          ref_window(scores, m) & ref_channel(scores, dropped))


def test_signed_and_absolute_scores_give_one_mask_and_nan_is_still_refused():
    rng = np.random.default_rng(5)
    scores = rng.integers(-3, 4, (32, 16, 3, 3)).astype(np.float64)
    for spec in ("nm2:4", "unstructured", "block4x4", "window", "kernel", "filter"):
        pattern = make_pattern(spec)
        np.testing.assert_array_equal(pattern.mask(scores, 0.6, kind="conv"),
                                      pattern.mask(np.abs(scores), 0.6, kind="conv"), err_msg=spec)
    scores[3, 2, 1, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        make_pattern("nm2:4").mask(np.abs(scores), 0.5, kind="conv")


# ---------------------------------------------------------------- apply_masks' float mask


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_apply_masks_on_a_large_layer_leaves_what_torch_leaves(dtype):
    """From 2**20 weights the float mask is converted by numpy: the state torch's custom_from_mask
    leaves, except that apply_masks also zeroes ``weight_orig`` (w * 0.0: -0.0 for a negative w)."""
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as torch_prune

    from accelsim.workload.pruning.apply import apply_masks

    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(1024, 1024)).to(getattr(torch, dtype))
    theirs = torch.nn.Sequential(torch.nn.Linear(1024, 1024)).to(getattr(torch, dtype))
    theirs.load_state_dict(ours.state_dict())
    keep = np.random.default_rng(0).random((1024, 1024)) < 0.5
    apply_masks(ours, {"0": keep})
    torch_prune.custom_from_mask(theirs[0], "weight", torch.as_tensor(keep))
    a, b = ours[0], theirs[0]
    for mine, torchs in ((a.weight_mask, b.weight_mask), (a.weight, b.weight), (a.weight_orig, b.weight)):
        assert mine.dtype == torchs.dtype and mine.shape == torchs.shape and torch.equal(mine, torchs)
        assert torch.equal(torch.signbit(mine), torch.signbit(torchs))  # -0.0 where a negative weight went
        assert mine.stride() == torchs.stride()
    assert a.weight.grad_fn is not None and a.weight_orig.requires_grad
    assert dict(a.named_buffers()).keys() == {"weight_mask"} and torch_prune.is_pruned(ours)


def test_apply_masks_keeps_a_conv_masks_strides(monkeypatch):
    """An N:M conv mask is laid out (K, R, S, C) as before; weight_mask and weight = weight_orig *
    weight_mask keep the strides torch's ``keep.to(dtype)`` gave them: the conv kernel torch picks,
    and its rounding, follow them (ResNet-50's activation densities moved when they did not)."""
    torch = pytest.importorskip("torch")

    from accelsim.workload.pruning import apply

    torch.manual_seed(0)
    ours, old = (torch.nn.Sequential(torch.nn.Conv2d(256, 512, 3)) for _ in range(2))  # 1.2 M weights
    old.load_state_dict(ours.state_dict())
    for linear in (False, True):
        if linear:
            ours, old = (torch.nn.Sequential(torch.nn.Linear(2048, 1024)) for _ in range(2))
            old.load_state_dict(ours.state_dict())
        w = ours[0].weight.detach().abs().numpy()
        keep = make_pattern("nm2:4").mask(w, 0.5, kind="linear" if linear else "conv")
        assert keep.strides == ((2048, 1) if linear else (9 * 256, 1, 3 * 256, 256))
        apply.apply_masks(ours, {"0": keep})
        with monkeypatch.context() as mp:
            mp.setattr(apply, "_NUMPY_FLOATS", {})  # every mask through keep.to(dtype), as before
            apply.apply_masks(old, {"0": keep})
        for name in ("weight_mask", "weight", "weight_orig"):
            a, b = getattr(ours[0], name), getattr(old[0], name)
            assert a.stride() == b.stride() and a.dtype == b.dtype and torch.equal(a, b), name


# ---------------------------------------------------------------- unstructured's threshold


@pytest.mark.parametrize("case", ["normal32", "ties", "ascending", "descending", "constant", "nan", "int64"])
def test_kth_smallest_is_partitions_answer_on_large_arrays(case):
    """From 2**22 scores kth_smallest brackets the answer by a sample; it must still be exact."""
    rng = np.random.default_rng(11)
    n = (1 << 22) + 12345
    v = {"normal32": lambda: np.abs(rng.standard_normal(n, dtype=np.float32)),
         "ties": lambda: rng.integers(0, 4, n).astype(np.float64),
         "ascending": lambda: np.arange(n, dtype=np.float64),
         "descending": lambda: np.arange(n, 0, -1).astype(np.float32),
         "constant": lambda: np.full(n, 0.5),
         "nan": lambda: np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
         "int64": lambda: rng.integers(-5, 1000, n)}[case]()
    for k in (0, 1, n // 3, n // 2 - 1, n - 2, n - 1):
        got, want = base.kth_smallest(v, k), np.partition(v, k)[k]
        assert got == want or (np.isnan(got) and np.isnan(want)), (case, k)
    n_prune = n // 2
    thr = np.partition(v, n_prune - 1)[n_prune - 1]  # keep_top as it was
    want = v > thr
    missing = v.size - n_prune - int(np.count_nonzero(want))
    if missing > 0:
        ties = np.flatnonzero(v == thr)
        want[ties[ties.size - missing:]] = True
    np.testing.assert_array_equal(base.keep_top(v, n_prune), want)
