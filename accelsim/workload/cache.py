"""From a recipe to a workload: ``build_workload`` (build, prune, trace; torch) and the on-disk
cache of the result: ``<key>.bits`` (every mask, np.packbits, one after another at the offsets the
JSON gives) + ``<key>.json`` (everything else).

Reading a cached workload needs numpy and the json module only -- never torch.  The bits are
memory-mapped, not read: a mask above 4 Mi elements stays a PackedMask over the mapping, so a 7B
model's 0.8 GB of masks cost no memory until the simulator reads one.  Both files are written
atomically (temp file in the same directory + os.replace), the bits first; the JSON names the key
and the format and carries the sha256 of the bits and its own, so a truncated, bit-flipped or
half-deleted pair is found before use.  A ``WorkloadCacheWarning`` (a library caller can filter
it; the CLI prints one ``note:`` line) says that a damaged entry is rebuilt, or, once per process,
that the cache cannot be written (every run then rebuilds the workload).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import warnings
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from accelsim.errors import AccelsimError, ConfigError
from accelsim.files import write_atomic
from accelsim.spec.recipe import TOKEN_IDS, resolve_checkpoint, token_ids_shape_problem
from accelsim.workload.coverage import Coverage
from accelsim.workload.layer import ConvShape, Layer, Workload
from accelsim.workload.packed_mask import PACK_ABOVE_ELEMENTS, PackedMask, packed_bits

CACHE_FORMAT = 7
_ALIGN_BYTES = 64  # each mask starts on a 64-byte boundary of the .bits file
_LAYER_FIELDS = tuple(f.name for f in fields(Layer) if f.name not in ("weight_mask", "input_mask"))
_UNWRITABLE_SAID: set[Path] = set()


class WorkloadCacheWarning(UserWarning):
    """The workload cache could not be used as is: a damaged entry (rebuilt) or an unwritable directory."""


def default_cache_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$ACCELSIM_CACHE_DIR``, else ``~/.cache/accelsim/workloads``."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("ACCELSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "accelsim" / "workloads"


def cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"{key}.bits", cache_dir / f"{key}.json"


def _layer_meta(layer: Layer, offsets: dict[str, int]) -> dict[str, Any]:
    meta = {name: getattr(layer, name) for name in _LAYER_FIELDS}
    meta["conv"] = None if layer.conv is None else asdict(layer.conv)
    meta["pattern"] = str(layer.pattern)
    for field, key in (("weight_mask", "mask"), ("input_mask", "input_mask")):
        mask = getattr(layer, field)
        meta[f"{key}_shape"] = None if mask is None else list(mask.shape)
        meta[f"{key}_offset"] = offsets.get(field)
    return meta


def _pack_all(layers) -> tuple[list[np.ndarray], list[dict[str, int]], int]:
    """(the packed masks in file order, per layer {field: offset}, total bytes)."""
    blobs, offsets, end = [], [], 0
    for layer in layers:
        here = {}
        for field in ("weight_mask", "input_mask"):
            mask = getattr(layer, field)
            if mask is not None:
                bits = packed_bits(mask)
                here[field] = end
                blobs.append(bits)
                end += -(-bits.nbytes // _ALIGN_BYTES) * _ALIGN_BYTES
        offsets.append(here)
    return blobs, offsets, end


def _write_blobs(fh, blobs: list[np.ndarray]) -> None:
    for bits in blobs:
        fh.write(memoryview(np.ascontiguousarray(bits)))
        fh.write(b"\0" * (-bits.nbytes % _ALIGN_BYTES))


def _digest(meta: dict[str, Any]) -> str:
    """sha256 of the JSON's content (its ``sha256`` field aside), canonically written."""
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()


def save_workload(workload: Workload, cache_dir: Path, key: str, extra: dict[str, Any] | None = None) -> Path:
    """Write the pair for ``key``; returns the JSON path.  ``extra`` is kept in the JSON as is."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    bits_path, json_path = cache_paths(cache_dir, key)
    blobs, offsets, _ = _pack_all(workload.layers)
    meta = {
        "cache_format": CACHE_FORMAT,
        "key": key,
        "bits_sha256": "",
        "workload": {"name": workload.name, "source": workload.source,
                     "input_shape": list(workload.input_shape), "batch": workload.batch,
                     "fingerprint": workload.fingerprint, "output_from": list(workload.output_from),
                     "coverage": None if workload.coverage is None else workload.coverage.to_dict()},
        "layers": [_layer_meta(layer, at) for layer, at in zip(workload.layers, offsets, strict=True)],
        "extra": extra or {},
    }
    _digest(meta)  # a value JSON cannot hold fails here, before anything is written
    write_atomic(bits_path, lambda fh: _write_blobs(fh, blobs))  # straight to disk: a 7B model's is 0.8 GB
    with open(bits_path, "rb") as fh:
        meta["bits_sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
    meta["sha256"] = _digest(meta)
    write_atomic(json_path, json.dumps(meta, indent=1, allow_nan=False).encode())
    return json_path


def load_cached(cache_dir: Path, key: str) -> Workload | None:
    """The cached workload for ``key``, or None: absent (a miss), or damaged (a WorkloadCacheWarning
    says so; the caller rebuilds and ``save_workload`` replaces the pair)."""
    bits_path, json_path = cache_paths(cache_dir, key)
    try:
        return _read(bits_path, json_path, key)
    except FileNotFoundError:
        if not (bits_path.is_file() or json_path.is_file()):
            return None
        why = "half of the pair is missing"
    except OSError:
        return None  # an unreadable or impossible directory: a miss (the write that follows says why)
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        why = str(exc) or type(exc).__name__
    warnings.warn(f"the workload cache entry {json_path} is damaged ({why}): rebuilding it",
                  WorkloadCacheWarning, stacklevel=2)
    return None


def unwritable(cache_dir: Path, exc: OSError) -> None:
    """Say once per process per directory that ``cache_dir`` cannot be written (``exc``)."""
    if cache_dir not in _UNWRITABLE_SAID:
        _UNWRITABLE_SAID.add(cache_dir)
        why = "a file, not a directory" if cache_dir.is_file() else exc.strerror or exc
        warnings.warn(f"cannot write the workload cache {cache_dir} ({why}): every run "
                      f"rebuilds the workload; set ACCELSIM_CACHE_DIR to a writable directory",
                      WorkloadCacheWarning, stacklevel=3)


def _read(bits_path: Path, json_path: Path, key: str) -> Workload:
    meta = json.loads(json_path.read_bytes())
    if not isinstance(meta, dict) or [meta.get(k) for k in ("sha256", "key", "cache_format")] != [
            _digest(meta), key, CACHE_FORMAT]:
        raise ValueError("its .json does not match its checksum")
    with open(bits_path, "rb") as fh:  # one inode (writers replace, never rewrite): hashed, then mapped
        if hashlib.file_digest(fh, "sha256").hexdigest() != meta["bits_sha256"]:
            raise ValueError("its .bits does not match its checksum")
        data = _map(fh)
    layers = []
    for lm in meta["layers"]:
        lm = dict(lm)
        mask = _mask(data, lm.pop("mask_offset"), lm.pop("mask_shape"))
        a_mask = _mask(data, lm.pop("input_mask_offset"), lm.pop("input_mask_shape"))
        if lm.get("conv") is not None:
            lm["conv"] = ConvShape(**lm["conv"])
        layers.append(Layer(weight_mask=mask, input_mask=a_mask, **lm))
    w = meta["workload"]
    coverage = None if w.get("coverage") is None else Coverage.from_dict(w["coverage"])
    return Workload(name=w["name"], layers=tuple(layers), source=w["source"],
                    input_shape=tuple(w["input_shape"]), batch=w["batch"],
                    fingerprint=w["fingerprint"], coverage=coverage,
                    output_from=tuple(w.get("output_from", ())))


def _map(fh) -> np.ndarray:
    """The file as read-only bytes through a shared mapping, its pages faulted in at once where the OS
    can (MAP_POPULATE: one kernel pass instead of a fault per 4 KiB page as the simulator reads)."""
    if os.fstat(fh.fileno()).st_size == 0:
        return np.zeros(0, np.uint8)
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
    return np.frombuffer(mmap.mmap(fh.fileno(), 0, flags=flags, prot=mmap.PROT_READ), np.uint8)


def _mask(data: np.ndarray, offset: int | None, shape: list[int] | None) -> np.ndarray | PackedMask | None:
    """A stored mask: a PackedMask over the mapping above PACK_ABOVE_ELEMENTS (as Layer would pack
    it), else unpacked into memory."""
    if shape is None:
        return None
    shape = tuple(int(v) for v in shape)
    nbytes = -(-int(np.prod(shape)) // 8)
    if offset is None or offset < 0 or offset + nbytes > data.size:
        raise ValueError("a mask lies outside its .bits file")
    packed = PackedMask(data[offset: offset + nbytes], shape)
    if packed.size > PACK_ABOVE_ELEMENTS:
        return packed
    return packed.unpack()


# ---------------------------------------------------------------- building (torch)


def build_workload(recipe) -> tuple[Workload, Any]:
    """(Workload, PruneResult or None) for a recipe, without the cache.  Imports torch.  With
    ``activations: token_ids`` the input is seeded random token ids of shape (batch, input_shape[0])."""
    from accelsim.workload.models import build_model
    from accelsim.workload.pruning.apply import prune_model
    from accelsim.workload.tracing import trace_model, workload_fingerprint

    where = recipe.source or recipe.name
    token_ids = recipe.activations == TOKEN_IDS
    if token_ids and (problem := token_ids_shape_problem(recipe.input_shape)):
        raise ConfigError(where, [f"input_shape: {problem}"])
    checkpoint = resolve_checkpoint(recipe.checkpoint)  # a package's file, found (or said missing) now
    streamed = checkpoint is None and _streamed(recipe.model)
    model, zoo_shape = build_model(recipe.model, seed=recipe.seed, checkpoint=checkpoint, meta=streamed)
    shape = recipe.input_shape or zoo_shape
    tensor, described = None, None
    if recipe.activations not in ("synthetic", TOKEN_IDS):
        from accelsim.workload.inputs import load_input

        try:
            tensor, described = load_input(recipe.activations, shape)
        except AccelsimError as exc:
            raise ConfigError(where, [f"activations: {exc}"]) from None
        if recipe.batch is not None and recipe.batch != tensor.shape[0] and tensor.shape[0] == 1:
            tensor = tensor.expand(recipe.batch, *tensor.shape[1:]).contiguous()  # one photo, batch copies
        if recipe.batch is not None and recipe.batch != tensor.shape[0]:
            raise ConfigError(where, [f"batch: {recipe.batch} differs from the activation tensor's batch "
                                      f"{tensor.shape[0]}"])
        shape = recipe.input_shape  # the tensor's own shape unless one is stated
    elif shape is None:
        raise ConfigError(where, [f"input_shape: needed for model {recipe.model!r} (e.g. [3, 224, 224])"])
    prune = None if recipe.dense else dict(
        pattern=recipe.pattern, sparsity=recipe.sparsity, method=recipe.method, scope=recipe.scope,
        exclude=recipe.exclude, first_conv=recipe.first_conv, rule_1x1=recipe.rule_1x1,
        rule_fc=recipe.rule_fc, seed=recipe.seed, data=_data(recipe, zoo_shape or shape),
        max_layer_sparsity=recipe.max_layer_sparsity,
        method_params=_method_params(recipe, zoo_shape or shape))
    if token_ids:
        tensor, described = _token_ids(model, recipe.batch or 1, shape, recipe.seed, where)
    if streamed:  # one part at a time: built, pruned and traced without ever holding every weight
        from accelsim.workload.stream_build import stream_workload
        from accelsim.workload.tracing import trace_input

        x, source = trace_input(model, None if token_ids else shape, batch=recipe.batch or 1,
                                name=recipe.name, input_tensor=tensor, seed=recipe.seed,
                                input_source=described)
        workload, result = stream_workload(model, x, name=recipe.name, source=source, prune=prune,
                                           where=where)
    else:
        result = None if prune is None else prune_model(model, **prune)
        workload = trace_model(model, None if token_ids else shape, batch=recipe.batch or 1, name=recipe.name,
                               input_tensor=tensor, measure_activations=True, seed=recipe.seed,
                               input_source=described)
    labels = {} if result is None else {lp.name: lp for lp in result.layers}
    layers = []
    for layer in workload.layers:
        lp = labels.get(layer.name.split("#")[0])
        if lp is not None:
            layer = replace(layer, pattern=lp.pattern, target_sparsity=lp.target, prune_note=lp.note)
        layers.append(layer)
    summary = "dense" if recipe.dense else (
        f"{recipe.pattern} {recipe.sparsity:.4g} by {recipe.method} ({recipe.scope} scope)")
    workload = replace(workload, layers=tuple(layers),
                       source=f"recipe {recipe.name} [{recipe.source}]: {summary}; {workload.source}")
    return replace(workload, fingerprint=workload_fingerprint(workload)), result


def _streamed(model: str) -> bool:
    """A zoo model built one part at a time (accelsim.workload.stream_build)."""
    from accelsim.registry import MODELS
    from accelsim.spec.recipe import is_model_ref

    return not is_model_ref(model) and MODELS.get(model).streamed


def _method_params(recipe, shape) -> dict:
    """The recipe's method parameters; a method calibrated on inputs (wanda) gets the model's input
    shape unless the recipe gives one or data."""
    from dataclasses import fields as dc_fields

    from accelsim.registry import METHODS

    params = dict(recipe.method_params)
    method = METHODS.get(recipe.method)
    if recipe.data is None and shape and "input_shape" in {f.name for f in dc_fields(method)}:
        params.setdefault("input_shape", tuple(shape))
    return params


def _token_ids(model, batch: int, shape, seed: int, where: str):
    """(seeded random ids below the vocabulary size, what they are): the vocabulary is the model's
    input embedding (HF's ``get_input_embeddings``), else its first nn.Embedding."""
    import torch
    from torch import nn

    getter = getattr(model, "get_input_embeddings", None)
    embedding = getter() if callable(getter) else None
    if not isinstance(embedding, nn.Embedding):
        embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if embedding is None:
        raise ConfigError(where, [f"activations: token_ids (--input-ids): the model "
                                  f"{model.__class__.__name__} has no nn.Embedding to take token ids; write "
                                  "activations: synthetic with its input_shape (on the command line "
                                  "--input-shape instead of --input-ids)"])
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, embedding.num_embeddings, (batch, int(shape[0])), generator=generator)
    return ids, f"seeded random token ids below the vocabulary size {embedding.num_embeddings}"


def _data(recipe, shape: tuple[int, ...] | None):
    if recipe.data is None:
        return None
    from accelsim.workload.pruning.training import load_digits_split

    layout = "flat" if shape is not None and len(shape) == 1 else "image"
    return load_digits_split(seed=recipe.seed, layout=layout)
