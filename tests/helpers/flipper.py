"""Test checker whose verdict flips with probability P on every run, independently.

Usage: flipper.py COUNTER P FILE. The n-th run (a counter in the file COUNTER, under flock)
draws from a generator seeded with n, so a sequential run (--workers 1) is reproducible.
Exit 0 (VERIFIED) normally, exit 1 (PROOF_INVALID) when flipped.
"""

import fcntl
import random
import sys

counter, p = sys.argv[1], float(sys.argv[2])
with open(counter, "a+") as fh:
    fcntl.flock(fh, fcntl.LOCK_EX)
    fh.seek(0)
    n = len(fh.read())
    fh.write(".")
sys.exit(1 if random.Random(f"flipper-{n}").random() < p else 0)
