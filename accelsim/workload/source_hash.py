"""What a user model's cached workload depends on: the source of its module and of the modules it
imports from the user's own tree, found without importing anything (so a cache hit needs no torch).

``source_fingerprint("nets/mine.py:build")`` or ``("mypkg.models:build")``: sha256 over the module
file and, transitively, every ``import`` / ``from ... import`` (relative ones too) that resolves to a
``.py`` file under the same root (the file's directory, or the directory holding the top package).
An edited file, or the same reference run from another directory, therefore gives another key.
Imports that resolve outside the root (torch, transformers, the standard library) are not hashed:
their versions are not the user's model.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

_MAX_FILES = 500


def module_file(ref: str) -> tuple[Path, Path] | None:
    """(the module's file, the root of the user's tree), or None when it cannot be found."""
    module_name = ref.rpartition(":")[0]
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        return (path, path.parent) if path.is_file() else None
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    finally:
        if added:
            sys.path.remove(cwd)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin).resolve()
    depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    return path, path.parents[depth]


def _imports(path: Path, root: Path) -> list[Path]:
    """The .py files under ``root`` that ``path`` imports."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return []
    package = path.parent
    names: list[tuple[Path, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(root, a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = root if node.level == 0 else package.parents[node.level - 2] if node.level > 1 else package
            parts = node.module.split(".") if node.module else []
            names.append((base, parts))
            names += [(base, [*parts, a.name]) for a in node.names]
    found = []
    for base, parts in names:
        if not parts:
            continue
        stem = base.joinpath(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file() and candidate.resolve().is_relative_to(root):
                found.append(candidate.resolve())
        for i in range(1, len(parts)):  # a package's __init__ runs on the way
            init = base.joinpath(*parts[:i]) / "__init__.py"
            if init.is_file() and init.resolve().is_relative_to(root):
                found.append(init.resolve())
    return found


def source_fingerprint(ref: str) -> str:
    """sha256 of the user model's source files (see the module docstring); "" if none is found."""
    located = module_file(ref)
    if located is None:
        return ""
    first, root = located
    seen: dict[Path, None] = {}
    todo = [first]
    while todo and len(seen) < _MAX_FILES:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        todo += _imports(path, root)
    h = hashlib.sha256()
    for path in sorted(seen):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()
