"""Every error srcgrad raises on purpose derives from :class:`SrcgradError`.

Errors about the user's code carry the file, line and column, and the message
says what to do instead, so a user can click the location and act on it.
"""

from __future__ import annotations

import re


class SrcgradError(Exception):
    """Base class of every error srcgrad raises on purpose."""


class SourceError(SrcgradError):
    """An error located in the user's source code (file, line, column)."""

    def __init__(self, message: str, filename: str = "<unknown>", lineno: int = 0,
                 col: int = 0, construct: str = "", hint: str = "") -> None:
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.construct = construct
        self.hint = hint
        self.detail = message
        text = f"{filename}:{lineno}:{col + 1}: {message}"
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class UnsupportedSyntaxError(SourceError):
    """The function uses syntax outside the language srcgrad differentiates."""


class MissingRuleError(SourceError):
    """A call to a function that has no derivative rule."""


class TypeInferenceError(SourceError):
    """Numba could not infer the types of the (normalized) function."""


class NonScalarOutputError(SrcgradError):
    """``grad`` was asked for the gradient of a function whose output is not a float scalar."""


class UsageError(SrcgradError, TypeError):
    """srcgrad was called the wrong way: bad ``wrt``, not a function, bad arguments."""


class SourceUnavailableError(SrcgradError):
    """The function's source code cannot be read (defined in a REPL, built-in, ...)."""


class GradientCheckError(SrcgradError):
    """``check_grad`` found a directional derivative that disagrees with finite differences."""


class TapeLimitError(SrcgradError, ValueError):
    """``tape_limit`` is too small for one iteration's tape and one checkpoint; the
    message gives the smallest limit that works."""


class InternalError(SrcgradError):
    """A bug in srcgrad itself; the message names the stage that failed."""


def numba_rejected(exc: Exception, name: str, filename: str) -> InternalError:
    """Numba refused to compile generated code that type inference accepted: a srcgrad
    bug, reported as one (a SrcgradError), with Numba's message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return InternalError(
        f"srcgrad failed in stage 'compile': Numba rejected the generated code of {name} "
        f"({filename}): {' '.join(line.strip() for line in text[:6])}. This is a bug in "
        f"srcgrad; please report it with the function. grad(..., jit=False) runs the same "
        f"source as plain Python meanwhile")
