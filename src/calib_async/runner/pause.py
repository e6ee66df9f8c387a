"""Did the driver stop running for a while? (SIGSTOP, Ctrl-Z, a VM or laptop pause, a long
stall.) While it is stopped it cannot watch its checkers: a checker that exits then is seen
only at the resume, after its deadline perhaps, and with a wall time that includes the pause.

:func:`pause_near` tells whether such a pause may hide when a run ended. A daemon thread ticks
every :data:`TICK_S`; a gap between two ticks longer than :data:`GAP_S` is recorded as a pause
(a stopped process runs none of its threads, and a tick late by a second is not scheduling
noise even at load 10). At a resume the event loop may run before that thread has noticed the
gap: a last tick older than ``GAP_S`` counts as a pause in progress. Cost: about 10 wake-ups a
second, per driver process.
"""

from __future__ import annotations

import os
import threading
import time

TICK_S = 0.1
GAP_S = 1.0
_MAX_PAUSES = 64

_lock = threading.Lock()
_owner = -1  # the process whose thread ticks
_last_tick = 0.0
_pauses: list[tuple[float, float]] = []  # (last tick before, first tick after), monotonic


def _tick() -> None:
    global _last_tick
    while True:
        time.sleep(TICK_S)
        now = time.monotonic()
        with _lock:
            if now - _last_tick > GAP_S:
                _pauses.append((_last_tick, now))
                del _pauses[:-_MAX_PAUSES]
            _last_tick = now


def start() -> None:
    """Start the ticking thread of this process (idempotent; again after a fork)."""
    global _owner, _last_tick
    with _lock:
        if _owner == os.getpid():
            return
        _owner, _last_tick = os.getpid(), time.monotonic()
        _pauses.clear()
    threading.Thread(target=_tick, name="calib-async-pause-watch", daemon=True).start()


def pause_near(since: float, seen: float, window: float = 0.5) -> bool:
    """Whether the driver may have been paused between ``since`` and ``seen`` (monotonic) in
    a way that hides when something ended: a pause in progress, or one that overlapped the
    interval and ended less than ``window`` s before ``seen``."""
    with _lock:
        if _owner != os.getpid():
            return False
        if seen - _last_tick > GAP_S:
            return True
        return any(end > since and end >= seen - window for _, end in _pauses)
