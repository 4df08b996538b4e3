"""Plug-ins: the README's "Extending accelsim" files, pasted as they are, register a dataflow and a
sparse format that the CLI (``--plugin``) and the config loader then accept like built-ins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _block_after(heading: str) -> str:
    """The first ```python block after the paragraph that starts with ``heading``."""
    text = README.read_text()
    start = text.index(heading)
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def _accelsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_the_readme_dataflow_file_runs_a_model(tmp_path):
    (tmp_path / "tos.py").write_text(_block_after("**A GEMM dataflow is one row"))
    listed = _accelsim("--plugin", "tos.py", "list", "dataflows", cwd=tmp_path)
    assert listed.returncode == 0 and re.search(r"^tos\s", listed.stdout, re.M), listed.stderr
    tos = _accelsim("--plugin", "tos.py", "run", "--hw", "dense_os", "--set", "pe_array.dataflow=tos",
                    "--model", "lenet5", "--json", cwd=tmp_path)
    os_ = _accelsim("run", "--hw", "dense_os", "--model", "lenet5", "--json", cwd=tmp_path)
    assert tos.returncode == 0, tos.stderr
    assert '"dataflow": "tos"' in tos.stdout and tos.stdout != os_.stdout
    unknown = _accelsim("run", "--hw", "dense_os", "--set", "pe_array.dataflow=tos", "--model", "lenet5",
                        cwd=tmp_path)
    assert unknown.returncode == 2 and "'tos' is not one of" in unknown.stderr


def test_the_readme_format_file_is_accepted_by_the_loader(tmp_path):
    (tmp_path / "my_formats.py").write_text(_block_after("**A sparse format is one frozen dataclass"))
    hw = (Path(__file__).resolve().parent.parent / "hw_configs" / "sparse_pe.yaml").read_text()
    hw = re.sub(r"  weights:\n    format: bitmask\n", "  weights:\n    format: bitmask2\n    group: 3\n", hw)
    hw = hw.replace("    block: 4x4\n", "")
    hw = hw.replace("[window, channel, combined, kernel, block, unstructured]", "[unstructured]")
    (tmp_path / "hw.yaml").write_text(hw)
    run = _accelsim("--plugin", "my_formats.py", "run", "--hw", "hw.yaml", "--model", "lenet5_93pct",
                    "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert '"format": "bitmask2"' in run.stdout
    stray = _accelsim("--plugin", "my_formats.py", "check", "hw.yaml", cwd=tmp_path)
    assert stray.returncode == 0, stray.stdout + stray.stderr


@pytest.mark.parametrize("ref,message", [("missing.py", "file not found"),
                                         ("no_such_module_xyz", "failed to load: ModuleNotFoundError")])
def test_a_bad_plugin_is_one_clear_error(tmp_path, ref, message):
    proc = _accelsim("--plugin", ref, "list", "dataflows", cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
