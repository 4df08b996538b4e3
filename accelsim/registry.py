"""Registry[T]: a name -> class (or factory) dict with a decorator and a lookup that lists choices,
and the seven registries of accelsim -- the only lists of names there are.  A class registered
gets its registry name as its ``name`` attribute (formats and patterns never spell it twice).

Each registry names the package that holds its built-in entries; that package is imported on the
first lookup (``get``, ``names``, ``in``), never at import time.  So the config reader on the spec
floor can check a dataflow, format or pattern name against the registry without importing the
floors above it, and a plug-in registered at run time (``DATAFLOWS.register("mine")``) is accepted
everywhere a built-in is.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from accelsim.errors import AccelsimError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: str | None = None):
        self.kind = kind
        self.builtins = builtins  # the package whose import registers the built-in entries
        self._items: dict[str, T] = {}
        self._loaded = builtins is None

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.builtins)
            for ref in filter(None, os.environ.get(PLUGINS_ENV, "").split(os.pathsep)):
                load_plugin(ref)

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            if isinstance(obj, type):
                obj.name = name  # a registered class knows its name
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        self.register(name)(obj)

    def remove(self, name: str) -> None:
        """Forget a run-time registration (plug-in tests)."""
        del self._items[name]

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load()
        return len(self._items)


PLUGINS_ENV = "ACCELSIM_PLUGINS"  # plug-ins (modules or .py files, os.pathsep apart), loaded with built-ins
_PLUGINS: set[str] = set()


def load_plugin(ref: str) -> None:
    """Import a plug-in so its registrations run: a dotted module name or the path of a ``.py`` file.

    ``accelsim --plugin REF`` calls this and also lists REF in ``$ACCELSIM_PLUGINS``, which every
    registry reads on its first lookup, so sweep workers in other processes load it too."""
    if ref in _PLUGINS:
        return
    _PLUGINS.add(ref)
    try:
        if ref.endswith(".py"):
            path = Path(ref)
            if not path.is_file():
                raise AccelsimError(f"plug-in {ref}: file not found; give a .py file or a module name")
            spec = importlib.util.spec_from_file_location(f"accelsim_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            importlib.import_module(ref)
    except AccelsimError:
        _PLUGINS.discard(ref)
        raise
    except Exception as exc:  # a plug-in's own bug: say which plug-in, keep the cause
        _PLUGINS.discard(ref)
        raise AccelsimError(f"plug-in {ref!r} failed to load: {type(exc).__name__}: {exc}") from exc


DATAFLOWS: Registry[Any] = Registry("dataflow", "accelsim.sim.dataflows")
TIMING_MODELS: Registry[Any] = Registry("timing model", "accelsim.sim.dataflows")
SPARSE_FORMATS: Registry[Any] = Registry("format", "accelsim.sim.formats")
ENERGY_MODELS: Registry[Any] = Registry("energy table", "accelsim.sim.energy")
PATTERNS: Registry[Any] = Registry("pattern", "accelsim.workload.pruning.patterns")
METHODS: Registry[Any] = Registry("method", "accelsim.workload.pruning.methods")
MODELS: Registry[Any] = Registry("model", "accelsim.workload.models")
