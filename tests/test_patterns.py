"""Pruning patterns: group constraints on random tensors (hypothesis), hand-worked cases, fallbacks,
errors, and applying them to a small torch model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import ConfigError, UnknownNameError
from accelsim.workload.layer import Layer
from accelsim.workload.pruning.patterns import PATTERNS, achieved, make_pattern, pattern_names
from accelsim.workload.pruning.patterns.base import keep_top, n_kept_in, n_pruned

# ---------------------------------------------------------------- strategies and group checks


@st.composite
def conv_scores(draw, max_k=8, max_c=12):
    """Distinct positive scores of a random conv weight shape, and a target in [0, 0.95]."""
    k = draw(st.integers(1, max_k))
    c = draw(st.integers(1, max_c))
    r = draw(st.sampled_from([1, 2, 3]))
    s = draw(st.sampled_from([1, 2, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scores = (rng.permutation(k * c * r * s) + 1).astype(np.float64).reshape(k, c, r, s)
    target = draw(st.floats(0.0, 0.95))
    return scores, target


def all_or_none(mask: np.ndarray, axes: tuple[int, ...]) -> bool:
    return bool(np.all(mask.all(axis=axes) | ~mask.any(axis=axes)))


def top_kept(scores: np.ndarray, mask: np.ndarray) -> bool:
    """With distinct scores, every kept entry outscores every pruned one."""
    if mask.all() or not mask.any():
        return True
    return scores[mask].min() > scores[~mask].max()


SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(conv_scores())
def test_unstructured_prunes_the_lowest_exact_count(case):
    scores, target = case
    mask = make_pattern("unstructured").mask(scores, target, kind="conv")
    assert mask.shape == scores.shape and mask.dtype == bool
    assert np.count_nonzero(~mask) == n_pruned(target, scores.size)
    assert top_kept(scores, mask)
    assert abs(achieved(mask) - target) <= 1 / scores.size + 1e-12


@SETTINGS
@given(conv_scores(), st.sampled_from([(1, 2), (2, 4), (1, 4), (3, 4), (2, 8)]))
def test_nm_keeps_exactly_n_of_every_m_along_c(case, nm):
    scores, target = case
    n, m = nm
    mask = make_pattern(f"nm{n}:{m}").mask(scores, target, kind="conv")
    k, c, r, s = scores.shape
    if c % m:
        assert mask.all()  # default fallback: dense
        return
    groups = mask.transpose(0, 2, 3, 1).reshape(k, r, s, c // m, m)
    assert np.all(groups.sum(axis=-1) == n)
    # the kept ones are the N largest of their group
    g_scores = scores.transpose(0, 2, 3, 1).reshape(-1, m)
    g_mask = groups.reshape(-1, m)
    assert all(top_kept(gs, gm) for gs, gm in zip(g_scores, g_mask, strict=True))
    assert achieved(mask) == pytest.approx(1 - n / m)


@SETTINGS
@given(conv_scores(), st.sampled_from([(4, 4), (2, 1), (1, 2), (2, 2)]))
def test_block_groups_all_or_none_on_the_gemm_view(case, block):
    scores, target = case
    br, bc = block
    mask = make_pattern(f"block{br}x{bc}").mask(scores, target, kind="conv")
    k, c, r, s = scores.shape
    if k % br or (r * s * c) % bc:
        assert mask.all()
        return
    gemm = mask.transpose(0, 2, 3, 1).reshape(k // br, br, (r * s * c) // bc, bc)
    assert all_or_none(gemm, (1, 3))
    blocks = gemm.shape[0] * gemm.shape[2]
    assert np.count_nonzero(~gemm.any(axis=(1, 3))) == n_pruned(target, blocks)
    assert abs(achieved(mask) - target) <= 1 / blocks + 1e-12


@SETTINGS
@given(conv_scores())
def test_grouped_patterns_prune_whole_groups(case):
    scores, target = case
    k, c, r, s = scores.shape
    for spec, axes, fits in (("vector", (3,), s > 1), ("kernel", (2, 3), r * s > 1),
                             ("filter", (1, 2, 3), True), ("input_channel", (0, 2, 3), c > 1)):
        mask = make_pattern(spec).mask(scores, target, kind="conv")
        if not fits:  # fallback: unstructured at the same target
            unstructured = make_pattern("unstructured").mask(scores, target, kind="conv")
            np.testing.assert_array_equal(mask, unstructured)
            continue
        assert all_or_none(mask, axes), spec
        groups = mask.any(axis=axes)
        assert np.count_nonzero(~groups) == n_pruned(target, groups.size), spec
        assert abs(achieved(mask) - target) <= 1 / groups.size + 1e-12, spec


@SETTINGS
@given(conv_scores())
def test_window_keeps_exactly_m_per_window(case):
    scores, target = case
    k, c, r, s = scores.shape
    mask = make_pattern("window").mask(scores, target, kind="conv")
    if r * s == 1:
        np.testing.assert_array_equal(mask, make_pattern("unstructured").mask(scores, target, kind="conv"))
        return
    m = n_kept_in(1 - target, r * s)
    assert m == max(1, min(r * s, int(np.floor((1 - target) * r * s + 0.5 + 1e-9))))
    assert np.all(mask.sum(axis=(2, 3)) == m)
    windows_s, windows_m = scores.reshape(k * c, r * s), mask.reshape(k * c, r * s)
    assert all(top_kept(ws, wm) for ws, wm in zip(windows_s, windows_m, strict=True))
    assert abs(achieved(mask) - target) <= 1 / (r * s) + 1e-12


@SETTINGS
@given(conv_scores())
def test_channel_drops_the_same_number_of_windows_in_every_filter(case):
    scores, target = case
    k, c, r, s = scores.shape
    mask = make_pattern("channel").mask(scores, target, kind="conv")
    if c == 1:
        np.testing.assert_array_equal(mask, make_pattern("unstructured").mask(scores, target, kind="conv"))
        return
    assert all_or_none(mask, (2, 3))
    kept = mask.any(axis=(2, 3)).sum(axis=1)
    assert np.all(kept == c - n_pruned(target, c))
    assert abs(achieved(mask) - target) <= 1 / c + 1e-12


@SETTINGS
@given(conv_scores())
def test_combined_is_channel_then_window(case):
    scores, target = case
    k, c, r, s = scores.shape
    pattern = make_pattern("combined")
    mask = pattern.mask(scores, target, kind="conv")
    if r * s == 1 or c == 1:
        np.testing.assert_array_equal(mask, make_pattern("unstructured").mask(scores, target, kind="conv"))
        return
    dropped, m = pattern.counts(target, c, r * s)
    per_window = mask.sum(axis=(2, 3))
    assert set(np.unique(per_window)) <= {0, m}
    assert np.all((per_window > 0).sum(axis=1) == c - dropped)
    # density = channel part x window part, each quantised by its own count
    assert achieved(mask) == pytest.approx(1 - (c - dropped) / c * m / (r * s))


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 20), st.floats(0.0, 0.95), st.integers(0, 1000))
def test_linear_layers(out_f, in_f, target, seed):
    scores = np.random.default_rng(seed).random((out_f, in_f))
    for spec in pattern_names():
        mask = make_pattern(spec).mask(scores, target, kind="linear")
        assert mask.shape == scores.shape and mask.dtype == bool
        assert mask.any()  # never a whole layer pruned


# ---------------------------------------------------------------- hand-worked cases


def test_window_70pct_on_3x3_keeps_3_of_9():
    scores = np.arange(9, dtype=float).reshape(1, 1, 3, 3)
    mask = make_pattern("window").mask(scores, 0.7, kind="conv")
    np.testing.assert_array_equal(mask.ravel(), [0, 0, 0, 0, 0, 0, 1, 1, 1])
    assert achieved(mask) == pytest.approx(6 / 9)  # 66.7 % achieved for a 70 % target
    big = np.random.default_rng(0).random((64, 64, 3, 3))
    assert achieved(make_pattern("window").mask(big, 0.7, kind="conv")) == pytest.approx(2 / 3)


def test_nm_groups_run_along_c_in_krsc_order_as_the_gemm_view():
    rng = np.random.default_rng(1)
    scores = rng.random((4, 8, 3, 3))
    mask = make_pattern("nm2:4").mask(scores, 0.5, kind="conv")
    # W[k, c0:c0+4, r, s] holds exactly 2
    assert np.all(mask.reshape(4, 2, 4, 3, 3).sum(axis=2) == 2)
    # and in the simulator's GEMM view (K index in (r, s, c) order) 4 consecutive rows hold 2
    layer = Layer("l", "conv", m=1, n=4, k=72, weight_mask=mask)
    gemm = layer.gemm_weight_mask()[0]  # [K=72, N=4]
    assert np.all(gemm.reshape(18, 4, 4).sum(axis=1) == 2)


def test_nm_hand_worked_and_ties():
    scores = np.array([[0.1, 0.9, 0.5, 0.3, 1, 1, 1, 1]])
    mask = make_pattern("nm2:4").mask(scores, 0.5, kind="linear")
    np.testing.assert_array_equal(mask[0], [0, 1, 1, 0, 1, 1, 0, 0])  # ties: the lower index kept


def test_block_hand_worked_on_gemm_view():
    # linear 4x4 as [K=4, C=4]: block2x2 sums are [[1, 10], [100, 1000]] -> prune the lowest two
    w = np.zeros((4, 4))
    w[:2, :2], w[:2, 2:], w[2:, :2], w[2:, 2:] = 0.25, 2.5, 25, 250
    mask = make_pattern("block2x2").mask(w, 0.5, kind="linear")
    expected = np.zeros((4, 4), dtype=bool)
    expected[2:, :] = True
    np.testing.assert_array_equal(mask, expected)


def test_channel_hand_worked():
    scores = np.ones((2, 4, 3, 3))
    scores[0, 1] = scores[1, 3] = 5  # filter 0 prefers window 1, filter 1 window 3
    mask = make_pattern("channel").mask(scores, 0.75, kind="conv")
    kept = mask.any(axis=(2, 3))
    np.testing.assert_array_equal(kept, [[0, 1, 0, 0], [0, 0, 0, 1]])


def test_ties_are_deterministic_and_pruned_in_index_order():
    mask = make_pattern("unstructured").mask(np.ones((2, 5)), 0.4, kind="linear")
    np.testing.assert_array_equal(mask.ravel(), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    v = np.array([3.0, 1.0, 1.0, 1.0, 2.0])
    np.testing.assert_array_equal(keep_top(v, 2), [1, 0, 0, 1, 1])


def test_never_prunes_a_whole_layer():
    mask = make_pattern("filter").mask(np.ones((3, 2, 3, 3)), 0.9, kind="conv")
    assert mask.any(axis=(1, 2, 3)).sum() == 1
    assert make_pattern("unstructured").mask(np.ones((1, 2)), 0.9, kind="linear").sum() == 1


def test_sparsity_zero_keeps_everything():
    scores = np.random.default_rng(0).random((4, 8, 3, 3))
    for spec in pattern_names():
        if not spec.startswith("nm"):
            assert make_pattern(spec).mask(scores, 0.0, kind="conv").all(), spec


# ---------------------------------------------------------------- fallbacks and errors


def test_depthwise_weights():
    scores = np.random.default_rng(0).random((8, 1, 3, 3))  # (out, in/groups = 1, 3, 3)
    assert np.all(make_pattern("window").mask(scores, 0.7, kind="depthwise").sum(axis=(2, 3)) == 3)
    for spec in ("channel", "combined", "input_channel"):  # one window per filter: nothing to choose
        used, note = make_pattern(spec).resolve(scores.shape, "depthwise", "dw")
        assert used.spec == "unstructured" and "C=1" in note, spec
    assert make_pattern("nm2:4").mask(scores, 0.5, kind="depthwise").all()


def test_window_on_1x1_and_fc_falls_back_to_unstructured_with_a_note():
    p = make_pattern("window")
    used, note = p.resolve((8, 16, 1, 1), "conv", "layer1.0.conv1")
    assert used.spec == "unstructured" and "unstructured at the same target" in note
    used, _ = p.resolve((10, 64), "linear", "fc")
    assert used.spec == "unstructured"


def test_nm_with_c_not_multiple_of_m_is_dense_with_a_note():
    used, note = make_pattern("nm2:4").resolve((6, 3, 5, 5), "conv", "conv1")
    assert used is None and "C=3" in note and "dense" in note
    assert make_pattern("nm2:4").mask(np.ones((6, 3, 5, 5)), 0.5, kind="conv").all()


def test_fallback_nm_derives_n_from_the_target():
    p = make_pattern("window", fallback="nm")
    used, note = p.resolve((8, 16, 1, 1), "conv", "c")
    assert used.spec == "nm:4" and "along C" in note
    mask = p.mask(np.random.default_rng(0).random((8, 16, 1, 1)), 0.7, kind="conv")
    assert np.all(mask.reshape(8, 4, 4).sum(axis=-1) == 1)  # round(0.3 * 4) = 1 of 4


def test_window_with_fallback_error_on_1x1_names_the_layer():
    p = make_pattern("window", fallback="error")
    with pytest.raises(ConfigError, match=r"layer1\.0\.conv1.*1x1"):
        p.mask(np.ones((8, 16, 1, 1)), 0.7, kind="conv", name="layer1.0.conv1")


def test_unknown_pattern_lists_the_names():
    with pytest.raises(UnknownNameError) as exc:
        make_pattern("windw")
    msg = str(exc.value)
    assert "did you mean 'window'" in msg
    for name in ("unstructured", "nm2:4", "block4x4", "channel", "combined", "input_channel"):
        assert name in msg


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "lots"])
def test_sparsity_outside_0_1_is_rejected_with_the_value(bad):
    with pytest.raises(ConfigError, match="sparsity"):
        make_pattern("unstructured").mask(np.ones((2, 2)), bad, kind="linear")


@pytest.mark.parametrize("spec", ["nm5:4", "nm0:4", "block0x4"])
def test_bad_pattern_parameters(spec):
    with pytest.raises(ConfigError, match=spec):
        make_pattern(spec)


def test_bad_scores():
    p = make_pattern("unstructured")
    with pytest.raises(ConfigError, match="NaN"):
        p.mask(np.array([[np.nan, 1.0]]), 0.5, kind="linear", name="fc")
    with pytest.raises(ConfigError, match="4 dimensions"):
        p.mask(np.ones((2, 2)), 0.5, kind="conv")
    with pytest.raises(ConfigError, match="no weights"):
        p.mask(np.ones((2, 2)), 0.5, kind="matmul")
    with pytest.raises(ConfigError, match="fallback"):
        make_pattern("window", fallback="sometimes")


def test_specs_round_trip_and_aliases():
    for spec in [*pattern_names(), "nm1:2", "nm:8", "block2x1"]:
        assert make_pattern(make_pattern(spec).spec).spec == spec
    assert make_pattern("2:4").spec == make_pattern("2of4").spec == "nm2:4"
    assert make_pattern("nm2:4").target_for(0.7) == 0.5
    assert set(PATTERNS.names()) >= {"unstructured", "nm", "block", "vector", "kernel", "window",
                                     "channel", "combined", "filter", "input_channel"}


# ---------------------------------------------------------------- applying to a torch model


def _lenet():
    torch = pytest.importorskip("torch")
    from accelsim.workload.models import build_model

    torch.manual_seed(0)
    return build_model("lenet5", seed=0)[0]


def test_prune_model_rules_masks_and_buffers():
    from accelsim.workload.pruning.apply import prunable_layers, prune_model

    model = _lenet()
    result = prune_model(model, pattern="window", sparsity=0.7)
    by = {lp.name: lp for lp in result.layers}
    assert list(by) == list(prunable_layers(model)) == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert by["conv1"].pattern == "dense" and by["conv1"].achieved == 0.0
    assert by["conv2"].pattern == "window" and by["conv2"].achieved == pytest.approx(1 - 8 / 25)
    assert by["fc1"].pattern == "unstructured" and "unstructured" in by["fc1"].note
    for name, module in prunable_layers(model).items():
        if name == "conv1":
            assert not hasattr(module, "weight_mask")
            continue
        mask = module.weight_mask.bool().numpy()
        np.testing.assert_array_equal(mask, result.masks[name])
        assert (module.weight.detach().numpy()[~mask] == 0).all()
        assert (module.weight_orig.detach().numpy()[~mask] == 0).all()  # multiplied in place too


def test_prune_model_exclude_rules_and_errors():
    from accelsim.workload.pruning.apply import prune_model

    result = prune_model(_lenet(), pattern="nm2:4", sparsity=0.5, exclude=["fc3"], rule_fc="unstructured",
                         first_conv="unstructured")
    by = {lp.name: lp for lp in result.layers}
    assert by["fc3"].pattern == "dense" and by["fc3"].note == "excluded"
    assert by["fc1"].pattern == "unstructured" and by["conv1"].pattern == "unstructured"
    assert by["conv2"].pattern == "dense"  # C = 6 is not a multiple of 4
    with pytest.raises(ConfigError, match="fc9"):
        prune_model(_lenet(), pattern="unstructured", sparsity=0.5, exclude=["fc9"])
    with pytest.raises(ConfigError, match=r"fc1.*single weight"):
        prune_model(_lenet(), pattern="window", sparsity=0.5, rule_fc="error")
    with pytest.raises(ConfigError, match="rule_1x1"):
        prune_model(_lenet(), pattern="window", sparsity=0.5, rule_1x1="sometimes")


def test_prune_model_global_scope_hits_the_target():
    from accelsim.workload.pruning.apply import prune_model

    result = prune_model(_lenet(), pattern="unstructured", sparsity=0.8, scope="global", first_conv="pattern")
    assert result.achieved == pytest.approx(0.8, abs=0.01)
    assert len({round(lp.achieved, 2) for lp in result.layers}) > 1  # uneven per layer


def test_apply_masks_leaves_the_state_torch_custom_from_mask_leaves():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune as torch_prune

    from accelsim.workload.pruning.apply import apply_masks

    torch.manual_seed(0)
    ours, theirs = torch.nn.Sequential(torch.nn.Linear(6, 4)), torch.nn.Sequential(torch.nn.Linear(6, 4))
    theirs.load_state_dict(ours.state_dict())
    keep = np.random.default_rng(0).random((4, 6)) > 0.5
    apply_masks(ours, {"0": keep})
    torch_prune.custom_from_mask(theirs[0], "weight", torch.as_tensor(keep))
    a, b = ours[0], theirs[0]
    assert dict(a.named_buffers()).keys() == dict(b.named_buffers()).keys() == {"weight_mask"}
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert a.weight_mask.dtype == b.weight_mask.dtype and torch.equal(a.weight_mask, b.weight_mask)
    assert torch.equal(a.weight, b.weight) and torch_prune.is_pruned(ours)
    hooks = [[type(h) for h in m._forward_pre_hooks.values()] for m in (a, b)]
    assert hooks[0] == hooks[1]
    x = torch.randn(3, 6)
    assert torch.equal(ours(x), theirs(x))
    # a second mask is ANDed with the first, as torch's PruningContainer does
    second = np.ones((4, 6), dtype=bool)
    second[0] = False
    apply_masks(ours, {"0": second})
    np.testing.assert_array_equal(ours[0].weight_mask.bool().numpy(), keep & second)
    torch_prune.remove(ours[0], "weight")
    assert (ours[0].weight.detach().numpy()[~(keep & second)] == 0).all()
    with pytest.raises(ConfigError, match="'1' is not a Conv2d/Linear layer"):
        apply_masks(ours, {"1": keep})
    with pytest.raises(ConfigError, match="shape"):
        apply_masks(ours, {"0": keep.T})
