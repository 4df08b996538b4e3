"""The workload cache under faults: a damaged entry (truncated, bit-flipped, half deleted, edited) is
rebuilt with one note and rewritten; an unwritable cache is said once and every run still works; a
read-only package directory (and HOME) runs as is.  The CLI cases run as subprocesses, as a user would."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from accelsim.workload import cache
from accelsim.workload.load import load_workload
from accelsim.workload.recipes import recipe_hash, resolve_recipe

ROOT = Path(__file__).resolve().parents[1]
MODEL = "lenet5_93pct"
RUN = ["-m", "accelsim", "run", "--hw", "sparse_pe", "--model", MODEL]


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Path:
    """A cache directory holding the one entry for MODEL."""
    directory = tmp_path_factory.mktemp("filled")
    load_workload(MODEL, cache_dir=directory)
    return directory


@pytest.fixture(scope="module")
def clean_run(filled) -> str:
    """The CLI's table for MODEL from an intact cache: what every repaired run must print."""
    return cli(filled).stdout


@pytest.fixture()
def entry(filled, tmp_path) -> tuple[Path, Path]:
    """A private copy of the filled cache: (npz, json) of the entry."""
    shutil.copytree(filled, tmp_path / "c")
    return cache.cache_paths(tmp_path / "c", recipe_hash(resolve_recipe(MODEL)))


def cli(cache_dir: Path, *, env: dict[str, str] | None = None, args: list[str] = RUN, cwd: Path = ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACCELSIM_CACHE_DIR": str(cache_dir), **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("note:") and "workload cache" in line]


def flip_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# ---------------------------------------------------------------- damage, through the CLI


@pytest.mark.parametrize("damage", ["truncate npz", "bit-flip npz", "delete json"])
def test_a_damaged_entry_is_rebuilt_with_one_note(entry, clean_run, damage):
    npz, js = entry
    {"truncate npz": lambda: truncate(npz), "bit-flip npz": lambda: flip_bit(npz),
     "delete json": js.unlink}[damage]()
    proc = cli(npz.parent)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    [note] = notes(proc.stderr)
    assert "damaged" in note and "rebuilding" in note and str(js) in note
    assert proc.stdout == clean_run  # the same numbers as from the intact entry
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the entry was rewritten whole: read without a note
        assert cache.load_cached(npz.parent, js.stem) is not None
    again = cli(npz.parent)
    assert again.returncode == 0 and notes(again.stderr) == []


# ---------------------------------------------------------------- damage, in process


def edit_a_number(path: Path) -> None:
    """Valid JSON with one value changed: only the checksum can tell."""
    text = path.read_text()
    path.write_text(text.replace('"batch": 1', '"batch": 2', 1))


@pytest.mark.parametrize("damage", ["truncate json", "bit-flip json", "edit json", "delete npz", "empty npz"])
def test_every_damage_is_found_before_use(entry, filled, damage):
    npz, js = entry
    {"truncate json": lambda: truncate(js), "bit-flip json": lambda: flip_bit(js),
     "edit json": lambda: edit_a_number(js), "delete npz": npz.unlink,
     "empty npz": lambda: npz.write_bytes(b"")}[damage]()
    with pytest.warns(cache.WorkloadCacheWarning, match="damaged"):
        assert cache.load_cached(npz.parent, js.stem) is None
    with pytest.warns(cache.WorkloadCacheWarning, match="damaged"):
        rebuilt = load_workload(MODEL, cache_dir=npz.parent)
    assert rebuilt.fingerprint == load_workload(MODEL, cache_dir=filled).fingerprint
    assert npz.read_bytes() == (filled / npz.name).read_bytes()  # rewritten, byte for byte
    assert js.read_bytes() == (filled / js.name).read_bytes()


def test_an_absent_entry_is_a_quiet_miss(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.load_cached(tmp_path, "0" * 32) is None
        assert cache.load_cached(tmp_path / "nowhere", "0" * 32) is None


def test_a_write_that_dies_is_never_read_as_an_entry(entry, monkeypatch):
    """Writes are atomic (no half file, no temp file left) and the JSON goes last: a new npz beside
    the old JSON is found damaged, never read as the old entry."""
    import accelsim.files

    npz, js = entry
    before = npz.read_bytes(), js.read_bytes()
    workload = cache.load_cached(npz.parent, js.stem)
    changed = replace(workload, layers=tuple(
        la if la.weight_mask is None else replace(la, weight_mask=~la.weight_mask) for la in workload.layers))
    real = os.replace
    for dies in (".bits", ".json"):
        def replace_or_die(src, dst, dies=dies):
            if str(dst).endswith(dies):
                raise OSError(28, "No space left on device")
            real(src, dst)

        monkeypatch.setattr(accelsim.files.os, "replace", replace_or_die)
        with pytest.raises(OSError):
            cache.save_workload(changed, npz.parent, js.stem)
        assert sorted(p.name for p in npz.parent.iterdir()) == sorted([npz.name, js.name])  # no temp file
        if dies == ".bits":
            assert (npz.read_bytes(), js.read_bytes()) == before
            assert cache.load_cached(npz.parent, js.stem) is not None
    assert js.read_bytes() == before[1] and npz.read_bytes() != before[0]
    with pytest.warns(cache.WorkloadCacheWarning, match="bits does not match"):
        assert cache.load_cached(npz.parent, js.stem) is None


# ---------------------------------------------------------------- an unwritable cache


def test_an_unwritable_cache_is_said_once_per_process(tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    script = (
        "import warnings\n"
        "from accelsim.workload.load import load_workload\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    for batch in (1, 1, 2):\n"
        f"        load_workload({MODEL!r}, batch=batch)\n"
        "print(len(seen), seen[0].message if seen else '')\n"
    )
    proc = cli(a_file, args=["-c", script])
    assert proc.returncode == 0, proc.stderr
    count, message = proc.stdout.strip().split(" ", 1)
    assert count == "1" and f"cannot write the workload cache {a_file}" in message
    assert "ACCELSIM_CACHE_DIR" in message
    run = cli(a_file)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    [note] = notes(run.stderr)
    assert "every run rebuilds" in note


def test_a_read_only_package_and_home_run(tmp_path):
    """The package copied and made read-only, run with PYTHONPATH; HOME read-only too, no cache
    variables.  As root permissions are not enforced, so HOME is also a regular file there (the
    default cache ~/.cache/accelsim cannot be made) and the package copy is checked for new files."""
    pkg = tmp_path / "site"
    shutil.copytree(ROOT / "accelsim", pkg / "accelsim", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    home.mkdir()
    if os.geteuid() == 0:
        home = tmp_path / "home-is-a-file"
        home.write_text("")
    before = {p for p in pkg.rglob("*")}
    for p in [*before, pkg, home]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("ACCELSIM_CACHE_DIR", "NUMBA_CACHE_DIR")}
        env.update(PYTHONPATH=str(pkg), HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
        script = ("import accelsim, sys; assert accelsim.__file__.startswith(sys.argv[1]), "
                  "accelsim.__file__; from accelsim.cli.app import main; main(sys.argv[2:])")
        proc = subprocess.run([sys.executable, "-c", script, str(pkg), *RUN[2:]], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=600)
    finally:
        for p in [pkg, home, *before]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "conv1" in proc.stdout
    [note] = notes(proc.stderr)
    assert "cannot write the workload cache" in note
    assert {p for p in pkg.rglob("*")} == before  # nothing written beside the sources (no compiled kernels)


# ---------------------------------------------------------------- keyed by content (issue 14)

_MODEL = "from torch import nn\nfrom parts import width\n\n\ndef net():\n    return nn.Linear(8, width())\n"


def _user_tree(root, width: int):
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.py").write_text(_MODEL)
    (root / "parts.py").write_text(f"def width():\n    return {width}\n")


def test_an_edited_model_or_its_import_retraces(tmp_path, monkeypatch):
    from accelsim.workload.load import load_workload

    cache_dir = tmp_path / "cache"
    _user_tree(tmp_path / "a", 4)
    monkeypatch.chdir(tmp_path / "a")
    assert load_workload("model.py:net", input_shape=(8,), cache_dir=cache_dir).layers[0].n == 4
    (tmp_path / "a" / "parts.py").write_text("def width():\n    return 6\n")  # an import in the user's tree
    assert load_workload("model.py:net", input_shape=(8,), cache_dir=cache_dir).layers[0].n == 6
    (tmp_path / "a" / "model.py").write_text(_MODEL.replace("nn.Linear(8,", "nn.Linear(8, 2 *"))
    assert load_workload("model.py:net", input_shape=(8,), cache_dir=cache_dir).layers[0].n == 12
    _user_tree(tmp_path / "b", 3)  # the same reference in another directory: another model
    monkeypatch.chdir(tmp_path / "b")
    assert load_workload("model.py:net", input_shape=(8,), cache_dir=cache_dir).layers[0].n == 3
    assert len(list(cache_dir.glob("*.json"))) == 4


def test_an_unchanged_model_is_a_cache_hit(tmp_path, monkeypatch):
    from accelsim.workload import cache
    from accelsim.workload.load import load_workload

    _user_tree(tmp_path / "a", 4)
    monkeypatch.chdir(tmp_path / "a")
    first = load_workload("model.py:net", input_shape=(8,), cache_dir=tmp_path / "c")
    monkeypatch.setattr(cache, "build_workload", lambda *a, **k: pytest.fail("re-traced an unchanged model"))
    again = load_workload("model.py:net", input_shape=(8,), cache_dir=tmp_path / "c")
    assert again.fingerprint == first.fingerprint


def test_source_fingerprint_follows_package_imports(tmp_path, monkeypatch):
    from accelsim.workload.source_hash import source_fingerprint

    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "layers.py").write_text("W = 1\n")
    (pkg / "models.py").write_text("from .sub.layers import W\nimport os\n\ndef net():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    before = source_fingerprint("pkg.models:net")
    assert before and before == source_fingerprint("pkg.models:net")
    (pkg / "sub" / "layers.py").write_text("W = 2\n")
    assert source_fingerprint("pkg.models:net") != before
    assert source_fingerprint("no_such_module_here:net") == ""
