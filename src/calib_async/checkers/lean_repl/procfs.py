"""The REPL tree's counters from /proc: CPU ticks, resident pages, the peak RSS and its reset.

Files are opened once per REPL and re-read with ``pread`` (a command reads a handful of them).
CPU is utime + stime + cutime + cstime of every live member (clock ticks: the kernel's exact
counters, at its tick resolution, usually 10 ms; the children a member waited for included).
"""

from __future__ import annotations

import os

_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


class ProcFiles:
    """/proc files of one REPL tree, opened once and re-read with ``pread`` (a command reads
    six of them: one syscall each instead of three)."""

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def read(self, path: str) -> bytes | None:
        fd = self._fds.get(path)
        if fd is None:
            try:
                fd = self._fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        try:
            return os.pread(fd, 8192, 0)
        except OSError:  # the process is gone
            self._drop(path)
            return None

    def reset_hwm(self, pid: int) -> bool:
        """Reset the peak RSS (VmHWM) of ``pid`` to its current RSS (``clear_refs``: 5)."""
        path = f"/proc/{pid}/clear_refs"
        fd = self._fds.get(path)
        try:
            if fd is None:
                fd = self._fds[path] = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            os.write(fd, b"5")
        except OSError:
            self._drop(path)
            return False
        return True

    def _drop(self, path: str) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for path in list(self._fds):
            self._drop(path)


def tree_pids(pid: int, files: ProcFiles) -> list[int]:
    """The leader and its live descendants (children of each process's main thread, where
    a REPL and the ``lake env`` in front of it start theirs)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        data = files.read(f"/proc/{p}/task/{p}/children")
        if data:
            todo += [int(x) for x in data.split()]
    return pids


def tree_usage(pid: int, files: ProcFiles) -> tuple[float, float]:
    """(CPU ms, RSS MiB) of the tree now: utime + stime + cutime + cstime (clock ticks, the
    waited-for children included) and resident pages, summed over the live members."""
    cpu = rss = 0
    for p in tree_pids(pid, files):
        data = files.read(f"/proc/{p}/stat")
        if data:
            fields = data.rsplit(b")", 1)[1].split()
            cpu += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            rss += int(fields[21])
    return cpu * _TICK_MS, rss * _PAGE_MB


def hwm_mb(pid: int, files: ProcFiles) -> float | None:
    """The leader's VmHWM (MiB), or None."""
    data = files.read(f"/proc/{pid}/status")
    at = data.find(b"VmHWM:") if data else -1
    if data is None or at < 0:
        return None
    return int(data[at + 6 : data.index(b"\n", at)].split()[0]) / 1024
