"""The one exception type users see.

Library code raises :class:`CalibError` (or a subclass) for anything a user can cause: a bad
flag, a missing file, a checker that is not installed, a corrupt checkpoint. The message says
what to do. Only :mod:`calib_async.cli` turns it into an exit code and one line on stderr.
"""

from __future__ import annotations


class CalibError(Exception):
    """A user-caused error. ``str(exc)`` is one line that says what to do.

    ``exit_code`` is the process exit status the CLI uses (2 = bad input or usage).
    """

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class CheckpointError(CalibError):
    """The telemetry log cannot be used as it is (corrupt, other run, would be overwritten)."""


class ConfigError(CalibError):
    """The YAML config or a checker profile is invalid."""


class CorpusError(CalibError):
    """The corpus cannot be read or selected."""
