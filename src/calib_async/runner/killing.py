"""Killing one process of a checker tree without racing pid reuse."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from contextlib import suppress

import structlog

from calib_async.runner.sampler import read_stat

log = structlog.get_logger(__name__)


def kill_verified(pid: int, start: int, sig: int) -> bool:
    """Signal ``pid`` only if it is still the process that started at ``start`` (pidfd: no race
    with pid reuse). A process that leads its own group gets the group killed too."""
    try:
        pfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        st = read_stat(pid)
        if st is None or st[4] != start:
            return False
        if st[1] == pid:  # its own group (setsid): pinned while its leader lives
            with suppress(OSError):
                os.killpg(pid, sig)
        signal.pidfd_send_signal(pfd, sig)
        return True
    except OSError:
        return False
    finally:
        os.close(pfd)


def kill_pipe_holders(fds: Iterable[int]) -> None:
    """Last resort for a descendant nobody saw that still holds these pipes open: SIGKILL every
    process with one of them among its fds (and its group, when it leads one)."""
    targets = {f"pipe:[{os.fstat(fd).st_ino}]" for fd in fds}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        with suppress(OSError):
            pfd = os.pidfd_open(pid)
            try:
                links = {os.readlink(f"/proc/{pid}/fd/{n}") for n in os.listdir(f"/proc/{pid}/fd")}
                if links & targets:
                    st = read_stat(pid)
                    if st is not None and st[1] == pid:
                        os.killpg(pid, signal.SIGKILL)
                    signal.pidfd_send_signal(pfd, signal.SIGKILL)
                    log.info("killed a holder of the output pipes", pid=pid)
            finally:
                os.close(pfd)
