"""pause.py and the runner's clock: a driver stopped with SIGSTOP never turns a run that
finished in time into a timeout; runs it could not watch are marked and not counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from calib_async.records import Outcome
from calib_async.stats.record_arrays import to_columns
from helpers import make_record

DRIVER = """
import anyio, json, sys
from calib_async.runner.measured import run_process_measured
from calib_async.runner.spec import ExecSpec
spec = ExecSpec(("sleep", sys.argv[1]), timeout_s=float(sys.argv[2]), env={"PATH": "/usr/bin:/bin"})
r = anyio.run(run_process_measured, spec)
print(json.dumps([r.termination.value, r.exit_code, r.duration_ms, list(r.warnings)]))
"""


def _checker_runs(driver: int, arg: str) -> bool:
    """Whether the driver's checker has exec'd ``sleep arg`` (not merely been forked)."""
    try:
        children = psutil.Process(driver).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for p in children:
        try:
            if p.name() == "sleep" and arg in p.cmdline():
                return True
        except psutil.Error:
            continue
    return False


def _paused_run(sleep_s: float, timeout_s: float, pause_s: float = 4.0) -> list:
    """Run a checker ``sleep`` from a fresh driver that is stopped for ``pause_s`` right after
    the checker started; the driver's result."""
    arg = f"{sleep_s}{uuid.uuid4().int % 10**6:06d}"  # unique: finds our checker
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, arg, str(timeout_s)], stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _checker_runs(driver.pid, arg):
            assert time.monotonic() < deadline and driver.poll() is None, "no checker started"
            time.sleep(0.01)  # another process's start: nothing to await
        os.kill(driver.pid, signal.SIGSTOP)
        time.sleep(pause_s)  # the pause itself
        os.kill(driver.pid, signal.SIGCONT)
        out, _ = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("attempt", range(3))
def test_a_stopped_driver_records_no_false_timeout(attempt: int) -> None:
    termination, exit_code, duration_ms, warnings = _paused_run(0.3, 2.0)
    assert termination == "exited" and exit_code == 0, (termination, warnings)
    assert "driver_paused" in warnings  # the 4 s it could not watch are in duration_ms
    assert duration_ms > 3000


def test_a_checker_still_running_after_its_budget_is_a_timeout_pause_or_not() -> None:
    termination, _, _, _ = _paused_run(30, 2.0)
    assert termination == "timeout"


def test_a_run_the_driver_could_not_watch_is_not_counted() -> None:
    ok = make_record("M.a", outcome=Outcome.VERIFIED.value)
    paused = make_record("M.b", outcome=Outcome.VERIFIED.value, warnings=["driver_paused"])
    cols = to_columns([ok, paused], [], ["FAST"])
    assert cols.items == ("M.a",) and len(cols.runs["FAST"].outcome) == 1
