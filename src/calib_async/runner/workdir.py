"""The private working directory of one run (``ExecSpec.workdir``, the ``{workdir}``
placeholder of checker profiles).

A profile picks a fresh path with :func:`new_workdir` when it builds a spec; the runner
creates the directory (empty, mode 0700) just before the checker starts and removes it with
everything in it once the process tree has been killed and reaped, whatever happened. Two
runs never share one at the same time, so two tiers of the same checker cannot see each other's
output files.

**Recycling.** Creating and removing a directory costs about 0.17 ms of the driver's CPU per run
on ext4, the largest single item of a short run (``scripts/bench_scheduler.py``). So a directory
the run left empty, still a plain directory of ours with mode 0700, is kept for a later run of
the same driver process (:func:`release_workdir`, at most :data:`POOL_MAX`), instead of being
removed: it is then indistinguishable from a fresh one. A directory with anything in it is
removed as before. The pooled ones are removed when the process exits; those of a driver killed
with ``kill -9`` are empty directories, removed by the next driver's start-up sweep
(:func:`sweep_stale`).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import stat
import tempfile
import threading
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


#: Most empty run directories a driver process keeps for reuse.
POOL_MAX = 64
_lock = threading.Lock()
_pool: list[str] = []  # empty directories of this process, ready for a new run
_issued: set[str] = set()  # taken from the pool by new_workdir, not yet created by a run
_pool_pid = -1  # the process that owns _pool (a forked child starts with none)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def _own_prefix() -> str:
    return f"{_root()}/run-{os.getpid()}-"


def new_workdir() -> str:
    """A path for one run's directory, unique among the runs in progress (not created here:
    :func:`create_workdir` does that; a recycled one already exists, empty)."""
    with _lock:
        if _pool_pid == os.getpid() and _pool:
            path = _pool.pop()
            _issued.add(path)
            return path
    return f"{_own_prefix()}{uuid.uuid4().hex}"


def _empty_private_dir(path: str) -> bool:
    """Whether ``path`` is a plain directory of ours, mode 0700, with nothing in it."""
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or stat.S_IMODE(st.st_mode) != 0o700:
            return False
        if st.st_uid != os.geteuid():
            return False
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def release_workdir(path: str) -> None:
    """After the run's tree was killed and reaped: keep ``path`` for a later run when the run
    left it empty (and this process named it), else remove it with everything in it."""
    global _pool_pid
    first = False
    if path.startswith(_own_prefix()) and _empty_private_dir(path):
        with _lock:
            if _pool_pid != os.getpid():
                _pool_pid = os.getpid()
                _pool.clear()
                _issued.clear()
                atexit.register(_drain)
                first = True
            if len(_pool) < POOL_MAX:
                _pool.append(path)
                path = ""
        if first:
            sweep_stale()  # once per process, off the first run's critical path
        if not path:
            return
    remove_tree(path)


def _drain() -> None:
    """Remove the pooled directories, and those handed out but never used (at exit)."""
    with _lock:
        paths = [*_pool, *_issued] if _pool_pid == os.getpid() else []
        _pool.clear()
        _issued.clear()
    for path in paths:
        with contextlib.suppress(OSError):
            os.rmdir(path)  # only if still empty: a run in progress keeps its files


def sweep_stale() -> int:
    """Remove the empty run directories that drivers no longer alive kept for reuse (a driver
    killed with ``kill -9`` never drains its pool); the number removed."""
    removed = 0
    try:
        entries = list(os.scandir(_root()))
    except OSError:
        return 0
    for entry in entries:
        parts = entry.name.split("-")  # run-<pid>-<32 hex digits>
        if len(parts) != 3 or parts[0] != "run" or not parts[1].isdigit() or len(parts[2]) != 32:
            continue
        if int(parts[1]) == os.getpid() or _alive(int(parts[1])):
            continue
        with contextlib.suppress(OSError):
            os.rmdir(entry.path)  # empty ones only: a dead run's files are its own leftovers
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_workdir(path: str | None) -> None:
    """Create ``path`` empty, mode 0700 (its parent too, when missing); nothing for None.

    A run directory of ours (``run-*`` under :func:`workdir_root`) that already exists is
    the leftover of an earlier attempt of the same spec (a Ray worker killed mid-run, then
    retried): it is emptied first. Raises OSError when the directory cannot be created, or
    when any other path already exists.
    """
    if path is None:
        return
    with _lock:
        recycled = path in _issued
        _issued.discard(path)
    if recycled and _empty_private_dir(path):
        return  # emptied and checked when its last run ended
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
