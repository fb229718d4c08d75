"""The package's one family of bad-input errors.

Every error about what a user gave -- a file that cannot be read, a manifest entry, a parameter --
is an :class:`InputError` (a ``ValueError``), and its message names the file (and line) or the
parameter and the problem. Modules subclass it for their inputs (``io_grace``: coefficient files,
``gia``: GIA rate files, ``regions``: region and grid files, ``maps``: map data, ``datadir``: the
manifest and checksums, ``params``: parameters), so ``except InputError`` catches every one.
"""

from __future__ import annotations

__all__ = ["InputError", "MalformedFileError"]


class InputError(ValueError):
    """A bad input: the message names the file (and line) or the parameter, and the problem."""


class MalformedFileError(InputError):
    """A file that cannot be read; the message names the file, the line and the problem."""

    def __init__(self, path, problem: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
