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


def only_calib_error(group: BaseExceptionGroup) -> CalibError | None:
    """The group's CalibError if it is its only exception (nested groups flattened).

    Task groups wrap what their tasks raise; a user error must still reach the user as the
    one line it is, not as a group traceback.
    """
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    if len(leaves) == 1 and isinstance(leaves[0], CalibError):
        return leaves[0]
    return None
