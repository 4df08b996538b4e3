"""Coverage: every op with matrix work and every parameter is simulated or listed with its share;
a model with an op accelsim cannot simulate says so (stderr, report, trace) instead of dropping it."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from accelsim.cli.app import cli
from accelsim.workload.cache import load_cached, save_workload
from accelsim.workload.coverage import Coverage
from accelsim.workload.tracing import trace_model

MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)
        self.bil = nn.Bilinear(16, 16, 8)

    def forward(self, x):
        y = self.norm(self.fc(x))
        return self.bil(y, y)


def net():
    return Net()
'''


class WithBilinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.norm = nn.LayerNorm(16)
        self.bil = nn.Bilinear(16, 16, 8)

    def forward(self, x):
        y = self.norm(self.fc(x))
        return self.bil(y, y)


def test_an_op_without_gemm_view_is_listed_with_its_macs():
    w = trace_model(WithBilinear(), (16,), batch=4)
    cov = w.coverage
    assert [layer.name for layer in w.layers] == ["fc"]
    (bil,) = cov.ops_not_simulated
    assert bil.where == "bil" and bil.macs == 4 * 8 * 16 * 16  # batch x out x in1 x in2
    assert cov.macs_simulated == 4 * 16 * 16 and cov.macs_total == 4 * 16 * 16 + 4 * 8 * 16 * 16
    assert cov.loud and cov.mac_share_not_simulated == pytest.approx(8 * 16 / (16 + 8 * 16))
    whys = {p.what: p.why for p in cov.params_not_simulated}
    assert whys["bil.weight"] == "used by an op that is not simulated"
    assert whys["fc.bias"].startswith("a bias") and whys["norm.weight"].startswith("a norm")
    total = sum(p.numel() for p in WithBilinear().parameters())
    assert cov.params_total == total and cov.params_simulated == 16 * 16


def test_coverage_survives_the_cache(tmp_path):
    w = trace_model(WithBilinear(), (16,))
    save_workload(w, tmp_path, "k")
    back = load_cached(tmp_path, "k").coverage
    assert back == w.coverage and isinstance(back, Coverage)


def test_full_coverage_is_quiet():
    cov = trace_model(nn.Sequential(nn.Linear(8, 4, bias=False)), (8,)).coverage
    assert not cov.loud and cov.param_share_not_simulated == 0 and cov.mac_share_not_simulated == 0


def test_cli_trace_and_run_say_what_is_not_simulated(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    runner = CliRunner()
    traced = runner.invoke(cli, ["trace", "--model", "mine.py:net", "--input-shape", "16"])
    assert traced.exit_code == 0, traced.output
    assert "not simulated: bilinear" in traced.stdout and "WARNING: 88.9 %" in traced.stderr
    ran = runner.invoke(cli, ["run", "--hw", "dense_ws", "--model", "mine.py:net", "--input-shape", "16",
                              "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    assert "not simulated: bilinear" in ran.stderr and "WARNING" in ran.stderr
    assert "simulated    11.11 % of the MACs, " in ran.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    cov = report["provenance"]["workload_coverage"]
    assert cov["macs_total"] == 2304 and cov["ops_not_simulated"][0]["op"] == "bilinear.default"


def test_torch_fx_fallback_lists_its_blind_spot():
    class Opaque(nn.Module):  # export cannot capture a data-dependent branch; fx with a wrapped call can
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.scale = nn.Parameter(torch.ones(4))

        def forward(self, x):
            return _gate(self.fc(x)) * self.scale

    w = trace_model(Opaque(), (4,))
    assert w.coverage.front_end == "torch.fx" and [layer.name for layer in w.layers] == ["fc"]
    assert {p.what for p in w.coverage.params_not_simulated} == {"fc.bias", "scale"}


@torch.fx.wrap
def _gate(x):
    return x if x.sum() > 0 else -x


def test_a_wrapped_region_with_matrix_work_is_listed_with_its_macs():
    class Region(nn.Module):  # export wraps a grad-mode region in a higher-order op with a subgraph
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.w = nn.Parameter(torch.randn(8, 4))

        def forward(self, x):
            with torch.enable_grad():
                y = x @ self.w
            return self.fc(x).sum() + y.sum()

    cov = trace_model(Region(), (8,), batch=3).coverage
    (region,) = cov.ops_not_simulated
    assert region.op == "wrap_with_set_grad_enabled" and region.macs == 3 * 8 * 4
    assert cov.macs_simulated == 3 * 8 * 8 and cov.loud
