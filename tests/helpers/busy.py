"""Test child: burn CPU, optionally in a grandchild; print the CPU seconds it measured itself.

Usage: busy.py SECONDS [--grandchild]. Prints own user+sys plus that of waited-for children
(os.times), i.e. what wait4 should report for this process.
"""

import os
import subprocess
import sys
import time

seconds = float(sys.argv[1])
if "--grandchild" in sys.argv:
    subprocess.run([sys.executable, __file__, str(seconds)], check=True, stdout=subprocess.DEVNULL)
else:
    while time.process_time() < seconds:  # counted from process start: a SECONDS-long checker
        pass
t = os.times()
print(t.user + t.system + t.children_user + t.children_system)
