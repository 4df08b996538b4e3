"""SCNN's published result against accelsim (benchmarks/bench_scnn.py has the setup and
benchmarks/results/scnn.md the recorded numbers): 2.7x performance over its dense twin on AlexNet,
GoogLeNet and VGG-16, within the project's 25 % for published figures; the 2.3x energy is not met
(the recorded reasons), and this test fails if it starts being met without the record changing."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scnn.py"


@cache
def _results():
    spec = importlib.util.spec_from_file_location("bench_scnn", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench, bench.measure()


@pytest.mark.slow
def test_performance_within_25_percent_of_the_published_2_7x():
    bench, results = _results()
    for key in ("compute", "total"):
        mean = bench.mean_ratio(results, key)
        assert abs(mean - 2.7) / 2.7 <= bench.TOLERANCE, (key, mean)
    for r in results.values():  # SCNN wins on every network, in cycles and energy
        assert r["compute"] > 1 and r["total"] > 1 and r["pj"] > 1
        # the twin multiplies every stored activation; padding is never stored, so its MACs are not issued
        assert r["scnn"]["macs_issued"] < r["dcnn"]["macs_issued"] <= r["macs"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="energy 3.17x against the published 2.3x: benchmarks/results/scnn.md")
def test_energy_within_25_percent_of_the_published_2_3x():
    bench, results = _results()
    assert abs(bench.mean_ratio(results, "pj") - 2.3) / 2.3 <= bench.TOLERANCE
