"""Sweep specs, validation (exit 2 with the axis named), local executors, resume and worker death."""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.errors import AccelsimError, ConfigError
from accelsim.spec.config import parse_scalar
from accelsim.studies.executors import InlineExecutor, LocalExecutor
from accelsim.studies.run import prepare_workloads, run_point, run_sweep
from accelsim.studies.store import ResultStore
from accelsim.studies.sweep import (
    Axis,
    SweepSpec,
    expand,
    pareto_mask,
    parse_axis,
    plan,
    recipe_name,
    set_path,
    with_fingerprints,
    workload_refs,
)

TOPOLOGY = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
conv1, 16, 16, 3, 3, 8, 16, 1,
conv2, 14, 14, 3, 3, 16, 32, 2,
fc, 1, 1, 1, 1, 512, 10, 1,
"""


@pytest.fixture
def topo(tmp_path) -> str:
    p = tmp_path / "tiny.csv"
    p.write_text(TOPOLOGY)
    return str(p)


def spec_for(topo: str, *axes: str) -> SweepSpec:
    return SweepSpec("dense_ws", topo, tuple(parse_axis(a) for a in axes))


def tasks_for(topo: str, *axes: str):
    spec = spec_for(topo, *axes)
    return with_fingerprints(plan(spec), prepare_workloads(workload_refs(spec)))


# --- parsing and expansion ----------------------------------------------------------------------------

def test_values_are_yaml_scalars():
    assert parse_scalar("8") == 8 and parse_scalar("0.5") == 0.5 and parse_scalar("true") is True
    assert parse_scalar("128 KiB") == "128 KiB"
    assert parse_scalar("2:4") == "2:4"  # not YAML 1.1 base 60 (124)
    assert parse_scalar("[inputs, weights]") == ["inputs", "weights"]


def test_parse_axis_splits_outside_brackets():
    assert parse_axis("memories.glb.size=128 KiB, 512 KiB") == Axis("memories.glb.size",
                                                                     ("128 KiB", "512 KiB"))
    assert parse_axis("memories[1].holds=[inputs,weights],[weights]").values == (["inputs", "weights"],
                                                                                  ["weights"])
    for bad in ("pe_array.rows", "=8", "pe_array.rows=8,,16", "pe_array.rows=8,8"):
        with pytest.raises(AccelsimError):
            parse_axis(bad)


def test_product_and_zip():
    a, b = parse_axis("pe_array.rows=8,16,32"), parse_axis("pe_array.cols=4,8,16")
    prod = expand(SweepSpec("dense_ws", "m", (a, b)))
    assert len(prod) == 9 and prod[0] == {"pe_array.rows": 8, "pe_array.cols": 4}
    assert prod[1] == {"pe_array.rows": 8, "pe_array.cols": 8}  # the last axis varies fastest
    zipped = expand(SweepSpec("dense_ws", "m", (a, b), zip=True))
    assert zipped == [{"pe_array.rows": r, "pe_array.cols": c} for r, c in ((8, 4), (16, 8), (32, 16))]


def test_zip_needs_equal_lengths():
    axes = (parse_axis("pe_array.rows=8,16"), parse_axis("pe_array.cols=4"))
    spec = SweepSpec("dense_ws", "m", axes, zip=True)
    with pytest.raises(AccelsimError, match="pe_array.rows has 2, pe_array.cols has 1"):
        expand(spec)


def test_recipe_names_follow_the_grammar():
    assert recipe_name("resnet50", 0.3, None) == "resnet50_70pct"
    assert recipe_name("resnet50", 0.3, "unstructured") == "resnet50_70pct"
    assert recipe_name("resnet50", 0.5, "window") == "resnet50_50pct_window"
    assert recipe_name("resnet50_70pct", None, "channel") == "resnet50_70pct_channel"
    assert recipe_name("resnet50_70pct_window", 0.125, None) == "resnet50_87.5pct_window"
    with pytest.raises(AccelsimError, match="needs a density"):
        recipe_name("resnet50", None, "window")
    axes = (parse_axis("density=0.3,0.5"), parse_axis("pattern=window,channel"))
    spec = SweepSpec("dense_ws", "resnet50", axes)
    assert [r.ref for r in workload_refs(spec)] == ["resnet50_70pct_window", "resnet50_70pct_channel",
                                                    "resnet50_50pct_window", "resnet50_50pct_channel"]


def test_pareto_mask():
    xs = [1, 2, 3, 2, 1, 4]
    ys = [5, 3, 1, 4, 5, 0.5]
    assert pareto_mask(xs, ys) == [True, True, True, False, True, True]  # a duplicate stays on the front
    assert pareto_mask([], []) == []


# --- validation ---------------------------------------------------------------------------------------

def test_set_path_creates_missing_sections():
    raw = {"version": 1, "name": "x", "pe_array": {"rows": 2, "cols": 2}}
    out = set_path(raw, "sparsity.weights.format", "bitmask", "x")
    assert out["sparsity"] == {"weights": {"format": "bitmask"}} and "sparsity" not in raw


def test_every_point_validated_with_axis_named():
    spec = SweepSpec("dense_ws", "m", (parse_axis("pe_array.rowz=8,16"),))
    with pytest.raises(ConfigError) as exc:
        plan(spec)
    assert "--axis pe_array.rowz" in str(exc.value) and "did you mean 'rows'" in str(exc.value)

    spec = SweepSpec("dense_ws", "m", (parse_axis("pe_array.rows=8,abc"),))
    with pytest.raises(ConfigError, match=r"--axis pe_array.rows=abc: .*not a positive whole number"):
        plan(spec)

    spec = SweepSpec("dense_ws", "m", (parse_axis("memories.ifmap_sram.size=1 KiB,2KB"),))
    with pytest.raises(ConfigError, match=r"--axis memories.ifmap_sram.size=2KB: memories\[1\].size"):
        plan(spec)


def test_combination_errors_name_the_values():
    spec = SweepSpec("dense_ws", "m", (parse_axis("sparsity.weights.format=dense,bitmask"),
                                       parse_axis("sparsity.weights.skip=skip,gate")))
    with pytest.raises(ConfigError) as exc:
        plan(spec)
    msg = str(exc.value)
    assert "--axis sparsity.weights.skip=skip" in msg and "sparsity.weights.format=dense" in msg
    assert "1 of 4 points" in msg


def test_formats_and_skip_policies_are_hardware_axes(topo):
    tasks = tasks_for(topo, "sparsity.weights.format=bitmask,csr", "sparsity.weights.skip=gate,skip",
                      "sparsity.weights.exploits=[unstructured]")
    assert len(tasks) == 4 and len({t.key for t in tasks}) == 4
    assert {(t.hardware.sparsity.weights.format, t.hardware.sparsity.weights.skip) for t in tasks} == {
        ("bitmask", "gate"), ("bitmask", "skip"), ("csr", "gate"), ("csr", "skip")}


def test_keys_follow_resolved_hardware_and_workload(topo, tmp_path):
    a = tasks_for(topo, "pe_array.rows=8,16")
    b = tasks_for(topo, "pe_array.rows=16,8")
    assert {t.key for t in a} == {t.key for t in b}
    other = tmp_path / "other.csv"
    other.write_text(TOPOLOGY.replace("16, 32, 2", "16, 64, 2"))
    c = tasks_for(str(other), "pe_array.rows=8,16")
    assert not {t.key for t in a} & {t.key for t in c}
    assert all(t.workload.fingerprint.startswith("scalesim-csv:") for t in a)


# --- running, storing, resuming -----------------------------------------------------------------------

def counting(task, layers_csv=False, *, calls: list):
    calls.append(task.index)
    return run_point(task, layers_csv)


def test_library_sweep_stores_every_point_and_resumes(topo, tmp_path):
    """run_sweep as a library user calls it: a spec, an executor, a store path; the second call
    reads every point from the store and runs none."""
    spec = spec_for(topo, "pe_array.rows=4,8,16", "pe_array.cols=8,16")
    calls: list[int] = []
    ex = InlineExecutor(fn=functools.partial(counting, calls=calls))
    result = run_sweep(spec, ex, tmp_path / "s.sqlite")
    assert (result.computed, result.from_store, result.failed, sorted(calls)) == (6, 0, [], list(range(6)))
    assert [r["sweep_params"] for r in result.rows] == [{"pe_array.rows": r, "pe_array.cols": c}
                                                        for r in (4, 8, 16) for c in (8, 16)]
    tasks = tasks_for(topo, "pe_array.rows=4,8,16", "pe_array.cols=8,16")
    direct = run_point(tasks[0])["totals"]
    assert result.rows[0]["total_cycles"] == direct["total_cycles"]
    assert result.rows[0]["energy_pj"] == pytest.approx(direct["energy_pj"])
    # the Pareto marks: a row is on the front iff no other row is at least as good in both and better in one
    for r in result.rows:
        dominated = any(o["total_cycles"] <= r["total_cycles"] and o["energy_pj"] <= r["energy_pj"]
                        and (o["total_cycles"], o["energy_pj"]) != (r["total_cycles"], r["energy_pj"])
                        for o in result.rows)
        assert r["pareto"] == (not dominated)
    assert result.pareto and all(r["pareto"] for r in result.pareto)

    calls.clear()
    again = run_sweep(spec, ex, tmp_path / "s.sqlite")
    assert (again.computed, again.from_store, calls) == (0, 6, [])
    assert [r["totals"] for r in again.rows] == [r["totals"] for r in result.rows]
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert len(store) == 6


class Interrupting:
    """An executor that is stopped (Ctrl-C) after ``n`` points."""

    name = "inline"

    def __init__(self, n: int):
        self.n, self.inner = n, InlineExecutor()

    def execute(self, tasks):
        for i, outcome in enumerate(self.inner.execute(tasks)):
            if i == self.n:
                raise KeyboardInterrupt
            yield outcome


def test_resume_after_interruption(topo, tmp_path):
    spec = spec_for(topo, "pe_array.rows=4,8,16,32", "pe_array.cols=8,16")
    path = tmp_path / "s.sqlite"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, Interrupting(3), path)
    with ResultStore(path) as store:
        assert len(store) == 3
        result = run_sweep(spec, InlineExecutor(), store)
        assert (result.computed, result.from_store, len(result.rows)) == (5, 3, 8)
    keys = [r[0] for r in sqlite3.connect(path).execute("SELECT key FROM points")]
    every = tasks_for(topo, "pe_array.rows=4,8,16,32", "pe_array.cols=8,16")
    assert sorted(keys) == sorted(t.key for t in every)  # all there, none twice


def test_failed_points_are_reported_not_stored(topo, tmp_path):
    def flaky(task, layers_csv=False):
        if task.index == 1:
            raise AccelsimError("cannot map this layer")
        return run_point(task, layers_csv)

    spec = spec_for(topo, "pe_array.rows=4,8,16")
    with ResultStore(tmp_path / "s.sqlite") as store:
        result = run_sweep(spec, InlineExecutor(fn=flaky), store)
        assert [(t.index, m) for t, m in result.failed] == [(1, "cannot map this layer")]
        assert len(store) == 2
        retry = run_sweep(spec, InlineExecutor(), store)
        assert (retry.computed, retry.from_store, retry.failed) == (1, 2, [])


def test_local_processes_match_inline(topo, tmp_path):
    spec = spec_for(topo, "pe_array.rows=4,8,16", "pe_array.cols=8,16")
    inline = run_sweep(spec, InlineExecutor(), tmp_path / "a.sqlite")
    local = run_sweep(spec, LocalExecutor(2), tmp_path / "b.sqlite")
    assert local.computed == 6 and not local.failed
    assert [r["totals"] for r in inline.rows] == [r["totals"] for r in local.rows]
    assert len({r["worker"] for r in local.rows}) == 2


def die_once(task, layers_csv=False, *, marker_dir: str, index: int):
    """Kill the worker process the first time point ``index`` runs (as the OOM killer would)."""
    marker = Path(marker_dir) / f"died-{task.key}"
    if task.index == index and not marker.exists():
        marker.touch()
        os._exit(9)
    return run_point(task, layers_csv)


def always_die(task, layers_csv=False, *, index: int):
    if task.index == index:
        os._exit(9)
    return run_point(task, layers_csv)


def test_worker_death_reruns_points(topo, tmp_path):
    spec = spec_for(topo, "pe_array.rows=4,8,16,32", "pe_array.cols=8,16")
    ex = LocalExecutor(2, fn=functools.partial(die_once, marker_dir=str(tmp_path), index=3))
    with ResultStore(tmp_path / "s.sqlite") as store:
        result = run_sweep(spec, ex, store)
        assert ex.restarts == 1 and not result.failed
        assert result.computed == 8 and len(store) == 8


def test_a_point_that_always_kills_its_worker_fails_alone(topo, tmp_path):
    spec = spec_for(topo, "pe_array.rows=4,8,16,32")
    ex = LocalExecutor(2, max_attempts=2, fn=functools.partial(always_die, index=2))
    with ResultStore(tmp_path / "s.sqlite") as store:
        result = run_sweep(spec, ex, store)
        assert [t.index for t, _ in result.failed] == [2]
        assert "died while running this point 2 times" in result.failed[0][1] and ex.restarts == 2
        assert len(store) == 3


def late_death(task, layers_csv=False, *, marker_dir: str):
    """Point 1 kills its worker once, 50 ms in: while the parent is still busy with point 0's result."""
    marker = Path(marker_dir) / f"died-{task.key}"
    if task.index == 1 and not marker.exists():
        marker.touch()
        time.sleep(0.05)
        os._exit(9)
    return run_point(task, layers_csv)


def test_a_death_while_another_result_is_being_stored(topo, tmp_path):
    """The race of a pool-wide executor (a pool that breaks while the parent stores a result, then
    refuses the next point): here only the dead worker's point runs again."""
    spec = spec_for(topo, "pe_array.rows=4,8,16,32")
    ex = LocalExecutor(2, fn=functools.partial(late_death, marker_dir=str(tmp_path)))
    result = run_sweep(spec, ex, tmp_path / "s.sqlite",
                       on_outcome=lambda outcome, done, todo: time.sleep(0.2 if done == 1 else 0))
    assert (result.computed, result.failed, ex.restarts) == (4, [], 1)


def slow_point(task, layers_csv=False):
    time.sleep(random.uniform(0.0, 0.05))  # widens the window for a death mid-point
    return run_point(task, layers_csv)


def test_random_worker_deaths_lose_and_repeat_nothing(topo, tmp_path):
    """Workers SIGKILLed at random moments (idle, mid-point, sending a result, just replaced, both at
    once): every point comes back exactly once, and every death is replaced."""
    spec = spec_for(topo, "pe_array.rows=4,8,12,16,24,32,48,64,96,128", "pe_array.cols=4,8,16,32,64,128")
    ex = LocalExecutor(2, max_attempts=10**6, fn=slow_point)  # these deaths are not the points' fault
    rng = random.Random(1)
    kills: list[int] = []
    stop = threading.Event()

    def killer():
        while len(kills) < 20 and not stop.wait(rng.uniform(0.0, 0.04)):
            pids = ex.pids()
            for pid in pids if rng.random() < 0.2 else rng.sample(pids, min(1, len(pids))):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)

    seen = collections.Counter()  # outcomes per point key

    def count(outcome, done, todo):
        seen[outcome.task.key] += 1

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        result = run_sweep(spec, ex, tmp_path / "s.sqlite", on_outcome=count)
    finally:
        stop.set()
        thread.join()
    assert result.failed == [] and result.computed == len(seen) == 60 and set(seen.values()) == {1}
    assert len(kills) >= 10 and 1 <= ex.restarts <= len(kills)
    keys = [r[0] for r in sqlite3.connect(tmp_path / "s.sqlite").execute("SELECT key FROM points")]
    assert sorted(keys) == sorted(seen)


# --- the command line ---------------------------------------------------------------------------------

def invoke(*args: str):
    return CliRunner().invoke(cli, ["sweep", *args])


@pytest.mark.parametrize("axes, message", [
    (["pe_array.rowz=8,16"], "--axis pe_array.rowz: pe_array.rowz: unknown key (did you mean 'rows'?)"),
    (["pe_array.rows=8,big"], "--axis pe_array.rows=big"),
    (["memories.glbb.size=64 KiB"], "--axis memories.glbb.size"),
    (["pe_array.rows"], "write PATH=V1,V2"),
    (["batch=0"], "--axis batch=0"),
    (["density=1.5"], "--axis density=1.5"),
])
def test_cli_axis_errors_exit_2(topo, tmp_path, axes, message):
    args = ["--hw", "dense_ws", "--model", topo, "--out", str(tmp_path / "o")]
    result = invoke(*args, *[x for a in axes for x in ("--axis", a)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_cli_zip_length_mismatch_exit_2(topo, tmp_path):
    result = invoke("--hw", "dense_ws", "--model", topo, "--axis", "pe_array.rows=8,16",
                    "--axis", "pe_array.cols=8,16,32", "--zip", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--zip needs axes with equal numbers of values" in result.output


def test_cli_unknown_workload_and_executor_conflicts_exit_2(topo, tmp_path):
    result = invoke("--hw", "dense_ws", "--model", str(tmp_path / "nope.csv"), "--axis", "pe_array.rows=8")
    assert result.exit_code == 2 and "file not found" in result.output
    result = invoke("--hw", "dense_ws", "--model", topo, "--workers", "2", "--cluster", "local:2")
    assert result.exit_code == 2 and "exclude each other" in result.output
    result = invoke("--hw", "dense_ws", "--model", topo, "--cluster", "2")
    assert result.exit_code == 2 and "local:N" in result.output


def test_cli_end_to_end_and_resume(topo, tmp_path):
    out = tmp_path / "out"
    args = ["--hw", "dense_ws", "--model", topo, "--axis", "pe_array.rows=4,8,16", "--axis",
            "memories.ifmap_sram.size=1 KiB,64 KiB", "--workers", "1", "--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Pareto frontier" in result.output and "6 computed, 0 read from the store" in result.output
    assert {p.name for p in out.iterdir()} >= {"sweep.sqlite", "results.csv", "results.json", "pareto.png"}
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 6 and {"params", "total_cycles", "energy_pj", "pareto", "totals"} <= set(rows[0])
    assert rows[0]["params"] == {"pe_array.rows": 4, "memories.ifmap_sram.size": "1 KiB"}
    assert any(r["pareto"] for r in rows)
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["key", "pe_array.rows", "memories.ifmap_sram.size"] and "energy_pj" in header

    again = invoke(*args)
    assert again.exit_code == 0 and "0 computed, 6 read from the store" in again.output
    # points are keyed by resolved hardware: cols=32 is dense_ws's own value, so those 6 are reused
    bigger = invoke(*args, "--axis", "pe_array.cols=32,16")
    assert bigger.exit_code == 0, bigger.output
    assert "6 computed, 6 read from the store" in bigger.output


def test_cli_dry_run_lists_points(topo, tmp_path):
    result = invoke("--hw", "dense_ws", "--model", topo, "--axis", "pe_array.rows=4,8", "--dry-run",
                    "--out", str(tmp_path))
    assert result.exit_code == 0 and "2 points (0 stored)" in result.output


@pytest.mark.slow
def test_kill_9_mid_sweep_then_resume(tmp_path):
    """A real interruption: SIGKILL the sweep process while points are being stored, then resume."""
    topo = tmp_path / "t.csv"
    topo.write_text(TOPOLOGY.replace("fc, 1, 1, 1, 1, 512, 10, 1,", "big, 56, 56, 3, 3, 64, 64, 1,"))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "accelsim", "sweep", "--hw", "dense_ws", "--model", str(topo),
            "--axis", "pe_array.rows=" + ",".join(str(r) for r in range(4, 44)), "--workers", "1",
            "--out", str(out), "--no-plot"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "sweep.sqlite"
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
            if stored >= 3:
                break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert 3 <= stored < 40, "the sweep finished before it could be killed; make its points slower"
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    keys = [r[0] for r in sqlite3.connect(db).execute("SELECT key FROM points")]
    assert len(keys) == len(set(keys)) == 40
    assert "read from the store" in done.stderr


# --- the table of best points -------------------------------------------------------------------------

def _table_rows(text: str) -> list[list[str]]:
    """The rows of the table: the lines after its header (``# ...``) up to the footer (``* = ...``)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# "))
    end = next(i for i, line in enumerate(lines) if line.startswith("* = "))
    return [line.split() for line in lines[start + 1:end]]


def test_the_table_ranks_every_point_by_the_objective_and_marks_pareto(capsys):
    """Five points, three on the energy-vs-cycles frontier (0, 1, 3): the best 3 by cycles include the
    dominated point 2; by EDP (energy x cycles) they are 1, 3, 0."""
    from accelsim.cli.sweep import _print_best

    points = [(100, 50), (200, 10), (150, 60), (120, 40), (300, 80)]
    front = pareto_mask([c for c, _ in points], [e for _, e in points])
    assert front == [True, True, False, True, False]
    rows = [{"index": i, "sweep_params": {"pe_array.rows": 4 * (i + 1)}, "total_cycles": c,
             "energy_pj": e * 1e6, "edp_pj_cycles": c * e * 1e6, "utilization": 0.5, "pareto": p}
            for i, ((c, e), p) in enumerate(zip(points, front, strict=True))]
    _print_best(rows, 3, "cycles")
    table = _table_rows(capsys.readouterr().out)
    assert [(r[0], "*" in r) for r in table] == [("0", True), ("3", True), ("2", False)]
    assert table[0][-1] == "cycles" and table[1][-1] == "*"  # 0 has the fewest cycles; 3 is best in nothing
    _print_best(rows, 3, "edp")
    out = capsys.readouterr().out
    assert [r[0] for r in _table_rows(out)] == ["1", "3", "0"]
    assert "the 3 best of 5 points by edp" in out and "3 of the 5 points" in out
    _print_best(rows, 10, "energy")
    assert [r[0] for r in _table_rows(capsys.readouterr().out)] == ["1", "3", "0", "2", "4"]


def test_cli_top_and_objective(topo, tmp_path):
    args = ["--hw", "dense_ws", "--model", topo, "--axis", "pe_array.rows=4,8,16,32", "--workers", "1",
            "--out", str(tmp_path), "--no-plot"]
    result = invoke(*args, "--top", "2", "--objective", "energy")
    assert result.exit_code == 0, result.output
    assert "the 2 best of 4 points by energy" in result.output
    rows = json.loads((tmp_path / "results.json").read_text())
    by_energy = sorted(rows, key=lambda r: r["energy_pj"])[:2]
    shown = _table_rows(result.output)
    assert [int(r[0]) for r in shown] == [r["index"] for r in by_energy]
    assert ["*" in r for r in shown] == [r["pareto"] for r in by_energy]
    assert invoke(*args, "--objective", "speed").exit_code == 2


def worker_state(task, layers_csv=False):
    """run_point, with what the worker had imported and which workload object it simulated."""
    from accelsim.studies.run import cached_workload

    result = run_point(task, layers_csv)
    result["state"] = {"pid": os.getpid(), "workload": id(cached_workload(task.workload)),
                       "torch": "torch" in sys.modules, "numba": "numba" in sys.modules}
    return result


def test_warm_workers_load_the_workload_once_and_never_import_torch(tmp_path):
    """With the workload cache warm (the parent fills it), a worker reads the workload once, keeps it
    for every later point, and imports neither torch nor numba."""
    spec = SweepSpec("sparse_pe", "lenet5_93pct", axes=(Axis("pe_array.rows", (4, 8, 12, 16, 20, 24)),))
    seen = []
    out = run_sweep(spec, LocalExecutor(2, fn=worker_state), tmp_path / "s.sqlite",
                    on_outcome=lambda o, *_: seen.append(o.result["state"]))
    assert out.computed == 6 and not out.failed
    assert not any(s["torch"] or s["numba"] for s in seen)
    workloads = collections.defaultdict(set)
    for s in seen:
        workloads[s["pid"]].add(s["workload"])
    assert all(len(ids) == 1 for ids in workloads.values()), workloads
