"""Bad input, as a user meets it on the command line (issue 15, items 1, 4, 5, 6 and 8): exit status 2,
one message naming the file, the field, the value and the fix, and never a traceback.

Tests run as root here, and a read-only directory is writable for root: the unwritable outputs are
a path under an existing regular file (``file.txt/out``) and a path in /proc, which refuse root too.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HW_DIR = Path(__file__).resolve().parent.parent / "accelsim" / "data" / "hw_configs"
TOPOLOGY = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,"
            " Strides,\nConv1, 8, 8, 3, 3, 4, 8, 1,\n")
BINARY = b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x80\xff\xfe binary, not text \x00\x9c"


def _invoke(args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=None if env is None else {**os.environ, **env})


def _fails(args, *needles, cwd=None, env=None):
    """Exit 2, no traceback, exactly one ``error:`` message holding every needle."""
    proc = _invoke(args, cwd, env)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("error:") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


@pytest.fixture
def files(tmp_path):
    """tmp_path with a topology, a binary file under several names, and a user's edited config."""
    (tmp_path / "topo.csv").write_text(TOPOLOGY)
    for name in ("bin.yaml", "bin.cfg", "bin.csv", "model.pt"):
        (tmp_path / name).write_bytes(BINARY)
    (tmp_path / "myconfigs").mkdir()
    (tmp_path / "myconfigs" / "sparse_pe.yaml").write_text(
        (HW_DIR / "sparse_pe.yaml").read_text().replace("rows: 32", "rows: 64"))
    (tmp_path / "file.txt").write_text("a regular file\n")
    return tmp_path


def _config(tmp_path, old, new, name="hw.yaml"):
    """A copy of the shipped dense_ws with ``old`` replaced by ``new`` (which must be in it)."""
    text = (HW_DIR / "dense_ws.yaml").read_text()
    assert old in text
    (tmp_path / name).write_text(text.replace(old, new))
    return str(tmp_path / name)


# ---------------------------------------------------------------- 1. a mistyped --hw path

COMMANDS = {
    "run": ["run", "--model", "topo.csv"],
    "compare": ["compare", "--model", "lenet5", "--density", "0.5"],
    "sweep": ["sweep", "--model", "topo.csv", "--axis", "pe_array.rows=8,16", "--dry-run", "--out", "sw"],
}


@pytest.mark.parametrize("command", [*COMMANDS, "check"])
def test_a_mistyped_hw_path_is_an_error_not_the_shipped_config(files, command):
    """The user's myconfigs/sparse_pe.yaml (64 rows) typed as myconfig/...: never the shipped 32-row one."""
    def args(ref):
        return ["check", ref] if command == "check" else [*COMMANDS[command], "--hw", ref]

    _fails(args("myconfig/sparse_pe.yaml"), "error: myconfig/sparse_pe.yaml: file not found (did you mean"
           " myconfigs/sparse_pe.yaml?)", cwd=files)
    _fails(args("elsewhere/sparse_pe.yaml"), "error: elsewhere/sparse_pe.yaml: file not found (did you mean"
           " hw_configs/sparse_pe.yaml or --hw sparse_pe?)", cwd=files)


def test_the_configs_alias_is_kept_and_said_by_sweep_too(files):
    proc = _invoke(["sweep", "--hw", "configs/sparse_pe.yaml", "--model", "topo.csv", "--dry-run", "--out",
                    "sw"], cwd=files)
    assert proc.returncode == 0, proc.stderr
    assert "note: configs/sparse_pe.yaml is the shipped sparse_pe (hw_configs/sparse_pe.yaml)" in proc.stderr


def test_a_directory_is_not_a_config(files):
    _fails(["run", "--hw", "myconfigs", "--model", "topo.csv"], "error: myconfigs: is a directory", cwd=files)


# ---------------------------------------------------------------- 4. an unwritable --out, before any work

UNWRITABLE = {"file.txt/out": "file.txt is a file, not a directory", "file.txt": "file.txt is a file",
              "/proc/accelsim_out": "cannot create it (No such file or directory)"}


@pytest.mark.parametrize("out", UNWRITABLE)
@pytest.mark.parametrize("command", [
    ["run", "--hw", "sparse_pe", "--model", "lenet5_70pct"],
    ["compare", "--hw", "sparse_pe", "--model", "lenet5", "--density", "0.5", "--patterns", "unstructured"],
    ["sweep", "--hw", "sparse_pe", "--model", "lenet5_70pct", "--axis", "pe_array.rows=8,16"],
], ids=["run", "compare", "sweep"])
def test_an_unwritable_out_fails_before_any_work(files, command, out):
    """Said before any workload is built: the workload cache stays empty."""
    cache = files / "cache"
    _fails([*command, "--out", out], f"error: --out {out}: {UNWRITABLE[out]}",
           "give a directory accelsim can write to", cwd=files, env={"ACCELSIM_CACHE_DIR": str(cache)})
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize("store", ["file.txt/sweep.sqlite", "/proc/accelsim_store/sweep.sqlite", "myconfigs"])
def test_an_unwritable_sweep_store_fails_before_any_work(files, store):
    cache = files / "cache"
    _fails(["sweep", "--hw", "sparse_pe", "--model", "lenet5_70pct", "--axis", "pe_array.rows=8,16", "--out",
            "sw", "--store", store], f"error: --store {store}: ", cwd=files,
           env={"ACCELSIM_CACHE_DIR": str(cache)})
    assert not cache.exists() or not any(cache.iterdir())


# ---------------------------------------------------------------- 5. binary, deep and huge files

@pytest.mark.parametrize("args, expected", [
    (["run", "--hw", "bin.yaml", "--model", "topo.csv"], "a YAML file"),
    (["run", "--hw", "bin.cfg", "--model", "topo.csv"], "a SCALE-Sim .cfg (INI text)"),
    (["run", "--hw", "dense_ws", "--model", "bin.csv"], "a SCALE-Sim topology .csv"),
    (["trace", "--model", "bin.yaml"], "a YAML file"),
    (["check", "model.pt"], "a YAML file"),
], ids=["hw-yaml", "cfg", "topology", "recipe", "check-pt"])
def test_a_binary_file_is_not_a_text_file(files, args, expected):
    name = next(a for a in args if a.startswith(("bin.", "model.")))
    _fails(args, f"error: {name}: not a text file (byte 0x80 at offset 10 is not UTF-8); expected {expected}",
           cwd=files)


def test_a_binary_energy_table(files):
    hw = _config(files, "energy: horowitz_45nm", f"energy: {files / 'bin.yaml'}")
    _fails(["run", "--hw", hw, "--model", "topo.csv"], "bin.yaml: not a text file", cwd=files)
    _fails(["check", "bin.yaml"], "bin.yaml: not a text file", cwd=files)


def test_a_deeply_nested_yaml_is_refused(files):
    (files / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (files / "deep33.yaml").write_text("a: " + "[" * 33 + "]" * 33 + "\n")  # no recursion, still too deep
    for name in ("deep.yaml", "deep33.yaml"):
        _fails(["check", name], f"error: {name}: lists or mappings nested more than 32 levels", cwd=files)
    _fails(["run", "--hw", "deep.yaml", "--model", "topo.csv"], "deep.yaml: lists or mappings", cwd=files)


@pytest.mark.parametrize("row, message", [
    ("Conv1, 1000000000, 8, 3, 3, 4, 8, 1,", "line 2 (Conv1): its input matrix holds 215,999,999,568 values"
     " (1 x 5,999,999,988 x 36), more than 268,435,456 (2^28); check IFMAP Height and Width, Channels,"
     " Num Filter for a typo"),
    ("DPConv, 3, 3, 3, 3, 100000, 10000, 1,", "line 2 (DPConv): its weight matrix holds 9,000,000,000"),
])
def test_a_huge_topology_row_is_refused_at_load_time(files, row, message):
    """IFMAP 10^9 was a MemoryError after 26 s; now refused when the file is read."""
    (files / "huge.csv").write_text(TOPOLOGY.splitlines()[0] + "\n" + row + "\n")
    for hw in ("dense_os", "dense_is"):
        _fails(["run", "--hw", hw, "--model", "huge.csv"], f"error: huge.csv: {message}", cwd=files)


def test_a_gemm_row_at_the_limit_loads_and_one_past_it_is_refused(files):
    (files / "ok.csv").write_text("Layer, M, N, K,\nL1, 16, 16384, 16384,\n")  # 2^28 weights exactly
    assert _invoke(["check", "ok.csv"], cwd=files).returncode == 0
    (files / "big.csv").write_text("Layer, M, N, K,\nL1, 16, 16384, 16385,\n")
    _fails(["check", "big.csv"], "big.csv: line 2 (L1): its weight matrix holds 268,451,840", cwd=files)


# ---------------------------------------------------------------- 6. clock 0, and check goes on

@pytest.mark.parametrize("key, old, new, message", [
    ("clock", "clock: 1 GHz", "clock: 0 GHz", "clock: '0 GHz' is not a frequency larger than 0; write e.g."
     " '1 GHz'"),
    ("clock", "clock: 1 GHz", "clock: -1 GHz", "clock: '-1 GHz' is not a frequency larger than 0"),
    ("clock", "clock: 1 GHz", "clock: 1e400 GHz", "clock: '1e400 GHz' is not a frequency larger than 0"),
    ("bandwidth", "name: ifmap_sram\n", "name: ifmap_sram\n    bandwidth: 0 B/cycle\n",
     "memories[1].bandwidth: '0 B/cycle' is not a bandwidth larger than 0; write e.g. '16 GB/s'"),
])
def test_a_zero_clock_or_bandwidth_is_refused_in_the_loader(files, key, old, new, message):
    hw = _config(files, old, new)
    _fails(["run", "--hw", hw, "--model", "topo.csv"], f"error: {hw}: {message}", cwd=files)


def test_check_checks_every_file_and_reports_each(files):
    clock0 = _config(files, "clock: 1 GHz", "clock: 0 GHz", "clock0.yaml")
    (files / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    proc = _invoke(["check", "bin.yaml", clock0, "deep.yaml", str(HW_DIR / "dense_ws.yaml"), "topo.csv"],
                   cwd=files)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("error:") == 3, proc.stderr
    for needle in ("bin.yaml: not a text file", "clock0.yaml: clock: '0 GHz'", "deep.yaml: lists or"):
        assert needle in proc.stderr
    assert proc.stdout.count("ok:") == 2 and "dense_ws.yaml (hardware config)" in proc.stdout


# ---------------------------------------------------------------- 8. accepted nonsense, misleading words

@pytest.mark.parametrize("old, new, message", [
    ("rows: 32", "rows: 100000", "pe_array.rows: 100000 is more than 4096 PEs per side (16 x TPU v1's 256);"
     " check for a typo"),
    ("rows: 32\n  cols: 32", "rows: 2048\n  cols: 2048", "pe_array: rows x cols = 2048 x 2048 = 4,194,304"
     " PEs is more than 1,048,576 (2^20, 16 x TPU v1's 256 x 256)"),
    ("precision: int8", "precision: int3", "pe_array.precision: 'int3' is not a width a datapath has; write"
     " one of 1, 2, 4, 8, 16, 32 (bits; or int8, uint8, ...) or fp8, fp16, bf16, fp32"),
    ("accumulator: 32", "accumulator: 33", "pe_array.accumulator: 33 is not a width a datapath has; write one"
     " of 8, 16, 24, 32, 48, 64"),
])
def test_nonsense_arrays_are_refused(files, old, new, message):
    hw = _config(files, old, new)
    _fails(["run", "--hw", hw, "--model", "topo.csv"], f"error: {hw}: {message}", cwd=files)
    _fails(["check", hw], f"error: {hw}: {message}", cwd=files)


def test_a_set_error_is_the_sets_not_the_shipped_files(files):
    _fails(["run", "--hw", "dense_ws", "--set", "pe_array.rows=100000", "--model", "topo.csv"],
           "error: --set pe_array.rows=100000 (on ", "dense_ws.yaml): pe_array.rows: 100000 is more than",
           cwd=files)
    _fails(["run", "--hw", "dense_ws", "--set", "pe_array.precision=int3", "--set", "clock=2 GHz", "--model",
            "topo.csv"], "error: --set pe_array.precision=int3 (on ", "pe_array.precision: 'int3'", cwd=files)
    _fails(["run", "--hw", "dense_ws", "--set", "memories.glbb.size=1 MiB", "--model", "topo.csv"],
           "error: --set memories.glbb.size=1 MiB (on ", "no entry 'glbb' in memories", cwd=files)
    # the file's own problem stays the file's; the --set's is marked as such
    hw = _config(files, "clock: 1 GHz", "clock: 0 GHz")
    err = _fails(["run", "--hw", hw, "--set", "pe_array.rows=100000", "--model", "topo.csv"], cwd=files)
    assert f"error: {hw}: 2 problems" in err and "  - clock: '0 GHz'" in err
    assert "  - --set pe_array.rows=100000: pe_array.rows: 100000 is more than" in err


def test_a_model_with_no_layers_to_simulate(files):
    (files / "nolayers.py").write_text(textwrap.dedent("""
        import torch

        def build():
            return torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Flatten())
    """))
    _fails(["run", "--hw", "dense_ws", "--model", "nolayers.py:build", "--input-shape", "3,8,8"],
           "error: model 'nolayers.py:build' has no layers accelsim simulates (conv, linear, matmul): give a"
           " model with an nn.Conv2d, an nn.Linear or a matmul of two activations", cwd=files,
           env={"ACCELSIM_CACHE_DIR": str(files / "cache")})


def test_a_directory_given_as_checkpoint(files):
    _fails(["trace", "--model", "lenet5", "--checkpoint", "myconfigs"],
           "error: --checkpoint myconfigs: is a directory; give the path of a file", cwd=files)
    _fails(["trace", "--model", "lenet5", "--checkpoint", "modle.pt"],
           "error: --checkpoint modle.pt: file not found (did you mean model.pt?)", cwd=files)
