"""Every write to a telemetry log: create, move aside, cut a torn tail, append.

:mod:`calib_async.checkpoint.reading` decides *whether* to start, continue or refuse a log and
reads it
back; this module does the file operations, each crash-safe on its own:

- :func:`create_log` writes the header to a temporary file and links it into place, so a log
  never exists without its header and an existing file is never overwritten;
- :func:`move_aside` renames a log to ``<name>.<UTC timestamp>.bak`` without overwriting;
- :func:`truncate_log` cuts a torn last line off (under the lock);
- :class:`CheckpointWriter` appends records; its docstring states the durability policy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from calib_async.checkpoint.canonical import dumps_canonical
from calib_async.errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CheckpointWriter",
    "check_unlocked",
    "create_log",
    "fsync_dir",
    "lock_log",
    "move_aside",
    "sync_periodically",
    "truncate_log",
    "write_all",
]


def lock_log(fd: int, path: Path) -> None:
    """Take the exclusive ``flock`` on an open log, or raise CheckpointError if a run holds it.

    The lock belongs to the open file description and goes with ``os.close(fd)``.
    """
    if fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise CheckpointError(
            f"telemetry log {path} is being written by another calibrate_noise run; wait for "
            "it to finish or choose another --output-dir"
        ) from None


def write_all(fd: int, data: bytes) -> None:
    """Write ``data`` with as few ``write()`` calls as the kernel allows (one, normally)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:  # a regular file never does this; do not spin if it does
            raise OSError(errno.EIO, "write() wrote nothing")
        view = view[n:]


def truncate_log(path: Path, size: int) -> None:
    """Cut ``path`` to ``size`` bytes and fsync; refuse if another run holds the lock."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise CheckpointError(f"cannot repair telemetry log {path}: {exc.strerror}") from None
    try:
        lock_log(fd, path)
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError as exc:
        raise CheckpointError(f"cannot cut the torn line off {path}: {exc.strerror}") from None
    finally:
        os.close(fd)  # also drops the lock


def create_log(path: Path, header: Mapping[str, Any]) -> None:
    """Write the header to a temporary file and move it into place: a log is never headless."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size == 0:
                path.unlink()  # an empty file holds nothing to lose
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, dumps_canonical(header) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        _place(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CheckpointError(f"cannot create telemetry log {path}: {exc.strerror}") from None
    fsync_dir(path.parent)


def _place(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` unless ``dst`` exists (a link fails rather than overwrite)."""
    try:
        os.link(src, dst)
    except FileExistsError:
        os.unlink(src)
        raise CheckpointError(f"{dst} appeared while it was being created; rerun") from None
    except OSError:  # no hard links on this filesystem
        if dst.exists():
            raise CheckpointError(f"{dst} appeared while it was being created; rerun") from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _backup_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.<UTC timestamp>[.k].bak``, never overwriting; return it."""
    stamp = _backup_stamp()
    for k in range(1000):
        target = path.with_name(f"{path.name}.{stamp}{f'.{k}' if k else ''}.bak")
        if target.exists():
            continue
        try:
            os.link(path, target)
        except FileExistsError:
            continue
        except OSError:  # no hard links: check, then rename (a race here is harmless enough)
            os.rename(path, target)
            break
        os.unlink(path)
        break
    else:
        raise CheckpointError(f"too many backups of {path}; remove old {path.name}.*.bak files")
    fsync_dir(path.parent)
    return target


def fsync_dir(directory: Path) -> None:
    """Make a rename or link in ``directory`` durable (best effort)."""
    with contextlib.suppress(OSError):  # not all filesystems allow it; the data is synced
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_unlocked(path: Path) -> None:
    """Raise CheckpointError if another run has ``path`` open for writing."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        lock_log(fd, path)
    finally:
        os.close(fd)


class CheckpointWriter:
    """Appends canonical records to a telemetry log created by :func:`prepare_log`.

    **Durability policy.** Each record is written with one ``write()`` of the whole line
    (``line + b"\\n"``; a short write is continued), straight to the OS with no user-space
    buffer. So:

    - *process killed* (SIGKILL, OOM kill, a crash): every ``append`` that returned is in the
      kernel and survives; a kill during an ``append`` leaves at worst a torn last line, which
      :func:`read_log` cuts off (that run is simply run again);
    - *power loss or kernel crash*: lines written since the last ``fsync`` may be lost, and the
      tail may hold garbage or NUL bytes. ``fsync`` runs on the first ``append`` at least
      ``fsync_interval_s`` after the previous one, on :meth:`sync`, and on :meth:`close`. When
      appends pause, call :meth:`sync_if_due` periodically (e.g. once a second from the
      event loop) to keep the bound; then at most about ``fsync_interval_s`` of finished runs
      can be lost.

    Write errors raise :class:`CheckpointError` (disk full, file too large, I/O error); the
    partial line is removed first when possible, so the log stays resumable. The file is
    ``flock``-ed while open. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        path: Path,
        *,
        fsync_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.fsync_interval_s = fsync_interval_s
        self._clock = clock
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            raise CheckpointError(
                f"telemetry log {path} does not exist; create it with prepare_log first"
            ) from None
        except OSError as exc:
            raise CheckpointError(f"cannot open telemetry log {path}: {exc.strerror}") from None
        try:
            lock_log(fd, path)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                raise CheckpointError(
                    f"telemetry log {path} ends with a torn line; read it with read_log "
                    "(or prepare_log) first, which cuts the torn line off"
                )
        except BaseException:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self._size = size
        self._dirty = False
        self._last_sync = clock()
        self.lines_written = 0
        self.syncs = 0

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a canonical line; fsync if the last fsync is due.

        Raises ValueError/TypeError (nothing written) if the record cannot be canonical JSON,
        CheckpointError if the write fails or the writer is closed.
        """
        line = dumps_canonical(record) + b"\n"
        fd = self._require_open()
        try:
            write_all(fd, line)
        except OSError as exc:
            self._roll_back(fd)
            raise CheckpointError(self._error_text(exc, "write to")) from None
        self._size += len(line)
        self._dirty = True
        self.lines_written += 1
        self.sync_if_due()

    def sync_if_due(self) -> bool:
        """fsync if something is unsynced and the last fsync is ``fsync_interval_s`` old."""
        if self._dirty and self._clock() - self._last_sync >= self.fsync_interval_s:
            self.sync()
            return True
        return False

    def sync(self) -> None:
        """fsync now if anything was written since the last fsync."""
        if not self._dirty:
            return
        fd = self._require_open()
        try:
            os.fsync(fd)
        except OSError as exc:
            # After a failed fsync the kernel may have dropped the pages and a later fsync can
            # report success: trust nothing more from this file descriptor.
            self._fd = None
            with contextlib.suppress(OSError):
                os.close(fd)
            raise CheckpointError(self._error_text(exc, "sync")) from None
        self._dirty = False
        self._last_sync = self._clock()
        self.syncs += 1

    def close(self) -> None:
        """fsync what is pending, release the lock and close. Idempotent."""
        if self._fd is None:
            return
        try:
            self.sync()
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require_open(self) -> int:
        if self._fd is None:
            raise CheckpointError(f"telemetry log {self.path} is closed")
        return self._fd

    def _roll_back(self, fd: int) -> None:
        """Cut a partially written line off, so later appends do not follow garbage."""
        try:
            os.ftruncate(fd, self._size)
        except OSError:  # leave it: read_log cuts a torn last line off on resume
            self._fd = None
            os.close(fd)

    def _error_text(self, exc: OSError, what: str) -> str:
        path = self.path
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"no space left for the telemetry log {path}; free some disk space and rerun "
                "with --resume (finished runs are kept)"
            )
        if exc.errno == errno.EFBIG:
            return (
                f"the telemetry log {path} reached the file-size limit; raise it (ulimit -f) "
                "or choose another --telemetry-log, then rerun with --resume"
            )
        return f"cannot {what} the telemetry log {path}: {exc.strerror}; rerun with --resume"


async def sync_periodically(writer: CheckpointWriter, *, interval_s: float | None = None) -> None:
    """fsync the writer's pending lines every ``interval_s`` (default: its fsync interval).

    Run it in the task group that owns the writer, so lines stay bounded in age even when
    appends pause (a long checker run). Returns once the writer is closed. A failed fsync
    raises CheckpointError into the task group.

    **Cancellation:** cancellable at each sleep; it does not sync on the way out (``close``
    does).
    """
    interval = writer.fsync_interval_s if interval_s is None else interval_s
    while not writer.closed:
        await anyio.sleep(interval)
        if not writer.closed:
            writer.sync_if_due()
