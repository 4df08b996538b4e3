"""Mask studies (accelsim.studies.masks), ``accelsim masks`` and the similarity heat map: Jaccard and
structure counted by hand, the random baselines against sampled random masks, the CLI on two recipes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.errors import AccelsimError
from accelsim.studies.masks import (
    compare_masks,
    empty_kernel_fraction,
    hardware_costs,
    jaccard,
    mask_structure,
    random_jaccard,
    similarity_matrix,
    weighted_jaccard,
)


def fake(name: str, **masks) -> SimpleNamespace:
    """A workload-like object: layers with a name and a weight mask (what the study reads)."""
    layers = [SimpleNamespace(name=n, weight_mask=m) for n, m in masks.items()]
    return SimpleNamespace(name=name, layers=layers)


def test_jaccard_by_hand():
    a = np.array([1, 1, 0, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 0, 1], dtype=bool)
    assert jaccard(a, b) == 2 / 4
    assert jaccard(a, a) == 1.0
    assert jaccard(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    assert jaccard(a, ~a) == 0.0
    with pytest.raises(AccelsimError, match="shapes"):
        jaccard(a, np.ones(4, bool))


@pytest.mark.parametrize(("p", "q"), [(0.1, 0.1), (0.3, 0.5), (0.9, 0.2)])
def test_random_baseline_matches_sampled_random_masks(p, q):
    rng = np.random.default_rng(0)
    a, b = rng.random(200_000) < p, rng.random(200_000) < q
    assert jaccard(a, b) == pytest.approx(random_jaccard(p, q), rel=0.03)


def test_compare_masks_per_layer_and_weighted():
    x = fake("x", fc1=np.array([[1, 1], [0, 0]], bool), fc2=np.ones((1, 6), bool))
    y = fake("y", fc1=np.array([[1, 0], [1, 0]], bool), fc2=np.ones((1, 6), bool))
    rows = compare_masks(x, y)
    assert [(r.name, r.jaccard, r.density_a, r.density_b) for r in rows] == [("fc1", 1 / 3, 0.5, 0.5),
                                                                          ("fc2", 1.0, 1.0, 1.0)]
    assert rows[0].random_jaccard == pytest.approx(0.25 / 0.75)
    assert weighted_jaccard(rows) == pytest.approx((4 / 3 + 6) / 10)
    m = similarity_matrix([x, y, x])
    assert m.shape == (3, 3) and (np.diag(m) == 1).all() and m[0, 2] == 1.0 and m[0, 1] == m[1, 0]
    with pytest.raises(AccelsimError, match="different models"):
        compare_masks(x, fake("z", fc1=np.ones((3, 2), bool)))
    with pytest.raises(AccelsimError, match="no weight layer in common"):
        compare_masks(x, fake("z", conv=np.ones((3, 2), bool)))


def test_structure_counts_empty_kernels_channels_and_filters():
    w = np.ones((4, 3, 3, 3), dtype=bool)
    w[0] = False  # filter 0 empty: its 3 kernels are empty too
    w[:, 2] = False  # input channel 2 empty: 4 kernels (one shared with filter 0)
    w[1, 1, 0, 0] = False  # one weight: not a whole kernel
    (row,) = mask_structure(fake("w", conv=w))
    assert row.kernels_empty == 6 / 12 and row.in_channels_empty == 1 / 3 and row.filters_empty == 1 / 4
    d = w.mean()
    assert row.density == d
    assert row.kernels_random == pytest.approx((1 - d) ** 9)
    assert row.in_channels_random == pytest.approx((1 - d) ** 36)
    assert row.filters_random == pytest.approx((1 - d) ** 27)
    assert empty_kernel_fraction(fake("w", conv=w)) == 0.5
    (lin,) = mask_structure(fake("l", fc=np.array([[0, 0, 1], [0, 1, 1]], bool)))
    assert lin.kernels_empty is None and lin.in_channels_empty == 1 / 3 and lin.filters_empty == 0.0
    assert empty_kernel_fraction(fake("l", fc=np.ones((2, 2), bool))) is None


def test_binomial_expectation_matches_a_random_mask():
    rng = np.random.default_rng(1)
    (row,) = mask_structure(fake("r", conv=rng.random((64, 64, 3, 3)) < 0.3))
    assert row.kernels_empty == pytest.approx(row.kernels_random, rel=0.1)


def test_hardware_costs_are_what_simulate_reports():
    from accelsim import load_hardware, load_workload, simulate

    w = load_workload("mlp_digits_90pct")
    costs = hardware_costs(w, ["sparse_pe", "nm_tensor_core"])
    direct = simulate(load_hardware("sparse_pe"), w).totals()
    assert costs["sparse_pe"]["total_cycles"] == direct["total_cycles"]
    assert costs["sparse_pe"]["metadata_bits"] == direct["metadata_bits"] > 0
    nm = simulate(load_hardware("nm_tensor_core"), w).totals()
    assert costs["nm_tensor_core"] == {k: nm[k] for k in ("total_cycles", "energy_pj", "metadata_bits",
                                                          "macs_issued")}


@pytest.fixture(scope="module")
def random_recipe(tmp_path_factory):
    path = tmp_path_factory.mktemp("recipes") / "mlp_random.yaml"
    path.write_text("version: 1\nmodel: mlp_digits\npattern: unstructured\nsparsity: 0.9\nmethod: random\n")
    return str(path)


def test_cli_masks_compare_and_plot(random_recipe, tmp_path):
    png = tmp_path / "sim.png"
    res = CliRunner().invoke(cli, ["masks", "compare", "mlp_digits_90pct", random_recipe, "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "fc1" in res.output and "weighted by layer size" in res.output
    assert png.stat().st_size > 10_000
    res = CliRunner().invoke(cli, ["masks", "compare", "mlp_digits_90pct", random_recipe, "--json"])
    data = json.loads(res.stdout)
    assert data["matrix"][0][0] == 1.0 and 0.0 < data["matrix"][0][1] < 0.2  # random ~ 0.05 at 10 % density
    assert [r["name"] for r in data["layers"]] == ["fc1", "fc2", "fc3"]


def test_cli_masks_structure_and_bad_input(random_recipe):
    res = CliRunner().invoke(cli, ["masks", "structure", random_recipe, "--hw", "sparse_pe", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [r["name"] for r in data["layers"]] == ["fc1", "fc2", "fc3"] and "sparse_pe" in data["hardware"]
    res = CliRunner().invoke(cli, ["masks", "compare", "mlp_digits_90pct"])
    assert res.exit_code == 2 and "at least two" in res.output


def test_similarity_figure_prints_every_cell():
    from accelsim.results.plots_masks import similarity_figure

    m = np.array([[1.0, 0.25], [0.25, 1.0]])
    fig = similarity_figure(m, ["a", "b"], "t", baseline=0.05)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0.25", "0.25", "1.00", "1.00"]
    assert (ax.images[0].get_array() == m).all()
    with pytest.raises(ValueError, match="labels"):
        similarity_figure(m, ["a"], "t")
