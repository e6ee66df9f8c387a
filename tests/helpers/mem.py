"""Test child: hold MB mebibytes of touched memory for HOLD seconds, free it, linger AFTER
seconds, and print its own VmHWM in KiB (the kernel's exact peak for this process).

Usage: mem.py MB [HOLD] [AFTER]
"""

import sys
import time

mb = int(sys.argv[1])
hold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
after = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
block = b"\x01" * (mb * 2**20)  # allocated and written: resident
time.sleep(hold)
del block
time.sleep(after)
with open("/proc/self/status") as f:
    print(next(line.split()[1] for line in f if line.startswith("VmHWM:")))
