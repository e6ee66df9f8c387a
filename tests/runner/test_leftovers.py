"""runner/leftovers.py: the run token, the watcher and the driver record (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from calib_async.errors import CalibError
from calib_async.runner.leftovers import (
    RECORD_NAME,
    TOKEN_VAR,
    _boot_id,
    _start_time,
    claim_output_dir,
    current_token,
    kill_token_holders,
)


def _sleeper(token: str | None) -> subprocess.Popen[bytes]:
    env = {"PATH": os.environ["PATH"]}
    if token is not None:
        env[TOKEN_VAR] = token
    return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)


def _gone_within(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_only_holders_of_the_token_are_killed() -> None:
    holder, other, other_token = _sleeper("t-1"), _sleeper(None), _sleeper("t-10")
    try:
        assert kill_token_holders("t-1") == 1
        assert _gone_within(holder, 5)
        assert other.poll() is None and other_token.poll() is None
    finally:
        for p in (holder, other, other_token):
            p.kill()
            p.wait()


def test_the_watcher_kills_token_holders_when_the_run_ends(tmp_path: Path) -> None:
    with claim_output_dir(tmp_path) as token:
        assert current_token() == token
        assert (tmp_path / RECORD_NAME).is_file()
        escapee = _sleeper(token)  # as a setsid grandchild of a checker would carry it
    assert current_token() is None
    assert not (tmp_path / RECORD_NAME).exists()
    try:
        assert _gone_within(escapee, 3)
    finally:
        escapee.kill()
        escapee.wait()


def test_a_live_driver_on_the_same_directory_refuses_the_run(tmp_path: Path) -> None:
    record = {"pid": os.getpid(), "start": _start_time(os.getpid()), "boot": _boot_id(),
              "token": "x"}  # fmt: skip
    (tmp_path / RECORD_NAME).write_text(json.dumps(record))
    with (
        pytest.raises(CalibError, match=r"^another calibration \(pid \d+\) is running"),
        claim_output_dir(tmp_path),
    ):
        pass


def test_leftovers_of_a_dead_driver_are_killed_at_the_next_start(tmp_path: Path) -> None:
    dead = subprocess.Popen(["sleep", "60"])
    start = _start_time(dead.pid)
    dead.kill()
    dead.wait()
    leftover = _sleeper("dead-driver-token")
    record = {"pid": dead.pid, "start": start, "boot": _boot_id(), "token": "dead-driver-token"}
    (tmp_path / RECORD_NAME).write_text(json.dumps(record))
    try:
        t0 = time.monotonic()
        with claim_output_dir(tmp_path):
            assert _gone_within(leftover, 3), "the dead driver's leftover survived the start"
        assert time.monotonic() - t0 < 10
    finally:
        leftover.kill()
        leftover.wait()


def test_a_checker_outlives_the_idle_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: PR_SET_PDEATHSIG fires when the spawning *thread* ends; spawned from an
    anyio worker thread (pruned once idle), a long checker was SIGKILLed mid-run."""
    import time as clock

    import anyio
    import anyio._backends._asyncio as asyncio_backend

    from calib_async.runner.measured import run_process_measured
    from calib_async.runner.sampler import TreeSampler
    from calib_async.runner.spec import ExecSpec, Termination

    monkeypatch.setattr(asyncio_backend.WorkerThread, "MAX_IDLE_TIME", 0.05)
    results: list[object] = []

    async def main() -> None:
        async with TreeSampler(interval_s=0.2) as sampler, anyio.create_task_group() as tg:
            spec = ExecSpec(("sleep", "1.5"), timeout_s=30, env={"PATH": os.environ["PATH"]})

            async def checker() -> None:
                results.append(await run_process_measured(spec, sampler=sampler))

            tg.start_soon(checker)
            await anyio.sleep(0.3)  # spawned; the spawning thread is idle now
            async with anyio.create_task_group() as busy:  # reuse it, and start a second one
                busy.start_soon(anyio.to_thread.run_sync, clock.sleep, 0.05)
                busy.start_soon(anyio.to_thread.run_sync, clock.sleep, 0.2)
            await anyio.sleep(0.2)
            await anyio.to_thread.run_sync(lambda: None)  # prunes the threads idle > 0.05 s

    anyio.run(main, backend="asyncio")
    result = results[0]
    assert result.termination is Termination.EXITED  # type: ignore[attr-defined]
    assert result.exit_code == 0, result  # type: ignore[attr-defined]
