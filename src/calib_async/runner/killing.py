"""Killing one process of a checker tree without racing pid reuse."""

from __future__ import annotations

import os
import signal
from contextlib import suppress

from calib_async.runner.sampler import read_stat


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
