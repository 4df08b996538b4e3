"""A sweep as one library call: ``run_sweep(spec, executor, store)`` plans and validates every point,
skips the points already in the store (resume), runs the rest on the executor, stores each as it ends
and returns a ``SweepResult`` (rows with their Pareto marks, failures, counts).  The worker side is
here too: ``run_point`` simulates one point, its workload loaded by name once per process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from accelsim import __version__
from accelsim.studies.store import ResultStore
from accelsim.studies.sweep import (
    SweepSpec,
    Task,
    WorkloadRef,
    check_workload_names,
    pareto_mask,
    plan,
    with_fingerprints,
    workload_refs,
)

ProgressFn = Callable[[int, int, str], None]

# --- the worker side ------------------------------------------------------------------------------

_WORKLOADS: OrderedDict[WorkloadRef, Any] = OrderedDict()
_MAX_WORKLOADS = 4


def cached_workload(ref: WorkloadRef):
    """Load a workload by name once per process (the few most recent are kept)."""
    key = replace(ref, fingerprint="")
    if key in _WORKLOADS:
        _WORKLOADS.move_to_end(key)
        return _WORKLOADS[key]
    from accelsim.workload.load import load_workload

    workload = load_workload(ref.ref, batch=ref.batch, input_shape=ref.input_shape, checkpoint=ref.checkpoint)
    _WORKLOADS[key] = workload
    while len(_WORKLOADS) > _MAX_WORKLOADS:
        _WORKLOADS.popitem(last=False)
    return workload


def prepare_workloads(refs: Iterable[WorkloadRef], progress: ProgressFn | None = None,
                      keep: bool = False) -> dict[WorkloadRef, str]:
    """Load each distinct workload once here, before any point runs: an unknown name is a user error
    now rather than in every worker, the on-disk workload cache is warm for the workers, and the
    fingerprint becomes part of every point's key.  ``keep`` leaves them memoized in this process."""
    refs = list(refs)
    fingerprints = {}
    for i, ref in enumerate(refs):
        if progress is not None:
            progress(i, len(refs), ref.ref)
        fingerprints[ref] = cached_workload(ref).fingerprint or ""
        if not keep:
            _WORKLOADS.clear()
    if progress is not None and refs:
        progress(len(refs), len(refs), "")
    return fingerprints


def run_point(task: Task, layers_csv: bool = False) -> dict[str, Any]:
    """Simulate one point; returns a small picklable result (never the Report's layers unless asked)."""
    from accelsim.sim.simulator import simulate

    start = time.perf_counter()
    workload = cached_workload(task.workload)
    report = simulate(task.hardware, workload)
    return {
        "key": task.key,
        "totals": report.totals(),
        "workload_fingerprint": workload.fingerprint or task.workload.fingerprint,
        "layers_csv": report.layers_csv() if layers_csv else None,
        "elapsed_s": time.perf_counter() - start,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


# --- the sweep ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepResult:
    """Every stored point of the sweep (``rows``: store rows in point order, each with its
    ``sweep_params``, ``index`` and ``pareto``, True on the energy-vs-cycles frontier), the points that
    failed with their messages, and how many points were computed or read from the store."""

    rows: list[dict[str, Any]]
    failed: list[tuple[Task, str]]
    computed: int
    from_store: int
    elapsed_s: float  # running the points (executor start-up included, validation not)

    @property
    def pareto(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["pareto"]]


def plan_sweep(spec: SweepSpec, executor: Any = None, progress: ProgressFn | None = None) -> list[Task]:
    """Every point validated and keyed: hardware loaded with its overrides, workload names resolved,
    then (after ``executor.connect()``, if it has one, so an unreachable cluster fails before any
    work) each distinct workload loaded once for its fingerprint."""
    tasks = plan(spec)
    refs = workload_refs(spec)
    check_workload_names(refs)
    if hasattr(executor, "connect"):
        executor.connect()
    inline = getattr(executor, "name", None) == "inline"
    return with_fingerprints(tasks, prepare_workloads(refs, progress, keep=inline))


def run_sweep(spec: SweepSpec, executor: Any, store: ResultStore | str | Path, *, recompute: bool = False,
              on_load: ProgressFn | None = None,
              on_start: Callable[[list[Task], list[Task]], None] | None = None,
              on_outcome: Callable[[Any, int, int], None] | None = None) -> SweepResult:
    """Plan and validate every point (``plan_sweep``), then run on ``executor`` (an executor of
    accelsim.studies.executors) the points not in ``store`` yet (all of them with ``recompute``),
    storing each as it ends.  ``store`` is a ResultStore or a path, opened only once every point is
    valid.  Hooks: ``on_load(done, total, name)`` while workloads load, ``on_start(tasks, todo)``
    before the first point runs, ``on_outcome(outcome, done, len(todo))`` after each point is stored."""
    tasks = plan_sweep(spec, executor, on_load)
    unique: dict[str, Task] = {}
    for t in tasks:
        unique.setdefault(t.key, t)  # two points with the same resolved hardware and workload run once
    with contextlib.ExitStack() as stack:
        opened = store if isinstance(store, ResultStore) else stack.enter_context(ResultStore(store))
        stored = set() if recompute else opened.done_keys(unique)
        todo = [t for k, t in unique.items() if k not in stored]
        first_use = {t.workload: i for i, t in reversed(list(enumerate(todo)))}
        todo.sort(key=lambda t: first_use[t.workload])  # one workload at a time: the workers' memo hits
        if on_start is not None:
            on_start(tasks, todo)
        failed: list[tuple[Task, str]] = []
        start = time.perf_counter()
        for done, outcome in enumerate(executor.execute(todo), start=1):
            if outcome.result is not None:
                _store_result(opened, outcome.task, outcome.result, replace=recompute)
            else:
                failed.append((outcome.task, outcome.error or "failed"))
            if on_outcome is not None:
                on_outcome(outcome, done, len(todo))
        elapsed = time.perf_counter() - start
        rows = [row | {"sweep_params": t.params, "index": t.index}
                for t in tasks if (row := opened.get(t.key)) is not None]
    front = pareto_mask([r["total_cycles"] for r in rows], [r["energy_pj"] for r in rows])
    for r, on_front in zip(rows, front, strict=True):
        r["pareto"] = on_front
    return SweepResult(rows, failed, len(todo) - len(failed), len(unique) - len(todo), elapsed)


def _store_result(store: ResultStore, task: Task, result: dict[str, Any], replace: bool) -> None:
    from accelsim.spec.hardware import hardware_dict

    store.put(task.key, params=task.params, hardware=hardware_dict(task.hardware),
              hardware_name=task.hardware.name, workload=task.workload.ref,
              workload_fingerprint=result.get("workload_fingerprint") or "", totals=result["totals"],
              version=__version__, layers_csv=result.get("layers_csv"), elapsed_s=result.get("elapsed_s"),
              worker=result.get("worker", ""), replace=replace)
