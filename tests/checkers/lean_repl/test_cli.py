"""calibrate_noise with a lean_repl profile over the stand-in: every design end to end, and a
driver killed by SIGKILL mid-run (no REPL survives it; --resume loses nothing)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import run_env
from helpers.cli import CLI, marked
from helpers.cli import alive as _alive
from helpers.cli import run as run_cli
from helpers.repl import standin_argv


@pytest.fixture
def mark() -> Iterator[str]:
    """An extra argument of every stand-in started here; whatever carries it at the end dies."""
    yield from marked("mark-")


def _setup(d: Path, mark: str, *, sleep_ms: int, designs: dict) -> list[str]:
    corpus = d / "corpus"
    corpus.mkdir()
    for i in range(6):
        body = f"  -- standin: sleep {sleep_ms}\n  trivial\n"
        (corpus / f"P{i}.lean").write_text(f"import Mathlib\ntheorem t{i} : True := by\n{body}")
    (corpus / "Bad.lean").write_text(
        "import Mathlib\ntheorem bad : True := by\n  -- standin: error unsolved goals\n  simp\n"
    )
    config = {
        "verifiers": {
            "repl": {
                "kind": "lean_repl",
                "command": [*standin_argv("--leak-kb", "64"), mark],
                "pool_size": 2,
                "designs": designs,
            }
        },
        "consensus_verifiers": ["repl"],
        "tiers": {
            "FAST": {
                "timeout_s": 20,
                "verifier": "repl",
                "memory_limit_mb": 1024,
                "grace_s": 0.2,
                "options": {"reject_sorry": True, "audit_axioms": True},
            },
        },
    }
    (d / "cfg.yaml").write_text(yaml.safe_dump(config))
    return [
        "--config", str(d / "cfg.yaml"), "--corpus", "custom", "--corpus-path", str(corpus),
        "--tiers", "FAST", "--n", "7", "--export", str(d / "cal.yaml"),
        "--output-dir", str(d / "out"), "--workers", "2", "--bootstrap", "0",
        "--label-sample", "0", "--no-progress",
    ]  # fmt: skip


DESIGNS = {
    "reuse_effect": {"items": 4},
    "aging": {"fillers": [0, 5], "items": 2},
    "restart_cost": {"concurrency": [1, 2], "rounds": 1, "items": 2},
    "leak_canaries": True,
}


@pytest.mark.slow
def test_warm_policy_and_every_design_end_to_end(tmp_path: Path, mark: str) -> None:
    args = _setup(tmp_path, mark, sleep_ms=1, designs=DESIGNS)
    proc = run_cli(args, tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    export = yaml.safe_load((tmp_path / "cal.yaml").read_text())
    (block,) = export["lean_repl_designs"]
    assert block["reuse_effect"]["items"] == 4
    assert block["reuse_effect"]["latency_ratio_warm_over_fresh"] < 1
    assert [r["fillers"] for r in block["aging"]["flip_rate"]] == [0, 5]
    assert block["aging"]["rss_curve"] and block["aging"]["crash_hazard"]
    assert set(block["restart_cost"]["import_ms"]) == {"1", "2"}
    assert block["leak_canaries"]["passed"] is True
    assert "REPL pool designs" in proc.stdout
    report = (tmp_path / "out" / "report.html").read_text()
    for text in ("REPL pool", "Reuse effect", "Aging", "Restart cost", "State-leak canaries"):
        assert text in report
    lines = (tmp_path / "out" / "telemetry.jsonl").read_text().splitlines()[1:]
    records = [json.loads(x) for x in lines]
    warm = [r for r in records if r.get("checker") and r["checker"]["header"] == "warm"]
    assert warm, "no proof ran on a warm REPL"
    assert {r["checker"]["policy"] for r in records if r.get("checker")} == {"warm"}
    assert not _alive(mark)


def _records(out: Path) -> dict[str, dict]:
    path = out / "telemetry.jsonl"
    if not path.exists():
        return {}
    rows = {}
    for line in path.read_text().splitlines()[1:]:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line torn by the kill
        if "task_key" in row:
            rows[row["verification_id"]] = row
    return rows


@pytest.mark.slow
def test_kill_9_mid_run_leaves_no_repl_and_resume_loses_nothing(tmp_path: Path, mark: str) -> None:
    designs = {"leak_canaries": True, "aging": {"fillers": [0, 2], "items": 2}}
    args = _setup(tmp_path, mark, sleep_ms=400, designs=designs)
    driver = subprocess.Popen(
        [*CLI, *args],
        cwd=tmp_path,
        env=run_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_alive(mark)) < 2 or not _records(tmp_path / "out"):
            assert time.monotonic() < deadline and driver.poll() is None, "no REPL ran"
            time.sleep(0.05)
        before = _records(tmp_path / "out")
        driver.kill()  # SIGKILL: no cleanup of its own
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    end = time.monotonic() + 10
    while _alive(mark) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(mark), "a REPL outlived its driver"
    resumed = run_cli([*args, "--resume"], tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = _records(tmp_path / "out")
    assert set(before) <= set(after)  # nothing finished before the kill was lost or redone
    telemetry = [r for r in after.values() if r["phase"] == "telemetry" and r["attempt"] == 0]
    assert len(telemetry) == 7 and len({r["task_key"] for r in telemetry}) == 7
    export = yaml.safe_load((tmp_path / "cal.yaml").read_text())
    assert export["lean_repl_designs"][0]["leak_canaries"]["passed"] is True
    assert not _alive(mark)
