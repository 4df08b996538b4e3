"""Workload recipes: strict loading, the name grammar, building, and the on-disk cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import ConfigError, UnknownNameError
from accelsim.registry import MODELS
from accelsim.spec.recipe import (
    PatternSpec,
    Recipe,
    is_model_ref,
    parse_pattern,
    pattern_names,
    recipe_from_name,
    recipe_name,
)
from accelsim.workload import cache
from accelsim.workload.layer import Layer
from accelsim.workload.load import load_workload
from accelsim.workload.pruning.patterns import make_pattern
from accelsim.workload.recipes import WORKLOADS_DIR, recipe_hash, resolve_recipe, shipped_recipe_names

README_NAMES = ("resnet50_70pct", "resnet50_70pct_window", "resnet50_70pct_channel", "resnet50_2of4",
                "resnet50_70pct_block4x4", "lenet5_93pct")


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# ---------------------------------------------------------------- shipped recipes


def test_the_readme_names_are_shipped():
    assert set(README_NAMES) <= set(shipped_recipe_names())


@pytest.mark.parametrize("name", shipped_recipe_names())
def test_every_shipped_recipe_loads_strictly_and_checks(name):
    from accelsim.cli.check import check_file

    path = WORKLOADS_DIR / f"{name}.yaml"
    recipe = resolve_recipe(path)
    assert recipe.name == name and recipe.description
    assert check_file(str(path)) == "workload recipe"
    assert resolve_recipe(name) == recipe  # the name finds the same file
    grammar = recipe_from_name(name)
    if grammar is not None:  # a file named like the grammar says exactly what the grammar says
        assert grammar == recipe


# ---------------------------------------------------------------- strict loading


def test_unknown_key_gets_did_you_mean_and_all_problems_are_listed(tmp_path):
    p = write(tmp_path, """\
        version: 1
        model: resnet50
        sparsty: 0.7
        scope: globl
        seed: -1
        rule_fc: dens
        """)
    with pytest.raises(ConfigError) as exc:
        resolve_recipe(p)
    msg = str(exc.value)
    assert str(p) in msg and "4 problems" in msg
    assert "sparsty: unknown key (did you mean 'sparsity'?)" in msg
    assert "scope: 'globl' is not one of layer, global (did you mean 'global'?)" in msg
    assert "seed:" in msg and "rule_fc:" in msg and "did you mean 'dense'" in msg


@pytest.mark.parametrize("body, expected", [
    ("model: resnet50\nsparsity: 70\n", "write 0.7 for 70 %"),
    ("model: resnt50\nsparsity: 0.7\n", "did you mean 'resnet50'"),
    ("model: resnet50\npattern: windw\nsparsity: 0.7\n", "did you mean 'window'"),
    ("model: resnet50\npattern: nm5:4\n", "N=5 kept must be between 1 and M=4"),
    ("model: resnet50\npattern: nm2:4\nsparsity: 0.7\n", "contradicts pattern nm2:4"),
    ("model: resnet50\npattern: window\n", "needs a target sparsity"),
    ("model: resnet50\nsparsity: 0.7\nmethod: magnitud\n", "did you mean 'magnitude'"),
    ("model: resnet50\nactivations: nowhere.pt\n", "not found"),
    ("model: resnet50\ninput_shape: [3, 0]\n", "positive sizes"),
    ("model: resnet50\nactivations: token_ids\ninput_shape: [3, 224, 224]\n", "not one number of tokens"),
    ("model: resnet50\nactivations: tokens\n", "did you mean 'token_ids'"),
    ("model: resnet50\nversion: 1\n", "version"),  # duplicate key
])
def test_bad_recipes(tmp_path, body, expected):
    p = write(tmp_path, "version: 1\n" + body)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        resolve_recipe(p)


def test_version_and_model_are_required(tmp_path):
    with pytest.raises(ConfigError) as exc:
        resolve_recipe(write(tmp_path, "pattern: window\nsparsity: 0.7\n"))
    assert "version: required key is missing" in str(exc.value)
    assert "model: required key is missing" in str(exc.value)


def test_percent_strings_and_relative_paths(tmp_path):
    import torch

    torch.save(torch.zeros(2, 1, 32, 32), tmp_path / "x.pt")
    r = resolve_recipe(write(tmp_path, "version: 1\nmodel: lenet5\nsparsity: 90 %\nactivations: x.pt\n"))
    assert r.sparsity == pytest.approx(0.9) and r.batch is None
    assert r.activations == str((tmp_path / "x.pt").resolve())


# ---------------------------------------------------------------- the name grammar


def test_name_grammar():
    assert resolve_recipe("resnet50") == Recipe(name="resnet50", model="resnet50")
    r = recipe_from_name("resnet50_70pct")
    assert (r.model, r.pattern, r.sparsity, r.method, r.scope, r.first_conv, r.rule_fc, r.seed, r.batch) == (
        "resnet50", "unstructured", 0.7, "magnitude", "layer", "dense", "pattern", 0, 1)
    assert recipe_from_name("resnet50_70pct_window").pattern == "window"
    assert recipe_from_name("resnet50_70pct_block4x4").pattern == "block4x4"
    r = recipe_from_name("resnet50_2of4")
    assert (r.pattern, r.sparsity) == ("nm2:4", 0.5)
    assert recipe_from_name("lenet5_93pct").sparsity == pytest.approx(0.93)
    r = recipe_from_name("mobilenet_v2_50pct_input_channel")
    assert (r.model, r.pattern) == ("mobilenet_v2", "input_channel")
    assert recipe_from_name("lenet5_digits_80pct").model == "lenet5_digits"  # longest zoo name wins
    assert recipe_from_name("vgg16_87.5pct").sparsity == pytest.approx(0.875)
    assert recipe_from_name("resnet18_60pct_nm:4").pattern == "nm:4"
    assert resolve_recipe("mypkg.models:build").model == "mypkg.models:build"


def test_name_grammar_errors():
    with pytest.raises(UnknownNameError) as exc:
        resolve_recipe("resnet51_70pct")
    assert "resnet50_70pct" in str(exc.value) and "lenet5" in str(exc.value)  # close + known names
    with pytest.raises(UnknownNameError, match="did you mean 'window'"):
        resolve_recipe("resnet50_70pct_windw")
    with pytest.raises(ConfigError, match="resnet50_70pct_window"):
        resolve_recipe("resnet50_window")
    with pytest.raises(ConfigError, match="resnet50_2of4"):
        resolve_recipe("resnet50_70pct_2of4")
    with pytest.raises(ConfigError, match="sparsity"):
        resolve_recipe("resnet50_100pct")
    with pytest.raises(ConfigError, match="file not found"):
        resolve_recipe("no/such/recipe.yaml")


# N:M with a colon is a recipe name, not a module:function reference
@pytest.mark.parametrize("text, expected", [
    ("mypkg.models:build", True), ("a.b:c.d", True), ("nets/mine.py:build", True), ("mine.py:build", True),
    ("resnet18_50pct_nm2:4", False), ("lenet5_50pct_nm:4", False), ("resnet50_50pct_2:4", False),
    ("nm2:4", False), ("user_models:", False), ("mine.py:4", False), ("resnet50", False),
])
def test_model_references_are_a_module_or_py_file_then_an_identifier(text, expected):
    assert is_model_ref(text) is expected


def test_colon_nm_names_resolve_as_recipes(tmp_path):
    r = resolve_recipe("resnet18_50pct_nm2:4")
    assert (r.model, r.pattern, r.sparsity, r.source) == ("resnet18", "nm2:4", 0.5, "name grammar")
    same = replace(resolve_recipe("resnet50_50pct_2:4"), name="resnet50_2of4")
    assert same == resolve_recipe("resnet50_2of4")  # two spellings of one recipe (the shipped file's)
    r = resolve_recipe("lenet5_50pct_nm:4")
    assert (r.model, r.pattern, r.sparsity) == ("lenet5", "nm:4", 0.5)
    with pytest.raises(ConfigError, match="nm2:4 fixes the sparsity at 50 %, not 70 %; write resnet50_2of4"):
        resolve_recipe("resnet50_70pct_nm2:4")
    r = resolve_recipe("nets/mine.py:build")
    assert (r.name, r.model) == ("build", "nets/mine.py:build")
    p = write(tmp_path, "version: 1\nmodel: resnet18\npattern: 2of4\n")
    assert resolve_recipe(p).pattern == "nm2:4" and resolve_recipe(p).sparsity == 0.5


def _canonical_specs():
    plain = st.sampled_from([n for n in pattern_names() if n not in ("nm2:4", "block4x4")])
    nm = st.integers(1, 16).flatmap(lambda m: st.tuples(st.one_of(st.none(), st.integers(1, m)), st.just(m)))
    block = st.tuples(st.integers(1, 16), st.integers(1, 16))
    return st.one_of(plain, nm.map(lambda t: f"nm{'' if t[0] is None else t[0]}:{t[1]}"),
                     block.map(lambda t: f"block{t[0]}x{t[1]}"))


@settings(max_examples=200, deadline=None)
@given(_canonical_specs())
def test_pattern_spellings_round_trip(text):
    spec = parse_pattern(text)
    assert str(spec) == text and PatternSpec.parse(str(spec)) == spec
    assert make_pattern(text).spec == text  # the pruning patterns write the same spelling
    assert PatternSpec.parse(text.upper()) == spec
    if spec.kind == "nm" and dict(spec.params)["n"] is not None:
        n, m = (v for _, v in spec.params)
        assert parse_pattern(f"{n}:{m}") == parse_pattern(f"{n}of{m}") == spec
        assert spec.fixed_sparsity == pytest.approx(1 - n / m)
    else:
        assert spec.fixed_sparsity is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(MODELS.names())), _canonical_specs(), st.integers(1, 999))
def test_recipe_names_round_trip(model, pattern, permille):
    """name -> Recipe -> name is the identity; Recipe -> name -> Recipe keeps model, pattern, sparsity."""
    spec = PatternSpec.parse(pattern)
    sparsity = spec.fixed_sparsity if spec.fixed_sparsity is not None else permille / 1000
    if sparsity == 0.0:
        return  # nm1:1 keeps everything: no name of the grammar says that
    name = recipe_name(model, pattern, sparsity)
    r = recipe_from_name(name)
    assert (r.name, r.model, r.pattern, r.sparsity) == (name, model, pattern, sparsity)
    assert recipe_name(r.model, r.pattern, r.sparsity) == name
    if spec.fixed_sparsity is not None:
        assert name.endswith("of" + str(dict(spec.params)["m"]))
        with pytest.raises(ConfigError, match="fixes the sparsity"):
            recipe_name(model, pattern, 0.999 if sparsity < 0.99 else 0.1)


def test_dense_names():
    assert recipe_name("resnet50") == "resnet50" == recipe_name("resnet50", "unstructured", 0.0)
    assert recipe_name("resnet50", "window", 0.0) == "resnet50_0pct_window"
    assert recipe_from_name("resnet50_0pct_window").pattern == "window"


def test_a_path_loads_that_file(tmp_path):
    p = write(tmp_path, "version: 1\nmodel: lenet5\npattern: kernel\nsparsity: 0.5\nseed: 3\n", "mine.yaml")
    r = resolve_recipe(str(p))
    assert (r.name, r.pattern, r.sparsity, r.seed, r.source) == ("mine", "kernel", 0.5, 3, str(p))


def test_recipe_hash_is_canonical():
    a = recipe_from_name("lenet5_93pct")
    assert recipe_hash(a) == recipe_hash(resolve_recipe("lenet5_93pct"))  # file == grammar
    assert recipe_hash(a) != recipe_hash(replace(a, seed=1))
    assert recipe_hash(a) != recipe_hash(replace(a, batch=4))
    assert recipe_hash(a) == recipe_hash(replace(a, description="words do not matter"))


def test_checkpoint_content_is_part_of_the_hash(tmp_path):
    ck = tmp_path / "w.pt"
    ck.write_bytes(b"one")
    a = replace(recipe_from_name("lenet5_93pct"), checkpoint=str(ck))
    h1 = recipe_hash(a)
    ck.write_bytes(b"two")
    assert recipe_hash(a) != h1


# ---------------------------------------------------------------- building and the cache


def test_build_labels_layers_and_keeps_the_real_masks():
    recipe = recipe_from_name("lenet5_93pct")
    workload, result = cache.build_workload(recipe)
    by = {layer.name: layer for layer in workload.layers}
    assert str(by["conv1"].pattern) == "dense" and by["conv1"].weight_sparsity == 0.0
    for name in ("conv2", "fc1", "fc2", "fc3"):
        assert str(by[name].pattern) == "unstructured" and by[name].target_sparsity == pytest.approx(0.93)
        np.testing.assert_array_equal(by[name].weight_mask, result.masks[name])
    assert workload.name == "lenet5_93pct" and "magnitude" in workload.source


def test_data_driven_method_global_scope_recipe():
    workload, result = cache.build_workload(resolve_recipe("mlp_digits_snip_90pct_global"))
    assert result.method == "snip" and result.achieved == pytest.approx(0.9, abs=0.01)
    assert all(layer.weight_sparsity <= 0.98 + 1e-9 for layer in workload.layers)
    assert len({round(layer.weight_sparsity, 2) for layer in workload.layers}) > 1


def test_cache_round_trips_exactly_and_serves_the_second_load(tmp_path, monkeypatch):
    first = load_workload("lenet5_93pct", cache_dir=tmp_path)
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".bits", ".json"]
    meta = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert meta["extra"]["recipe"]["sparsity"] == 0.93 and meta["extra"]["prune"][1]["name"] == "conv2"
    assert [la["pattern"] for la in meta["layers"]] == ["dense"] + ["unstructured"] * 4  # spelled in the JSON

    def no_build(recipe):
        raise AssertionError("rebuilt instead of reading the cache")

    monkeypatch.setattr(cache, "build_workload", no_build)
    second = load_workload("lenet5_93pct", cache_dir=tmp_path)
    assert (second.name, second.source, second.input_shape, second.batch, second.fingerprint) == (
        first.name, first.source, first.input_shape, first.batch, first.fingerprint)
    assert len(second.layers) == len(first.layers)
    for a, b in zip(first.layers, second.layers, strict=True):
        for f in ("name", "kind", "m", "n", "k", "groups", "activation_density", "activation_density_source",
                  "conv", "pattern", "target_sparsity"):
            assert getattr(a, f) == getattr(b, f), f
        np.testing.assert_array_equal(a.weight_mask, b.weight_mask)
        assert b.weight_mask.dtype == bool and not b.weight_mask.flags.writeable


def test_layer_patterns_are_typed_and_reports_spell_them(tmp_path):
    """lenet5 at 50 % nm:4: conv1 is the first conv (dense), conv2 has C = 6 (not a multiple of 4:
    dense), fc1..fc3 have 400, 120, 84 inputs: N = round(0.5 * 4) = 2 kept of every 4."""
    from accelsim import load_hardware, simulate

    w = load_workload("lenet5_50pct_nm:4", cache_dir=tmp_path)
    nm24 = PatternSpec("nm", (("n", 2), ("m", 4)))
    assert [la.pattern for la in w.layers] == [PatternSpec("dense")] * 2 + [nm24] * 3
    assert load_workload("lenet5_50pct_nm:4", cache_dir=tmp_path).layers[2].pattern == nm24  # cached
    assert Layer("x", "linear", 1, 4, 8, pattern="NM2:4").pattern == nm24  # a spelling is parsed
    with pytest.raises(ConfigError, match="not a pattern name"):
        Layer("x", "linear", 1, 4, 8, pattern="2-of-4")
    report = simulate(load_hardware("sparse_pe"), w).to_json_dict()
    assert [la["pattern"] for la in report["layers"]] == ["dense", "dense", "nm2:4", "nm2:4", "nm2:4"]


def test_cache_misses_rebuild(tmp_path):
    first = load_workload("lenet5_93pct", cache_dir=tmp_path, batch=2)
    assert first.batch == 2
    next(tmp_path.glob("*.bits")).write_bytes(b"garbage")  # a broken pair is a miss, then rewritten
    with pytest.warns(cache.WorkloadCacheWarning, match="damaged"):
        again = load_workload("lenet5_93pct", cache_dir=tmp_path, batch=2)
    assert again.fingerprint == first.fingerprint
    other = tmp_path / "off"
    load_workload("lenet5_93pct", cache_dir=other, use_cache=False)
    assert not other.exists()


def test_cached_load_does_not_import_torch(tmp_path):
    load_workload("lenet5_93pct", cache_dir=tmp_path)
    code = textwrap.dedent(f"""
        import sys, time
        t = time.perf_counter()
        from accelsim.workload.load import load_workload
        w = load_workload("lenet5_93pct", cache_dir={str(tmp_path)!r})
        assert len(w.layers) == 5, w
        print("torch" in sys.modules, round(time.perf_counter() - t, 3))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, _seconds = out.stdout.split()
    assert imported == "False"


def test_activation_tensor_file(tmp_path):
    import torch

    torch.save(torch.relu(torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))),
               tmp_path / "x.pt")
    p = write(tmp_path, "version: 1\nmodel: lenet5\nsparsity: 0.5\nactivations: x.pt\n")
    w = load_workload(str(p), cache_dir=tmp_path / "c")
    assert w.batch == 3
    assert w.layers[0].activation_density == pytest.approx(0.5, abs=0.05)
    assert "user input" in w.layers[0].activation_density_source
    with pytest.raises(ConfigError, match="batch"):
        load_workload(str(p), cache_dir=tmp_path / "c", batch=2)


@pytest.mark.slow
def test_resnet50_window_recipe_end_to_end():
    w, result = cache.build_workload(resolve_recipe("resnet50_70pct_window"))
    by = {layer.name: layer for layer in w.layers}
    assert str(by["conv1"].pattern) == "dense" and by["conv1"].weight_sparsity == 0.0
    three = [la for la in w.layers if la.conv is not None and la.conv.kernel_h == 3]
    ones = [la for la in w.layers if la.conv is not None and la.conv.kernel_h == 1]
    assert len(three) == 16 and len(ones) == 36
    for la in three:  # 3 of 9 kept in every window: 66.7 % for the 70 % target
        assert str(la.pattern) == "window" and la.target_sparsity == pytest.approx(0.7)
        assert np.all(la.weight_mask.sum(axis=(2, 3)) == 3)
    for la in [*ones, by["fc"]]:
        assert str(la.pattern) == "unstructured" and la.weight_sparsity == pytest.approx(0.7, abs=1e-3)
    assert result.achieved == pytest.approx(0.685, abs=0.005)
