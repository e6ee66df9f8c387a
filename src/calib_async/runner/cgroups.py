"""Per-run cgroups: a memory limit, a pids limit, exact peak memory and CPU, and a tree kill.

The mechanism is found once per driver (:mod:`calib_async.runner.cgroup_setup`). A run cgroup
(:class:`RunCgroup`) is one directory ``run-N`` in each hierarchy the layout uses; the spawn
wrapper writes the checker's pid into each ``cgroup.procs`` before it execs the checker, so no
descendant can be forked outside them. What each gives, per run:

====================  ================================  ======================================
figure                cgroup2 (delegated)               cgroup1 (v1 hierarchies)
====================  ================================  ======================================
memory limit          ``memory.max`` (+ swap.max 0)     ``memory.limit_in_bytes`` (+ memsw)
process limit         ``pids.max``                      ``pids.max``
peak memory           ``memory.peak`` (reset per run)   ``memory.max_usage_in_bytes`` (reset)
OOM kill              ``memory.events`` oom_kill        ``memory.oom_control`` oom_kill
fork refused          ``pids.events`` max               ``pids.events`` max
peak processes        ``pids.peak``                     ``pids.peak``
CPU                   ``cpu.stat`` usage_usec           ``cpuacct.usage``
kill                  ``cgroup.kill``                   ``cgroup.kill`` of the v2 cgroup, else
                                                        SIGKILL to ``cgroup.procs`` until empty
====================  ================================  ======================================

The memory figures count what the kernel charged to the run: anonymous memory, kernel memory
and the page cache the run brought in (a file already cached by an earlier run is not charged
again); a mapped file the run never touched counts nothing. The peak is the whole tree's,
including descendants nobody waited for.

Cgroups are pooled (creating one costs about 0.3 ms of wall time per hierarchy): an empty cgroup
is reused when nothing of the last run stays charged to it (``memory`` usage at most
:data:`REUSE_MAX_BYTES`), its ``pids.peak`` (which cannot be reset) stayed at 1, and it was never
``cgroup.kill``-ed (Linux 6.18 SIGKILLs a child cloned into a cgroup after a kill). Counters
(OOM kills, fork refusals, CPU) are read as differences.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass

import structlog

from calib_async.runner.cgroup_setup import Layout, detect_layout
from calib_async.runner.spec import Mechanism

log = structlog.get_logger(__name__)

REUSE_MAX_BYTES = 2 * 2**20
_R, _W, _RW = os.O_RDONLY | os.O_CLOEXEC, os.O_WRONLY | os.O_CLOEXEC, os.O_RDWR | os.O_CLOEXEC


def _pread(fd: int) -> bytes:
    return os.pread(fd, 4096, 0)


def _field(data: bytes, key: bytes) -> int:
    """The number after ``key`` at the start of a line of a flat-keyed cgroup file (0 if none)."""
    for line in data.splitlines():
        name, _, value = line.partition(b" ")
        if name == key:
            return int(value)
    return 0


def _write(path: str, value: str) -> None:
    fd = os.open(path, _W)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Figures:
    """What a run cgroup measured over one run (None: not measured by this mechanism)."""

    cpu_ms: float | None
    cpu_source: str
    peak_bytes: int | None
    peak_source: str
    oom_kills: int
    fork_refusals: int
    pids_peak: int | None


class RunCgroup:
    """One run's cgroup directories, with their control files open."""

    def __init__(self, layout: Layout, name: str) -> None:
        self.mechanism = layout.mechanism
        self.dirs = [
            f"{p}/{name}" for p in (layout.v2, layout.memory, layout.pids, layout.cpuacct) if p
        ]
        made: list[str] = []
        self._fds: list[int] = []
        self.events = self.kill_fd = self.members = -1
        try:
            for d in self.dirs:
                os.mkdir(d)
                made.append(d)
            self.procs = tuple(f"{d}/cgroup.procs" for d in self.dirs)
            v2 = f"{layout.v2}/{name}" if layout.v2 else None
            self.events = self._open(f"{v2}/cgroup.events", _R) if v2 else -1
            self.kill_fd = self._open(f"{v2}/cgroup.kill", _W) if v2 else -1
            self.cpu_stat = self._open(f"{v2}/cpu.stat", _R) if v2 else -1
            self.members = self._open(self.procs[-1], _R)  # cgroup.procs of one hierarchy
            c2 = self.mechanism is Mechanism.CGROUP2
            mem = v2 if c2 else f"{layout.memory}/{name}" if layout.memory else None
            pids = v2 if c2 else f"{layout.pids}/{name}" if layout.pids else None
            self.mem_dir, self.pids_dir = mem, pids
            self.cpuacct = (
                self._open(f"{layout.cpuacct}/{name}/cpuacct.usage", _R)
                if (layout.cpuacct and not c2)
                else -1
            )
            self.peak = self.oom = self.usage = self.pids_events = self.pids_peak = -1
            if mem is not None:
                self.peak = self._open(
                    f"{mem}/memory.peak" if c2 else f"{mem}/memory.max_usage_in_bytes", _RW
                )
                self.oom = self._open(
                    f"{mem}/memory.events" if c2 else f"{mem}/memory.oom_control", _R
                )
                self.usage = self._open(
                    f"{mem}/memory.current" if c2 else f"{mem}/memory.usage_in_bytes", _R
                )
                if c2:
                    with contextlib.suppress(OSError):
                        _write(f"{mem}/memory.swap.max", "0")
            if pids is not None:
                self.pids_events = self._open(f"{pids}/pids.events", _R)
                with contextlib.suppress(OSError):
                    self.pids_peak = self._open(f"{pids}/pids.peak", _R)
        except BaseException:
            self.close()
            for d in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(d)
            raise
        self.limits: tuple[int | None, int | None] | None = None  # (memory bytes, pids) set
        self.killed = False
        self.peak_resettable = True
        self._start: tuple[int, int, int] = (0, 0, 0)  # OOM kills, refused forks, CPU ns
        #: the counters at the end of the last run: the next run's start (nothing ran between)
        self._end: tuple[int, int, int] | None = None
        self._pids_peak_end = 0

    def _open(self, path: str, flags: int) -> int:
        fd = os.open(path, flags)
        self._fds.append(fd)
        return fd

    # -- per run ------------------------------------------------------------------------------
    def begin(self, memory_bytes: int | None, pids: int | None) -> None:
        """Set this run's limits (when they differ from the last run's) and zero the figures."""
        if (memory_bytes, pids) != self.limits:
            self._set_limits(memory_bytes, pids)
            self.limits = (memory_bytes, pids)
        if self.peak >= 0:
            try:  # v1: resets to the current usage; v2 (Linux >= 6.12): per open file
                os.pwrite(self.peak, b"reset" if self.mechanism is Mechanism.CGROUP2 else b"0", 0)
            except OSError:
                self.peak_resettable = False  # a fresh cgroup's peak is still right
        self._start = self._end or (self._oom_kills(), self._fork_refusals(), self._cpu_ns())
        self._end = None

    def _set_limits(self, memory_bytes: int | None, pids: int | None) -> None:
        mem, c2 = self.mem_dir, self.mechanism is Mechanism.CGROUP2
        if mem is not None:
            value = str(memory_bytes) if memory_bytes else ("max" if c2 else "-1")
            if c2:
                _write(f"{mem}/memory.max", value)
            else:  # memsw (memory + swap) >= limit at every step: swap 0 means memsw = limit
                memsw = f"{mem}/memory.memsw.limit_in_bytes"
                has_memsw = os.path.exists(memsw)
                if has_memsw:
                    _write(memsw, "-1")
                _write(f"{mem}/memory.limit_in_bytes", value)
                if has_memsw:
                    _write(memsw, value)
        if self.pids_dir is not None:
            _write(f"{self.pids_dir}/pids.max", str(pids) if pids else "max")

    def _oom_kills(self) -> int:
        return _field(_pread(self.oom), b"oom_kill") if self.oom >= 0 else 0

    def _fork_refusals(self) -> int:
        return _field(_pread(self.pids_events), b"max") if self.pids_events >= 0 else 0

    def _cpu_ns(self) -> int:
        if self.cpuacct >= 0:
            return int(_pread(self.cpuacct))
        if self.cpu_stat >= 0:
            return _field(_pread(self.cpu_stat), b"usage_usec") * 1000
        return 0

    def events_since_begin(self) -> tuple[int, int]:
        """(OOM kills, refused forks) since :meth:`begin`."""
        oom0, forks0, _ = self._start
        return self._oom_kills() - oom0, self._fork_refusals() - forks0

    def figures(self) -> Figures:
        """The run's figures; call once every process of the run is gone."""
        oom0, forks0, cpu0 = self._start
        self._end = end = (self._oom_kills(), self._fork_refusals(), self._cpu_ns())
        cpu_source = (
            "cgroup:cpuacct.usage" if self.cpuacct >= 0
            else "cgroup:cpu.stat" if self.cpu_stat >= 0
            else "rusage"
        )  # fmt: skip
        cpu = (end[2] - cpu0) / 1e6 if cpu_source != "rusage" else None
        peak = None
        if self.peak >= 0 and self.peak_resettable:
            peak = int(_pread(self.peak))
        peak_source = (
            "cgroup:memory.peak" if self.mechanism is Mechanism.CGROUP2
            else "cgroup:memory.max_usage_in_bytes"
        )  # fmt: skip
        pids_peak = int(_pread(self.pids_peak)) if self.pids_peak >= 0 else None
        self._pids_peak_end = pids_peak or 0
        return Figures(
            cpu, cpu_source, peak, peak_source, end[0] - oom0, end[1] - forks0, pids_peak
        )

    # -- the tree -----------------------------------------------------------------------------
    def populated(self) -> bool:
        try:
            if self.events >= 0:
                return b"populated 1" in _pread(self.events)
            return self.members >= 0 and bool(_pread(self.members).strip())
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL everything in the cgroup; never raises. An empty cgroup is left alone (the
        ``cgroup.kill`` write takes the global cgroup mutex that every join also needs)."""
        if not self.populated():
            return
        self.killed = True
        if self.kill_fd >= 0:
            with contextlib.suppress(OSError):
                os.pwrite(self.kill_fd, b"1", 0)
            return
        for _ in range(50):  # v1: no cgroup.kill; each pass kills what the last one missed
            try:
                pids = [int(p) for p in _pread(self.members).split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    pfd = os.pidfd_open(pid)
                    try:  # pinned first: a pid still listed now is a process of this cgroup
                        if str(pid).encode() in _pread(self.members).split():
                            signal.pidfd_send_signal(pfd, signal.SIGKILL)
                    finally:
                        os.close(pfd)
            time.sleep(0.001)

    def reusable(self) -> bool:
        """Whether the next run can use this cgroup (see the module docstring)."""
        if self.killed or not self.peak_resettable or self.populated():
            return False
        if self._end is None:
            return False  # no figures read since the last run: unknown state
        if self._pids_peak_end > 1:
            return False
        with contextlib.suppress(OSError):
            if self.usage >= 0 and int(_pread(self.usage)) > REUSE_MAX_BYTES:
                return False
        return True

    def close(self) -> None:
        """Close the control files (idempotent); the cgroup is then only removable."""
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
        self.events = self.kill_fd = self.members = -1

    def remove(self, deadline: float | None = None) -> bool:
        """Close the files and remove the directories; whether all are gone. With a
        ``deadline``, wait until then for the last killed processes to leave."""
        self.close()
        left = []
        for d in self.dirs:
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if deadline is None or time.monotonic() > deadline:
                        left.append(d)
                        break
                    time.sleep(0.01)
        self.dirs = left
        return not left


class CgroupPool:
    """Run cgroups under one base directory per hierarchy (``calib-async-PID``), reused."""

    def __init__(self, layout: Layout, base: str) -> None:
        self.layout, self.base = layout, base
        self.mechanism = layout.mechanism
        self._free: list[RunCgroup] = []
        self._retired: list[RunCgroup] = []  # killed, not yet removable
        self._count = 0
        self._used: set[RunCgroup] = set()

    def acquire(self, memory_bytes: int | None = None, pids: int | None = None) -> RunCgroup:
        """A cgroup for one run, its limits set (controllers of the mechanism only)."""
        if self._free:
            cg = self._free.pop()
        else:
            self._count += 1
            cg = RunCgroup(self.layout, f"{self.base}/run-{self._count}")
        self._used.add(cg)
        try:
            cg.begin(memory_bytes, pids)
        except OSError:
            self.release(cg)
            raise
        return cg

    def release(self, cg: RunCgroup) -> None:
        """Return a cgroup after its run (every process reaped): reused or removed."""
        self._used.discard(cg)
        if cg.reusable():
            self._free.append(cg)
            return
        cg.kill()
        self._retired = [r for r in (*self._retired, cg) if not r.remove()]

    def close(self) -> None:
        """Remove every cgroup of the pool and the base directories."""
        deadline = time.monotonic() + 1.0
        for cg in [*self._free, *self._used, *self._retired]:
            cg.kill()
            if not cg.remove(deadline):
                log.warning("cgroup not removed", paths=cg.dirs)
        self._free, self._used, self._retired = [], set(), []
        for parent in (self.layout.v2, self.layout.memory, self.layout.pids, self.layout.cpuacct):
            if parent:
                with contextlib.suppress(OSError):
                    os.rmdir(f"{parent}/{self.base}")


def driver_cgroup_base() -> str | None:
    """This driver's base in the cgroup v2 hierarchy (for the leftover watcher), or None."""
    layout = detect_layout()
    return None if layout.v2 is None else f"{layout.v2}/calib-async-{os.getpid()}"


def open_pool() -> CgroupPool | None:
    """A fresh pool under ``calib-async-PID[-N]`` in each hierarchy, or None without cgroups."""
    layout = detect_layout()
    parents = [p for p in (layout.v2, layout.memory, layout.pids, layout.cpuacct) if p]
    if not parents:
        return None
    n = 0
    while True:
        name = f"calib-async-{os.getpid()}" + (f"-{n}" if n else "")
        made: list[str] = []
        try:
            for p in parents:
                os.mkdir(f"{p}/{name}")
                made.append(f"{p}/{name}")
            break
        except FileExistsError:
            for d in made:
                os.rmdir(d)
            n += 1
        except OSError as e:
            for d in made:
                os.rmdir(d)
            log.warning("no per-run cgroups", reason=str(e))
            return None
    offered: list[str] = []
    if layout.mechanism is Mechanism.CGROUP2:  # the run cgroups below get the controllers
        with contextlib.suppress(OSError), open(f"{layout.v2}/{name}/cgroup.controllers") as f:
            offered = f.read().split()
        want = " ".join(f"+{c}" for c in ("memory", "pids", "cpu") if c in offered)
        with contextlib.suppress(OSError):
            _write(f"{layout.v2}/{name}/cgroup.subtree_control", want)
    return CgroupPool(layout, name)
