"""The private working directory of one run (``ExecSpec.workdir``, the ``{workdir}``
placeholder of checker profiles).

A profile picks a fresh path with :func:`new_workdir` when it builds a spec; the runner
creates the directory (empty, mode 0700) just before the checker starts and removes it with
everything in it once the process tree has been killed and reaped, whatever happened. Two
runs never share one, so two tiers of the same checker cannot see each other's output files.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PLACEHOLDER = "{workdir}"


def workdir_root() -> Path:
    """Where run directories live: ``<tempdir>/calib-async-<uid>`` (per user, not shared)."""
    return Path(tempfile.gettempdir()) / f"calib-async-{os.getuid()}"


def new_workdir() -> str:
    """A fresh, unique path for one run's directory (not created here)."""
    return str(workdir_root() / f"run-{uuid.uuid4().hex}")


def create_workdir(path: str | None) -> None:
    """Create ``path`` empty, mode 0700 (its parent too, when missing); nothing for None.

    Raises OSError when it cannot be created, or already exists.
    """
    if path is None:
        return
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    os.mkdir(path, 0o700)


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything in it, making read-only directories writable first."""

    def retry(func: object, failed: str, exc: object) -> None:
        try:
            os.chmod(os.path.dirname(failed) or failed, stat.S_IRWXU)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, stat.S_IRWXU)
                shutil.rmtree(failed, ignore_errors=True)
            else:
                os.unlink(failed)
        except OSError as e:
            log.warning("cannot remove a run's working directory", path=failed, error=str(e))

    shutil.rmtree(path, onerror=lambda f, p, e: retry(f, p, e))
