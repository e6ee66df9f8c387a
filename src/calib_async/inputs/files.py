"""Paths: regular files checked with stat before any open, and outputs that hit no input."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from calib_async.errors import CalibError
from calib_async.inputs.values import Err, describe

_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _stat(path: Path, where: str, error: Err) -> os.stat_result | None:
    """``os.stat`` (following links); ``None`` if nothing is there; other failures raise."""
    shown = f"{where} {describe(path, limit=200)}"
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except ValueError:  # embedded NUL
        raise error(f"{shown} contains a NUL character; fix the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{shown} is a symlink loop; point the link at a file") from None
        if exc.errno == errno.ENOTDIR:
            raise error(f"{shown}: a parent of it is not a directory; fix the path") from None
        raise error(f"{shown} cannot be accessed ({exc.strerror}); fix the path") from None


def regular_file(path: Path, where: str, *, error: Err = CalibError) -> os.stat_result:
    """The ``stat`` of ``path`` if it is (a link to) a regular file; never opens it.

    Refuses, with one line: a missing file, a directory, a FIFO, a device, a socket, a symlink
    loop, a path through a non-directory, and a path with a NUL.
    """
    st = _stat(path, where, error)
    if st is None:
        raise error(f"{where} {describe(path, limit=200)} does not exist; check the path")
    if not stat.S_ISREG(st.st_mode):
        raise error(
            f"{where} {describe(path, limit=200)} is a {_kind(st.st_mode)}, not a regular file; "
            "give a regular file"
        )
    return st


def output_file_target(path: Path, where: str, *, error: Err = CalibError) -> None:
    """Refuse an output path that exists as anything but a regular file (e.g. a directory)."""
    st = _stat(path, where, error)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise error(
            f"{where} {describe(path, limit=200)} exists as a {_kind(st.st_mode)}; "
            "remove it or choose another path"
        )


def open_regular_file(path: Path, where: str, *, error: Err = CalibError) -> BinaryIO:
    """Open a regular file for reading in binary, without a window in which a FIFO could block.

    The file is checked with :func:`regular_file` first, then opened with ``O_NONBLOCK`` (which
    never blocks, even if a FIFO was swapped in meanwhile), and the open file must be the one
    that was checked (same device and inode); then blocking mode is restored.
    """
    st = regular_file(path, where, error=error)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(
            f"{where} {describe(path, limit=200)} cannot be read ({exc.strerror})"
        ) from None
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise error(f"{where} {describe(path, limit=200)} changed while being opened; try again")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _identities(path: Path) -> list[tuple[Any, ...]]:
    """Keys of ``path``: its real path, and its inode when it exists (for hard links)."""
    keys: list[tuple[Any, ...]] = []
    try:
        keys.append(("path", os.path.realpath(path)))  # realpath does not raise on loops
        st = os.stat(path)
        keys.append(("inode", st.st_dev, st.st_ino))
    except (OSError, ValueError):
        pass
    return keys


def check_distinct_paths(
    inputs: Mapping[str, Path], outputs: Mapping[str, Path], *, error: Err = CalibError
) -> None:
    """Refuse when an output is the same file as an input or as an earlier output.

    Keys are the flags (``--export``), values the paths. Two paths are the same file when they
    have the same real path (symlinks and ``..`` resolved, whether or not the file exists yet)
    or the same device and inode (hard links).
    """
    seen: dict[tuple[Any, ...], tuple[str, Path]] = {}
    for flag, path in inputs.items():
        for key in _identities(path):
            seen.setdefault(key, (flag, path))
    for flag, path in outputs.items():
        keys = _identities(path)
        for key in keys:
            if key in seen:
                other_flag, other_path = seen[key]
                raise error(
                    f"{flag} {describe(path, limit=200)} is the same file as {other_flag} "
                    f"{describe(other_path, limit=200)}; choose a different {flag}"
                )
        for key in keys:
            seen[key] = (flag, path)
