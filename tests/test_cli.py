"""The command line as a user meets it: exit status 2 and one clear message for every bad input."""

import subprocess
import sys
import textwrap

import pytest


def _invoke(args):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def hw_file(tmp_path):
    def write(text):
        p = tmp_path / "hw.yaml"
        p.write_text(textwrap.dedent(text))
        return str(p)

    return write


GOOD = """\
version: 1
name: t
pe_array: {rows: 4, cols: 4, dataflow: ws}
memories:
  - {name: glb, size: 64 KiB}
"""


def _topology(tmp_path):
    p = tmp_path / "topo.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                 "Strides,\nConv1, 8, 8, 3, 3, 4, 8, 1,\n")
    return str(p)


def _expect_user_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_malformed_yaml_names_the_line(hw_file, tmp_path):
    path = hw_file("version: 1\nname: t\npe_array: {rows: 4, cols: [\n")
    _expect_user_error(_invoke(["run", "--hw", path, "--model", _topology(tmp_path)]), "hw.yaml: line")


def test_unknown_and_duplicate_keys(hw_file, tmp_path):
    path = hw_file(GOOD.replace("cols: 4", "colls: 4"))
    _expect_user_error(_invoke(["run", "--hw", path, "--model", _topology(tmp_path)]),
                       "pe_array.colls: unknown key (did you mean 'cols'?)")
    path = hw_file(GOOD + "name: again\n")
    _expect_user_error(_invoke(["check", path]), "duplicate key 'name'")


def test_wrong_units_and_bad_sizes_all_listed(hw_file):
    path = hw_file(GOOD.replace("64 KiB", "64KB").replace("rows: 4", "rows: -4"))
    _expect_user_error(_invoke(["check", path]), "2 problems", "memories[0].size: '64KB' is not a size",
                       "pe_array.rows: -4 is not a positive whole number")


def test_missing_files(tmp_path):
    _expect_user_error(_invoke(["run", "--hw", "dense_ws", "--model", str(tmp_path / "nope.csv")]),
                       "nope.csv: file not found")
    _expect_user_error(_invoke(["run", "--hw", str(tmp_path / "nope.cfg"), "--model", "x.csv"]),
                       "nope.cfg: file not found")
    _expect_user_error(_invoke(["run", "--hw", "no_such_hw", "--model", "lenet5"]),
                       "unknown hardware config 'no_such_hw'")


def test_unknown_model_lists_close_names():
    _expect_user_error(_invoke(["trace", "--model", "resnet05"]), "did you mean", "resnet50")


def test_checkpoint_that_does_not_fit(tmp_path):
    import torch

    ckpt = tmp_path / "bad.pt"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, ckpt)
    _expect_user_error(_invoke(["trace", "--model", "lenet5", "--checkpoint", str(ckpt)]), "bad.pt")


def test_debug_shows_traceback(tmp_path):
    proc = _invoke(["run", "--hw", "no_such_hw", "--model", "lenet5", "--debug"])
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_the_configs_alias_of_a_shipped_config_is_announced(tmp_path):
    """The README's mission command names configs/sparse_pe.yaml, which the repository does not have."""
    proc = _invoke(["run", "--hw", "configs/dense_ws.yaml", "--model", _topology(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "note: configs/dense_ws.yaml is the shipped dense_ws (hw_configs/dense_ws.yaml)\n"
    assert "total" in proc.stdout


def test_run_writes_report_and_csv(tmp_path):
    out = tmp_path / "out"
    proc = _invoke(["run", "--hw", "dense_os", "--model", _topology(tmp_path), "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.json").is_file() and (out / "layers.csv").is_file()
    assert "total_cycles" in (out / "layers.csv").read_text().splitlines()[0]


def test_topology_runs_without_importing_torch(tmp_path):
    """torch is imported only where a model is traced: a SCALE-Sim topology run never loads it."""
    code = textwrap.dedent(f"""
        import sys
        from accelsim.cli.app import main
        try:
            main(["run", "--hw", "dense_ws", "--model", {_topology(tmp_path)!r}])
        except SystemExit as e:
            assert e.code in (0, None), e.code
        assert "torch" not in sys.modules, "torch was imported"
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- N:M names with a colon (recipe grammar)


@pytest.mark.parametrize("model, shown", [("resnet18_50pct_nm2:4", "nm2:4"), ("lenet5_50pct_nm:4", "nm2:4")])
def test_colon_nm_names_are_recipe_names_not_module_references(model, shown):
    proc = _invoke(["trace", "--model", model])
    assert proc.returncode == 0, proc.stderr
    assert shown in proc.stdout and "cannot import module" not in proc.stderr


def test_an_nm_name_at_the_wrong_sparsity_says_what_to_write():
    _expect_user_error(_invoke(["trace", "--model", "lenet5_70pct_nm2:4"]),
                       "nm2:4 fixes the sparsity at 50 %, not 70 %; write lenet5_2of4")


def test_sweep_and_compare_take_colon_patterns(tmp_path):
    proc = _invoke(["sweep", "--hw", "sparse_pe", "--model", "lenet5_50pct", "--axis",
                    "pattern=unstructured,nm2:4", "--dry-run", "--out", str(tmp_path / "sweep")])
    assert proc.returncode == 0, proc.stderr
    assert "lenet5_50pct " in proc.stdout and "lenet5_2of4" in proc.stdout
    proc = _invoke(["compare", "--hw", "sparse_pe", "--model", "lenet5", "--density", "0.5",
                    "--patterns", "nm:4"])
    assert proc.returncode == 0, proc.stderr
    assert "lenet5_50pct_nm:4" in proc.stdout


# ---------------------------------------------------------------- tables: 100 columns, --wide, whole numbers


def _run_table(*extra, **env):
    import os

    args = ["run", "--hw", "sparse_pe", "--model", "lenet5_93pct", *extra]
    proc = subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "100", **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_run_shows_the_key_columns_in_100_columns_and_wide_every_column(tmp_path):
    key, wide = _run_table(), _run_table("--wide", "--out", str(tmp_path))
    assert max(map(len, key.splitlines())) <= 100, key
    for header in ("layer", "M×N×K", "total", "compute", "stall", "bound", "util", "energy", "issued", "skip",
                   "meta", "weights bitmask"):
        assert header in key, header
    assert "folds" not in key and "SRAM" not in key
    header = (tmp_path / "layers.csv").read_text().splitlines()[0].split(",")
    assert len(header) > 30
    for field in header:  # every column of layers.csv, headed by its name broken at the last underscore
        assert all(part in wide for part in field.rsplit("_", 1)), field
    assert max(map(len, wide.splitlines())) > 100


def test_no_colour_inside_a_number():
    """Coloured output (FORCE_COLOR) has no escape code next to a digit: rich's highlighter would colour
    "4." of "4.09G" and each group of "2,966,152" apart."""
    import re

    out = _run_table(FORCE_COLOR="1")
    assert "\x1b[" in out  # coloured indeed
    assert not re.search(r"\d\x1b\[|\x1b\[[0-9;]*m\d", out), out


def test_a_resnet50_sized_key_table_fits_100_columns(capsys):
    """The widest cells of ResNet-50 on sparse_pe (name, GEMM, 6-digit cycles, 3-digit energy) in every
    layer: still 100 columns."""
    import dataclasses

    from accelsim.cli.console import print_report
    from accelsim.sim.simulator import simulate
    from accelsim.spec.hardware import load_hardware
    from accelsim.workload.load import load_workload

    report = simulate(load_hardware("sparse_pe"), load_workload("lenet5_93pct"))
    wide = dataclasses.replace(report.layers[1], name="layer1.0.downsample.0", m=12544, n=64, k=147,
                               total_cycles=999_999, compute_cycles=999_999, stall_cycles=999_999,
                               macs_issued=118_010_000, macs_skipped=80_920_000, macs_dense=198_930_000,
                               energy_by_action_pj={"mac": 999.99e6}, bound="dram bandwidth")
    print_report(dataclasses.replace(report, layers=(wide,) * 3))
    out = capsys.readouterr().out
    assert "12544×64×147" in out and "999,999" in out and "dram " in out
    assert max(map(len, out.splitlines())) <= 100, out


def test_check_reports_a_crash_on_one_file_and_checks_the_rest(tmp_path, monkeypatch):
    """A file that crashes the checker is reported with its name; the files after it are still checked."""
    from click.testing import CliRunner

    from accelsim.cli import check as check_module
    from accelsim.cli.app import cli

    real = check_module.check_file

    def check_file(path):
        if path.endswith("crash.yaml"):
            raise RuntimeError("boom")
        return real(path)

    monkeypatch.setattr(check_module, "check_file", check_file)
    (tmp_path / "crash.yaml").write_text("x: 1\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "crash.yaml"), _topology(tmp_path)])
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'crash.yaml'}: could not be checked (RuntimeError: boom)" in result.stderr
    assert "ok: " in result.stdout and "topo.csv (SCALE-Sim topology, 1 layers)" in result.stdout
