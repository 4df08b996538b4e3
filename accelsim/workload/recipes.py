"""From a ``--model`` value to a Recipe, and a recipe's cache key.

``resolve_recipe`` tries, in this order:

1. an existing file path, or anything ending in .yaml / .yml -> that recipe file;
2. a shipped recipe name (a file ``workloads/<name>.yaml``) -> that file;
3. a model reference ``package.module:function`` or ``file.py:function`` -> that model, dense
   (``input_shape`` must be given);
4. a name of the recipe-name grammar (``resnet50``, ``resnet50_70pct``, ``resnet50_70pct_window``,
   ``resnet50_2of4``, ``resnet18_50pct_nm:4``; accelsim.spec.recipe states it).  The shipped files
   for these names say exactly the same thing (a test checks it);
5. anything else -> UnknownNameError listing the close names (zoo models and shipped recipes).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from accelsim import __version__
from accelsim.errors import UnknownNameError
from accelsim.registry import MODELS
from accelsim.spec.recipe import (
    KEYWORD_ACTIVATIONS,
    Recipe,
    is_model_ref,
    recipe_from_file,
    recipe_from_name,
    recipe_to_dict,
    resolve_checkpoint,
)
from accelsim.workload.source_hash import source_fingerprint

WORKLOADS_DIR = Path(__file__).resolve().parent.parent / "data" / "workloads"
_PATH_FIELDS = ("activations", "checkpoint")


def shipped_recipe_names() -> list[str]:
    return sorted(p.stem for p in WORKLOADS_DIR.glob("*.yaml"))


def resolve_recipe(name_or_path: str | Path, *, validate_method: bool = True) -> Recipe:
    """The recipe a ``--model`` value names (see the module docstring for the order)."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return recipe_from_file(path, validate_method=validate_method)
    if re.fullmatch(r"[A-Za-z0-9_.\-]+", text) and (WORKLOADS_DIR / f"{text}.yaml").is_file():
        return recipe_from_file(WORKLOADS_DIR / f"{text}.yaml", validate_method=validate_method)
    if is_model_ref(text):
        return Recipe(name=text.rpartition(":")[2], model=text, source=text)
    recipe = recipe_from_name(text)
    if recipe is None:
        raise UnknownNameError("workload", text, [*MODELS.names(), *shipped_recipe_names()],
                               hint="names look like resnet50, resnet50_70pct, resnet50_70pct_window, "
                                    "resnet50_2of4; or give a recipe .yaml path or package.module:function")
    return recipe


def _code_fingerprint() -> str:
    """sha256 over the source of everything a cached workload depends on (stale caches in dev)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in [*sorted(here.rglob("*.py")), here.parent / "spec" / "recipe.py"]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def recipe_hash(recipe: Recipe) -> str:
    """Cache key: sha256 of the canonical recipe (files by content: the checkpoint, the activation
    tensor and a user model's source with its imports from the user's tree; the input as the recipe's
    ``activations`` says it), the accelsim version and code."""
    canon = recipe_to_dict(recipe)
    canon.pop("description")
    for key in _PATH_FIELDS:
        value = canon[key]
        if key == "checkpoint":
            value = resolve_checkpoint(value)  # a package's file: its content, like any other
        if value is not None and value not in KEYWORD_ACTIVATIONS and not str(value).startswith("sample:"):
            with open(value, "rb") as f:
                canon[key] = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    key = {"recipe": canon, "accelsim": __version__, "code": _code_fingerprint()}
    if is_model_ref(recipe.model):
        key["model_source"] = source_fingerprint(recipe.model)
    payload = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]
