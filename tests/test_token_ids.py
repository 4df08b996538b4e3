"""Seeded random token ids as a recipe input: ``activations: token_ids`` with ``batch: B`` and
``input_shape: [T]``, of which ``--input-ids B,T`` (and ``--input token_ids``) is exactly the sugar:
the same recipe, the same cache key, the same traced layers."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

import pytest
import yaml
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.errors import ConfigError
from accelsim.spec.recipe import recipe_from_file, recipe_to_dict
from accelsim.workload import cache
from accelsim.workload.load import load_workload
from accelsim.workload.recipes import recipe_hash, resolve_recipe

# HF-style: the token embedding is what get_input_embeddings() returns, not the first nn.Embedding
# (the position table, 8 rows, comes first), so ids must be drawn below 50 from the right table.
MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = nn.Embedding(8, 16)
        self.tok = nn.Embedding(50, 16)
        self.proj = nn.Linear(16, 16)

    def get_input_embeddings(self):
        return self.tok

    def forward(self, ids):
        assert ids.dtype == torch.int64
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.proj(self.tok(ids) + self.pos(positions))


def net():
    return Net()


def no_embedding():
    return nn.Sequential(nn.Linear(16, 16))
'''

RECIPE = """\
version: 1
name: net
model: model.py:net
activations: token_ids
batch: 2
input_shape: [7]
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "tok.yaml").write_text(RECIPE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _write(tmp_path, text, name="r.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _layers(workload):
    return [(la.name, la.kind, la.m, la.n, la.k) for la in workload.layers]


# ---------------------------------------------------------------- one recipe, two spellings


def test_the_recipe_and_input_ids_are_the_same_recipe_and_key(tree):
    from_file = resolve_recipe(tree / "tok.yaml")
    sugar = replace(resolve_recipe("model.py:net"), activations="token_ids", batch=2, input_shape=(7,))
    assert from_file.activations == "token_ids" and from_file.batch == 2 and from_file.input_shape == (7,)
    assert from_file == sugar and recipe_hash(from_file) == recipe_hash(sugar)
    assert recipe_hash(replace(sugar, input_shape=(8,))) != recipe_hash(sugar)  # another T, another key
    assert recipe_hash(replace(sugar, batch=3)) != recipe_hash(sugar)
    assert recipe_hash(replace(sugar, activations="synthetic")) != recipe_hash(sugar)


def test_the_recipe_traces_what_input_ids_traces_and_shares_its_cache_entry(tree, monkeypatch):
    by_recipe = load_workload(tree / "tok.yaml")
    assert _layers(by_recipe) == [("proj", "linear", 14, 16, 16)]  # M = batch x tokens
    assert "seeded random token ids below the vocabulary size 50 of shape (2, 7)" in (
        by_recipe.layers[0].activation_density_source)
    [entry] = (tree / "cache").glob("*.json")

    with monkeypatch.context() as m:
        m.setattr(cache, "build_workload", lambda *a, **k: pytest.fail("--input-ids missed the cache"))
        for sugar in (dict(input_ids=(2, 7)), dict(input="token_ids", batch=2, input_shape=(7,))):
            served = load_workload("model.py:net", **sugar)
            assert _layers(served) == _layers(by_recipe) and served.fingerprint == by_recipe.fingerprint
    assert list((tree / "cache").glob("*.json")) == [entry]

    fresh = load_workload("model.py:net", input_ids=(2, 7), use_cache=False)  # traced again, not read
    assert fresh.fingerprint == by_recipe.fingerprint and _layers(fresh) == _layers(by_recipe)
    longer = load_workload("model.py:net", input_ids=(2, 8))
    assert longer.layers[0].m == 16 and len(list((tree / "cache").glob("*.json"))) == 2


def test_batch_defaults_to_1_and_the_recipe_round_trips(tree):
    recipe = recipe_from_file(_write(tree, "version: 1\nmodel: model.py:net\nactivations: token_ids\n"
                                           "input_shape: [5]\nsparsity: 0.5\n"))
    assert recipe.batch == 1 and recipe.input_shape == (5,)
    written = {k: v for k, v in recipe_to_dict(recipe).items() if v is not None}
    assert written["activations"] == "token_ids" and written["input_shape"] == [5]
    again = recipe_from_file(_write(tree, yaml.safe_dump(written), "again.yaml"))
    assert again == recipe and recipe_hash(again) == recipe_hash(recipe)
    [proj] = load_workload(tree / "again.yaml").layers
    assert proj.m == 5 and proj.weight_mask.sum() == 128  # batch 1 x 5 tokens, half of 16 x 16 kept


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("body, expected", [
    ("activations: token_ids\n",
     "input_shape: is missing; activations: token_ids needs input_shape: [T]"),
    ("activations: token_ids\ninput_shape: [3, 8]\n", "input_shape: [3, 8] is not one number of tokens"),
    ("activations: token_ids\ninput_shape: 7\n", "input_shape: 7 is not a list of positive sizes"),
    ("activations: token_ids\ninput_shape: [7]\nbatch: 0\n", "batch:"),
    ("activations: token-ids\ninput_shape: [7]\n", "did you mean 'token_ids'"),
])
def test_bad_token_id_recipes_name_the_file_field_and_fix(tmp_path, body, expected):
    p = _write(tmp_path, "version: 1\nmodel: model.py:net\n" + body)
    with pytest.raises(ConfigError) as exc:
        recipe_from_file(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: ") and expected in msg
    assert "is missing" not in msg or "e.g. input_shape: [128]" in msg
    assert "problems" not in msg  # a bad list is one problem, not also "missing"


def _cli(*args):
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_traces_and_runs_the_recipe(tree):
    code, by_recipe, err = _cli("trace", "--model", "tok.yaml")
    assert code == 0, err
    assert re.search(r"\nproj +linear +14×16×16 ", by_recipe)
    for sugar in (["--input-ids", "2,7"], ["--input", "token_ids", "--batch", "2", "--input-shape", "7"]):
        code, out, err = _cli("trace", "--model", "model.py:net", *sugar)
        assert code == 0, err
        assert out.split("\n")[1:] == by_recipe.split("\n")[1:]  # the header names the workload
    code, out, err = _cli("run", "--hw", "dense_ws", "--model", "tok.yaml")
    assert code == 0, err
    assert "proj" in out and "net" in out


def test_cli_errors_exit_2_with_the_message(tree):
    _write(tree, "version: 1\nmodel: model.py:net\nactivations: token_ids\n", "short.yaml")
    code, _, err = _cli("trace", "--model", "short.yaml")
    assert code == 2 and "short.yaml: input_shape: is missing; activations: token_ids needs" in err
    code, _, err = _cli("trace", "--model", "model.py:net", "--input", "token_ids")
    assert code == 2 and "model.py:net: input_shape: is missing" in err and "--input-ids B,T" in err
    code, _, err = _cli("trace", "--model", "model.py:net", "--input", "token_ids", "--input-shape", "3,8")
    assert code == 2 and "input_shape: [3, 8] is not one number of tokens" in err

    _write(tree, RECIPE.replace("model.py:net", "model.py:no_embedding"), "flat.yaml")
    code, _, err = _cli("trace", "--model", "flat.yaml")
    assert code == 2, err
    assert "error: flat.yaml: activations: token_ids (--input-ids): the model Sequential has no " \
           "nn.Embedding to take token ids; write activations: synthetic" in err
    code, _, err = _cli("trace", "--model", "model.py:no_embedding", "--input-ids", "2,7")
    assert code == 2 and "model.py:no_embedding: activations: token_ids" in err
    assert "--input-shape instead of --input-ids" in err
