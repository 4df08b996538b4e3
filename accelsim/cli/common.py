"""What the commands share: the user-error wrapper, the model options, value parsers and loaders."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
import warnings
from pathlib import Path

import click

from accelsim.errors import AccelsimError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def user_errors(fn):
    """Turn AccelsimError (and a missing file) into exit status 2 and a warning into a ``note:`` line;
    --debug shows the traceback and the warning's own format."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = bool((ctx.find_root().params or {}).get("debug"))
        try:
            with warnings.catch_warnings():
                if not debug:  # a warning is one note line; --debug keeps Python's format
                    warnings.showwarning = lambda message, *_: click.echo(f"note: {message}", err=True)
                return fn(*args, **kwargs)
        except AccelsimError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def model_options(more_help: str = ""):
    """--model (its help ending with ``more_help``), --batch, --input-shape and --checkpoint."""
    options = [
        click.option("--model", "model", required=True, help="Zoo model, recipe name (resnet50_70pct), "
                     "recipe file, SCALE-Sim topology .csv, or package.module:function." + more_help),
        click.option("--batch", type=click.IntRange(min=1), default=None, help="Batch size."),
        click.option("--input-shape", default=None, help="Input shape without batch, e.g. 3,224,224."),
        click.option("--checkpoint", default=None, help="A state_dict file to load into the model."),
    ]

    def add(fn):
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return add


def parse_sets(sets: tuple[str, ...]) -> dict[str, object]:
    """``--set PATH=VALUE`` items as overrides, each value a YAML scalar."""
    from accelsim.spec.config import parse_scalar

    out: dict[str, object] = {}
    for item in sets:
        key, _, value = item.partition("=")
        if not key.strip() or not value.strip():
            raise AccelsimError(f"--set {item!r}: write PATH=VALUE, e.g. --set pe_array.rows=64")
        out[key.strip()] = parse_scalar(value)
    return out


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """``3,224,224`` (or ``3x224x224``) -> (3, 224, 224)."""
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise AccelsimError(f"--input-shape {text!r}: write the shape without batch, e.g. 3,224,224")
    return shape


def check_model_files(model: str, checkpoint: str | None, model_label: str) -> None:
    """A topology .csv or a checkpoint that is missing (or a directory) is one clear error, before any
    work."""
    from accelsim.spec.config import not_found

    paths = {model_label: model} if model.endswith(".csv") else {}
    if checkpoint is not None:
        paths[f"--checkpoint {checkpoint}"] = checkpoint
    for label, path in paths.items():
        if not Path(path).is_file():
            raise AccelsimError(f"{label}: {not_found(path).problems[0]}")


def check_out_dir(path: str | Path, label: str = "") -> None:
    """Create the output directory ``path`` and write and remove a probe file in it, before any work:
    one clear error now instead of a traceback after the whole simulation.  The directories it made
    are removed again (the results create them), so a command that stops early leaves nothing behind.
    ``label`` starts the message (default ``--out PATH``)."""
    p = Path(path)
    made = [a for a in (p, *p.parents) if not a.exists()]  # innermost first
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / f".accelsim-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        blocker = next((a for a in (p, *p.parents) if a.exists() and not a.is_dir()), None)
        why = (f"{blocker} is a file, not a directory" if blocker else
               f"cannot {'write in' if p.is_dir() else 'create'} it ({exc.strerror})")
        label = label or f"--out {path}"
        raise AccelsimError(f"{label}: {why}; give a directory accelsim can write to") from None
    finally:
        for a in made:
            with contextlib.suppress(OSError):  # gone, or not empty: someone else uses it
                a.rmdir()


def check_out_file(path: str | Path, label: str) -> None:
    """``check_out_dir`` for the directory of the file ``path``, which must not be a directory itself."""
    if Path(path).is_dir():
        raise AccelsimError(f"{label}: is a directory; give a file in it, e.g. {Path(path) / 'sweep.sqlite'}")
    check_out_dir(Path(path).parent, label)


def note_hw_alias(ref: str) -> None:
    """Say on stderr when ``ref`` is ``configs/NAME.yaml``, the README's alias of the shipped NAME
    (a missing path raises the error naming it)."""
    from accelsim.spec.hardware import resolve_hardware_path

    if not ref.endswith(".cfg") and (note := resolve_hardware_path(ref)[1]):
        click.echo(f"note: {note}", err=True)


def load_hw(ref: str, sets: tuple[str, ...]):
    """The hardware config ``ref`` with the ``--set`` overrides (the configs/ alias noted)."""
    from accelsim.spec.hardware import load_hardware

    note_hw_alias(ref)
    return load_hardware(ref, parse_sets(sets))


INPUT_IDS_OPTION = click.option(
    "--input-ids", "input_ids", default=None, metavar="B,T|FILE.pt",
    help="Feed a language model token ids: B,T for seeded random ids (batch B, T tokens) below its "
         "embedding's vocabulary size (the same as --input token_ids --batch B --input-shape T, a "
         "recipe's activations: token_ids), or a .pt file holding one int tensor (batch, tokens).")


INPUT_OPTION = click.option(
    "--input", "input_", default=None, metavar="FILE|sample:NAME|token_ids",
    help="Trace the model on this input instead of seeded noise (a recipe's activations:): token_ids "
         "(seeded random token ids, T from --input-shape), sample:china or sample:flower "
         "(scikit-learn's photographs), sample:digits (its 8x8 digits, for the small models), an image "
         "(.png, .jpg), or a .pt / .npy tensor (batch first). "
         "A photo is centre-cropped, resized and ImageNet-normalised.")


def parse_input_ids(text: str | None):
    """``4,128`` -> (4, 128); a path -> that path (it must exist)."""
    if text is None:
        return None
    if text.endswith(".pt"):
        if not Path(text).is_file():
            raise AccelsimError(f"--input-ids {text}: file not found; give B,T (e.g. 1,128) or a .pt file")
        return text
    parts = text.replace("x", ",").split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise AccelsimError(f"--input-ids {text!r}: write batch,tokens (e.g. 1,128) or a .pt file of "
                            "token ids")
    return int(parts[0]), int(parts[1])


def load_workload(model: str, batch, input_shape, checkpoint, input_ids=None, say_coverage=True, input_=None):
    """The workload, its coverage said on stderr: one line and the ops not simulated (unless
    ``say_coverage`` is False: the caller prints it), and a WARNING when more than 1 % of the MACs
    are not simulated."""
    from accelsim.workload.load import load_workload as load

    check_model_files(model, checkpoint, model)
    workload = load(model, batch=batch, input_shape=parse_shape(input_shape), checkpoint=checkpoint,
                    input_ids=parse_input_ids(input_ids), input=input_)
    coverage = workload.coverage
    if coverage is not None:
        if say_coverage:
            click.echo(coverage.summary(), err=True)
            for line in coverage.details():
                if line.startswith("not simulated"):
                    click.echo(line, err=True)
        if coverage.loud:
            unknown = sum(o.macs < 0 for o in coverage.ops_not_simulated)
            share = (f"{unknown} ops with matrix work (MACs unknown) are" if unknown else
                     f"{100 * coverage.mac_share_not_simulated:.1f} % of the model's MACs are")
            click.echo(f"WARNING: {share} NOT simulated: the totals leave them out (see the 'not simulated' "
                       "lines)", err=True)
    return workload
