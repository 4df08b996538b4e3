"""Unit / filter pruning as a smaller dense model (pruning/structured.py): the masked model and the
physically shrunk one compute the same outputs; L1 keeps the largest filters; slim models are real."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.workload.models import build_model
from accelsim.workload.pruning.structured import l1_keep, shrink, slim_model, unit_masks
from accelsim.workload.pruning.training import apply_masks


@pytest.mark.parametrize(("name", "shape"), [("mlp_digits", (64,)), ("lenet5_digits", (1, 8, 8))])
@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_masked_and_shrunk_models_agree(name, shape, ratio):
    model, _ = build_model(name, seed=0)
    keep = l1_keep(model, ratio)
    small = shrink(model, keep)
    masks = unit_masks(model, keep)
    qual = dict(model.named_modules())
    apply_masks(model, {n: m for n, m in masks.items() if n in qual})
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-5)
    big = sum(m.size for m in masks.values())
    assert sum(p.numel() for n, p in small.named_parameters() if n.endswith("weight")) == sum(
        int(m.sum()) for m in masks.values()) < big


def test_l1_keeps_the_largest_filters_and_the_classes():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0, 0], [5, 0, 0], [0, -3, 0], [0, 0, 0.5]]))
    keep = l1_keep(model, 0.5)
    assert list(keep) == ["0"] and keep["0"].tolist() == [1, 2]
    masks = unit_masks(model, keep)
    assert masks["0"].all(axis=1).tolist() == [False, True, True, False]
    assert masks["2"].all(axis=0).tolist() == [False, True, True, False]
    with pytest.raises(AccelsimError, match="ratio"):
        l1_keep(model, 1.0)


def test_slim_model_is_a_smaller_dense_lenet():
    small = slim_model("lenet5_digits", {"conv1": 3, "conv2": 8, "fc1": 60, "fc2": 42}, seed=1)
    assert small.conv2.weight.shape == (8, 3, 5, 5) and small.fc1.weight.shape == (60, 32)
    assert small(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    again = slim_model("lenet5_digits", {"conv1": 3, "conv2": 8, "fc1": 60, "fc2": 42}, seed=1)
    assert torch.equal(small.fc1.weight, again.fc1.weight)
    with pytest.raises(AccelsimError, match="no layer"):
        slim_model("lenet5_digits", {"conv9": 3})
