"""Every error hwplan raises on purpose, in one place.

The tree lives in the bottom package so that every layer (catalog, optimizer,
CLI) can raise and catch the same classes::

    HwplanError                 base; `exit_code` says how the CLI exits
    ├── InputError              bad input: a file, a field, a flag (exit 2)
    │   ├── CatalogError        a catalog or price-list file is wrong
    │   └── ProblemError        a problem file or flag is wrong
    └── NoPlanError             the question is valid but has no answer (exit 1)
        ├── InfeasibleError     no plan meets the limits; carries an explanation
        └── SolverTimeoutError  the time limit ran out before any plan was found (exit 3)

The command line exits 130 when interrupted (Ctrl-C), as shells do for SIGINT.

Messages are written for the person who must fix the input: they name the file,
the location, the field and the value, say what is allowed, and suggest the
closest valid ids.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "HwplanError",
    "InputError",
    "CatalogError",
    "ProblemError",
    "NoPlanError",
    "InfeasibleError",
    "SolverTimeoutError",
    "did_you_mean",
    "shorten",
]

# Longest piece of user input echoed in a message: a 100,000-character field must not make a 100 kB error.
SHOWN_CHARS = 80


class HwplanError(Exception):
    """Base class; `exit_code` is what the command line exits with."""

    exit_code = 2


class InputError(HwplanError):
    """The input is wrong: a file, a field, a flag or an id."""

    exit_code = 2


class CatalogError(InputError):
    """A catalog, price list or exchange-rate entry is wrong or missing."""


class ProblemError(InputError):
    """A problem file or a command-line override is wrong."""


class NoPlanError(HwplanError):
    """The question is valid, but no plan answers it."""

    exit_code = 1


class InfeasibleError(NoPlanError):
    """No plan satisfies the limits.

    `explanation` is a dict (JSON-ready) that names the conflicting limits with
    numbers; `str(error)` is its one-paragraph summary.
    """

    def __init__(self, message: str, explanation: dict | None = None):
        super().__init__(message)
        self.explanation = explanation or {"summary": message}


class SolverTimeoutError(NoPlanError):
    """The time limit expired before the solver found any plan (not proof that none exists: exit 3)."""

    exit_code = 3


def shorten(text: object, limit: int = SHOWN_CHARS) -> str:
    """`text` as a string of at most about `limit` characters: its start, '…', and how long it was."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def did_you_mean(value: str, choices: Iterable[str], n: int = 3) -> str:
    """Return " — did you mean 'a', 'b'?" for the closest choices, or ''."""
    choices = list(choices)
    close = difflib.get_close_matches(str(value), choices, n=n, cutoff=0.5)
    if not close:
        # Prefix matches catch ids typed without their suffix ("h100" → "h100-sxm").
        close = [c for c in choices if c.startswith(str(value))][:n]
    if not close:
        return ""
    return " — did you mean " + ", ".join(f"'{c}'" for c in close) + "?"
