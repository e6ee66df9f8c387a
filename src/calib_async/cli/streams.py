"""The terminal's streams when they are closed or their reader quits.

Started with fd 1 closed, Python sets ``sys.stdout`` to None; a reader that quits (``| head``)
makes the next write raise BrokenPipeError, and the interpreter's final flush would print a
traceback-like warning and exit 120. The CLI checks the stream first and, after a failure,
points fd 1 at /dev/null so nothing more is reported on the way out.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

from rich.console import Console


def stdout_usable() -> bool:
    """Whether ``sys.stdout`` exists and its file descriptor is open."""
    if sys.stdout is None:
        return False
    try:
        fd = sys.stdout.fileno()
    except (io.UnsupportedOperation, AttributeError):  # an in-memory stream (tests): usable
        return True
    except ValueError:  # closed
        return False
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def detach_stdout() -> None:
    """Point fd 1 (and ``sys.stdout``) at /dev/null: later writes and the final flush are
    silent after the reader quit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit


class PipeConsole(Console):
    """A rich Console whose broken pipe is a BrokenPipeError for the CLI to handle: rich's own
    reaction is ``SystemExit(1)``, which is ``compare``'s "worse" exit code."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        detach_stdout()
        raise BrokenPipeError("stdout was closed by its reader")
