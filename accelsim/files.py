"""Writing results: atomically (a temporary file renamed over the target), CSV rows, JSON values."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def write_atomic(path: str | Path, content: str | bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``content`` (text, bytes, or a function writing to a binary file) to a temporary file
    beside ``path`` and rename it over ``path``: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w" if isinstance(content, str) else "wb") as fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of flat dict rows, every key of any row in the header in first-seen order ('' for no rows)."""
    buf = io.StringIO()
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)),
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buf.getvalue()


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for dataclasses, tuples and sets, and numpy scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
