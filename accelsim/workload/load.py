"""load_workload(): the one entry point for every way a user names a workload.

``*.csv`` -> a SCALE-Sim topology; anything else -> a recipe (a recipe file, a shipped or grammar
name, a zoo model or a ``package.module:function``; accelsim.workload.recipes resolves it), built,
pruned and traced -- or read from the workload cache, without importing torch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.spec import config as cfg
from accelsim.spec.recipe import TENSOR_SUFFIXES, TOKEN_IDS, parse_activations, recipe_to_dict
from accelsim.workload import cache
from accelsim.workload.layer import Workload
from accelsim.workload.recipes import recipe_hash, resolve_recipe


def load_workload(ref: str | Path, *, batch: int | None = None, input_shape: tuple[int, ...] | None = None,
                  checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
                  use_cache: bool = True, input_ids: tuple[int, int] | str | Path | None = None,
                  input: str | Path | None = None) -> Workload:  # noqa: A002 (the CLI's --input)
    """The workload ``ref`` names (see the module docstring).  ``input`` replaces the recipe's
    ``activations``: ``token_ids`` (seeded random ids of (batch, T) below the size of the model's input
    embedding; ``input_shape`` (T,)), ``sample:china`` / ``sample:flower`` (scikit-learn's
    photographs), an image file, or a ``.pt`` / ``.npy`` tensor (workload/inputs.py).  ``input_ids``
    (B, T) is exactly ``input="token_ids", batch=B, input_shape=(T,)`` (the same recipe and cache
    key); a ``.pt`` file there holds one int tensor (batch, tokens)."""
    ref = str(ref)
    if ref.endswith(".csv"):
        from accelsim.workload.scalesim_topology import read_scalesim_topology

        return read_scalesim_topology(ref, name=Path(ref).stem)
    recipe = resolve_recipe(ref, validate_method=False)
    overrides: dict[str, Any] = {}
    if batch is not None:
        overrides["batch"] = cfg.positive_int(batch)
    if input_shape is not None:
        overrides["input_shape"] = tuple(int(v) for v in input_shape)
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise cfg.not_found(checkpoint)
        overrides["checkpoint"] = str(Path(checkpoint).resolve())
    if input is not None:
        try:
            overrides["activations"] = parse_activations(str(input))
        except ValueError as exc:
            raise AccelsimError(f"--input {input}: {exc}") from None
        if Path(overrides["activations"]).suffix in TENSOR_SUFFIXES:
            overrides.setdefault("batch", None)  # the tensor's own batch unless --batch says one
    if isinstance(input_ids, (str, Path)):
        if not Path(input_ids).is_file():
            raise cfg.not_found(input_ids)
        overrides["activations"] = str(Path(input_ids).resolve())
        overrides.setdefault("batch", None)  # the tensor's own batch unless --batch says one
    elif input_ids is not None:
        batch_ids, tokens = (cfg.positive_int(v) for v in input_ids)
        overrides.update(activations=TOKEN_IDS, batch=batch_ids, input_shape=(tokens,))
    recipe = replace(recipe, **overrides) if overrides else recipe
    key = recipe_hash(recipe)
    directory = cache.default_cache_dir(cache_dir)
    if use_cache and (cached := cache.load_cached(directory, key)) is not None:
        return _has_layers(cached, recipe.model)
    workload, result = cache.build_workload(recipe)
    _has_layers(workload, recipe.model)
    if use_cache:
        extra = {"recipe": recipe_to_dict(recipe), "recipe_source": recipe.source,
                 "prune": [] if result is None else [vars(lp) | {"shape": list(lp.shape)}
                                                     for lp in result.layers]}
        try:
            cache.save_workload(workload, directory, key, extra)
        except OSError as exc:  # an unwritable cache must not stop a run: said once, the next load rebuilds
            cache.unwritable(directory, exc)
    return workload


def _has_layers(workload: Workload, model: str) -> Workload:
    if not workload.layers:
        raise AccelsimError(f"model {model!r} has no layers accelsim simulates (conv, linear, matmul): give a"
                            " model with an nn.Conv2d, an nn.Linear or a matmul of two activations")
    return workload
