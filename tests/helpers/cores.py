"""Test checker: a CPU-bound job on a machine of SLOTS cores, made explicit.

Usage: cores.py LOCKDIR SLOTS CPU_SECONDS FILE. The run takes one of SLOTS core slots (flock
on LOCKDIR/slotN, polled), burns CPU_SECONDS of CPU time, and exits 0. With k runs in flight
on 2 slots a run waits for about ceil(k/2) - 1 others: its wall time grows with the level
whatever else the (shared) machine runs, which only scales every level alike.
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
start = time.process_time()
while time.process_time() - start < seconds:
    pass
