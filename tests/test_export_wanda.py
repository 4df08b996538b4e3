"""Wanda pruning (|W| x ||X||_2 on a calibration batch): scores against a brute-force reference for
linear and grouped conv layers, and the unstructured and 2:4 masks it gives through prune_model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.registry import METHODS
from accelsim.workload.pruning.apply import prune_model


def test_linear_scores_are_weight_times_feature_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4))
    x = torch.randn(3, 5, 6)
    x[..., 2] *= 100.0  # feature 2 is loud
    scores = METHODS.get("wanda").scores(model, {"0": model[0]}, seed=0, data=x)["0"]
    norms = np.sqrt((x.double().reshape(-1, 6) ** 2).sum(0).numpy())
    np.testing.assert_allclose(scores, np.abs(model[0].weight.detach().double().numpy()) * norms)


def test_grouped_conv_scores_use_their_groups_im2col_columns():
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    x = torch.randn(2, 4, 5, 5)
    scores = METHODS.get("wanda").scores(nn.Sequential(conv), {"0": conv}, seed=0, data=x)["0"]
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1)).double()
    w = conv.weight.detach().double()
    for o in range(6):
        g = o // 3
        for c in range(2):
            for r in range(3):
                for s in range(3):
                    column = xp[:, g * 2 + c, r:r + 5, s:s + 5]  # every output position's tap (r, s)
                    want = abs(float(w[o, c, r, s])) * float(column.pow(2).sum().sqrt())
                    assert scores[o, c, r, s] == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("pattern,sparsity", [("unstructured", 0.5), ("nm2:4", 0.5)])
def test_wanda_masks_keep_the_loud_features(pattern, sparsity):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    x = torch.randn(64, 8)
    x[:, :2] *= 1000.0  # two loud input features: wanda keeps their weights, magnitude does not care
    result = prune_model(model, pattern=pattern, sparsity=sparsity, method="wanda", rule_fc="pattern",
                         data=(x, torch.zeros(64, dtype=torch.long)))
    mask = model[0].weight_mask.bool().numpy() if hasattr(model[0], "weight_mask") else \
        (model[0].weight.detach() != 0).numpy()
    assert mask[:, :2].mean() >= 0.9  # the loud columns are kept (a rare tiny |w| may still go)
    assert result.layers[0].nonzeros == 16 * 8 // 2
    if pattern == "nm2:4":  # every group of 4 consecutive inputs keeps exactly 2: the two loud ones
        assert (mask.reshape(16, 2, 4).sum(-1) == 2).all()


def test_wanda_without_data_needs_an_input_shape():
    model = nn.Sequential(nn.Linear(8, 4))
    with pytest.raises(Exception, match="calibration inputs"):
        METHODS.get("wanda").scores(model, {"0": model[0]}, seed=0)
    scores = METHODS.get("wanda").with_params(input_shape=(8,)).scores(model, {"0": model[0]}, seed=0)
    assert scores["0"].shape == (4, 8) and (scores["0"] > 0).all()
