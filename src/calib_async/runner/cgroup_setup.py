"""Which limit mechanism this driver uses, found once at start-up (:func:`detect_layout`).

In order of preference:

1. **cgroup2** (``Mechanism.CGROUP2``): the driver's cgroup v2 directory offers the ``memory``
   and ``pids`` controllers and is writable (a delegated systemd scope or a container's own
   cgroup namespace). The driver moves itself into a leaf of its own (``calib-async-driver-PID``;
   the no-internal-processes rule forbids controllers on a cgroup that holds processes) and
   enables ``memory pids cpu`` for the run cgroups, which live under ``calib-async-PID``.
2. **cgroup1** (``Mechanism.CGROUP1``): the v1 ``memory`` and ``pids`` hierarchies (and
   ``cpuacct`` when there) are mounted and our cgroup in each is writable. Run cgroups are
   created there, under the driver's own cgroup of each hierarchy (so the limits of the
   enclosing cgroups still apply).
3. **rlimit** (``Mechanism.RLIMIT``): nothing of the above. Memory is limited by RLIMIT_AS and
   the sampler's RSS watchdog, processes by RLIMIT_NPROC and its process watchdog. Logged once,
   with the command that grants a delegated cgroup.

With 2 or 3, a controller-less cgroup v2 (``unified`` in systemd's hybrid layout) is still used
when writable, for ``cgroup.kill`` (Linux >= 5.14) and ``cpu.stat``: it kills a descendant that
escaped the session before any sample saw it. ``CALIB_ASYNC_LIMITS=rlimit`` in the environment
forces 3 (tests, or a machine whose cgroups misbehave); it is read when a pool is opened.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from functools import cache

import structlog

from calib_async.runner.spawn import SHELL
from calib_async.runner.spec import Mechanism

log = structlog.get_logger(__name__)

FORCE_VAR = "CALIB_ASYNC_LIMITS"
DELEGATE_HINT = (
    "systemd-run --user --scope -p Delegate=yes -- calibrate_noise ... (a user session), or "
    "run the container with its own writable cgroup v2 namespace (docker run --cgroupns=private)"
)
_V1 = ("memory", "pids", "cpuacct")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where run cgroups are created: a parent directory per hierarchy (None: unused)."""

    mechanism: Mechanism
    v2: str | None = None  # cgroup2 parent (kill and cpu.stat; and the controllers with CGROUP2)
    memory: str | None = None  # v1 parents (CGROUP1)
    pids: str | None = None
    cpuacct: str | None = None


def _mounts() -> tuple[str | None, dict[str, str]]:
    """(cgroup2 mount point, {v1 controller: mount point})."""
    v2: str | None = None
    v1: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = post.split()
            if not fields:
                continue
            if fields[0] == "cgroup2" and v2 is None:
                v2 = pre.split()[4]
            elif fields[0] == "cgroup" and len(fields) > 2:
                for opt in fields[2].split(","):
                    if opt in _V1:
                        v1.setdefault(opt, pre.split()[4])
    return v2, v1


def _own_paths() -> tuple[str | None, dict[str, str]]:
    """Our cgroup path in v2 and per v1 controller, from /proc/self/cgroup."""
    v2: str | None = None
    v1: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            num, controllers, path = line.rstrip("\n").split(":", 2)
            if num == "0" and controllers == "":
                v2 = path
            for c in controllers.split(","):
                if c in _V1:
                    v1[c] = path
    return v2, v1


def _join(mount: str, path: str) -> str:
    return mount + path.rstrip("/")


def _can_join(shell: str, directory: str, need: str | None = None) -> bool:
    """Whether a child cgroup (with the file ``need``) can be made under ``directory`` and a
    process moved into it."""
    probe = f"{directory}/calib-async-{os.getpid()}-probe"
    try:
        os.mkdir(probe)
    except OSError:
        return False
    try:
        if need is not None and not os.path.exists(f"{probe}/{need}"):
            return False
        script = 'echo $$ > "$1/cgroup.procs" && exec true'
        run = subprocess.run([shell, "-c", script, "probe", probe], capture_output=True, timeout=10)
        return run.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


def remove_stale(parent: str) -> None:
    """Remove empty run cgroups left by drivers that are gone (their escapees killed first)."""
    with contextlib.suppress(OSError):
        for stale in os.listdir(parent):
            owner = stale[len("calib-async-") :].split("-")[0]
            if not stale.startswith("calib-async-") or not owner.isdigit():
                continue
            if os.path.exists(f"/proc/{owner}"):
                continue
            base = f"{parent}/{stale}"
            with contextlib.suppress(OSError):
                for sub in os.listdir(base):
                    if not os.path.isdir(f"{base}/{sub}"):
                        continue
                    with contextlib.suppress(OSError), open(f"{base}/{sub}/cgroup.kill", "w") as f:
                        f.write("1")  # escapees of a killed driver (v2 only)
                    with contextlib.suppress(OSError):
                        os.rmdir(f"{base}/{sub}")
            with contextlib.suppress(OSError):
                os.rmdir(base)


def _v2_delegated(directory: str) -> bool:
    """Move this driver into a leaf and enable memory, pids (and cpu) below ``directory``."""
    try:
        with open(f"{directory}/cgroup.controllers") as f:
            offered = set(f.read().split())
        if not {"memory", "pids"} <= offered or not os.access(directory, os.W_OK):
            return False
        with open(f"{directory}/cgroup.subtree_control") as f:
            enabled = set(f.read().split())
        want = {"memory", "pids"} | ({"cpu"} & offered)
        if want <= enabled:  # someone delegated to us with the controllers on: no processes here
            return True
        leaf = f"{directory}/calib-async-driver-{os.getpid()}"
        os.makedirs(leaf, exist_ok=True)
        with open(f"{leaf}/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        try:
            with open(f"{directory}/cgroup.subtree_control", "w") as f:
                f.write(" ".join(f"+{c}" for c in sorted(want - enabled)))
        except OSError as e:  # other processes share our cgroup: back where we were
            with open(f"{directory}/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
            with contextlib.suppress(OSError):
                os.rmdir(leaf)
            log.info("cgroup v2 controllers not enabled", dir=directory, reason=str(e))
            return False
        return True
    except OSError as e:
        log.info("cgroup v2 controllers not usable", dir=directory, reason=str(e))
        return False


@cache
def _detect(shell: str | None) -> Layout:
    if shell is None:
        log.warning("no per-run cgroups: no POSIX shell to join one before exec")
        return Layout(Mechanism.RLIMIT)
    try:
        v2_mount, v1_mounts = _mounts()
        v2_path, v1_paths = _own_paths()
    except (OSError, ValueError) as e:
        log.warning("no per-run cgroups", reason=str(e))
        return Layout(Mechanism.RLIMIT)
    v2 = None
    if v2_mount is not None and v2_path is not None:
        d = _join(v2_mount, v2_path)
        if os.access(d, os.W_OK):  # cgroup.kill: Linux >= 5.14 (not in the root cgroup)
            remove_stale(d)
            if _can_join(shell, d, "cgroup.kill"):
                if _v2_delegated(d):
                    log.info("limits: cgroup v2 controllers", parent=d)
                    return Layout(Mechanism.CGROUP2, v2=d)
                v2 = d
    v1: dict[str, str] = {}
    for c in _V1:
        if c in v1_mounts and c in v1_paths:
            d = _join(v1_mounts[c], v1_paths[c])
            if os.access(d, os.W_OK):
                remove_stale(d)
                if _can_join(shell, d):
                    v1[c] = d
    if "memory" in v1 and "pids" in v1:
        log.info("limits: cgroup v1 controllers", kill_cgroup=v2, **v1)
        return Layout(Mechanism.CGROUP1, v2, v1["memory"], v1["pids"], v1.get("cpuacct"))
    log.warning(
        "limits: no usable memory/pids cgroup controller; memory is limited by RLIMIT_AS and"
        " an RSS watchdog, processes by RLIMIT_NPROC and a watchdog",
        kill_cgroup=v2,
        grant_delegation=DELEGATE_HINT,
    )
    return Layout(Mechanism.RLIMIT, v2)


def detect_layout() -> Layout:
    """This driver's layout (detected once; ``CALIB_ASYNC_LIMITS=rlimit`` forces the fallback,
    keeping the controller-less cgroup v2 for kills)."""
    layout = _detect(SHELL)
    if os.environ.get(FORCE_VAR) == "rlimit" and layout.mechanism is not Mechanism.RLIMIT:
        return Layout(Mechanism.RLIMIT, layout.v2)
    return layout
