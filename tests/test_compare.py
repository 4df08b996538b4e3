"""accelsim compare: every pattern at equal density on every config, the table, the files, bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from accelsim.cli.app import cli
from accelsim.errors import AccelsimError, UnknownNameError
from accelsim.spec.hardware import load_hardware
from accelsim.studies.compare import check_density, check_patterns, compare, save_comparison, workload_name

PATTERNS = ("unstructured", "nm2:4", "window", "channel", "block4x4")


@pytest.fixture(scope="module")
def lenet_comparison():
    hws = [load_hardware(n) for n in ("sparse_pe", "nm_tensor_core", "dense_ws")]
    return compare(hws, "lenet5", 0.3, PATTERNS)


def test_every_pattern_on_every_config(lenet_comparison):
    c = lenet_comparison
    assert c.hardware == ("sparse_pe", "nm_tensor_core", "dense_ws") and c.patterns == PATTERNS
    assert [(r.hardware, r.pattern) for r in c.rows] == [(h, p) for h in c.hardware for p in PATTERNS]
    for r in c.rows:
        assert r.macs_issued <= r.macs_dense and r.imbalance >= 1.0 and r.total_cycles > 0
    for p in PATTERNS:  # no sparsity support: the pruned model costs what the dense one does
        row = c.row("dense_ws", p)
        assert row.speedup == 1.0 and row.metadata_bits == 0 and row.weights_footprint == 1.0
    assert c.row("sparse_pe", "unstructured").macs_issued < c.row("dense_ws", "unstructured").macs_issued


def test_equal_density_and_the_nm_note(lenet_comparison):
    c = lenet_comparison
    # the first conv stays dense (recipe rule), so the whole-model density is a little above 0.3
    assert 0.3 <= c.row("sparse_pe", "unstructured").density < 0.35
    assert c.row("sparse_pe", "nm2:4").density >= 0.5
    assert any(n.startswith("nm2:4 fixes the density at 0.50") for n in c.notes)


def test_json_csv_and_plot(lenet_comparison, tmp_path):
    paths = save_comparison(lenet_comparison, tmp_path / "out")
    assert [p.name for p in paths] == ["compare.json", "compare.csv", "compare.png"]
    data = json.loads(paths[0].read_text())
    assert len(data["rows"]) == 15 and {"speedup", "energy_ratio"} <= set(data["rows"][0])
    assert paths[1].read_text().count("\n") == 16
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_workload_names_follow_the_recipe_grammar():
    assert workload_name("resnet50", "unstructured", 0.3) == "resnet50_70pct"
    assert workload_name("resnet50", "window", 0.3) == "resnet50_70pct_window"
    assert workload_name("resnet50", "block4x4", 0.25) == "resnet50_75pct_block4x4"
    assert workload_name("resnet50", "nm2:4", 0.3) == "resnet50_2of4"
    assert workload_name("resnet50", "nm:4", 0.3) == "resnet50_70pct_nm:4"
    assert workload_name("resnet50", "dense", 0.3) == workload_name("resnet50", "window", 1.0) == "resnet50"


def test_bad_input_is_refused():
    for bad in (0, -0.1, 1.5, "x", float("nan")):
        with pytest.raises(AccelsimError, match="density"):
            check_density(bad)
    assert check_density("1") == 1.0
    with pytest.raises(UnknownNameError, match="known: .*window"):
        check_patterns(["unstructured", "windoww"])
    assert check_patterns(["window", " window", "nm2:4"]) == ("window", "nm2:4")


@pytest.mark.parametrize("args,message", [
    (["--density", "0"], "outside (0, 1]"),
    (["--density", "1.2"], "outside (0, 1]"),
    (["--density", "0.3", "--patterns", "unstructured,triangle"], "unknown pattern 'triangle'"),
    (["--density", "0.3", "--hw", "no_such_hw"], "unknown hardware config"),
])
def test_cli_exit_2_with_one_message(args, message):
    base = ["compare", "--model", "lenet5"]
    if "--hw" not in args:
        base += ["--hw", "sparse_pe"]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.count("error:") == 1


def test_cli_compare_writes_table_and_files(tmp_path):
    result = CliRunner().invoke(cli, ["compare", "--hw", "sparse_pe,nm_tensor_core", "--model", "lenet5",
                                      "--density", "0.3", "--patterns", "unstructured,nm2:4", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "speedup" in result.output and "nm_tensor_core" in result.output
    assert (tmp_path / "compare.png").is_file() and (tmp_path / "compare.csv").is_file()
