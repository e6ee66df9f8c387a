"""Hostile checkers through the real scheduler: the driver (this process) survives each of them,
keeps its memory, finishes, and leaves no process behind."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import anyio
import psutil
import pytest

from calib_async.checkers.command.profile import CommandVerifier
from calib_async.config.schema import Rule, VerifierConfig
from calib_async.records import CorpusItem, Outcome, Task, TelemetryRecord, Tier
from calib_async.runner.cgroup_setup import FORCE_VAR
from helpers import file_item
from helpers.scheduling import scheduler_over

MIB = 2**20


@pytest.fixture(params=["cgroups", "rlimit"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """What this machine offers (cgroup controllers where usable), and the forced fallback."""
    if request.param == "rlimit":
        monkeypatch.setenv(FORCE_VAR, "rlimit")
    return str(request.param)


def item(tmp_path: Path) -> CorpusItem:
    return file_item(tmp_path / "proof.lean", "theorem t : True := trivial\n")


def verifier(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> CommandVerifier:
    return CommandVerifier(
        VerifierConfig(
            name="hostile",
            command=tuple(argv),
            env=env or {},
            cwd=str(cwd) if cwd else None,
            rules=(Rule(Outcome.VERIFIED, exit_codes=(0,)),),
        )
    )


def survivors(mark: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        mine = any(mark in a for a in p.info["cmdline"] or [])
        if mine and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


async def run_hostile(
    tmp_path: Path, v: CommandVerifier, tier: Tier, *, watch_rss: bool = False
) -> tuple[TelemetryRecord, TelemetryRecord, int]:
    """Run the hostile checker, then a harmless one through the same scheduler (the driver
    still works); return both records and the driver's largest RSS growth in bytes."""
    me = psutil.Process()
    base = me.memory_info().rss
    peak = [0]
    harmless = verifier("true")
    done = anyio.Event()

    async def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], me.memory_info().rss - base)
            with anyio.move_on_after(0.02):
                await done.wait()

    async with (
        scheduler_over({"hostile": v, "ok": harmless}, workers=2) as scheduler,
        anyio.create_task_group() as tg,
    ):
        if watch_rss:
            tg.start_soon(watch)
        record = await scheduler.run_one(Task(item(tmp_path), tier, "hostile"))
        after = await scheduler.run_one(Task(item(tmp_path), tier, "ok"))
        done.set()
    return record, after, peak[0]


@pytest.mark.anyio
async def test_memory_bomb_is_memory_limit_exceeded(anyio_backend: str, tmp_path: Path) -> None:
    v = verifier(sys.executable, "-c", "b = bytearray(4 * 2**30)")
    tier = Tier("T", timeout_s=30, verifier="hostile", memory_limit_mb=256, grace_s=0.2)
    record, after, _ = await run_hostile(tmp_path, v, tier)
    assert record.outcome == Outcome.MEMORY_LIMIT_EXCEEDED
    assert after.outcome == Outcome.VERIFIED


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_memory_spread_over_a_tree_is_caught(
    anyio_backend: str, tmp_path: Path, mechanism: str
) -> None:
    mark = f"mem-{uuid.uuid4().hex}"
    grab = "import time; b = b'x' * (150 * 2**20); time.sleep(30)"
    script = f'{sys.executable} -c "{grab}" {mark} & {sys.executable} -c "{grab}" {mark} & wait'
    v = verifier("sh", "-c", script)
    # RLIMIT_AS (per process) lets each 150 MiB child live; the tree's RSS breaks 256 MiB (the
    # watchdog), or its charge does (the cgroup's OOM kill: the other child lives on, the run
    # ends at the next tick).
    tier = Tier("T", timeout_s=30, verifier="hostile", memory_limit_mb=256, grace_s=0.2)
    record, after, _ = await run_hostile(tmp_path, v, tier)
    assert record.outcome == Outcome.MEMORY_LIMIT_EXCEEDED
    assert record.duration_ms < 20_000, "killed by the timeout, not by the limit"
    assert not survivors(mark)
    assert after.outcome == Outcome.VERIFIED


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # one bomb is enough on a shared machine
async def test_fork_bomb_is_stopped_and_leaves_nothing(
    anyio_backend: str, tmp_path: Path, mechanism: str
) -> None:
    mark = f"{uuid.uuid4().int % 10**6 + 10**6}.5"  # a unique sleep argument
    leaves = tmp_path / "leaves"
    # A binary fork tree of depth 11 (4095 processes at most, so that a broken watchdog cannot
    # exhaust the pid space); every leaf notes itself, then sleeps.
    bomb = (
        'b() { [ "$1" -gt 0 ] || { echo >> "$LEAVES"; exec sleep "$MARK"; }; '
        "b $(($1-1)) & b $(($1-1)) & wait; }; b 11"
    )
    v = verifier("sh", "-c", bomb, env={"LEAVES": str(leaves), "MARK": mark})
    tier = Tier("T", timeout_s=30, verifier="hostile", max_processes=64, grace_s=0.2)
    record, after, _ = await run_hostile(tmp_path, v, tier)
    assert record.termination_reason == "process_limit", record
    assert record.outcome == Outcome.VERIFIER_ERROR
    cgroup = record.limits_mechanism != "rlimit"
    assert cgroup == (mechanism == "cgroups" and cgroup)  # the forced fallback holds
    why = "at the limit of 64 processes (pids.max)" if cgroup else "above the limit of 64"
    assert why in (record.first_error or ""), record
    assert record.duration_ms < 20_000, "killed by the timeout, not by the process limit"
    assert not survivors(mark)
    assert after.outcome == Outcome.VERIFIED
    started = len(leaves.read_text()) if leaves.exists() else 0
    print(f"fork bomb: {started} of 2048 leaves started before the kill")


@pytest.mark.anyio
async def test_one_gigabyte_of_output_is_capped(anyio_backend: str, tmp_path: Path) -> None:
    v = verifier("sh", "-c", "head -c 1000000000 /dev/zero; head -c 1000000 /dev/zero >&2")
    tier = Tier("T", timeout_s=120, verifier="hostile", grace_s=0.2, output_cap_kb=64)
    record, after, growth = await run_hostile(tmp_path, v, tier, watch_rss=True)
    assert record.outcome == Outcome.VERIFIED
    assert record.stdout_bytes == 10**9
    assert record.stderr_bytes == 10**6
    assert len(record.output_tail) <= 4000
    assert growth < 64 * MIB, f"the driver grew by {growth / MIB:.0f} MiB"
    assert after.outcome == Outcome.VERIFIED


@pytest.mark.anyio
async def test_huge_file_is_cut_at_the_file_size_limit(anyio_backend: str, tmp_path: Path) -> None:
    target = tmp_path / "big"
    v = verifier("sh", "-c", f"head -c 50000000 /dev/zero > {target}; exit $?")
    tier = Tier("T", timeout_s=30, verifier="hostile", max_file_mb=2, grace_s=0.2)
    record, after, _ = await run_hostile(tmp_path, v, tier)
    assert record.exit_code == 128 + 25  # SIGXFSZ
    assert record.outcome == Outcome.VERIFIER_ERROR  # 128+N is read as signal N (issue 15)
    assert target.stat().st_size == 2 * MIB
    assert after.outcome == Outcome.VERIFIED


@pytest.mark.anyio
async def test_core_dumps_are_off(anyio_backend: str, tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    v = verifier(
        "sh",
        "-c",
        '[ "$(ulimit -c)" = 0 ] || exit 1; [ "$(ulimit -H -c)" = 0 ] || exit 1; kill -SEGV $$',
        cwd=work,
    )
    tier = Tier("T", timeout_s=30, verifier="hostile", memory_limit_mb=512, grace_s=0.2)
    record, after, _ = await run_hostile(tmp_path, v, tier)
    assert record.signal == 11 and record.outcome == Outcome.VERIFIER_ERROR
    assert not any("core" in name for name in os.listdir(work))
    assert after.outcome == Outcome.VERIFIED
