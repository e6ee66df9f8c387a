"""No checker outlives its driver: a run token, a watcher, and a record in the output directory.

Three layers, each catching what the one before can miss:

1. **PR_SET_PDEATHSIG** (:mod:`calib_async.runner.spawn`): every checker leader is started
   through ``setpriv --pdeathsig KILL`` (util-linux), so the kernel SIGKILLs it the moment the
   driver dies, even by ``kill -9``. Descendants do not inherit it.
2. **The watcher** (:func:`claim_output_dir`): every checker gets ``CALIB_ASYNC_RUN=<token>`` in
   its environment, a token unique to this driver and run; descendants inherit it, ``setsid``
   or not. A tiny ``dash`` process started per run blocks on a pipe whose write end only the
   driver holds. When the driver exits, however it exits, the pipe closes and the watcher
   writes ``cgroup.kill`` of this driver's run cgroups when there are any, and SIGKILLs every
   process whose *initial* environment (``/proc/PID/environ``) holds the token, again every
   0.1 s while it finds any (up to 5 passes: a forking escapee's new children inherit it). A
   token never matches a process of another run, so a reused pid is never hit.
3. **The record** (``<output-dir>/.calib-async-driver.json``: driver pid, its start time in
   clock ticks since boot, the boot id and the token): written when a run starts, removed when
   it ends. A run starting on the same output directory that finds a record of a driver that is
   no longer alive (the pid is gone, or now belongs to a process with another start time, or
   the machine rebooted) kills what still carries that driver's token before it starts (the
   watcher was killed too, e.g. by ``kill -9`` of the whole process group). A record of a
   driver that *is* alive means another calibration is running on the directory: refused.

Not covered: a descendant that re-``exec``s itself with a cleared environment *and* left the
leader's session (``setsid`` plus ``env -i``) is found only through the run's cgroup, where
cgroups are usable (:mod:`calib_async.runner.cgroups`); without cgroups it can survive.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import structlog

from calib_async.errors import CalibError

log = structlog.get_logger(__name__)

TOKEN_VAR = "CALIB_ASYNC_RUN"
RECORD_NAME = ".calib-async-driver.json"
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
_SHELL = shutil.which("dash", path=_SYSTEM_PATH) or shutil.which("sh", path=_SYSTEM_PATH)
_token: str | None = None  # the token of the run in progress in this process, if any

_WATCHER = (  # $1: token; $2: cgroup base or "-". Blocks until the driver's pipe closes.
    "while read -r _; do :; done"
    '; [ "$2" = - ] || for k in "$2"/run-*/cgroup.kill "$2"-[0-9]*/run-*/cgroup.kill; do'
    ' [ -e "$k" ] && echo 1 > "$k"; done 2>/dev/null'
    "; i=0; while [ $i -lt 5 ]; do hit="
    '; for f in $(grep -lzx "' + TOKEN_VAR + '=$1" /proc/[0-9]*/environ 2>/dev/null); do'
    ' p=${f#/proc/}; kill -9 "${p%/environ}" 2>/dev/null && hit=1; done'
    '; [ -n "$hit" ] || break; i=$((i+1)); sleep 0.1; done'
)


def current_token() -> str | None:
    """The token checkers of the run in progress carry (None outside a run)."""
    return _token


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if there is no such pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data.rsplit(b")", 1)[1].split()[19])


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def kill_token_holders(token: str) -> int:
    """SIGKILL every process whose initial environment holds ``token``; how many were hit.

    Each candidate is pinned with a pidfd first and its environment read after, so the signal
    goes to the process that was checked even if its pid is reused meanwhile.
    """
    needle = f"\0{TOKEN_VAR}={token}\0".encode()
    killed = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            pidfd = os.pidfd_open(int(name))
        except OSError:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = b"\0" + f.read()
            if needle in env + b"\0":
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed += 1
        except OSError:
            pass
        finally:
            os.close(pidfd)
    return killed


def _reap_previous(record: Path) -> None:
    """Kill what a dead driver left; refuse when the recorded driver still runs."""
    try:
        data = json.loads(record.read_text())
        pid, start, boot, token = data["pid"], data["start"], data["boot"], data["token"]
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("unreadable driver record ignored", path=str(record))
        return
    if boot == _boot_id() and _start_time(pid) == start:
        raise CalibError(
            f"another calibration (pid {pid}) is running on this output directory ({record}); "
            "wait for it to finish, stop it, or choose another --output-dir"
        )
    if boot == _boot_id():
        killed = kill_token_holders(token)
        if killed:
            log.warning("killed leftovers of a driver that died", pid=pid, processes=killed)


def _start_watcher(
    token: str, cgroup_prefix: str | None
) -> tuple[subprocess.Popen[bytes] | None, int]:
    """The watcher and the write end of its pipe; without a shell, (None, -1) and a warning."""
    if _SHELL is None:
        log.warning("no leftover watcher: no shell in /usr/bin or /bin")
        return None, -1
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        proc = subprocess.Popen(
            [_SHELL, "-c", _WATCHER, "calib-async-watcher", token, cgroup_prefix or "-"],
            stdin=read_fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": _SYSTEM_PATH},  # grep, kill and sleep, whatever the driver's PATH
            start_new_session=True,  # a Ctrl-C to the terminal's group must not kill it first
        )
    except OSError as exc:
        os.close(write_fd)
        log.warning("no leftover watcher", error=str(exc))
        return None, -1
    finally:
        os.close(read_fd)
    return proc, write_fd


@contextlib.contextmanager
def claim_output_dir(output_dir: Path, *, cgroup_prefix: str | None = None) -> Iterator[str]:
    """Run the block as the one driver of ``output_dir``; yields the run token.

    On entry: leftovers of a dead previous driver are killed, another live driver refuses the
    run (CalibError), the record is written and the watcher started. On exit (normal, error or
    cancellation): the watcher is released (it kills whatever still carries the token) and the
    record removed. ``cgroup_prefix``: this driver's cgroup base (``.../calib-async-PID``).

    **Threads:** checkers must be spawned from a thread that outlives them (PR_SET_PDEATHSIG
    fires when the spawning *thread* ends); the runner spawns from the event-loop thread.
    """
    global _token
    record = output_dir / RECORD_NAME
    if record.exists():
        _reap_previous(record)
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    start = _start_time(os.getpid())
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(
        json.dumps({"pid": os.getpid(), "start": start, "boot": _boot_id(), "token": token})
    )
    os.replace(tmp, record)
    watcher, write_fd = _start_watcher(token, cgroup_prefix)
    previous, _token = _token, token
    try:
        yield token
    finally:
        _token = previous
        if watcher is not None:
            os.close(write_fd)  # the watcher wakes, kills leftovers (if any) and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                watcher.wait(timeout=10)
        with contextlib.suppress(OSError):
            record.unlink()
