"""Every command line of the README's code blocks runs as pasted: exit status 0.

The lines of README.md's fenced code blocks that start with ``accelsim `` or ``pip install`` (a line
ending in a backslash continues on the next; of ``pip install ... && CMD`` the accelsim part runs,
the install is the user's) run through the shell from the repository root, so the README's relative
paths resolve; an ``--out DIR`` goes into a temporary directory instead, and ``accelsim`` is this
Python's ``-m accelsim``.  The workload cache is the session's (``ACCELSIM_CACHE_DIR``, a temporary
directory: conftest.py), so a workload is built once for all of them.  ResNet-50 runs, ``compare``
and ``sweep`` take more than ~10 s each and are marked slow.  The tables of ``run``, ``trace``,
``compare`` and ``sweep`` fit a 100-column terminal.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLOW = re.compile(r"--model resnet50|^accelsim (compare|sweep) ")


def readme_commands(text: str) -> list[str]:
    """The accelsim command lines of ``text``'s fenced code blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        for line in re.sub(r"\\\n\s*", "", block).splitlines():
            if line.startswith("pip install"):  # the install is the user's; what follows its && runs
                parts = [part.strip() for part in line.split("&&")[1:]]
                commands += [part for part in parts if part.startswith("accelsim ")]
            elif line.startswith("accelsim "):
                commands.append(line.strip())
    return commands


COMMANDS = readme_commands((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_extraction_finds_every_kind_of_line():
    text = "x\n```\npip install -e . && accelsim run --hw a \\\n    --model b  # c\naccelsim list x\n```\n"
    assert readme_commands(text) == ["accelsim run --hw a --model b  # c", "accelsim list x"]
    assert "accelsim run --hw configs/sparse_pe.yaml --model resnet50_70pct" in COMMANDS  # the first one
    assert {c.split()[1] for c in COMMANDS} >= {"run", "trace", "compare", "sweep", "check", "list"}


def shell_line(command: str, tmp: Path) -> str:
    """``command`` for /bin/sh: this Python's accelsim, outputs under ``tmp``."""
    line = re.sub(r"--out\s+(\S+)", lambda m: f"--out {shlex.quote(str(tmp / m.group(1)))}", command)
    if command.startswith("accelsim sweep") and "--out" not in command:
        line += f" --out {shlex.quote(str(tmp / 'sweep_out'))}"
    return f"{shlex.quote(sys.executable)} -m {line}"


def _param(command: str):
    return pytest.param(command, marks=[pytest.mark.slow] if SLOW.search(command) else [],
                        id=" ".join(command.split("#")[0].split())[:60])


@pytest.mark.parametrize("command", [_param(c) for c in COMMANDS])
def test_readme_command_runs_as_pasted(command, tmp_path):
    proc = subprocess.run(shell_line(command, tmp_path), shell=True, cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    if command.split()[1] in ("run", "trace", "compare", "sweep") and "--wide" not in command:
        assert max(map(len, proc.stdout.splitlines())) <= 100, proc.stdout  # a 100-column terminal
