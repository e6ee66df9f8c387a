"""Optional per-run cgroup v2: the only way to kill a descendant that escaped by ``setsid``
before any sample saw it.

Detected once per driver process (:func:`detect_cgroup_parent`): a cgroup2 mount, our own cgroup
in it (``/proc/self/cgroup`` line ``0::``), a directory we may create there, ``cgroup.kill``
(Linux >= 5.14), and a probe process that really moves itself into a child cgroup. Anything
missing means "not usable" with the reason logged; runs then go without (``ExecResult.cgroup``
is False). On hosts with the v1 hierarchy plus a controller-less ``unified`` mount (like our CI
machine) the v2 cgroup still gives ``cgroup.kill`` and ``cpu.stat``, but no ``memory.peak``
(the memory controller is bound to v1); ``memory.peak`` is used only when present and resettable.

The checker starts in its cgroup (the native spawn's clone3 with CLONE_INTO_CGROUP) or joins it
itself before exec (``cgroup.procs``: the native child, or the fallback's dash wrapper), so no
descendant can be forked outside it.
Cgroups are pooled: creating and removing one per run cost about 0.3 ms of wall time each in
our measurements, and an empty cgroup can be reused, with ``cpu.stat`` read as a difference.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import cache

import structlog

log = structlog.get_logger(__name__)

#: The shell of the spawn wrapper (process.py) that sets limits and joins the run's cgroup
#: before it execs the checker. dash: small and fast to start; its ``ulimit -p`` is RLIMIT_NPROC.
WRAPPER_SHELL = shutil.which("dash")


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


class _Files:
    """Open fds on one cgroup's control files: re-read with pread (about 1 µs, against 60 µs
    for Python's text-mode open and read)."""

    __slots__ = ("dir", "events", "kill_fd", "path", "procs", "stat")

    def __init__(self, path: str) -> None:
        self.path = path
        self.stat = os.open(f"{path}/cpu.stat", os.O_RDONLY | os.O_CLOEXEC)
        self.events = os.open(f"{path}/cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        self.kill_fd = os.open(f"{path}/cgroup.kill", os.O_WRONLY | os.O_CLOEXEC)
        #: written "0" by the native spawn's child to move itself in before it execs
        self.procs = os.open(f"{path}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        #: the native spawn's clone3(CLONE_INTO_CGROUP) starts the child right in it
        self.dir = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def cpu_usec(self) -> int:
        data = os.pread(self.stat, 4096, 0)
        return int(data.split(None, 2)[1]) if data.startswith(b"usage_usec ") else 0

    def close(self) -> None:
        for fd in (self.stat, self.events, self.kill_fd, self.procs, self.dir):
            os.close(fd)


@dataclass(slots=True, eq=False)
class RunCgroup:
    """One checker's cgroup for the duration of one run."""

    files: _Files
    cpu_usec_start: int
    peak_reset: bool  # memory.peak exists and was reset at acquire
    cpu_usec_end: int | None = None
    killed: bool = False  # cgroup.kill was written: never reused (see CgroupPool.release)

    @property
    def path(self) -> str:
        return self.files.path

    def kill(self) -> None:
        """SIGKILL everything in the cgroup (cgroup.kill); never raises.

        An empty cgroup is left alone: nothing can enter it again but through the spawn
        wrapper of this cgroup's next run (a fork inside it would have kept it populated), and
        the ``cgroup.kill`` write takes the global cgroup mutex that every spawn's
        ``cgroup.procs`` write also needs (a ``cgroup.events`` read takes no lock).
        """
        try:
            if b"populated 0" in os.pread(self.files.events, 4096, 0):
                return
        except OSError:
            pass  # unknown: kill
        self.killed = True
        with contextlib.suppress(OSError):
            os.pwrite(self.files.kill_fd, b"1", 0)

    def cpu_ms(self) -> float:
        """CPU of everything that ran in the cgroup during this run (cpu.stat usage_usec)."""
        self.cpu_usec_end = self.files.cpu_usec()
        return (self.cpu_usec_end - self.cpu_usec_start) / 1000.0

    def memory_peak_bytes(self) -> int | None:
        if not self.peak_reset:
            return None
        try:
            return int(_read(f"{self.path}/memory.peak"))
        except (OSError, ValueError):
            return None

    def populated(self) -> bool:
        try:
            return b"populated 1" in os.pread(self.files.events, 4096, 0)
        except OSError:
            return False


class CgroupPool:
    """Empty run cgroups under one base directory, created on demand and reused.

    Per run this costs three small cgroupfs operations on kept fds (``cgroup.kill``,
    ``cpu.stat``, ``cgroup.events``); the ``cpu.stat`` read at the end of one run is the start of
    the next run in the same cgroup.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self._free: list[tuple[_Files, int]] = []  # (cgroup, cpu usage_usec when it was freed)
        self._retired: list[_Files] = []
        self._count = 0
        self._has_peak: bool | None = None

    def acquire(self) -> RunCgroup:
        if self._free:
            files, usage = self._free.pop()
        else:
            self._count += 1
            path = f"{self.base}/run-{self._count}"
            os.mkdir(path)
            files = _Files(path)
            usage = files.cpu_usec()
        if self._has_peak is None:
            self._has_peak = os.path.exists(f"{files.path}/memory.peak")
        peak_reset = False
        if self._has_peak:
            try:  # Linux >= 6.12: writing resets the peak to the current usage
                with open(f"{files.path}/memory.peak", "w") as f:
                    f.write("0\n")
                peak_reset = True
            except OSError:
                self._has_peak = False
        return RunCgroup(files, usage, peak_reset)

    def release(self, cg: RunCgroup) -> None:
        """Return an empty cgroup to the pool; a still-populated one is killed and retired, and
        so is one that was ever killed: on some kernels (Linux 6.18 here) a child cloned into
        a cgroup after a ``cgroup.kill`` of it is SIGKILLed on entry (clone3's
        CLONE_INTO_CGROUP compares kill counters)."""
        if cg.populated():
            cg.kill()
            self._retired.append(cg.files)
        elif cg.killed:
            self._retired.append(cg.files)
        else:
            end = cg.cpu_usec_end if cg.cpu_usec_end is not None else cg.files.cpu_usec()
            self._free.append((cg.files, end))

    def close(self) -> None:
        """Remove every cgroup of the pool and the base (waits briefly for killed ones)."""
        all_files = [f for f, _ in self._free] + self._retired
        self._free, self._retired = [], []
        deadline = time.monotonic() + 1.0
        for files in all_files:
            files.close()
            while True:
                try:
                    os.rmdir(files.path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("cgroup not removed", path=files.path)
                        break
                    time.sleep(0.01)
        with contextlib.suppress(OSError):
            os.rmdir(self.base)


def _own_cgroup_dir() -> str | None:
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split(" ", 1)[0] == "cgroup2":
                mount = pre.split()[4]
                break
    if mount is None:
        return None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return mount + line[3:].strip().rstrip("/")
    return None


@cache
def detect_cgroup_parent(shell: str | None) -> str | None:
    """The directory under which run cgroups can be created, or None (reason logged).

    ``shell`` is the wrapper shell used to join the cgroup before exec; without one there is
    no race-free way to start a child inside a cgroup, so cgroups are not used.
    """
    if shell is None:
        log.info("cgroup v2 not used", reason="no wrapper shell to join a cgroup before exec")
        return None
    try:
        parent = _own_cgroup_dir()
        if parent is None or not os.access(parent, os.W_OK):
            log.info("cgroup v2 not used", reason="no writable cgroup2 directory", dir=parent)
            return None
        for stale in os.listdir(parent):  # leftovers of crashed drivers: remove empty ones
            owner = stale[len("calib-async-") :].split("-")[0]
            if stale.startswith("calib-async-") and not os.path.exists(f"/proc/{owner}"):
                for sub in os.listdir(f"{parent}/{stale}"):
                    kill = f"{parent}/{stale}/{sub}/cgroup.kill"  # escapees of a killed driver
                    with contextlib.suppress(OSError), open(kill, "w") as f:
                        f.write("1")
                    if os.path.isdir(f"{parent}/{stale}/{sub}"):
                        with contextlib.suppress(OSError):
                            os.rmdir(f"{parent}/{stale}/{sub}")
                with contextlib.suppress(OSError):
                    os.rmdir(f"{parent}/{stale}")
        probe = f"{parent}/calib-async-{os.getpid()}-probe"
        os.mkdir(probe)
        try:
            if not os.path.exists(f"{probe}/cgroup.kill"):
                log.info("cgroup v2 not used", reason="no cgroup.kill (Linux < 5.14)")
                return None
            script = 'echo $$ > "$1/cgroup.procs" && exec true'
            rc = subprocess.run(
                [shell, "-c", script, "probe", probe], capture_output=True, timeout=10
            ).returncode
            if rc != 0:
                log.info("cgroup v2 not used", reason="cannot move a process into a cgroup")
                return None
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(probe)
    except (OSError, subprocess.SubprocessError) as e:
        log.info("cgroup v2 not used", reason=str(e))
        return None
    log.info("cgroup v2 usable", parent=parent)
    return parent


def driver_cgroup_base() -> str | None:
    """Where this driver's run cgroups go (``open_pool`` may add ``-N``), or None without."""
    parent = detect_cgroup_parent(WRAPPER_SHELL)
    return None if parent is None else f"{parent}/calib-async-{os.getpid()}"


def open_pool(shell: str | None) -> CgroupPool | None:
    """A fresh pool under a base cgroup named after this driver, or None when unusable."""
    parent = detect_cgroup_parent(shell)
    if parent is None:
        return None
    base = f"{parent}/calib-async-{os.getpid()}"
    n = 0
    while True:
        try:
            os.mkdir(base if n == 0 else f"{base}-{n}")
            break
        except FileExistsError:
            n += 1
    return CgroupPool(base if n == 0 else f"{base}-{n}")
