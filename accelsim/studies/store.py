"""SQLite result store for sweeps: one row per point, keyed by the hash of (resolved hardware,
workload reference + fingerprint, accelsim version), written as each point finishes.

WAL mode and one transaction per row: a sweep killed at any moment (Ctrl-C, kill -9) leaves every
finished point committed and no half row; the key is the primary key, so a point is never stored
twice and a repeated point is read instead of recomputed.  Only the process that runs the sweep
writes (workers return results to it), so the store never needs to be on a shared file system.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.files import json_default, rows_to_csv, write_atomic

STORE_SCHEMA_VERSION = 1

# Scalar totals kept as columns (queryable with plain SQL); the full totals are JSON in `totals`.
METRICS = ("total_cycles", "compute_cycles", "stall_cycles", "latency_ms", "utilization", "energy_pj",
           "pj_per_mac", "edp_pj_cycles", "macs_dense", "macs_issued", "macs_gated", "macs_skipped",
           "dram_read_bytes", "dram_write_bytes", "data_bits", "metadata_bits")
_INTEGER = {"total_cycles", "compute_cycles", "stall_cycles", "macs_dense", "macs_issued", "macs_gated",
            "macs_skipped", "dram_read_bytes", "dram_write_bytes", "data_bits", "metadata_bits"}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key                  TEXT PRIMARY KEY,
    created_at           REAL NOT NULL,
    accelsim_version     TEXT NOT NULL,
    hardware_name        TEXT NOT NULL,
    workload             TEXT NOT NULL,
    workload_fingerprint TEXT NOT NULL,
    params               TEXT NOT NULL,
    hardware             TEXT NOT NULL,
    {", ".join(f"{m} {'INTEGER' if m in _INTEGER else 'REAL'}" for m in METRICS)},
    totals               TEXT NOT NULL,
    layers_csv           TEXT,
    elapsed_s            REAL,
    worker               TEXT
);
"""

_COLUMNS = ("key", "created_at", "accelsim_version", "hardware_name", "workload", "workload_fingerprint",
            "params", "hardware", *METRICS, "totals", "layers_csv", "elapsed_s", "worker")
_JSON_COLUMNS = ("params", "hardware", "totals")


class ResultStore:
    """``with ResultStore(path) as store: store.put(key, record); store.get(key)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise AccelsimError(f"{self.path}: not a usable accelsim result store ({exc})") from None

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(STORE_SCHEMA_VERSION),))
        elif int(row[0]) != STORE_SCHEMA_VERSION:
            raise AccelsimError(f"{self.path}: result store schema {row[0]}, this accelsim reads "
                                f"{STORE_SCHEMA_VERSION}; use a new --store path")

    # --- writing ---------------------------------------------------------------------------------

    def put(self, key: str, *, params: dict[str, Any], hardware: dict[str, Any], hardware_name: str,
            workload: str, workload_fingerprint: str, totals: dict[str, Any], version: str,
            layers_csv: str | None = None, elapsed_s: float | None = None, worker: str = "",
            replace: bool = False) -> bool:
        """Store one point in its own transaction; False if the key was already there (and kept)."""
        values = {
            "key": key, "created_at": time.time(), "accelsim_version": version,
            "hardware_name": hardware_name,
            "workload": workload, "workload_fingerprint": workload_fingerprint or "",
            "params": _dumps(params), "hardware": _dumps(hardware), "totals": _dumps(totals),
            "layers_csv": layers_csv, "elapsed_s": elapsed_s, "worker": worker,
        }
        for m in METRICS:
            v = totals.get(m)
            values[m] = None if v is None else (int(v) if m in _INTEGER else float(v))
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        sql = f"{verb} INTO points ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        cur = self._db.execute(sql, [values[c] for c in _COLUMNS])  # autocommit: its own transaction
        return cur.rowcount == 1

    # --- reading ---------------------------------------------------------------------------------

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` already stored."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            sql = f"SELECT key FROM points WHERE key IN ({', '.join('?' * len(chunk))})"
            found.update(r[0] for r in self._db.execute(sql, chunk))
        return found

    def get(self, key: str) -> dict[str, Any] | None:
        cur = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM points WHERE key = ?", (key,))
        row = cur.fetchone()
        return None if row is None else _row_dict(row)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=json_default)


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    d = dict(zip(_COLUMNS, row, strict=True))
    for c in _JSON_COLUMNS:
        d[c] = json.loads(d[c])
    return d


# --- export -------------------------------------------------------------------------------------

def flat_row(row: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One CSV row: the point's parameters, then the scalar totals, then energy by component."""
    params = row["params"] if params is None else params
    out: dict[str, Any] = {"key": row["key"]}
    out.update({k: v if isinstance(v, str | int | float | bool) else json.dumps(v)
                for k, v in params.items()})
    out.update(hardware_name=row["hardware_name"], workload=row["workload"])
    out.update({m: row[m] for m in METRICS})
    for comp, pj in sorted(row["totals"].get("energy_by_component_pj", {}).items()):
        out[f"energy_{comp}_pj"] = pj
    for extra in ("pareto", "index"):
        if extra in row:
            out[extra] = row[extra]
    out.update(elapsed_s=row["elapsed_s"], worker=row["worker"], accelsim_version=row["accelsim_version"])
    return out


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    return rows_to_csv([flat_row(r, r.get("sweep_params")) for r in rows])


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        d = {k: v for k, v in r.items() if k not in ("layers_csv", "sweep_params")}
        if r.get("sweep_params") is not None:
            d["params"] = r["sweep_params"]
        out.append(d)
    return json.dumps(out, indent=1, default=json_default)


def export(rows: Sequence[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """``results.csv`` and ``results.json`` of ``rows`` in ``out_dir``, each written atomically."""
    paths = [Path(out_dir) / "results.csv", Path(out_dir) / "results.json"]
    write_atomic(paths[0], to_csv(rows))
    write_atomic(paths[1], to_json(rows))
    return paths
