"""The lean_repl checker over the stand-in: verdicts, reuse, crashes, stderr floods, aging."""

from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.records import Outcome
from helpers.repl import lean_item, open_repl, repl_profile, repl_task

pytestmark = pytest.mark.anyio

GOOD = "import Mathlib\ntheorem good : True := trivial\n"


async def test_warm_reuse_and_the_lean_rules(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        good = await checker.check(repl_task(lean_item(tmp_path, "good", GOOD)))
        assert good.verdict.outcome is Outcome.VERIFIED
        assert good.details["header"] == "cold" and good.details["generation"] == 0
        sorry = lean_item(tmp_path, "s", "import Mathlib\ntheorem s : True := by\n  sorry\n")
        lenient = await checker.check(repl_task(sorry))
        assert lenient.verdict.outcome is Outcome.VERIFIED and lenient.verdict.uses_sorry
        assert lenient.details["header"] == "warm"
        assert lenient.details["pid"] == good.details["pid"]
        assert lenient.details["age_commands"] == 2  # header + one proof before it
        strict = await checker.check(repl_task(sorry, reject_sorry=True))
        assert strict.verdict.outcome is Outcome.PROOF_INVALID
        audited = await checker.check(
            repl_task(
                lean_item(tmp_path, "ax", GOOD + "-- standin: axiom Foo.bad\n"), audit_axioms=True
            )
        )
        assert audited.verdict.outcome is Outcome.PROOF_INVALID
        assert "Foo.bad" in (audited.verdict.first_error or "")
        clean = await checker.check(repl_task(lean_item(tmp_path, "c", GOOD), audit_axioms=True))
        assert clean.verdict.outcome is Outcome.VERIFIED and clean.verdict.axioms == ()
        heavy = lean_item(tmp_path, "h", GOOD + "-- standin: heartbeats 300000\n")
        out = await checker.check(repl_task(heavy, max_heartbeats=100000))
        assert out.verdict.outcome is Outcome.VERIFIER_TIMEOUT
        assert (
            out.verdict.timeout_kind is not None and out.verdict.timeout_kind.value == "heartbeat"
        )
        assert (
            await checker.check(repl_task(heavy, max_heartbeats=400000))
        ).verdict.outcome is Outcome.VERIFIED
    finally:
        await checker.aclose()


async def test_one_megabyte_of_stderr_is_not_a_timeout(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        await checker.check(repl_task(lean_item(tmp_path, "warm", GOOD)))
        noisy = lean_item(tmp_path, "noisy", GOOD + "-- standin: stderr 1048576\n")
        obs = await checker.check(repl_task(noisy, timeout_s=30))
        assert obs.verdict.outcome is Outcome.VERIFIED
        assert obs.details["header"] == "warm"
        assert obs.result.stderr_bytes >= 1048576
        assert obs.details["stderr_bytes"] >= 1048576
    finally:
        await checker.aclose()


async def test_a_crash_is_a_verifier_error_and_the_next_proof_gets_a_new_process(
    tmp_path: Path,
) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        first = await checker.check(repl_task(lean_item(tmp_path, "a", GOOD)))
        crash = lean_item(tmp_path, "boom", GOOD + "-- standin: crash PANIC at Lean.Elab: boom\n")
        crashed = await checker.check(repl_task(crash))
        assert crashed.verdict.outcome is Outcome.VERIFIER_ERROR
        assert "PANIC at Lean.Elab: boom" in (crashed.verdict.first_error or "")
        assert b"PANIC at Lean.Elab: boom" in crashed.result.stderr  # the tail is kept
        assert crashed.result.signal is not None
        after = await checker.check(repl_task(lean_item(tmp_path, "b", GOOD)))
        assert after.verdict.outcome is Outcome.VERIFIED
        assert after.details["generation"] == first.details["generation"] + 1
        assert after.details["pid"] != first.details["pid"]
        assert after.details["restart_reason"] == "crashed"
        assert after.details["header"] == "cold"
    finally:
        await checker.aclose()


async def test_aging_past_the_memory_limit_is_detected_and_restarted(tmp_path: Path) -> None:
    # every command keeps 16 MiB more; the tier allows the REPL 120 MiB
    checker = open_repl(repl_profile("repl", "--leak-kb", "16384", pool_size=1), tmp_path)
    seen = []
    try:
        for i in range(12):
            obs = await checker.check(
                repl_task(lean_item(tmp_path, f"p{i}", GOOD), memory_limit_mb=120)
            )
            seen.append(obs)
    finally:
        await checker.aclose()
    gens = [o.details["generation"] for o in seen]
    assert max(gens) >= 1, gens  # restarted at least once
    retired = next(o for o in seen if o.details["retired"])
    # grown past the limit: between commands (retired after its proof), or during one (killed,
    # and that proof is MEMORY_LIMIT_EXCEEDED: the noise an aging REPL causes)
    assert "memory limit" in retired.details["retired"]
    assert retired.details["rss_peak_mb"] > 120
    if retired.verdict.outcome is Outcome.MEMORY_LIMIT_EXCEEDED:
        assert retired.details["retired"] == "killed: memory limit"
    else:
        assert retired.verdict.outcome is Outcome.VERIFIED
        assert retired.details["rss_after_mb"] > 120
    first_gen = [o.details["rss_after_mb"] for o in seen if o.details["generation"] == 0]
    first_gen = first_gen[: len(first_gen) - 1]  # the last may have been killed
    assert first_gen == sorted(first_gen) and first_gen[-1] - first_gen[0] >= 16 * 3  # growth
    nxt = seen[seen.index(retired) + 1]
    assert nxt.details["restart_reason"] == retired.details["retired"]
    assert nxt.details["generation"] == retired.details["generation"] + 1


async def test_a_hang_is_a_wall_timeout_that_kills_the_repl(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1), tmp_path)
    try:
        hang = lean_item(tmp_path, "hang", GOOD + "-- standin: hang\n")
        obs = await checker.check(repl_task(hang, timeout_s=0.5))
        assert obs.verdict.outcome is Outcome.VERIFIER_TIMEOUT
        assert obs.details["timeout_stage"] == "elaboration"
        assert obs.details["retired"] == "killed: timeout"
        again = await checker.check(repl_task(lean_item(tmp_path, "ok", GOOD)))
        assert again.details["generation"] == 1
    finally:
        await checker.aclose()


async def test_fresh_policy_starts_one_process_per_proof(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1, policy="fresh"), tmp_path)
    try:
        pids = set()
        for i in range(3):
            obs = await checker.check(repl_task(lean_item(tmp_path, f"f{i}", GOOD)))
            assert obs.details["header"] == "cold"
            pids.add(obs.details["pid"])
        assert len(pids) == 3 and checker.pool.spawned == 3
    finally:
        await checker.aclose()


async def test_max_uses_restarts_after_n_proofs(tmp_path: Path) -> None:
    checker = open_repl(repl_profile(pool_size=1, max_uses=2), tmp_path)
    try:
        gens = []
        for i in range(5):
            obs = await checker.check(repl_task(lean_item(tmp_path, f"u{i}", GOOD)))
            gens.append(obs.details["generation"])
        assert gens == [0, 0, 1, 1, 2]
    finally:
        await checker.aclose()
