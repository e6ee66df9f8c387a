"""The private working directory of one run (``ExecSpec.workdir``, the ``{workdir}``
placeholder of checker profiles).

A profile picks a fresh path with :func:`new_workdir` when it builds a spec; the runner
creates the directory (empty, mode 0700) just before the checker starts and removes it with
everything in it once the process tree has been killed and reaped, whatever happened. Two
runs never share one, so two tiers of the same checker cannot see each other's output files.
"""

from __future__ import annotations

import functools
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
    return Path(_root())


@functools.cache
def _root_for(tempdir: str, uid: int) -> str:
    return os.path.join(tempdir, f"calib-async-{uid}")


def _root() -> str:
    return _root_for(tempfile.gettempdir(), os.getuid())


def new_workdir() -> str:
    """A fresh, unique path for one run's directory (not created here)."""
    return f"{_root()}/run-{uuid.uuid4().hex}"


def create_workdir(path: str | None) -> None:
    """Create ``path`` empty, mode 0700 (its parent too, when missing); nothing for None.

    A run directory of ours (``run-*`` under :func:`workdir_root`) that already exists is
    the leftover of an earlier attempt of the same spec (a Ray worker killed mid-run, then
    retried): it is emptied first. Raises OSError when the directory cannot be created, or
    when any other path already exists.
    """
    if path is None:
        return
    try:
        os.mkdir(path, 0o700)  # the common case: one system call
        return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    except FileExistsError:
        parent = os.path.dirname(path)
        if not (os.path.basename(path).startswith("run-") and parent == _root()):
            raise
        remove_tree(path)
    os.mkdir(path, 0o700)


def creation_error(path: str, e: OSError) -> str:
    """The spawn error of a run whose directory could not be created."""
    return f"cannot create the run's working directory {path}: {e.strerror or e}"


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything in it, making read-only directories writable first."""
    try:
        os.rmdir(path)  # the common case: the checker left its directory empty
        return
    except FileNotFoundError:
        return
    except OSError:
        pass

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
