"""Sweeps on Dask: a LocalCluster on loopback, worker death, an unreachable scheduler."""

from __future__ import annotations

import functools
import logging
import socket

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from accelsim.cli.app import cli  # noqa: E402
from accelsim.errors import AccelsimError  # noqa: E402
from accelsim.studies.executors import DaskExecutor, InlineExecutor  # noqa: E402
from accelsim.studies.run import prepare_workloads, run_sweep  # noqa: E402
from accelsim.studies.store import ResultStore  # noqa: E402
from accelsim.studies.sweep import SweepSpec, parse_axis, plan, with_fingerprints, workload_refs  # noqa: E402

TOPOLOGY = """\
Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
conv1, 16, 16, 3, 3, 8, 16, 1,
fc, 1, 1, 1, 1, 512, 10, 1,
"""


@pytest.fixture
def topo(tmp_path) -> str:
    p = tmp_path / "tiny.csv"
    p.write_text(TOPOLOGY)
    return str(p)


@pytest.fixture(scope="module")
def threads_cluster():
    """Two in-process workers on loopback: fast, and enough to exercise the scheduler path."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                  host="127.0.0.1", protocol="tcp://", silence_logs=logging.ERROR) as cluster:
        yield cluster


def spec_for(topo: str, *axes: str) -> SweepSpec:
    return SweepSpec("dense_ws", topo, tuple(parse_axis(a) for a in axes))


def tasks_for(topo: str, *axes: str):
    spec = spec_for(topo, *axes)
    return with_fingerprints(plan(spec), prepare_workloads(workload_refs(spec)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_matches_inline_and_resumes(threads_cluster, topo, tmp_path):
    spec = spec_for(topo, "pe_array.rows=4,8,16", "pe_array.cols=8,16")
    expected = [r["totals"] for r in run_sweep(spec, InlineExecutor(), tmp_path / "inline.sqlite").rows]
    ex = DaskExecutor(address=threads_cluster.scheduler_address)
    try:
        with ResultStore(tmp_path / "dask.sqlite") as store:
            result = run_sweep(spec_for(topo, "pe_array.rows=4,8", "pe_array.cols=8,16"), ex, store)
            assert (result.computed, result.failed) == (4, [])
            result = run_sweep(spec, ex, store)
            assert (result.computed, result.from_store) == (2, 4)
            assert [r["totals"] for r in result.rows] == expected
    finally:
        ex.close()


def die_once(task, layers_csv=False, *, marker_dir: str, index: int):
    import os
    from pathlib import Path

    from accelsim.studies.run import run_point

    marker = Path(marker_dir) / f"died-{task.key}"
    if task.index == index and not marker.exists():
        marker.touch()
        os._exit(9)
    return run_point(task, layers_csv)


@pytest.mark.slow
def test_dask_reruns_the_points_of_a_dead_worker(topo, tmp_path):
    """A worker process dies mid-point; the nanny restarts it, the scheduler reruns the point."""
    tasks = tasks_for(topo, "pe_array.rows=4,8,16,32")
    ex = DaskExecutor(local_workers=2, fn=functools.partial(die_once, marker_dir=str(tmp_path), index=1))
    try:
        with ResultStore(tmp_path / "s.sqlite") as store:
            result = run_sweep(spec_for(topo, "pe_array.rows=4,8,16,32"), ex, store)
            assert result.failed == [] and result.computed == 4 and len(store) == 4
    finally:
        ex.close()
    assert (tmp_path / f"died-{tasks[1].key}").exists()


def test_unreachable_scheduler_is_one_clear_error():
    address = f"tcp://127.0.0.1:{free_port()}"
    ex = DaskExecutor(address=address, connect_timeout_s=1)
    with pytest.raises(AccelsimError, match=f"cannot reach the Dask scheduler at {address}"):
        ex.connect()


def test_a_scheduler_without_workers_is_one_clear_error():
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, host="127.0.0.1",
                                  protocol="tcp://", silence_logs=logging.ERROR) as empty:
        ex = DaskExecutor(address=empty.scheduler_address, connect_timeout_s=0.5)
        with pytest.raises(AccelsimError, match="has no workers"):
            ex.connect()
        assert ex.client is None


def test_cli_unreachable_scheduler_exit_2_before_work(topo, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["sweep", "--hw", "dense_ws", "--model", topo, "--axis",
                                      "pe_array.rows=4,8", "--scheduler", f"tcp://127.0.0.1:{free_port()}",
                                      "--connect-timeout", "1", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.count("cannot reach the Dask scheduler") == 1 and "Traceback" not in result.output
    assert not out.exists()
    result = CliRunner().invoke(cli, ["sweep", "--hw", "dense_ws", "--model", topo,
                                      "--scheduler", "localhost"])
    assert result.exit_code == 2 and "tcp://HOST:8786" in result.output


def test_cli_on_a_scheduler(threads_cluster, topo, tmp_path):
    out = tmp_path / "out"
    args = ["sweep", "--hw", "dense_ws", "--model", topo, "--axis", "pe_array.rows=4,8", "--axis",
            "pe_array.cols=8,16", "--scheduler", threads_cluster.scheduler_address, "--out", str(out),
            "--no-plot"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 computed" in result.output and (out / "results.csv").is_file()
    assert "0 computed, 4 read from the store" in CliRunner().invoke(cli, args).output
