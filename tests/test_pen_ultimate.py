"""(Pen-)Ultimate DNN pruning (methods/pen_ultimate.py): PCA picks how many units, the relative
importance of the connections picks which; hand-checked on layers whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.errors import AccelsimError
from accelsim.registry import METHODS
from accelsim.workload.pruning.apply import prune_model
from accelsim.workload.pruning.methods.pen_ultimate import pca_components, relative_importance
from accelsim.workload.pruning.patterns import make_pattern

UNSTRUCTURED = make_pattern("unstructured")


def layers_of(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}


def low_rank_mlp(rank: int, seed: int = 0):
    """64 -> 32 (weight of rank ``rank``, no bias) -> 10: the first layer's outputs have rank ``rank``."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 10))
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(32, rank, generator=g) @ torch.randn(rank, 64, generator=g))
    return model


def batch(n=300, features=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=g), torch.zeros(n, dtype=torch.long)


def test_pca_components_by_hand():
    # variances 9, 4, 1 along three orthogonal axes (shares 9/14, 13/14, 1)
    a = np.array([[3, 0, 0], [-3, 0, 0], [0, 2, 0], [0, -2, 0], [0, 0, 1], [0, 0, -1]], dtype=float)
    assert pca_components(a, 0.5) == 1
    assert pca_components(a, 9 / 14) == 1
    assert pca_components(a, 0.65) == 2
    assert pca_components(a, 13 / 14) == 2
    assert pca_components(a, 0.93) == 3
    assert pca_components(np.ones((5, 4)), 0.9) == 1  # constant activations: one unit


@pytest.mark.parametrize("rank", [1, 3, 7])
@pytest.mark.parametrize("variance", [0.9, 0.999])
def test_a_layer_of_known_rank_keeps_at_most_that_many_units(rank, variance):
    model = low_rank_mlp(rank)
    masks = METHODS.get("pen_ultimate").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0,
                                              data=batch(), variance=variance)
    kept = int(masks["0"].all(axis=1).sum())
    assert kept <= rank
    if variance == 0.999:  # every non-zero component is needed above 99.9 %
        assert kept == rank
    assert masks.widths["0"] == (kept, 32)
    assert not masks["0"][~masks["0"].all(axis=1)].any()  # whole rows
    dropped = np.flatnonzero(~masks["0"].all(axis=1))
    assert not masks["2"][:, dropped].any() and masks["2"][:, masks["0"].all(axis=1)].all()
    assert masks.widths["2"] == (10, 10)  # the output layer keeps its classes
    assert f"kept {kept} of 32 units" in masks.notes["0"]


def test_relative_importance_by_hand():
    w = np.array([[1.0, -3.0], [0.0, 0.0]])
    c = relative_importance(w, np.array([2.0, 1.0]))  # drives 2 and 3 -> shares 0.4, 0.6
    np.testing.assert_allclose(c, [[0.4, 0.6], [0.0, 0.0]])
    conv = relative_importance(np.ones((1, 2, 2, 2)), np.array([1.0, 3.0]))
    np.testing.assert_allclose(conv[0, 0], 1 / 16)
    np.testing.assert_allclose(conv[0, 1], 3 / 16)


def test_the_units_the_next_layer_relies_on_are_kept():
    # identity first layer: outputs = inputs, 4 independent features of variances 100, 100, 1, 1
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(4))
        model[1].weight.copy_(torch.tensor([[0.0, 5.0, 0.0, 1.0], [0.0, 0.0, 4.0, 0.0]]))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 4, generator=g) * torch.tensor([10.0, 10.0, 1.0, 1.0])
    masks = METHODS.get("pen_ultimate").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0,
                                              data=(x, torch.zeros(2000, dtype=torch.long)), variance=0.95)
    # two components hold > 95 % (200 / 202); unit 0 feeds nothing, unit 2 is all of output 1's drive
    assert masks.widths["0"] == (2, 4)
    assert masks["0"].all(axis=1).tolist() == [False, True, True, False]
    assert masks["1"].tolist() == [[False, True, True, False]] * 2


def test_conv_filters_map_to_the_flattened_columns_of_the_linear_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 10))
    x = torch.randn(64, 1, 8, 8)
    masks = METHODS.get("pen_ultimate").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0,
                                              data=(x, torch.zeros(64, dtype=torch.long)), variance=0.6)
    kept = masks["0"].reshape(4, -1).all(axis=1)
    assert 1 <= kept.sum() < 4
    cols = masks["4"].all(axis=0).reshape(4, 16)  # channel c -> columns 16c .. 16c + 15
    assert (cols.all(axis=1) == kept).all() and not cols[~kept].any()


def test_connection_variant_keeps_the_pca_share_of_the_most_important_connections():
    model = low_rank_mlp(4)
    pu = METHODS.get("pen_ultimate").with_params(variance=0.999, granularity="connection")
    masks = pu.prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0, data=batch())
    assert masks.widths["0"] == (4, 32)
    assert masks["0"].sum() == 64 * 32 * 4 // 32  # density 4 / 32
    scores = pu.scores(model, layers_of(model), seed=0, data=batch())["0"]
    assert scores[masks["0"]].min() >= scores[~masks["0"]].max()
    assert masks["2"].all()  # the output layer stays dense (keep_output)


def test_widths_reach_prune_models_layer_notes():
    model = low_rank_mlp(3)
    result = prune_model(model, pattern="unstructured", sparsity=0.5, method="pen_ultimate", data=batch(),
                         method_params={"variance": 0.999})
    notes = {lp.name: lp.note for lp in result.layers}
    assert "kept 3 of 32 units" in notes["0"] and "kept 10 of 10 units" in notes["2"]
    assert result.layers[0].nonzeros == 3 * 64


def test_bad_parameters_and_missing_data_are_clear_errors():
    model = low_rank_mlp(2)
    with pytest.raises(AccelsimError, match="variance"):
        METHODS.get("pen_ultimate").with_params(variance=1.5)
    with pytest.raises(AccelsimError, match="granularity"):
        METHODS.get("pen_ultimate").with_params(granularity="filters")
    with pytest.raises(AccelsimError, match="calibration data"):
        METHODS.get("pen_ultimate").prune(model, layers_of(model), UNSTRUCTURED, 0.5, seed=0)


def test_widths_reach_the_report(tmp_path, monkeypatch):
    """A recipe pruned by pen_ultimate: each layer's report notes say how many units it kept."""
    from accelsim import load_hardware, load_workload, simulate

    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    recipe = tmp_path / "pu.yaml"
    recipe.write_text("version: 1\nname: pu\nmodel: mlp_digits\npattern: unstructured\nsparsity: 0.5\n"
                      "method: pen_ultimate\nmethod_params: {variance: 0.999}\ninput_shape: [64]\n"
                      "data: digits\n")
    report = simulate(load_hardware("dense_ws"), load_workload(str(recipe)))
    notes = {layer.name: layer.notes for layer in report.layers}
    assert any(n.startswith("pruning: pen_ultimate: kept") and "of 128 units" in n for n in notes["fc1"])
    assert "pruning: pen_ultimate: kept 10 of 10 units (PCA 0.999 of the variance)" in notes["fc3"]
