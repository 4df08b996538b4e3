"""Pruning methods (accelsim.workload.pruning.methods) and the digits train/eval loops (training.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.workload.pruning.methods import METHODS, allocate_global
from accelsim.workload.pruning.methods.iterative import (
    agp_schedule,
    agp_sparsity,
    model_sparsity,
    overall_sparsity,
)
from accelsim.workload.pruning.patterns import make_pattern
from accelsim.workload.pruning.training import evaluate, load_digits_split, train

ONE_SHOT = ("magnitude", "random", "l1_filter", "taylor", "snip", "synflow", "pen_ultimate")
TRAINING = ("agp", "imp", "drop")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is faster and immune to other processes on a 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


def mlp(seed=0, widths=(64, 128, 64, 10)):
    torch.manual_seed(seed)
    mods = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        mods += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


def cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10),
    )


def layers_of(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}


UNSTRUCTURED = make_pattern("unstructured")


# ---------------------------------------------------------------- data and training


def test_digits_split_is_stratified_normalised_and_seeded(digits):
    assert digits.x_train.shape == (1347, 64) and digits.x_test.shape == (450, 64)
    assert abs(float(digits.x_train.mean())) < 1e-4 and abs(float(digits.x_train.std()) - 1) < 1e-3
    train_share = np.bincount(digits.y_train.numpy(), minlength=10) / len(digits.y_train)
    test_share = np.bincount(digits.y_test.numpy(), minlength=10) / len(digits.y_test)
    assert np.abs(train_share - test_share).max() < 0.01
    again = load_digits_split(seed=0)
    assert torch.equal(again.x_test, digits.x_test)
    assert not torch.equal(load_digits_split(seed=1).y_test, digits.y_test)
    img = load_digits_split(seed=0, layout="image")
    assert img.x_train.shape == (1347, 1, 8, 8) and torch.equal(img.x_train.reshape(-1, 64), digits.x_train)
    with pytest.raises(AccelsimError):
        load_digits_split(layout="nchw")


def test_mlp_trains_above_95_percent_on_the_test_split(digits):
    model = mlp()
    train(model, digits, epochs=15, lr=1e-2)
    assert evaluate(model, digits) > 0.95


def test_train_keeps_pruned_weights_at_zero(digits):
    model = mlp()
    rng = np.random.default_rng(0)
    masks = {n: rng.random(tuple(m.weight.shape)) < 0.3 for n, m in layers_of(model).items()}
    train(model, digits, epochs=2, lr=1e-2, masks=masks)
    for n, m in layers_of(model).items():
        assert not m.weight.detach().numpy()[~masks[n]].any()
    with pytest.raises(AccelsimError, match="no module"):
        train(model, digits, epochs=1, masks={"nope": masks["0"]})


# ---------------------------------------------------------------- scores


@pytest.mark.parametrize("name", ONE_SHOT + TRAINING)
@pytest.mark.parametrize("make", [mlp, cnn])
def test_scores_have_the_weight_shape_and_leave_the_model_alone(name, make, digits):
    model = make()
    data = digits if make is mlp else digits.as_layout("image")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scores = METHODS.get(name).scores(model, layers_of(model), seed=0, data=data)
    assert set(scores) == set(layers_of(model))
    for n, m in layers_of(model).items():
        assert scores[n].shape == tuple(m.weight.shape)
        assert np.isfinite(scores[n]).all() and (scores[n] >= 0).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_random_scores_are_seeded_and_reproducible():
    model = cnn()
    layers = layers_of(model)
    rnd = METHODS.get("random")
    a, b = rnd.scores(model, layers, seed=3), rnd.scores(model, layers, seed=3)
    c = rnd.scores(model, layers, seed=4)
    reordered = rnd.scores(model, dict(reversed(list(layers.items()))), seed=3)
    for n in layers:
        assert np.array_equal(a[n], b[n]) and np.array_equal(a[n], reordered[n])
        assert not np.array_equal(a[n], c[n])
    m1 = rnd.prune(model, layers, UNSTRUCTURED, 0.5, seed=3)
    m2 = rnd.prune(cnn(seed=9), layers_of(cnn(seed=9)), UNSTRUCTURED, 0.5, seed=3)
    assert all(np.array_equal(m1[n], m2[n]) for n in layers)


def test_l1_filter_is_constant_within_a_filter():
    model = cnn()
    scores = METHODS.get("l1_filter").scores(model, layers_of(model), seed=0)
    for n, m in layers_of(model).items():
        w = m.weight.detach().double().numpy()
        per_filter = scores[n].reshape(w.shape[0], -1)
        assert np.allclose(per_filter, per_filter[:, :1])
        assert np.allclose(per_filter[:, 0], np.abs(w).reshape(w.shape[0], -1).sum(axis=1))


def test_snip_on_one_batch_equals_taylor_on_that_batch(digits):
    model = mlp()
    batch = digits.batch(100, seed=1)
    snip = METHODS.get("snip").scores(model, layers_of(model), seed=0, data=batch)
    taylor = METHODS.get("taylor").scores(model, layers_of(model), seed=0, data=batch)
    assert all(np.allclose(snip[n], taylor[n]) for n in snip)


# ---------------------------------------------------------------- scope and masks


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5),
    sparsity=st.floats(0.0, 0.99),
    cap=st.one_of(st.none(), st.floats(0.0, 1.0)),
    seed=st.integers(0, 2**16),
)
def test_allocate_global_keeps_exactly_the_budget(sizes, sparsity, cap, seed):
    rng = np.random.default_rng(seed)
    scores = {f"l{i}": rng.random(n) for i, n in enumerate(sizes)}
    per_layer, masks = allocate_global(scores, sparsity, cap)
    total = sum(sizes)
    kept = sum(int(m.sum()) for m in masks.values())
    forced = 0 if cap is None else sum(min(n, int(np.ceil((1 - cap) * n - 1e-9))) for n in sizes)
    assert kept == max(round((1 - sparsity) * total), forced)
    for n, m in masks.items():
        assert per_layer[n] == pytest.approx(1 - m.mean())
        if cap is not None:
            assert per_layer[n] <= cap + 1e-9
    if cap is None and 0 < kept < total:  # one threshold: every kept score beats every pruned one
        everything = np.concatenate([scores[n] for n in scores])
        chosen = np.concatenate([masks[n] for n in scores])
        assert everything[chosen].min() >= everything[~chosen].max()


def test_layer_scope_prunes_every_layer_to_the_target():
    model = cnn()
    masks = METHODS.get("magnitude").prune(model, layers_of(model), UNSTRUCTURED, 0.75, seed=0)
    for m in masks.values():
        assert 1 - m.mean() == pytest.approx(0.75, abs=1 / m.size + 1e-9)


def test_structured_patterns_are_obeyed_with_global_scope():
    model = cnn()
    layers = layers_of(model)
    masks = METHODS.get("synflow").prune(model, layers, make_pattern("window"), 0.7, seed=0,
                                         iterations=5, input_shape=(1, 8, 8))
    for n in ("0", "3"):  # 3x3 convs: the same count kept in every window
        per_window = masks[n].reshape(masks[n].shape[0] * masks[n].shape[1], 9).sum(axis=1)
        assert len(set(per_window.tolist())) == 1
    nm = METHODS.get("magnitude").prune(model, layers, make_pattern("nm2:4"), 0.9, seed=0)
    assert overall_sparsity({n: m for n, m in nm.items() if n != "0"}) == pytest.approx(0.5)


# ---------------------------------------------------------------- layer collapse (Tanaka et al. 2020)


def deep_mlp(seed):
    # Fan-ins 64 / 256 / 256 / 256 / 8 / 256: at init every weight of a fan-in-256 layer is below
    # 1/16 (PyTorch's uniform bound 1/sqrt(fan_in)), while > 9,000 weights of the fan-in-8 and
    # fan-in-64 layers are above it -- far more than the ~1,500 a 99 % global threshold keeps.
    return mlp(seed, widths=(64, 256, 256, 256, 8, 256, 10))


@pytest.mark.parametrize("seed", [0, 1])
def test_global_magnitude_collapses_layers_iterative_synflow_does_not(seed):
    model = deep_mlp(seed)
    layers = layers_of(model)
    assert len(layers) == 6
    mag = METHODS.get("magnitude").prune(model, layers, UNSTRUCTURED, 0.99, seed=seed, scope="global")
    assert overall_sparsity(mag) == pytest.approx(0.99, abs=1e-4)
    assert any(not m.any() for m in mag.values()), "global magnitude at init should empty a layer"

    syn = METHODS.get("synflow").prune(model, layers, UNSTRUCTURED, 0.99, seed=seed, iterations=100)
    assert overall_sparsity(syn) == pytest.approx(0.99, abs=1e-4)
    assert all(m.any() for m in syn.values()), {n: int(m.sum()) for n, m in syn.items()}

    capped = METHODS.get("magnitude").prune(model, layers, UNSTRUCTURED, 0.99, seed=seed, scope="global",
                                            max_layer_sparsity=0.995)
    assert all(m.any() for m in capped.values())


def test_synflow_leaves_the_model_and_its_signs_untouched():
    model = deep_mlp(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    METHODS.get("synflow").prune(model, layers_of(model), UNSTRUCTURED, 0.9, seed=0, iterations=3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32


# ---------------------------------------------------------------- schedules and training methods


def test_agp_schedule_is_the_cubic_formula():
    s_i, s_f, n = 0.1, 0.85, 7
    values = agp_schedule(s_f, initial=s_i, steps=n)
    assert len(values) == n + 1 and values[0] == pytest.approx(s_i) and values[-1] == pytest.approx(s_f)
    for k, v in enumerate(values):
        assert v == pytest.approx(s_f + (s_i - s_f) * (1 - k / n) ** 3)
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    # time-based form with t0 and dt, clamped outside [t0, t0 + n dt]
    expected = 0.9 - 0.9 * (1 - 3 / 8) ** 3
    assert agp_sparsity(13.0, 0.9, start=10, steps=4, interval=2) == pytest.approx(expected)
    assert agp_sparsity(5, 0.9, start=10) == 0.0 and agp_sparsity(99, 0.9, start=10) == 0.9


@pytest.mark.parametrize(("name", "params"), [("agp", {}), ("imp", {"prune_fraction": 0.5, "epochs": 8})])
def test_agp_and_imp_keep_test_accuracy_at_80_percent(name, params, digits):
    model = mlp()
    layers = layers_of(model)
    masks = METHODS.get(name).prune(model, layers, UNSTRUCTURED, 0.8, seed=0, data=digits, **params)
    assert overall_sparsity(masks) == pytest.approx(0.8, abs=1e-3)
    for n, m in layers.items():  # the trained model really holds the mask
        assert not m.weight.detach().numpy()[~masks[n]].any()
    assert model_sparsity(layers) >= 0.8 - 1e-3
    assert evaluate(model, digits, split="test") > 0.85


def test_imp_rounds_follow_the_pattern_target():
    imp = METHODS.get("imp")
    rounds = imp.schedule(0.8)
    assert len(rounds) == 8 and rounds[-1] == 0.8  # 0.8 ** 7 > 0.2 >= 0.8 ** 8
    assert rounds[0] == pytest.approx(0.2) and rounds[1] == pytest.approx(0.36)
    assert imp.with_params(rounds=3).schedule(0.875) == pytest.approx([0.5, 0.75, 0.875])
    assert make_pattern("nm2:4").target_for(0.8) == 0.5


def test_drop_pruning_converges_to_the_target(digits):
    model = mlp()
    layers = layers_of(model)
    drop = METHODS.get("drop").with_params(steps=8, pretrain_epochs=5, finetune_epochs=5)
    result = drop.run(model, layers, UNSTRUCTURED, 0.9, seed=1, data=digits)
    errors = [abs(h["achieved"] - 0.9) for h in result.history]
    assert errors[-1] < 1e-3 and errors[-1] < errors[len(errors) // 2] < errors[0]
    # the perturbation really moved weights in and out before the last step
    assert any(abs(h["achieved"] - h["target"]) > 1e-3 for h in result.history[:-1])
    assert overall_sparsity(result.masks) == pytest.approx(0.9, abs=1e-3)
    assert evaluate(model, digits) > 0.8


@pytest.mark.parametrize("name", TRAINING + ("snip", "taylor", "pen_ultimate"))
def test_methods_that_need_data_say_so(name):
    model = mlp()
    with pytest.raises(AccelsimError, match="data"):
        METHODS.get(name).prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0)


def test_training_methods_refuse_a_bare_batch(digits):
    model = mlp()
    with pytest.raises(AccelsimError, match="small models"):
        METHODS.get("agp").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0, data=None)
    with pytest.raises(AccelsimError, match="DigitsData"):
        METHODS.get("imp").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0, data=digits.batch(8))


def test_bad_parameters_are_clear_errors():
    model = mlp()
    with pytest.raises(AccelsimError, match="did you mean 'iterations'"):
        METHODS.get("synflow").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0, iteration=3)
    with pytest.raises(AccelsimError, match="scope"):
        METHODS.get("magnitude").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0, scope="globl")
    with pytest.raises(AccelsimError, match="input shape"):
        conv = cnn()
        METHODS.get("synflow").scores(conv, layers_of(conv), seed=0)
    with pytest.raises(AccelsimError, match="unknown method"):
        METHODS.get("magnitud")


def test_imp_reinit_shares_imps_first_mask_then_diverges(digits):
    """Same dense training -> the same first-round mask; later rounds differ only by what the
    survivors restart from (rewound vs re-drawn), so the masks part ways but keep the target."""
    params = {"epochs": 2, "rewind_step": 0}
    one = [METHODS.get(n).prune(m, layers_of(m), UNSTRUCTURED, 0.5, seed=0, data=digits, rounds=1, **params)
           for n, m in (("imp", mlp()), ("imp_reinit", mlp()))]
    for name in one[0]:
        assert (one[0][name] == one[1][name]).all()
    model = mlp()
    two = [METHODS.get(n).prune(m, layers_of(m), UNSTRUCTURED, 0.75, seed=0, data=digits, rounds=2, **params)
           for n, m in (("imp", mlp()), ("imp_reinit", model))]
    assert overall_sparsity(two[1]) == pytest.approx(0.75, abs=1e-3)
    assert any((two[0][n] != two[1][n]).any() for n in two[0])
    assert model_sparsity(layers_of(model)) >= 0.75 - 1e-3
    assert evaluate(model, digits) > 0.8
