"""Executors run sweep points: in this process, in local worker processes, or on a Dask cluster
(the only module that imports dask or distributed).

Each executor's ``execute(tasks)`` is a generator of ``Outcome`` in completion order; the caller
(``accelsim.studies.run.run_sweep``) stores each result as it arrives, so stopping the generator at
any point (Ctrl-C, an exception, kill -9) loses nothing that was stored.  Workers get the small
Task (HardwareConfig + WorkloadRef) and load the workload by name (``run_point``), never the workload.
"""

from __future__ import annotations

import signal
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from accelsim.errors import AccelsimError
from accelsim.studies.run import run_point
from accelsim.studies.sweep import Task
from accelsim.workload.cache import WorkloadCacheWarning

PointFn = Callable[[Task, bool], dict[str, Any]]  # run_point's signature; tests pass a crashing one


@dataclass(frozen=True)
class Outcome:
    """A finished point: its result, or the error that ended it."""

    task: Task
    result: dict[str, Any] | None = None
    error: str | None = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AccelsimError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _attempt(fn: PointFn, task: Task, layers_csv: bool) -> Outcome:
    try:
        return Outcome(task, fn(task, layers_csv))
    except Exception as exc:  # noqa: BLE001 - a failed point is reported, the sweep goes on
        return Outcome(task, error=_describe(exc))


class InlineExecutor:
    """Points one after another in this process (``--workers 1``)."""

    name = "inline"

    def __init__(self, layers_csv: bool = False, fn: PointFn | None = None):
        self.layers_csv = layers_csv
        self.fn = fn or run_point

    def describe(self) -> str:
        return "this process"

    def execute(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            yield _attempt(self.fn, task, self.layers_csv)

    def close(self) -> None:
        pass


def _serve(conn, fn: PointFn, layers_csv: bool) -> None:
    """A worker process: receive a point, send back (result, error), until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    warnings.simplefilter("ignore", WorkloadCacheWarning)  # the parent loaded every workload first: said
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        outcome = _attempt(fn, task, layers_csv)
        try:
            conn.send((outcome.result, outcome.error))
        except OSError:
            return  # the parent is gone


class _Worker:
    """One worker process, its end of the pipe, and the point it is running (None while idle)."""

    def __init__(self, ctx, fn: PointFn, layers_csv: bool):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, fn, layers_csv), daemon=True)
        self.process.start()
        child.close()
        self.task: Task | None = None

    def stop(self) -> None:
        """Close the pipe (an idle worker reads EOF and exits), kill a busy one, and reap it."""
        self.conn.close()
        if self.task is not None:
            self.process.kill()
        self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join()


class LocalExecutor:
    """``workers`` local processes (forkserver: safe with threads, and each worker starts from a
    preloaded accelsim -- simulator and workload loader -- instead of re-importing it), one point in
    flight per worker.

    A worker that dies (killed, out of memory) at any moment loses only the point it was running:
    the point runs again on a fresh worker, and a point that has killed ``max_attempts`` workers is
    reported failed while the sweep goes on.  A result a worker sent whole before dying is kept, so
    no point is lost or returned twice.  ``restarts`` counts the workers that died."""

    name = "local"

    def __init__(self, workers: int, layers_csv: bool = False, max_attempts: int = 3,
                 start_method: str = "forkserver", fn: PointFn | None = None):
        self.workers = max(1, workers)
        self.fn = fn or run_point
        self.layers_csv = layers_csv
        self.max_attempts = max_attempts
        self.start_method = start_method
        self.restarts = 0
        self._pool: list[_Worker] = []
        self._ctx = None

    def describe(self) -> str:
        return f"{self.workers} local worker process{'es' if self.workers > 1 else ''}"

    def pids(self) -> list[int]:
        """The process ids of the current workers."""
        return [w.process.pid for w in self._pool if w.process.pid is not None]

    def connect(self) -> None:
        """Start the forkserver now (``run_sweep`` calls this before it loads the workloads), so it
        boots on another core meanwhile instead of in front of the first point."""
        import multiprocessing as mp
        from multiprocessing import forkserver

        self._ctx = mp.get_context(self.start_method)
        if self.start_method == "forkserver":
            self._ctx.set_forkserver_preload(["accelsim.studies.executors", "accelsim.sim.simulator",
                                              "accelsim.workload.load"])
            forkserver.ensure_running()

    def execute(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        from multiprocessing.connection import wait

        if self._ctx is None:
            self.connect()
        ctx = self._ctx
        queue = deque(tasks)
        attempts: dict[str, int] = {}
        try:
            while queue or any(w.task is not None for w in self._pool):
                self._fill(ctx, queue)
                busy = [w.conn for w in self._pool if w.task is not None]
                wait(busy + [w.process.sentinel for w in self._pool])
                for w in list(self._pool):
                    dead = not w.process.is_alive()  # asked first: a dead worker's pipe holds all it sent
                    if w.task is not None and w.conn.poll():
                        try:
                            result, error = w.conn.recv()
                        except (EOFError, OSError):
                            dead = True  # the pipe broke mid-message
                        else:
                            task, w.task = w.task, None
                            yield Outcome(task, result, error)
                    if dead:
                        lost = self._replace(w, attempts, queue)
                        if lost is not None:
                            yield lost
        finally:
            self.close()

    def _fill(self, ctx, queue: deque[Task]) -> None:
        """Start the workers the remaining points need, and hand every idle one a point."""
        busy = sum(w.task is not None for w in self._pool)
        while len(self._pool) < min(self.workers, busy + len(queue)):
            self._pool.append(_Worker(ctx, self.fn, self.layers_csv))
        for w in self._pool:
            if queue and w.task is None:
                try:
                    w.conn.send(queue[0])
                except OSError:
                    continue  # a dead worker: replaced once its sentinel fires
                w.task = queue.popleft()

    def _replace(self, w: _Worker, attempts: dict[str, int], queue: deque[Task]) -> Outcome | None:
        """``w`` died: drop it (``_fill`` starts another); requeue its point, or fail it after
        max_attempts deaths."""
        self._pool.remove(w)
        w.stop()
        self.restarts += 1
        task = w.task
        if task is None:
            return None
        attempts[task.key] = attempts.get(task.key, 0) + 1
        if attempts[task.key] >= self.max_attempts:
            return Outcome(task, error=f"a worker process died while running this point "
                                       f"{attempts[task.key]} times (out of memory?)")
        queue.appendleft(task)
        return None

    def close(self) -> None:
        pool, self._pool = self._pool, []
        for w in pool:
            w.stop()


class DaskExecutor:
    """Points as Dask tasks on a scheduler (``tcp://HOST:8786``) or a LocalCluster of ``local_workers``.

    ``connect()`` happens before any work, so an unreachable scheduler is one clear error.  A point's
    own exception is deterministic, so it is not retried; the tasks of a worker that dies are
    rescheduled by the scheduler (up to ``distributed.scheduler.allowed-failures``, then
    KilledWorker, reported as that point's failure).  Remote workers need accelsim installed and
    must be able to load the workload by name (recipe names build there; .csv paths must exist);
    start them with ``distributed.worker.profile.enabled: false`` for the speed of the LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, local_workers: int | None = None, layers_csv: bool = False,
                 connect_timeout_s: float = 10.0, fn: PointFn | None = None):
        self.fn = fn or run_point
        if (address is None) == (local_workers is None):
            raise AccelsimError("give a Dask scheduler address or a local cluster size, not both")
        self.address = address
        self.local_workers = local_workers
        self.layers_csv = layers_csv
        self.connect_timeout_s = connect_timeout_s
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
            first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            raise AccelsimError(f"cannot reach the Dask scheduler at {self.address} ({first_line}); "
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
        futures = {self.client.submit(self.fn, t, self.layers_csv, key=f"accelsim-point-{t.key}",
                                      pure=False): t for t in tasks}
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
        for part in (client, cluster):
            if part is not None:
                part.close()
