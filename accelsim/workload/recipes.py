"""Workload recipes: which model, how it is pruned, how it is traced -- and the names ``--model`` takes.

A recipe is plain YAML (``version: 1``; see workloads/*.yaml for commented examples), loaded
strictly: duplicate keys, unknown keys (with a "did you mean") and bad values are all reported at
once in one ConfigError, each with its key.

Name grammar (``resolve_recipe``), tried in this order:

1. an existing file path, or anything ending in .yaml / .yml -> that recipe file;
2. a shipped recipe name (a file ``workloads/<name>.yaml``) -> that file;
3. ``package.module:function`` -> that model, dense (``input_shape`` must be given);
4. ``<zoo model>`` -> the model, dense;
   ``<zoo model>_<P>pct`` -> P % unstructured, layer-wise magnitude pruning, first conv dense,
   1x1 convs and FC layers pruned at the same rate, seed 0, synthetic N(0,1) input of batch 1;
   ``<zoo model>_<P>pct_<pattern>`` -> the same with that pattern (``window``, ``channel``,
   ``combined``, ``block4x4``, ``kernel``, ``vector``, ``filter``, ``input_channel``, ``nm:4``);
   where the pattern has no structure (1x1 convs, FC) its own fallback applies (window/kernel/
   vector/channel/combined -> unstructured at the same target; N:M and block -> dense);
   ``<zoo model>_<N>of<M>`` -> N:M (N kept of M) along C, sparsity 1 - N/M, otherwise as above.
   The shipped files for these names say exactly the same thing (a test checks it).
5. anything else -> UnknownNameError listing the close names (zoo models and shipped recipes).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.errors import AccelsimError, ConfigError, UnknownNameError, did_you_mean
from accelsim.spec import config as cfg
from accelsim.workload.cache import build_workload, default_cache_dir, load_cached, save_workload
from accelsim.workload.layer import Workload
from accelsim.workload.pruning.patterns import (
    FIRST_CONV_RULES,
    LAYER_RULES,
    NM,
    SCOPES,
    check_sparsity,
    make_pattern,
)

WORKLOADS_DIR = Path(__file__).resolve().parent.parent / "data" / "workloads"
DATA_SOURCES = ("digits",)
RECIPE_KEYS = ("version", "name", "description", "model", "pattern", "sparsity", "method", "method_params",
               "scope", "max_layer_sparsity", "exclude", "first_conv", "rule_1x1", "rule_fc", "seed",
               "input_shape", "batch", "activations", "checkpoint", "data")
_PATH_FIELDS = ("activations", "checkpoint")
_CODE_FILES = ("*.py", "pruning/*.py", "models/*.py")  # the whole workload floor


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe.  ``sparsity`` 0 means dense; paths are absolute; ``input_shape`` None is
    the zoo model's own; ``batch`` None (only with an activation tensor file) is that tensor's."""

    name: str
    model: str
    pattern: str = "unstructured"
    sparsity: float = 0.0
    method: str = "magnitude"
    method_params: tuple[tuple[str, Any], ...] = ()
    scope: str = "layer"
    max_layer_sparsity: float | None = None
    exclude: tuple[str, ...] = ()
    first_conv: str = "dense"
    rule_1x1: str = "pattern"
    rule_fc: str = "pattern"
    seed: int = 0
    input_shape: tuple[int, ...] | None = None
    batch: int | None = 1
    activations: str = "synthetic"
    checkpoint: str | None = None
    data: str | None = None
    source: str = field(default="", compare=False)
    description: str = field(default="", compare=False)

    @property
    def dense(self) -> bool:
        return self.sparsity == 0.0


# ---------------------------------------------------------------- names


def shipped_recipe_names() -> list[str]:
    return sorted(p.stem for p in WORKLOADS_DIR.glob("*.yaml"))


def _zoo_names() -> list[str]:
    from accelsim.workload.models import MODELS

    return MODELS.names()


def resolve_recipe(name_or_path: str | Path, *, validate_method: bool = True) -> Recipe:
    """The recipe a ``--model`` value names (see the module docstring for the grammar)."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return recipe_from_file(path, validate_method=validate_method)
    if re.fullmatch(r"[A-Za-z0-9_.\-]+", text) and (WORKLOADS_DIR / f"{text}.yaml").is_file():
        return recipe_from_file(WORKLOADS_DIR / f"{text}.yaml", validate_method=validate_method)
    if ":" in text:
        return Recipe(name=text.rpartition(":")[2] or text, model=text, source=text)
    recipe = recipe_from_name(text)
    if recipe is None:
        raise UnknownNameError("workload", text, [*_zoo_names(), *shipped_recipe_names()],
                               hint="names look like resnet50, resnet50_70pct, resnet50_70pct_window, "
                                    "resnet50_2of4; or give a recipe .yaml path or package.module:function")
    return recipe


def recipe_from_name(name: str) -> Recipe | None:
    """Parse the name grammar; None when the name is not of that form."""
    for model in sorted(_zoo_names(), key=len, reverse=True):
        if name == model:
            return Recipe(name=name, model=model, source="name grammar")
        if not name.startswith(model + "_"):
            continue
        rest = name[len(model) + 1:]
        if m := re.fullmatch(r"(\d+)of(\d+)", rest):
            pattern = make_pattern(f"nm{m.group(1)}:{m.group(2)}")
            return _grammar_recipe(name, model, pattern.spec, pattern.target_for(0.0))
        if m := re.fullmatch(r"(\d+(?:\.\d+)?)pct(?:_(.+))?", rest):
            pct = float(m.group(1))
            pattern = make_pattern(m.group(2) or "unstructured")
            s = check_sparsity(pct / 100)
            if isinstance(pattern, NM) and pattern.n is not None and not math.isclose(
                    pattern.target_for(s), s, abs_tol=1e-9):
                raise ConfigError(name, [f"{pattern.spec} fixes the sparsity at {pattern.target_for(s):.0%}, "
                                         f"not {pct:g} %; write {model}_{pattern.n}of{pattern.m}"])
            return _grammar_recipe(name, model, pattern.spec, s)
        if rest in _pattern_words():
            raise ConfigError(name, [f"a pattern needs a target sparsity: write e.g. {model}_70pct_{rest}"])
    return None


def _pattern_words() -> set[str]:
    from accelsim.workload.pruning.patterns import pattern_names

    return set(pattern_names())


def _grammar_recipe(name: str, model: str, pattern: str, sparsity: float) -> Recipe:
    return Recipe(name=name, model=model, pattern=pattern, sparsity=sparsity, source="name grammar")


# ---------------------------------------------------------------- files


def recipe_from_file(path: str | Path, *, validate_method: bool = True) -> Recipe:
    path = Path(path)
    raw = cfg.read_yaml(path)
    return recipe_from_dict(raw, str(path), base_dir=path.parent, default_name=path.stem,
                            validate_method=validate_method)


def recipe_from_dict(raw: Any, source: str, *, base_dir: Path | None = None, default_name: str = "recipe",
                     validate_method: bool = True) -> Recipe:
    """A Recipe from parsed YAML; every problem is collected into one ConfigError(source, ...)."""
    r = cfg.Reader(source)
    raw = r.mapping(raw, "", RECIPE_KEYS, required=("version", "model"))
    if "version" in raw and raw["version"] != 1:
        r.problem("version", f"{raw['version']!r} is not a supported recipe version (write version: 1)")
    get = r.get
    model = get(raw, "model", "", _model_ref, None)
    pattern = get(raw, "pattern", "", _pattern_spec, None)
    sparsity = get(raw, "sparsity", "", _fraction, None)
    method = get(raw, "method", "", cfg.text, "magnitude")
    if validate_method and method is not None:
        _check_method(r, method)
    values = dict(
        name=get(raw, "name", "", cfg.text, default_name),
        description=get(raw, "description", "", str, ""),
        method_params=get(raw, "method_params", "", _params, ()),
        scope=get(raw, "scope", "", cfg.choice(*SCOPES), "layer"),
        max_layer_sparsity=get(raw, "max_layer_sparsity", "", _cap, None),
        exclude=get(raw, "exclude", "", cfg.string_list(), ()),
        first_conv=get(raw, "first_conv", "", cfg.choice(*FIRST_CONV_RULES), "dense"),
        rule_1x1=get(raw, "rule_1x1", "", cfg.choice(*LAYER_RULES), "pattern"),
        rule_fc=get(raw, "rule_fc", "", cfg.choice(*LAYER_RULES), "pattern"),
        seed=get(raw, "seed", "", cfg.non_negative_int, 0),
        input_shape=get(raw, "input_shape", "", _shape, None),
        activations=get(raw, "activations", "", _file_or("synthetic", base_dir, ".pt"), "synthetic"),
        checkpoint=get(raw, "checkpoint", "", _optional(_file_or(None, base_dir, None)), None),
        data=get(raw, "data", "", _optional(cfg.choice(*DATA_SOURCES)), None),
    )
    # batch: 1 for a synthetic input; with a tensor file its own batch unless one is stated
    values["batch"] = get(raw, "batch", "", _optional(cfg.positive_int),
                          1 if values["activations"] == "synthetic" else None)
    if pattern is not None:
        p = make_pattern(pattern)
        fixed = isinstance(p, NM) and p.n is not None
        if fixed and sparsity is not None and not math.isclose(sparsity, p.target_for(0.0), abs_tol=1e-9):
            r.problem("sparsity", f"{sparsity!r} contradicts pattern {p.spec}, which fixes it at "
                                  f"{p.target_for(0.0):g} (leave sparsity out)")
        elif fixed:
            sparsity = p.target_for(0.0)
        elif not sparsity and "pattern" in raw:
            r.problem("sparsity", f"pattern {p.spec} needs a target sparsity in (0, 1), e.g. sparsity: 0.7")
    r.finish()
    return Recipe(model=model, pattern=pattern or "unstructured", sparsity=sparsity or 0.0, method=method,
                  source=source, **values)


def _model_ref(value: Any) -> str:
    value = cfg.text(value)
    if ":" not in value and value not in _zoo_names():
        raise ValueError(f"{value!r} is not a zoo model{did_you_mean(value, _zoo_names())} "
                         f"(zoo: {', '.join(_zoo_names())}) nor a package.module:function")
    return value


def _pattern_spec(value: Any) -> str:
    try:
        return make_pattern(cfg.text(value)).spec
    except AccelsimError as exc:
        raise ValueError(str(exc)) from None


def _fraction(value: Any) -> float:
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)):
        value = float(m.group(1)) / 100
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a fraction; write e.g. 0.7 (or '70 %')")
    if not 0 <= value < 1:
        hint = f"; write {value / 100:g} for {value:g} %" if 1 <= value < 100 else ""
        raise ValueError(f"{value!r} is outside [0, 1){hint}")
    return float(value)


def _cap(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"{value!r} is not a fraction in (0, 1]")
    return float(value)


def _params(value: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of parameter: value, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(v, (int, float, str, bool)) and v is not None:
            raise ValueError(f"{k}: {v!r} is not a plain number, string or boolean")
    return tuple(sorted((str(k), v) for k, v in value.items()))


def _shape(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ValueError(f"{value!r} is not a list of positive sizes without the batch, e.g. [3, 224, 224]")
    return tuple(value)


def _optional(parse):
    return lambda value: None if value is None else parse(value)


def _file_or(keyword: str | None, base_dir: Path | None, suffix: str | None):
    def parse(value: Any) -> str:
        value = cfg.text(value)
        if keyword is not None and value == keyword:
            return value
        p = Path(value).expanduser()
        p = p if p.is_absolute() or base_dir is None else base_dir / p
        if suffix and p.suffix != suffix:
            raise ValueError(f"{value!r} is neither {keyword!r} nor a {suffix} tensor file")
        if not p.is_file():
            raise ValueError(f"file {str(p)!r} not found")
        return str(p.resolve())

    return parse


def _check_method(r: cfg.Reader, method: str) -> None:
    from accelsim.workload.pruning.apply import BUILTIN_METHODS, _method

    try:
        _method(method)
    except UnknownNameError as exc:
        r.problem("method", f"{method!r} is not a pruning method{did_you_mean(method, exc.known)} "
                            f"(known: {', '.join(exc.known or BUILTIN_METHODS)})")


# ---------------------------------------------------------------- canonical form and hash


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe in YAML key names (what a recipe file with every key written out would say)."""
    out: dict[str, Any] = {"version": 1}
    for f in fields(recipe):
        if f.name == "source":
            continue
        value = getattr(recipe, f.name)
        if f.name == "method_params":
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _code_fingerprint() -> str:
    """sha256 over the source of everything a cached workload depends on (stale caches in dev)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for pattern in _CODE_FILES:
        for p in sorted(root.glob(pattern)):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def recipe_hash(recipe: Recipe) -> str:
    """Cache key: sha256 of the canonical recipe (files by content), the accelsim version and code."""
    canon = recipe_to_dict(recipe)
    canon.pop("description")
    for key in _PATH_FIELDS:
        value = canon[key]
        if value not in (None, "synthetic"):
            canon[key] = "sha256:" + _file_sha256(value)
    payload = json.dumps({"recipe": canon, "accelsim": __version__, "code": _code_fingerprint()},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- building workloads


def load_workload(name_or_path: str | Path, *, batch: int | None = None,
                  input_shape: tuple[int, ...] | None = None, checkpoint: str | Path | None = None,
                  cache_dir: str | Path | None = None, use_cache: bool = True) -> Workload:
    """Resolve, build, prune and trace a workload -- or read it from the cache (no torch import)."""
    recipe = resolve_recipe(name_or_path, validate_method=False)
    overrides: dict[str, Any] = {}
    if batch is not None:
        overrides["batch"] = cfg.positive_int(batch)
    if input_shape is not None:
        overrides["input_shape"] = tuple(int(v) for v in input_shape)
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise ConfigError(str(checkpoint), ["checkpoint file not found"])
        overrides["checkpoint"] = str(Path(checkpoint).resolve())
    recipe = replace(recipe, **overrides) if overrides else recipe
    key = recipe_hash(recipe)
    directory = default_cache_dir(cache_dir)
    if use_cache and (cached := load_cached(directory, key)) is not None:
        return cached
    workload, result = build_workload(recipe)
    if use_cache:
        extra = {"recipe": recipe_to_dict(recipe), "recipe_source": recipe.source,
                 "prune": [] if result is None else [vars(lp) | {"shape": list(lp.shape)}
                                                     for lp in result.layers]}
        try:
            save_workload(workload, directory, key, extra)
        except OSError:
            pass  # an unwritable cache must not stop a run; the next load rebuilds
    return workload
