"""SIGTERM is obeyed in every phase of a calibration that runs checkers (stage 2's telemetry,
verdict replicates, the load experiment, canaries, stage 3's labelling runs): exit 143 within
``STOP_WITHIN_S`` of the signal (a bound that holds at load 10), one "interrupted by SIGTERM"
line and the resume command, no traceback, no checker left; then ``--resume`` completes and
keeps every record written before the signal (nothing lost, no task twice).

The checker is fast for its first ``fast`` calls (counted by files it creates) and then sleeps
with a unique mark until a flag file exists, so each phase is caught while its checkers run.
Stages 1 and 4 (no checker running) are in test_signals.py; refit, compare and label in
test_sigterm_subcommands.py.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.cli import (
    STOP_WITHIN_S,
    interrupt,
    marked,
    run,
    start,
    wait_for_event,
    wait_until_alive,
    wait_until_gone,
)

N = 4  # items; one tier: stage 2 makes N runs


@pytest.fixture
def mark() -> Iterator[str]:
    yield from marked()


@dataclass(frozen=True)
class Phase:
    id: str
    event: dict[str, object]  # the stage.started log line's fields
    flags: list[str]
    fast: int = N  # checker calls that finish at once (the phases before this one)
    profile: dict[str, Any] = field(default_factory=dict)  # more keys of the checker's profile


CANARY = {"name": "cheat", "find": "trivial", "replace": "sorry", "count": "all"}
PHASES = [
    Phase("telemetry", {"stage": 2, "name": "telemetry collection"}, [], fast=1),
    Phase("replicates", {"name": "verdict replicates"},
          ["--replicates", "2", "--replicate-sample", "2"]),
    Phase("load-experiment", {"name": "load experiment"},
          ["--load-levels", "1,2", "--load-sample", "2"]),
    Phase("canaries", {"name": "canaries"}, ["--canaries", "all", "--canary-sample", "2"],
          profile={"canaries": [CANARY]}),
    Phase("labels", {"stage": 3}, ["--label-sample", "4", "--consensus-verifiers", "judge"]),
]  # fmt: skip


def _setup(d: Path, phase: Phase, mark: str) -> list[str]:
    calls, flag = d / "calls", d / "finish-now"
    calls.mkdir()
    script = (
        f'mktemp "{calls}/c.XXXXXX" >/dev/null; n=$(ls "{calls}" | wc -l); '
        f'[ "$n" -le {phase.fast} ] && exit 0; [ -e "{flag}" ] && exit 0; exec sleep {mark}'
    )
    profile = {
        "command": ["sh", "-c", script, "chk", "{file}"],
        "rules": [{"exit_code": 0, "outcome": "VERIFIED"}],
    }
    cfg = {
        "verifiers": {"chk": {**profile, **phase.profile}, "judge": profile},
        "tiers": {"T": {"timeout_s": 120, "verifier": "chk", "grace_s": 0.2}},
    }
    (d / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    (d / "c").mkdir()
    for i in range(N):
        (d / "c" / f"p{i}.lean").write_text(f"theorem t{i} : True := trivial\n")
    flags = ["--label-sample", "0", "--consensus-verifiers", "chk", *phase.flags]
    return [
        "--tiers", "T", "--n", str(N), "--export", str(d / "cal.yaml"),
        "--output-dir", str(d / "out"), "--corpus", "custom", "--corpus-path", str(d / "c"),
        "--config", str(d / "cfg.yaml"), "--bootstrap", "0", "--no-report", "--no-progress",
        "--workers", "2", "--log-format", "json", "--log-level", "INFO", *flags,
    ]  # fmt: skip


def _task_keys(d: Path) -> list[str]:
    keys = []
    for line in (d / "out" / "telemetry.jsonl").read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line is dropped by --resume
        if "task_key" in row:
            keys.append(row["task_key"])
    return keys


@pytest.mark.parametrize("phase", PHASES, ids=[p.id for p in PHASES])
def test_sigterm_in_each_phase_exits_143_and_resume_completes(
    tmp_path: Path, mark: str, phase: Phase
) -> None:
    args = _setup(tmp_path, phase, mark)
    proc = start(args, tmp_path)
    wait_for_event(proc, "stage.started", **phase.event)
    wait_until_alive(mark, 1, proc, within=60)  # the phase's checkers run
    code, elapsed, _, err = interrupt(proc, signal.SIGTERM)
    print(f"{phase.id}: exit {code} {elapsed:.2f} s after SIGTERM")
    assert "Traceback" not in err, err[-3000:]
    assert code == 143, err[-3000:]
    assert elapsed < STOP_WITHIN_S
    assert "interrupted by SIGTERM" in err and "resume with: " in err
    assert wait_until_gone(mark, within=5), "a checker outlived the driver"
    before = _task_keys(tmp_path)
    (tmp_path / "finish-now").touch()
    done = run([*args, "--resume"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    after = _task_keys(tmp_path)
    assert set(before) <= set(after), "a record written before SIGTERM was lost"
    assert len(after) == len(set(after)), "a task was recorded twice"
    assert (tmp_path / "cal.yaml").is_file()
