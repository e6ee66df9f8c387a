"""The one exception type users see.

Library code raises :class:`CalibError` (or a subclass) for anything a user can cause: a bad
flag, a missing file, a checker that is not installed, a corrupt checkpoint. The message says
what to do. Only :mod:`calib_async.cli` turns it into an exit code and one line on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CLI_SPELLING: ContextVar[bool] = ContextVar("calib_async_cli_spelling", default=False)


@contextmanager
def cli_spelling() -> Iterator[None]:
    """Inside, :func:`option` spells settings as command-line flags (the CLI's ``main``)."""
    token = _CLI_SPELLING.set(True)
    try:
        yield
    finally:
        _CLI_SPELLING.reset(token)


def option(name: str, value: object = True) -> str:
    """How a user sets ``name``: ``--resume`` on the command line, ``RunConfig(resume=True)``
    in the library. Messages that tell the user what to pass use it, so a library caller is
    never told to pass a flag it has no way to pass."""
    if _CLI_SPELLING.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is True else f"{flag} {value}"
    return f"RunConfig({name}={value!r})"


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
