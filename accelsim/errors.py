"""The one small exception hierarchy.  The CLI turns any of these into exit status 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class AccelsimError(Exception):
    """Base of every error a user can cause; its message is meant to be read as is."""


class ConfigError(AccelsimError):
    """One or more problems in a config or recipe, each with its path inside the file."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = str(source)
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            msg = f"{self.source}: {self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            msg = f"{self.source}: {len(self.problems)} problems\n{lines}"
        super().__init__(msg)

    def __reduce__(self):  # picklable: errors cross process boundaries in sweeps
        return (type(self), (self.source, self.problems))


class UnknownNameError(AccelsimError):
    """A name that is not in a registry; the message lists the close and the known names."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        self.kind, self.name = kind, name
        self.known = tuple(sorted(known))
        close = difflib.get_close_matches(str(name), self.known, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
        msg += "; known: " + ", ".join(self.known)
        if hint:
            msg += f". {hint}"
        self.hint = hint
        super().__init__(msg)

    def __reduce__(self):
        return (type(self), (self.kind, self.name, self.known, self.hint))


class SimulationError(AccelsimError):
    """A workload and a hardware config that cannot be simulated together."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
