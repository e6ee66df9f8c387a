"""No REPL outlives what started it: a cancelled check, a closed checker, a killed driver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from calib_async.records import Outcome
from helpers import run_env
from helpers.repl import lean_item, open_repl, repl_profile, repl_task, standin_argv

GOOD = "import Mathlib\ntheorem good : True := trivial\n"


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"  # a zombie is dead
    except OSError:
        return True


def wait_gone(pids: list[int], limit_s: float = 30) -> bool:
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if all(gone(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.anyio
async def test_a_cancelled_check_kills_and_reaps_its_repl(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        first = await checker.check(repl_task(lean_item(tmp_path, "a", GOOD)))
        hang = repl_task(lean_item(tmp_path, "hang", GOOD + "-- standin: hang\n"))
        with anyio.move_on_after(0.5):
            await checker.check(hang)
        assert gone(first.details["pid"])
        after = await checker.check(repl_task(lean_item(tmp_path, "b", GOOD)))
        assert after.verdict.outcome is Outcome.VERIFIED
        assert after.details["generation"] == 1
    finally:
        await checker.aclose()
    assert gone(after.details["pid"])


DRIVER = """
import sys, anyio
from pathlib import Path
from calib_async.runner.leftovers import claim_output_dir
from calib_async.checkers.lean_repl.process import ReplProcess

async def main(argv):
    procs = [ReplProcess(argv, env={"PATH": "/usr/bin:/bin"}, cwd=None) for _ in range(2)]
    print(" ".join(str(p.pid) for p in procs), flush=True)
    await anyio.sleep(120)

with claim_output_dir(Path(sys.argv[1])):
    anyio.run(main, sys.argv[2:])
"""


def test_no_repl_survives_a_killed_driver(tmp_path: Path) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path), *standin_argv()],
        stdout=subprocess.PIPE,
        env=run_env(),
        start_new_session=True,
    )
    try:
        assert driver.stdout is not None
        pids = [int(p) for p in driver.stdout.readline().split()]
        assert len(pids) == 2 and not any(gone(p) for p in pids)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
        assert wait_gone(pids), "a REPL outlived its driver"
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if driver.stdout is not None:
            driver.stdout.close()
