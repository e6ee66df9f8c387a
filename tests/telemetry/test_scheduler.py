from __future__ import annotations

import sys
from pathlib import Path

import anyio
import psutil
import pytest

from calib_async.checkers.command.profile import CommandVerifier
from calib_async.config.schema import parse_verifier
from calib_async.events import RunEscalated, RunFinished, RunStarted
from calib_async.records import CorpusItem, Outcome, Phase, Task, Tier
from calib_async.telemetry.scheduler import escalation_ladder
from helpers import file_item
from helpers.processes import leftover_children
from helpers.scheduling import scheduler_over

pytestmark = pytest.mark.anyio


def verifier(name: str, command: list[str]) -> CommandVerifier:
    return CommandVerifier(
        parse_verifier(
            name, {"command": command, "rules": [{"exit_code": 0, "outcome": "VERIFIED"}]}
        )
    )


def items(n: int, tmp_path: Path) -> list[CorpusItem]:
    return [file_item(tmp_path / f"f{i}.txt", str(i), item_id=f"i{i}") for i in range(n)]


def py(code: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", code, "{file}"]


@pytest.fixture(autouse=True)
def _children_before() -> None:
    global _BEFORE
    _BEFORE = psutil.Process().children(recursive=True)


_BEFORE: list[psutil.Process] = []


def no_children() -> bool:
    """No process this test started is left (another test's lingering ones are its business)."""
    left = leftover_children(_BEFORE)
    assert left == [], left
    return True


async def test_map_runs_every_task_within_bound(tmp_path: Path) -> None:
    v = {"ok": verifier("ok", py("import sys; sys.exit(int(open(sys.argv[1]).read()) % 2)"))}
    tier = Tier("FAST", 10.0, "ok", grace_s=0.1)
    events: list[object] = []
    async with scheduler_over(v, workers=3, listeners=[events.append]) as s:
        records = [r async for r in s.map(Task(it, tier, "ok") for it in items(10, tmp_path))]
    assert sorted(r.item_id for r in records) == sorted(f"i{i}" for i in range(10))
    outcomes = {r.item_id: r.outcome for r in records}
    assert outcomes["i0"] == Outcome.VERIFIED and outcomes["i1"] == Outcome.PROOF_INVALID
    started = [e for e in events if isinstance(e, RunStarted)]
    assert len(started) == 10 and max(e.running for e in started) <= 3
    assert len([e for e in events if isinstance(e, RunFinished)]) == 10
    assert all(r.concurrency >= 1 and r.host for r in records)
    assert no_children()


async def test_embedding_submit_and_results(tmp_path: Path) -> None:
    v = {"ok": verifier("ok", ["true"])}
    tier = Tier("FAST", 10.0, "ok")
    got = []
    async with scheduler_over(v, workers=2) as s, anyio.create_task_group() as tg:

        async def feed() -> None:
            for it in items(5, tmp_path):
                await s.submit(Task(it, tier, "ok"))
            s.close()

        tg.start_soon(feed)
        async for record in s.results():
            got.append(record)
    assert len(got) == 5 and all(r.outcome == Outcome.VERIFIED for r in got)


async def test_missing_checker_is_verifier_error_and_run_continues(tmp_path: Path) -> None:
    v = {
        "gone": verifier("gone", ["/nonexistent/checker", "{file}"]),
        "ok": verifier("ok", ["true"]),
    }
    its = items(2, tmp_path)
    async with scheduler_over(v, workers=2) as s:
        records = [
            r
            async for r in s.map(
                [Task(its[0], Tier("A", 5, "gone"), "gone"), Task(its[1], Tier("A", 5, "ok"), "ok")]
            )
        ]
    by = {r.verifier: r for r in records}
    assert by["gone"].outcome == Outcome.VERIFIER_ERROR and by["gone"].first_error
    assert by["ok"].outcome == Outcome.VERIFIED


def test_escalation_ladder_factors() -> None:
    assert escalation_ladder(10) == [2, 4, 8, 10]
    assert escalation_ladder(8) == [2, 4, 8]
    assert escalation_ladder(1) == []


async def test_escalation_increases_timeouts_and_stops_at_first_non_timeout(
    tmp_path: Path,
) -> None:
    v = {"slow": verifier("slow", py("import time; time.sleep(0.5)"))}
    tier = Tier("FAST", 0.1, "slow", grace_s=0.1)
    task = Task(items(1, tmp_path)[0], tier, "slow", Phase.LABEL)
    events: list[object] = []
    async with scheduler_over(v, workers=2, listeners=[events.append]) as s:
        first = await s.run_one(task)
        assert first.outcome == Outcome.VERIFIER_TIMEOUT
        ladder = await s.escalate(task, first, max_multiplier=10)
    assert [r.attempt for r in ladder] == [1, 2, 3]
    assert [r.timeout_s for r in ladder] == pytest.approx([0.2, 0.4, 0.8])
    assert [r.outcome for r in ladder] == ["VERIFIER_TIMEOUT", "VERIFIER_TIMEOUT", "VERIFIED"]
    assert len({r.task_key for r in [first, *ladder]}) == 4
    assert len([e for e in events if isinstance(e, RunEscalated)]) == 3


async def test_cancel_kills_running_checkers_promptly(tmp_path: Path) -> None:
    v = {"sleepy": verifier("sleepy", ["sh", "-c", "sleep 60 & sleep 60 & wait", "{file}"])}
    tier = Tier("FAST", 60.0, "sleepy", grace_s=0.2)
    started = anyio.Event()
    seen: list[object] = []

    def listener(e: object) -> None:
        seen.append(e)
        if len([x for x in seen if isinstance(x, RunStarted)]) == 4:
            started.set()

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                async with scheduler_over(v, workers=4, listeners=[listener]) as s:
                    async for _ in s.map(Task(it, tier, "sleepy") for it in items(8, tmp_path)):
                        pass

            tg.start_soon(run)
            await started.wait()
            # let the shells start their sleeps, then cancel
            with anyio.move_on_after(0.3):
                await anyio.sleep_forever()
            tg.cancel_scope.cancel()
    assert no_children()
