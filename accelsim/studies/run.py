"""Running sweep points: in this process, in local worker processes, or on a Dask cluster.

Each executor's ``execute(tasks)`` is a generator of ``Outcome`` in completion order; the caller
(``run_sweep``) stores each result as it arrives, so stopping the generator at any point (Ctrl-C,
an exception, kill -9) loses nothing that was stored.  Workers load workloads by name (the recipe
cache makes that cheap) and memoize them per process: workloads never travel through the scheduler,
only the small HardwareConfig and the WorkloadRef do.

Worker death: the local pool restarts a broken ProcessPoolExecutor and resubmits the unfinished
points (a point in flight at ``max_attempts`` breaks is reported failed); Dask reschedules the tasks
of a lost worker itself (``distributed.scheduler.allowed-failures``).
"""

from __future__ import annotations

import os
import signal
import socket
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from accelsim import __version__
from accelsim.errors import AccelsimError
from accelsim.studies.sweep import Task, WorkloadRef

# --- the worker side ------------------------------------------------------------------------------

_WORKLOADS: OrderedDict[WorkloadRef, Any] = OrderedDict()
_MAX_WORKLOADS = 4


def cached_workload(ref: WorkloadRef):
    """Load a workload by name once per process (the few most recent are kept)."""
    key = WorkloadRef(ref.ref, ref.batch, ref.input_shape, ref.checkpoint)
    if key in _WORKLOADS:
        _WORKLOADS.move_to_end(key)
        return _WORKLOADS[key]
    from accelsim.workload.load import load_workload

    workload = load_workload(ref.ref, **ref.load_kwargs())
    _WORKLOADS[key] = workload
    while len(_WORKLOADS) > _MAX_WORKLOADS:
        _WORKLOADS.popitem(last=False)
    return workload


def prepare_workloads(refs: Iterable[WorkloadRef], progress: Callable[[int, int, str], None] | None = None,
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


def _worker_init() -> None:
    # Ctrl-C goes to the whole process group; only the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


PointFn = Callable[[Task, bool], dict[str, Any]]  # run_point's signature; tests pass a crashing one


# --- outcomes and executors --------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    task: Task
    result: dict[str, Any] | None = None
    error: str | None = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AccelsimError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class InlineExecutor:
    """Points one after another in this process (``--workers 1``; also what the tests monkeypatch)."""

    name = "inline"

    def __init__(self, layers_csv: bool = False, fn: PointFn | None = None):
        self.layers_csv = layers_csv
        self.fn = fn or run_point

    def describe(self) -> str:
        return "this process"

    def execute(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            try:
                result = self.fn(task, self.layers_csv)
            except Exception as exc:  # noqa: BLE001 - a failed point is reported, the sweep goes on
                yield Outcome(task, error=_describe(exc))
            else:
                yield Outcome(task, result)

    def close(self) -> None:
        pass


class LocalExecutor:
    """``workers`` local processes (forkserver: safe with threads, and each worker starts from a
    preloaded accelsim instead of re-importing it).  At most ``workers`` points are in flight, so the
    points lost with a dying worker are few and known; they are rerun one at a time, and a point
    that kills its worker ``max_attempts`` times is reported failed while the sweep goes on."""

    name = "local"

    def __init__(self, workers: int, layers_csv: bool = False, max_attempts: int = 3,
                 start_method: str = "forkserver", fn: PointFn | None = None):
        self.workers = max(1, workers)
        self.fn = fn or run_point
        self.layers_csv = layers_csv
        self.max_attempts = max_attempts
        self.start_method = start_method
        self.restarts = 0
        self._pool = None

    def describe(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    def _new_pool(self):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context(self.start_method)
        if self.start_method == "forkserver":
            ctx.set_forkserver_preload(["accelsim.studies.run", "accelsim.sim.simulator"])
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init)

    def execute(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        queue = list(tasks)[::-1]  # pop() from the end keeps the points' order
        attempts: dict[str, int] = {}
        try:
            while queue:
                self._pool = self._new_pool()
                running: dict[Any, Task] = {}
                broken = False
                while (queue or running) and not broken:
                    while queue and len(running) < self.workers:
                        # a point that was in flight when a worker died runs alone, so a second
                        # death is its own and the points that merely shared the pool go free
                        suspect = attempts.get(queue[-1].key, 0) > 0
                        if (suspect and running) or any(attempts.get(t.key, 0) for t in running.values()):
                            break
                        task = queue.pop()
                        running[self._pool.submit(self.fn, task, self.layers_csv)] = task
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = running.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            running[fut] = task  # judged below with the others in flight
                        except Exception as exc:  # noqa: BLE001
                            yield Outcome(task, error=_describe(exc))
                        else:
                            yield Outcome(task, result)
                if broken:
                    yield from self._after_break(running, queue, attempts)
                self._shutdown(kill=broken)
        finally:
            self._shutdown(kill=True)

    def _after_break(self, running: dict, queue: list[Task], attempts: dict[str, int]) -> Iterator[Outcome]:
        """A worker died: keep what finished, requeue the rest, give up on a point after max_attempts."""
        self.restarts += 1
        for fut, task in running.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                yield Outcome(task, fut.result())
                continue
            attempts[task.key] = attempts.get(task.key, 0) + 1
            if attempts[task.key] >= self.max_attempts:
                yield Outcome(task, error=f"a worker process died while running this point "
                                          f"{attempts[task.key]} times (out of memory?)")
            else:
                queue.append(task)

    def _shutdown(self, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.kill()
            for p in procs:
                p.join(timeout=5)
        else:
            pool.shutdown(wait=True)

    def close(self) -> None:
        self._shutdown(kill=True)


class DaskExecutor:
    """Points as Dask tasks on a scheduler (``tcp://HOST:8786``) or a LocalCluster of ``local_workers``.

    ``connect()`` happens before any work, so an unreachable scheduler is one clear error.  A point's
    own exception is deterministic, so ``retries`` is 0; the tasks of a worker that dies are
    rescheduled by the scheduler anyway (up to ``distributed.scheduler.allowed-failures``, then
    KilledWorker, reported as that point's failure).  Remote workers need accelsim installed and
    must be able to load the workload by name (recipe names build there; .csv paths must exist);
    start them with ``distributed.worker.profile.enabled: false`` for the speed of the LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, local_workers: int | None = None, layers_csv: bool = False,
                 connect_timeout_s: float = 10.0, retries: int = 0, fn: PointFn | None = None):
        self.fn = fn or run_point
        if (address is None) == (local_workers is None):
            raise AccelsimError("give a Dask scheduler address or a local cluster size, not both")
        self.address = address
        self.local_workers = local_workers
        self.layers_csv = layers_csv
        self.connect_timeout_s = connect_timeout_s
        self.retries = retries
        self.client = None
        self.cluster = None

    def describe(self) -> str:
        if self.local_workers is not None:
            return f"a Dask LocalCluster of {self.local_workers} worker process(es)"
        return f"the Dask scheduler at {self.address}"

    def connect(self) -> None:
        import logging

        from distributed import Client, LocalCluster

        if self.client is not None:
            return
        if self.local_workers is not None:
            import dask

            # the workers' statistical profiler samples every thread each 10 ms: on pure-Python points
            # that costs GIL time for nothing, as does the dashboard
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(n_workers=self.local_workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            return
        try:
            self.client = Client(self.address, timeout=f"{self.connect_timeout_s}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise AccelsimError(f"cannot reach the Dask scheduler at {self.address} ({_first_line(exc)}); "
                                f"start one with `dask scheduler` and `dask worker {self.address}`, "
                                f"or use --cluster local:N or --workers N") from None
        if not self.client.scheduler_info().get("workers"):
            try:
                self.client.wait_for_workers(1, timeout=self.connect_timeout_s)
            except (TimeoutError, OSError):
                self.close()
                raise AccelsimError(f"the Dask scheduler at {self.address} has no workers; start some with "
                                    f"`dask worker {self.address}`") from None

    def execute(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from distributed import as_completed

        self.connect()
        tasks = list(tasks)
        futures = {}
        for task in tasks:
            fut = self.client.submit(self.fn, task, self.layers_csv, key=f"accelsim-point-{task.key}",
                                     retries=self.retries, pure=False)
            futures[fut] = task
        try:
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker after allowed-failures, or the point's own
                    yield Outcome(task, error=_describe(exc))
                else:
                    yield Outcome(task, result)
                fut.release()
        finally:
            pending = [f for f in futures if not f.done()]
            if pending and self.client is not None:
                self.client.cancel(pending)

    def close(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


# --- the sweep loop ---------------------------------------------------------------------------------

@dataclass
class SweepSummary:
    total: int
    from_store: int
    computed: int
    failed: list[tuple[Task, str]]
    rows: list[dict[str, Any]]  # every stored point of this sweep, in point order, with "sweep_params"
    elapsed_s: float = 0.0  # running the points (executor start-up included, validation not)


def run_sweep(tasks: list[Task], store, executor, *, recompute: bool = False, layers_csv: bool = False,
              on_outcome: Callable[[Outcome, int, int], None] | None = None) -> SweepSummary:
    """Run the points not in ``store`` yet (all of them with ``recompute``), storing each as it ends.

    ``on_outcome(outcome, done, todo)`` is called after each point is stored (progress bars)."""
    unique: dict[str, Task] = {}
    for t in tasks:
        unique.setdefault(t.key, t)  # two points with the same resolved hardware and workload run once
    stored = set() if recompute else store.done_keys(unique)
    todo = [t for k, t in unique.items() if k not in stored]
    first_use = {t.workload: i for i, t in reversed(list(enumerate(todo)))}
    todo.sort(key=lambda t: first_use[t.workload])  # one workload at a time: the workers' memo hits
    failed: list[tuple[Task, str]] = []
    done = 0
    start = time.perf_counter()
    for outcome in executor.execute(todo):
        if outcome.result is not None:
            _store_result(store, outcome.task, outcome.result, replace=recompute)
        else:
            failed.append((outcome.task, outcome.error or "failed"))
        done += 1
        if on_outcome is not None:
            on_outcome(outcome, done, len(todo))
    elapsed = time.perf_counter() - start
    rows = []
    for t in tasks:
        row = store.get(t.key)
        if row is not None:
            row["sweep_params"] = t.params
            row["index"] = t.index
            rows.append(row)
    return SweepSummary(len(tasks), len(unique) - len(todo), len(todo) - len(failed), failed, rows, elapsed)


def _store_result(store, task: Task, result: dict[str, Any], replace: bool) -> None:
    from accelsim.sim.simulator import hardware_dict

    store.put(task.key, params=task.params, hardware=hardware_dict(task.hardware),
              hardware_name=task.hardware.name, workload=task.workload.ref,
              workload_fingerprint=result.get("workload_fingerprint") or "", totals=result["totals"],
              version=__version__, layers_csv=result.get("layers_csv"), elapsed_s=result.get("elapsed_s"),
              worker=result.get("worker", ""), replace=replace)
