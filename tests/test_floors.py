"""The package's shape: floors that import only downwards, no cycles, libraries on their own floor.

    floor 0   accelsim/{errors,units,registry}.py      (and the lazy public API in __init__)
    spec      what the user writes -> frozen, validated dataclasses
    workload  model -> Workload (the only floor that imports torch)
    sim       one layer through the pipeline
    results   Report, files, plots
    studies   compare, sweeps
    cli       click commands

Every import is read with ``ast`` (function-local imports included), so a lazy import that points
up is caught as well as a top-level one.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "accelsim"
FLOORS = ("", "spec", "workload", "sim", "results", "studies", "cli")

# third-party libraries and where they may be imported (module paths relative to accelsim/, globs)
LIBRARY_HOMES = {
    "torch": ("workload/*", "workload/**/*", "workload/*/*/*"),  # Path.match: ** is one level (3.11)
    "numba": ("*/kernels.py", "**/kernels.py"),
    "simpy": ("sim/memory.py",),
    "matplotlib": ("results/plots*.py",),
    "click": ("cli/*",),
    "rich": ("cli/*",),
    "dask": ("studies/executors.py",),
    "distributed": ("studies/executors.py",),
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = p
    return out


MODULES = _modules()


def _floor(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in FLOORS:
        return 0
    return FLOORS.index(parts[1])


@functools.cache
def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to absolute names."""
    tree = ast.parse(path.read_text())
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
            out += [(f"{target}.{a.name}", node.lineno) for a in node.names
                    if f"{target}.{a.name}" in MODULES]
    return out


def _own(target: str) -> str | None:
    """The accelsim module ``target`` names (or its closest package), None for a third-party one."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def test_every_import_points_down():
    bad = []
    for module, path in MODULES.items():
        if module in ("accelsim", "accelsim.__main__"):
            continue  # the lazy public API and `python -m accelsim` sit on top of everything
        for target, line in _imports(module, path):
            own = _own(target) if target.startswith("accelsim") else None
            if own is None or own == "accelsim":
                continue
            if _floor(own) > _floor(module):
                bad.append(f"{_rel(path)}:{line} imports {own} (floor {FLOORS[_floor(own)] or 0} is above "
                           f"{FLOORS[_floor(module)] or 0})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, _ in _imports(module, path):
            own = _own(target) if target.startswith("accelsim") else None
            # importing a package runs its __init__; a submodule importing its own package's
            # __init__ is the normal registration pattern, not a cycle between ideas
            if own and own != module and own != "accelsim" and not module.startswith(own + "."):
                graph[module].add(own)
    cycles, state, stack = [], {}, []

    def visit(v: str) -> None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                cycles.append(" -> ".join(stack[stack.index(w):] + [w]))
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v)
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("library", sorted(LIBRARY_HOMES))
def test_libraries_live_on_their_floor(library):
    homes = LIBRARY_HOMES[library]
    bad = []
    for module, path in MODULES.items():
        rel = Path(_rel(path))
        if any(rel.match(h) for h in homes):
            continue
        for target, line in _imports(module, path):
            if target == library or target.startswith(library + "."):
                bad.append(f"{rel}:{line} imports {target}")
    assert not bad, f"{library} belongs in {', '.join(homes)}:\n" + "\n".join(bad)


def test_only_the_cli_prints():
    bad = []
    for module, path in MODULES.items():
        if _floor(module) == FLOORS.index("cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{_rel(path)}:{node.lineno}")
    assert not bad, "print() outside cli/:\n" + "\n".join(bad)


# a comparison of something with a dataflow's name: `dataflow == "os"`, `df in ("os", "ws")`, ...
_DATAFLOW_SWITCH = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](os|ws|is)["']""")


def test_no_switch_on_a_dataflow_name():
    """Every rule that differs between dataflows follows from the dims table (sim/dataflows/base.py);
    the name of a dataflow appears only in its own one-row definition."""
    bad = []
    for path in MODULES.values():
        rel = _rel(path)
        if rel.startswith("spec/scalesim"):  # reads SCALE-Sim's own 'Dataflow: os' spelling
            continue
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            if _DATAFLOW_SWITCH.search(line.split("#")[0]):
                bad.append(f"{rel}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)
