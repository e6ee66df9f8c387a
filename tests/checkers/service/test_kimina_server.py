"""The service kind against the real kimina-lean-server (kimina-ast-server 2.1.3) over the
stand-in REPL. Skips with the builder's reason where no Python >= 3.12 exists."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from calib_async.checkers.api import OpenContext
from calib_async.checkers.service import leak
from calib_async.checkers.service.checker import ServiceChecker
from calib_async.checkers.service.kind import KIND
from calib_async.records import Outcome
from helpers.fake_service import service_config, service_task
from helpers.kimina import KiminaServer

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def open_checker(url: str) -> ServiceChecker:
    ctx = OpenContext(work_dir=Path("/tmp"), backend=None)  # type: ignore[arg-type]
    checker = KIND.open(service_config(url, grace_s=5), ctx)
    assert isinstance(checker, ServiceChecker)
    return checker


HEADER = "import Mathlib\n"
CASES = [
    # (snippet, tier timeout, outcome, reason, server status, raw error fragment)
    ("theorem a : True := trivial", 5, Outcome.VERIFIED, "valid", "valid", None),
    ("theorem b : True := sorry", 5, Outcome.PROOF_INVALID, "sorry", "sorry", None),
    (
        "-- standin: error boom\ntheorem c : True := trivial",
        5,
        Outcome.PROOF_INVALID,
        "lean_error",
        "lean_error",
        None,
    ),
    (
        "-- standin: heartbeats 400000\ntheorem d : True := trivial",
        5,
        Outcome.VERIFIER_TIMEOUT,
        "heartbeat",
        "lean_error",
        None,
    ),
    (
        "-- standin: sleep 4000\ntheorem e : True := trivial",
        1,
        Outcome.VERIFIER_TIMEOUT,
        "timeout",
        "timeout_error",
        "Lean REPL command timed out",
    ),
    (
        "-- standin: crash\ntheorem f : True := trivial",
        5,
        Outcome.VERIFIER_ERROR,
        "crash",
        "server_error",
        "Snippet execution failed",
    ),
]


async def test_verdict_mapping_with_raw_strings(kimina: KiminaServer, tmp_path: Path) -> None:
    checker = open_checker(kimina.url)
    try:
        assert (await checker.version() or "").endswith("2.1.3")
        for i, (text, timeout, outcome, reason, status, raw) in enumerate(CASES):
            task = service_task(tmp_path, HEADER + text, timeout_s=timeout, item_id=f"m{i}")
            with anyio.fail_after(timeout + 30):
                obs = await checker.check(task)
            d = obs.details
            got = (obs.verdict.outcome, d["reason"], d["server_status"])
            assert got == (outcome, reason, status), (text, d, kimina.log_tail())
            if raw is not None:
                assert raw in d["raw_error"]
            assert d["http_status"] == 200
            if d["server_time_s"] is not None:
                # the server's clock runs inside our request
                assert d["server_time_s"] <= d["client_time_s"] + 0.05
    finally:
        await checker.aclose()


async def test_capacity_when_the_only_repl_is_busy(kimina: KiminaServer, tmp_path: Path) -> None:
    checker = open_checker(kimina.url)
    busy = service_task(
        tmp_path, "-- standin: sleep 5000\ntheorem g : True := trivial", timeout_s=8, item_id="busy"
    )
    other = service_task(tmp_path, "theorem h : True := trivial", timeout_s=8, item_id="other")
    results = {}

    async def run(name: str, task: object) -> None:
        results[name] = await checker.check(task)  # type: ignore[arg-type]

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "busy", busy)
                await anyio.sleep(1.0)  # the busy one holds the REPL (stand-in sleep 5 s)
                tg.start_soon(run, "other", other)
    finally:
        await checker.aclose()
    d = results["other"].details
    assert (results["other"].verdict.outcome, d["reason"]) == (Outcome.VERIFIER_ERROR, "capacity")
    assert d["raw_error"] == "No available REPLs"
    assert results["busy"].verdict.outcome is Outcome.VERIFIED


async def run_pairs(
    checker: ServiceChecker, tmp: Path, pairs: range, *, define_reuse: bool, reuse: bool
) -> leak.LeakScore:
    seen = []
    for k in pairs:
        for snippet in leak.leak_pair(k):
            fresh = snippet.role is leak.Role.DEFINE
            task = service_task(
                tmp,
                snippet.text,
                timeout_s=5,
                item_id=f"leak{k}{snippet.role}",
                reuse=define_reuse if fresh else reuse,
            )
            with anyio.fail_after(40):
                obs = await checker.check(task)
            seen.append((snippet.role, obs.verdict.outcome))
    return leak.score(seen)


async def test_state_leak_pairs_show_spurious_passes_and_fails_only_with_reuse(
    kimina: KiminaServer, tmp_path: Path
) -> None:
    checker = open_checker(kimina.url)
    try:
        # the definer on a fresh REPL (its env 0), the next two reuse it: the leak
        leaky = await run_pairs(checker, tmp_path, range(3), define_reuse=False, reuse=True)
        # every snippet on a fresh REPL: no leak
        clean = await run_pairs(checker, tmp_path, range(3, 6), define_reuse=False, reuse=False)
    finally:
        await checker.aclose()
    assert (leaky.spurious_pass, leaky.spurious_fail, leaky.undecided) == (3, 3, 0)
    assert (clean.spurious_pass, clean.spurious_fail, clean.undecided) == (0, 0, 0)


async def test_reuse_false_gets_a_fresh_repl(kimina: KiminaServer, tmp_path: Path) -> None:
    checker = open_checker(kimina.url)
    uuids = {}
    try:
        for reuse in (True, True, False, False):
            task = service_task(
                tmp_path,
                HEADER + "theorem r : True := trivial",
                timeout_s=5,
                item_id=f"r{len(uuids)}",
                reuse=reuse,
            )
            obs = await checker.check(task)
            assert obs.verdict.outcome is Outcome.VERIFIED
            uuids[len(uuids)] = (reuse, obs.details["repl_uuid"])
    finally:
        await checker.aclose()
    assert uuids[0][1] == uuids[1][1]  # reused
    assert len({uuids[1][1], uuids[2][1], uuids[3][1]}) == 3  # fresh each time
