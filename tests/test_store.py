"""The SQLite result store: round trip, no duplicates, durability across a hard kill, exports."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys

import pytest

from accelsim.errors import AccelsimError
from accelsim.studies.store import METRICS, ResultStore, export, to_csv

TOTALS = {"total_cycles": 1200, "compute_cycles": 1000, "stall_cycles": 200, "latency_ms": 0.0012,
          "utilization": 0.5, "energy_pj": 3.5e6, "pj_per_mac": 1.25, "edp_pj_cycles": 4.2e9,
          "macs_dense": 2800, "macs_issued": 2000, "macs_gated": 0, "macs_skipped": 800,
          "dram_read_bytes": 4096, "dram_write_bytes": 1024, "data_bits": 77, "metadata_bits": 11,
          "energy_by_component_pj": {"dram": 2e6, "pe_array": 1.5e6},
          "storage": {"weights": {"format": "bitmask", "data_bits": 40, "metadata_bits": 11}}}


def put(store: ResultStore, key: str, **kw) -> bool:
    args = dict(params={"pe_array.rows": 8, "memories.glb.size": "128 KiB"},
                hardware={"name": "hw", "rows": 8}, hardware_name="hw", workload="resnet50_70pct",
                workload_fingerprint="abc", totals=TOTALS,
                version="0.1.0", layers_csv="name,cycles\nconv1,10\n", elapsed_s=0.25, worker="host:1")
    args.update(kw)
    return store.put(key, **args)


def test_round_trip(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert put(store, "k1")
        row = store.get("k1")
    assert row["params"] == {"pe_array.rows": 8, "memories.glb.size": "128 KiB"}
    assert row["totals"] == TOTALS and row["hardware"] == {"name": "hw", "rows": 8}
    assert all(row[m] == pytest.approx(TOTALS[m]) for m in METRICS)
    assert isinstance(row["total_cycles"], int) and row["layers_csv"].startswith("name,cycles")
    assert row["workload"] == "resnet50_70pct" and row["workload_fingerprint"] == "abc"
    assert row["accelsim_version"] == "0.1.0"
    with ResultStore(tmp_path / "r.sqlite") as again:  # persisted
        assert again.get("k1") == row and again.get("nope") is None


def test_a_key_is_stored_once(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        assert put(store, "k1")
        assert not put(store, "k1", totals={**TOTALS, "total_cycles": 5})
        assert store.get("k1")["total_cycles"] == 1200 and len(store) == 1
        assert put(store, "k1", totals={**TOTALS, "total_cycles": 5}, replace=True)
        assert store.get("k1")["total_cycles"] == 5 and len(store) == 1
        put(store, "k2")
        assert store.done_keys(["k2", "k3", "k1"]) == {"k1", "k2"}


def test_wal_mode_and_plain_sql(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        put(store, "k1")
    db = sqlite3.connect(tmp_path / "r.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT total_cycles, energy_pj FROM points").fetchone() == (1200, 3.5e6)


def test_rows_survive_kill_9(tmp_path):
    """Rows committed before the process is killed are there, and the store opens cleanly."""
    path = tmp_path / "r.sqlite"
    code = f"""
import os
from accelsim.studies.store import ResultStore
s = ResultStore({str(path)!r})
for i in range(20):
    s.put(f"k{{i}}", params={{}}, hardware={{}}, hardware_name="h", workload="w", workload_fingerprint="",
          totals={{"total_cycles": i}}, version="0")
os.kill(os.getpid(), 9)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -9
    with ResultStore(path) as store:
        assert len(store) == 20 and store.get("k19")["total_cycles"] == 19


def test_not_a_store(tmp_path):
    bad = tmp_path / "x.sqlite"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(AccelsimError, match="not a usable accelsim result store"):
        ResultStore(bad)
    newer = tmp_path / "new.sqlite"
    ResultStore(newer).close()
    sqlite3.connect(newer, isolation_level=None).execute("UPDATE meta SET value = '99'")
    with pytest.raises(AccelsimError, match="schema 99"):
        ResultStore(newer)


def test_exports(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        put(store, "k1")
        put(store, "k2", params={"pe_array.rows": 16, "memories.glb.size": "512 KiB"})
        rows = [store.get("k1"), store.get("k2")]
    rows[0]["pareto"], rows[1]["pareto"] = True, False
    csv_path, json_path = export(rows, tmp_path / "out")
    table = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [r["pe_array.rows"] for r in table] == ["8", "16"]
    assert table[0]["energy_dram_pj"] == "2000000.0" and table[0]["pareto"] == "True"
    data = json.loads(json_path.read_text())
    assert data[1]["params"]["memories.glb.size"] == "512 KiB" and "layers_csv" not in data[1]
    assert data[0]["totals"]["storage"]["weights"]["format"] == "bitmask"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # atomic: no leftovers
    # the sweep's own parameter names win over the stored ones (a point shared by two sweeps)
    rows[0]["sweep_params"] = {"rows": 8}
    assert to_csv(rows[:1]).splitlines()[0].startswith("key,rows,hardware_name")
