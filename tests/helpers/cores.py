"""Test checker: a CPU-bound job on a machine of SLOTS cores, made explicit.

Usage: cores.py LOCKDIR SLOTS SECONDS FILE. The run takes one of SLOTS core slots (flock on
LOCKDIR/slotN, polled), holds it for SECONDS of wall time, and exits 0. With k runs in flight
on 2 slots a run waits for about ceil(k/2) - 1 others: its wall time grows with the level, and
only with the level. (It used to burn SECONDS of CPU in the slot: on a shared machine that
stretched with whatever else ran, by a different factor from one level's block to the next,
and the load test failed about one suite run in four.)
"""

import fcntl
import os
import sys
import time

lockdir, slots, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fds = [
    os.open(os.path.join(lockdir, f"slot{i}"), os.O_RDWR | os.O_CREAT, 0o600) for i in range(slots)
]
held = False
while not held:
    for fd in fds:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
            break
        except BlockingIOError:
            continue
    if not held:
        time.sleep(0.005)
time.sleep(seconds)
