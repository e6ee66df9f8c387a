"""Whole-file outputs: written to a per-process temporary name, fsynced, renamed into place.

The temporary file is ``.<name>.<pid>.tmp`` beside the target, so two processes writing the
same output (``--fresh`` racing ``--resume``) never share one. It is removed when the write
fails (a full disk, a signal), and temporary files of the same target left by a process that
no longer exists (kill -9) are removed before writing.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from calib_async.errors import CalibError
from calib_async.inputs.values import Err, describe


def temp_name(path: Path) -> Path:
    """This process's temporary file for ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or not a pid: leave its file alone
    return True


def remove_stale_temps(path: Path) -> int:
    """Remove the temporary files of ``path`` whose writer is gone; how many were removed."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d{{1,10}})\.tmp")
    removed = 0
    try:
        names = os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return 0
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            (path.parent / name).unlink()
            removed += 1
    return removed


def write_atomic(path: Path, data: bytes, where: str, *, error: Err = CalibError) -> None:
    """Replace ``path`` with ``data`` at once: a reader sees the old file or the whole new one.

    ``where`` names the output in the one-line error (``--export``, ``report``).
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise error(
                f"cannot write {where} {describe(path, limit=200)}: {exc.strerror or exc}; "
                "free space or choose another path"
            ) from None
        raise
