"""Timeout attribution by stage: queue, cold import, elaboration; escalation on a fresh REPL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from calib_async.records import Outcome
from helpers.repl import lean_item, open_repl, repl_profile, repl_task

pytestmark = pytest.mark.anyio

GOOD = "import Mathlib\ntheorem good : True := trivial\n"


async def test_an_escalated_retry_runs_on_a_fresh_repl(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        task = repl_task(lean_item(tmp_path, "a", GOOD), timeout_s=5)
        first = await checker.check(task)
        retry = await checker.check(replace(task, attempt=1, timeout_s=10))
        assert retry.details["restart_reason"] == "escalation"
        assert retry.details["header"] == "cold" and retry.details["generation"] == 1
        assert retry.details["pid"] != first.details["pid"]
    finally:
        await checker.aclose()


async def test_a_slow_header_is_a_timeout_in_the_import_stage(tmp_path: Path) -> None:
    profile = repl_profile(header="import Mathlib\n-- standin: sleep 3000", header_timeout_s=0.3)
    checker = open_repl(profile, tmp_path)
    try:
        obs = await checker.check(repl_task(lean_item(tmp_path, "a", GOOD)))
        assert obs.verdict.outcome is Outcome.VERIFIER_TIMEOUT
        assert obs.details["timeout_stage"] == "import"
        assert obs.details["import_ms"] >= 300
    finally:
        await checker.aclose()


async def test_a_header_error_is_a_verifier_error(tmp_path: Path) -> None:
    checker = open_repl(
        repl_profile(header="import Nowhere\n-- standin: error no such module"), tmp_path
    )
    try:
        obs = await checker.check(repl_task(lean_item(tmp_path, "a", GOOD)))
        assert obs.verdict.outcome is Outcome.VERIFIER_ERROR
        assert "no such module" in (obs.verdict.first_error or "")
    finally:
        await checker.aclose()


async def test_the_queue_wait_is_recorded_and_can_time_out(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1, queue_timeout_s=0.3), tmp_path)
    slow = repl_task(lean_item(tmp_path, "slow", GOOD + "-- standin: sleep 1500\n"))
    seen = []

    async def one(task: object) -> None:
        seen.append(await checker.check(task))

    try:
        await checker.check(repl_task(lean_item(tmp_path, "warm", GOOD)))
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, slow)
            await anyio.wait_all_tasks_blocked()  # the slow proof holds the slot
            tg.start_soon(one, repl_task(lean_item(tmp_path, "waits", GOOD)))
    finally:
        await checker.aclose()
    waited = next(o for o in seen if o.details["timeout_stage"] == "queue")
    assert waited.verdict.outcome is Outcome.VERIFIER_TIMEOUT
    assert waited.details["queue_ms"] >= 300
    done = next(o for o in seen if o is not waited)
    assert done.verdict.outcome is Outcome.VERIFIED


async def test_a_missing_repl_stops_the_run_with_what_to_fix(tmp_path: Path) -> None:
    from calib_async.errors import CalibError
    from calib_async.profiles import VerifierConfig

    profile = VerifierConfig(
        name="repl",
        kind="lean_repl",
        command=("no-such-repl-here",),
        options={"header": "import Mathlib"},
    )
    checker = open_repl(profile, tmp_path)
    try:
        with pytest.raises(CalibError, match="cannot start the REPL 'no-such-repl-here'"):
            await checker.check(repl_task(lean_item(tmp_path, "a", GOOD)))
    finally:
        await checker.aclose()
