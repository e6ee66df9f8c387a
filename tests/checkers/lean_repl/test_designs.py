"""The REPL-pool designs end to end over the stand-in, and resuming them from the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from calib_async.backends.local import LocalBackend
from calib_async.checkers.api import OpenContext
from calib_async.checkers.lean_repl.designs import JOURNAL_NAME, run_designs
from calib_async.records import Tier
from helpers.repl import lean_item, repl_profile

pytestmark = pytest.mark.anyio

DESIGNS = {
    "reuse_effect": {"items": 4},
    "aging": {"fillers": [0, 3, 12], "items": 2},
    "restart_cost": {"concurrency": [1, 2], "rounds": 2, "items": 2},
    "leak_canaries": True,
}


def corpus(tmp: Path) -> list:
    good = "import Mathlib\ntheorem t : True := trivial\n"
    bad = "import Mathlib\ntheorem t : True := by\n  -- standin: error type mismatch\n  rfl\n"
    return [lean_item(tmp, f"good{i}", good) for i in range(3)] + [lean_item(tmp, "bad", bad)]


async def run(tmp: Path, config, *, output: Path) -> list:
    ctx = OpenContext(work_dir=tmp / "work", backend=LocalBackend(), sample_interval_s=0.05)
    tiers = [Tier(name="FAST", timeout_s=5.0, verifier="repl", memory_limit_mb=400)]
    return await run_designs([config], tiers, corpus(tmp), ctx=ctx, output_dir=output, seed=1)


async def test_every_design_reports(tmp_path: Path) -> None:
    config = repl_profile("repl", "--leak-kb", "512", header="from_item", designs=DESIGNS)
    (result,) = await run(tmp_path, config, output=tmp_path / "out")
    reuse = result["reuse_effect"]
    assert reuse["items"] == 4 and reuse["disagreements"] == 0 and reuse["mcnemar_p"] == 1.0
    assert 0 < reuse["latency_ratio_warm_over_fresh"] < 1  # warm skips the import
    aging = result["aging"]
    assert [r["fillers"] for r in aging["flip_rate"]] == [0, 3, 12]
    assert aging["rss_growth_mb_per_command"] > 0.3  # 0.5 MiB kept per command
    ages = [p["age"] for p in aging["rss_curve"]]
    assert ages == sorted(ages) and ages[-1] >= 2 * (0 + 3 + 12)
    assert sum(r["commands"] for r in aging["crash_hazard"]) == 2 * (1 + 4 + 13)
    cost = result["restart_cost"]
    assert cost["import_ms"]["1"]["n"] == 2 and cost["import_ms"]["2"]["n"] == 4
    assert set(cost["cold_exceeds_timeout"]["FAST"]) == {"1", "2"}
    leaks = result["leak_canaries"]
    assert leaks["passed"] is True
    assert [c["outcome"] for c in leaks["canaries"]] == ["VERIFIED", "VERIFIED", "PROOF_INVALID"]


async def test_the_canaries_catch_a_leaking_pool(tmp_path: Path) -> None:
    config = repl_profile(base_env="first_proof", designs={"leak_canaries": True})
    (result,) = await run(tmp_path, config, output=tmp_path / "out")
    leaks = result["leak_canaries"]
    assert leaks["passed"] is False
    assert [c["outcome"] for c in leaks["canaries"]] == ["VERIFIED", "PROOF_INVALID", "VERIFIED"]


async def test_a_resumed_run_repeats_no_measurement(tmp_path: Path) -> None:
    config = repl_profile(designs={"aging": {"fillers": [0, 2], "items": 2}})
    first = await run(tmp_path, config, output=tmp_path / "out")
    journal = tmp_path / "out" / JOURNAL_NAME
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])  # torn by a kill
    second = await run(tmp_path, config, output=tmp_path / "out")
    assert len(journal.read_text().splitlines()) == len(lines)  # only the torn one again
    assert first[0]["aging"]["flip_rate"] == second[0]["aging"]["flip_rate"]
