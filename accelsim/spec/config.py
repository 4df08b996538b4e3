"""Strict YAML: duplicate keys rejected, malformed YAML reported with its line, and a Reader that
turns mappings into dataclasses while collecting every problem with its path and a "did you mean".
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import Field, field, fields
from pathlib import Path
from typing import Any

import yaml

from accelsim.errors import ConfigError, did_you_mean


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
            )
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_DEPTH = 32  # a hardware config nests 4 levels, an energy table 5: deeper is not a config


def parse_yaml_text(text: str, source: str) -> Any:
    """YAML text as data; bad YAML, or nesting deeper than MAX_DEPTH, is a ConfigError naming the file."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}{exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from None
    except RecursionError:
        pass
    else:
        if _depth(data) <= MAX_DEPTH:
            return data
    raise ConfigError(source, [f"lists or mappings nested more than {MAX_DEPTH} levels deep; a config nests"
                               " a few levels (is this the file you meant?)"])


def _depth(data: Any) -> int:
    """How deep lists and mappings nest in ``data`` (0 for a scalar; each one counted once, as YAML
    aliases share them), without recursion."""
    deepest, stack, seen = 0, [(data, 0)], set()
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_text(path: str | Path, encoding: str = "utf-8", expected: str = "a YAML file") -> str:
    """A user's file as text; missing, a directory, unreadable or not text (say a .pt given as YAML)
    is a ConfigError naming the file.  ``expected`` names what it should hold, for that message."""
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        raise not_found(path) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [f"is a directory; expected {expected}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [f"not a text file (byte {exc.object[exc.start]:#04x} at offset"
                                      f" {exc.start} is not UTF-8); expected {expected}"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None


def not_found(path: str | Path, hint: str = "") -> ConfigError:
    """'PATH: file not found (did you mean ...?)' with the existing path one typo away (in a directory
    or the file name), else ``hint``; 'PATH: is a directory' when it is one."""
    p = Path(path)
    if p.is_dir():
        return ConfigError(str(path), ["is a directory; give the path of a file"])
    here = next(a for a in p.parents if a.is_dir())  # the deepest directory that exists
    typo, rest = p.parts[len(here.parts)], p.parts[len(here.parts) + 1:]
    try:
        names = [c.name for c in here.iterdir()]
    except OSError:
        names = []
    for name in difflib.get_close_matches(typo, names, n=3, cutoff=0.8):
        if here.joinpath(name, *rest).is_file():
            hint = f"did you mean {here.joinpath(name, *rest)}?"
            break
    return ConfigError(str(path), ["file not found" + (f" ({hint})" if hint else "")])


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file strictly; a missing file or bad YAML is a ConfigError naming the file."""
    return parse_yaml_text(read_text(path), str(path))


_MISSING = object()


class Reader:
    """Collects problems while fields are read; ``finish()`` raises them all at once."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}" if path else message)

    def mapping(self, raw: Any, path: str, allowed: Iterable[str], required: Iterable[str] = (),
                elsewhere: Mapping[str, str] | None = None) -> dict:
        """Check ``raw`` is a mapping with only ``allowed`` keys and all ``required`` ones; a key of
        ``elsewhere`` is refused with its message (where the key does apply)."""
        allowed = list(allowed)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.problem(path, f"expected a mapping of {', '.join(allowed)}, got {type(raw).__name__}")
            return {}
        for key in raw:
            if elsewhere and key in elsewhere and key not in allowed:
                self.problem(_join(path, str(key)), elsewhere[key])
            elif key not in allowed:
                hint = did_you_mean(str(key), allowed) or f" (allowed: {', '.join(allowed)})"
                self.problem(_join(path, str(key)), f"unknown key{hint}")
        for key in required:
            if key not in raw:
                self.problem(_join(path, key), "required key is missing")
        return dict(raw)

    def get(self, raw: Mapping, key: str, path: str, parse: Callable[[Any], Any], default: Any = _MISSING):
        """Parse ``raw[key]``; a ValueError from ``parse`` becomes a problem at ``path.key``."""
        if key not in raw:
            if default is _MISSING:
                self.problem(_join(path, key), "required key is missing")
                return None
            return default
        try:
            return parse(raw[key])
        except (ValueError, TypeError) as exc:
            self.problem(_join(path, key), str(exc))
            return default if default is not _MISSING else None

    def finish(self) -> None:
        if self.problems:
            raise ConfigError(self.source, self.problems)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- small parsers that raise ValueError with a complete hint ---------------------------------

def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{value!r} is not a positive whole number")
    return value


def non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a whole number >= 0")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string")
    return value


def choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            hint = did_you_mean(str(value), allowed)
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}{hint}")
        return value

    return parse


def dims(value: Any) -> tuple[int, int]:
    """Two positive sizes written ``4x4`` or ``2:4``."""
    parts = str(value).lower().replace(":", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{value!r} is not two sizes; write e.g. '4x4' or '2:4'")
    return int(parts[0]), int(parts[1])


def config_key(default: Any, parse: Callable[[Any], Any]) -> Any:
    """A dataclass field that is also a config key: its default, and the parser of its YAML value
    (a ValueError from ``parse`` becomes a problem at the key's path)."""
    return field(default=default, metadata={"parse": parse})


def config_keys(cls: Any) -> dict[str, Field]:
    """The config keys a dataclass declares with ``config_key``, by name."""
    return {f.name: f for f in fields(cls) if "parse" in f.metadata}


def string_list(allowed: Iterable[str] | None = None) -> Callable[[Any], tuple[str, ...]]:
    allowed_t = tuple(allowed) if allowed is not None else None

    def parse(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{value!r} is not a list of names")
        if bad := [v for v in value if allowed_t is not None and v not in allowed_t]:
            hint = did_you_mean(bad[0], allowed_t)
            raise ValueError(f"{bad[0]!r} is not one of {', '.join(allowed_t)}{hint}")
        return tuple(value)

    return parse


def parse_scalar(text: str) -> Any:
    """A value given on the command line (``--set``, ``--axis``) as a YAML scalar: ``8`` -> 8,
    ``128 KiB`` stays a string, and ``2:4`` stays a string (YAML 1.1 would read it in base 60)."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if ":" in text and isinstance(value, int | float):
        return text
    return text if value is None else value


def set_dotted(raw: Any, dotted: str, value: Any, source: str) -> Any:
    """Return a copy of ``raw`` with ``dotted`` (``pe_array.rows``, ``memories.glb.size``,
    ``memories[1].size``) set to ``value``.  A list of named mappings is indexed by name."""
    import copy

    root = copy.deepcopy(raw)
    parts = dotted.replace("[", ".").replace("]", "").split(".")
    node = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = ".".join(parts[:i]) or "(top)"
        if isinstance(node, list):
            names = [m.get("name") for m in node if isinstance(m, Mapping)]
            if part.isdigit() and int(part) < len(node):
                key: Any = int(part)
            elif part in names:
                key = names.index(part)
            else:
                raise ConfigError(source, [f"{dotted}: no entry {part!r} in {here}{did_you_mean(part, names)}"
                                           f" (entries: {', '.join(map(str, names))})"])
        elif isinstance(node, dict):
            if part not in node and not last:
                raise ConfigError(source, [f"{dotted}: {here} has no key {part!r}{did_you_mean(part, node)}"])
            key = part
        else:
            raise ConfigError(source, [f"{dotted}: {here} is a value, not a mapping"])
        if last:
            node[key] = value
        else:
            node = node[key]
    return root
