from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest
from rich.console import Console
from structlog.testing import capture_logs

from calib_async.cli.progress import ProgressDisplay
from calib_async.events import RunEscalated, RunFinished, RunStarted, StageFinished, StageStarted
from calib_async.records import CorpusItem, Phase, Task, TelemetryRecord, Tier
from helpers import make_record

TIERS = ["FAST", "BALANCED", "SLOW"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def task(item: str, tier: str, phase: Phase = Phase.TELEMETRY, attempt: int = 0) -> Task:
    return Task(
        item=CorpusItem(item, f"M.{item}", f"/c/{item}.lean", "0" * 64),
        tier=Tier(tier, 1.0, "sim"),
        verifier="sim",
        phase=phase,
        attempt=attempt,
    )


def record(t: Task, outcome: str) -> TelemetryRecord:
    return make_record(
        t.item.item_id, t.tier.name, outcome, phase=t.phase.value, attempt=t.attempt, task_key=t.key
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frame(display: ProgressDisplay) -> str:
    out = Console(file=io.StringIO(), width=160, color_system=None)
    out.print(display.render())
    return out.file.getvalue()  # type: ignore[attr-defined]


def row(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def test_bars_rates_etas_and_outcome_counts_from_events() -> None:
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    display = ProgressDisplay(console=console, tiers=TIERS, enabled=True, clock=clock)
    display(StageStarted(2, "telemetry", total=30, totals_by_tier={t: 10 for t in TIERS}))
    outcomes = ["VERIFIED", "PROOF_INVALID", "VERIFIER_TIMEOUT", "MEMORY_LIMIT_EXCEEDED"]
    for i in range(4):  # FAST: 4 runs, one every 2 s -> 0.5/s, 6 left -> ETA 12 s
        t = task(f"i{i}", "FAST")
        display(RunStarted(t, running=1))
        clock.now += 2.0
        display(RunFinished(t, record(t, outcomes[i]), running=0))
    for i in range(3):  # BALANCED: replayed from the checkpoint: counted, no rate
        t = task(f"i{i}", "BALANCED")
        display(RunFinished(t, record(t, "VERIFIER_ERROR"), running=0, resumed=True))
    slow = task("s", "SLOW")
    display(RunStarted(slow, running=3))
    esc = task("i2", "FAST", Phase.LABEL, attempt=1)
    display(RunEscalated(esc, previous=record(task("i2", "FAST"), "VERIFIER_TIMEOUT")))
    text = frame(display)
    assert "Stage 2/6 telemetry  0:00:08" in text
    assert "workers busy 3" in text and "escalations in flight 1" in text
    fast = row(text, "FAST")
    assert "━" in fast
    assert fast.split()[-8:] == ["4/10", "30.0/min", "0:00:12", "1", "1", "1", "1", "0"]
    balanced = row(text, "BALANCED")
    assert balanced.split()[-8:] == ["3/10", "–", "–", "0", "0", "0", "0", "3"]
    assert row(text, "SLOW").split()[-8:] == ["0/10", "–", "–", "0", "0", "0", "0", "0"]
    # the escalated attempt finishes: no longer in flight, shows up as a label row
    display(RunFinished(esc, record(esc, "VERIFIED"), running=0))
    text = frame(display)
    assert "escalations in flight 0" in text
    assert row(text, "escalation · FAST").split()[-5:] == ["1", "0", "0", "0", "0"]
    # stage headers go to the display's console
    display(StageFinished(2, "telemetry", summary={"records": 8}))
    printed = ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]
    assert "Stage 2/6 · telemetry" in printed
    assert "✓ Stage 2/6 telemetry done in 0:00:08  records=8" in printed


def test_label_bars_are_named_by_what_they_do_with_planned_totals() -> None:
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    display = ProgressDisplay(console=console, tiers=TIERS, enabled=True, clock=clock)
    profiles = {"oracle": 4, "oracle-b": 4}
    display(StageStarted(3, "ground-truth labelling", total=8, totals_by_tier=profiles))
    consensus = Task(
        item=CorpusItem("i0", "M.i0", "/c/i0.lean", "0" * 64),
        tier=Tier("label:oracle", 20.0, "oracle"),
        verifier="oracle",
        phase=Phase.LABEL,
    )
    display(RunFinished(consensus, record(consensus, "VERIFIED"), running=0, busy=1))
    escalated = task("i1", "FAST", Phase.LABEL, attempt=1)
    display(RunFinished(escalated, record(escalated, "VERIFIED"), running=0, busy=1))
    text = frame(display)
    assert row(text, "consensus · oracle").split()[-8:-5] == ["1/4", "–", "–"]
    assert row(text, "consensus · oracle-b").split()[-8:-5] == ["0/4", "–", "–"]
    assert row(text, "escalation · FAST").split()[-8:-5] == ["1", "–", "–"]  # no plan: no total
    assert "label" not in "".join(line.split()[0] for line in text.splitlines()[1:])
    assert "label runs 2/8" in text


def test_plain_line_counts_the_worker_of_the_run_that_just_finished() -> None:
    """Two workers busy, one run finishes: its line still says two (its worker is busy until
    the record is handed over), as the scheduler reports in ``busy``."""
    clock = FakeClock()
    display = ProgressDisplay(
        console=Console(file=io.StringIO()), tiers=TIERS, enabled=False, clock=clock
    )
    with capture_logs() as logs, display:
        display(StageStarted(2, "telemetry", totals_by_tier={t: 2 for t in TIERS}))
        a, b = task("a", "FAST"), task("b", "FAST")
        display(RunStarted(a, running=1))
        display(RunStarted(b, running=2))
        clock.now += 11.0
        display(RunFinished(a, record(a, "VERIFIED"), running=1, busy=2))
        # a replay from the checkpoint does not reset the count
        display(RunFinished(task("c", "SLOW"), record(task("c", "SLOW"), "VERIFIED"), 0, True))
        clock.now += 11.0
        display(RunFinished(b, record(b, "VERIFIED"), running=0, busy=1))
        display(StageFinished(2, "telemetry"))  # its last line: nothing busy any more
    lines = [e for e in logs if e["event"] == "progress"]
    assert [e["workers_busy"] for e in lines] == [2, 1, 0]
    assert "running" not in lines[0]


@pytest.mark.anyio
async def test_scheduler_reports_busy_workers_when_a_run_finishes(
    anyio_backend: str, tmp_path: Path
) -> None:
    from calib_async.checkers.command.profile import CommandVerifier
    from calib_async.config.schema import parse_verifier
    from helpers.scheduling import scheduler_over

    code = "import sys, time; time.sleep(float(open(sys.argv[1]).read()))"
    rules = [{"exit_code": 0, "outcome": "VERIFIED"}]
    v = CommandVerifier(
        parse_verifier("s", {"command": [sys.executable, "-I", "-S", "-c", code, "{file}"],
                             "rules": rules})
    )  # fmt: skip
    tier = Tier("FAST", 20.0, "s", grace_s=0.1)
    tasks = []
    for name, seconds in (("quick", "0"), ("slow", "1.5")):
        path = tmp_path / name
        path.write_text(seconds)
        tasks.append(Task(CorpusItem(name, name, str(path), "0" * 64), tier, "s"))
    finished: list[RunFinished] = []
    listener = lambda e: finished.append(e) if isinstance(e, RunFinished) else None  # noqa: E731
    async with scheduler_over({"s": v}, workers=2, listeners=[listener]) as scheduler:
        records = [r async for r in scheduler.map(tasks)]
    assert [r.item_id for r in records] == ["quick", "slow"]
    # when the quick run finished, the slow one was still running: both workers were busy
    assert [(e.task.item.item_id, e.running, e.busy) for e in finished] == [
        ("quick", 1, 2),
        ("slow", 0, 1),
    ]


def test_disabled_display_logs_plain_lines_and_emits_no_ansi() -> None:
    clock = FakeClock()
    console = Console(file=io.StringIO(), width=100)  # not a terminal: enabled is ignored
    display = ProgressDisplay(
        console=console, tiers=TIERS, enabled=True, clock=clock, plain_interval_s=10.0
    )
    assert not display.enabled
    with capture_logs() as logs, display:
        display(StageStarted(2, "telemetry", totals_by_tier={t: 5 for t in TIERS}))
        for i in range(10):  # one run per 3 s: a progress line at 12 s and at 24 s
            t = task(f"i{i}", TIERS[i % 3])
            display(RunStarted(t, running=1))
            clock.now += 3.0
            display(RunFinished(t, record(t, "VERIFIED"), running=0))
        display(StageFinished(2, "telemetry", summary={"name": "clash", "records": 10}))
        display.print_summary({"noise_models": {"fast": {"timeout_rate": 0.1}}})
    events = [e["event"] for e in logs]
    assert events == [
        "stage.started",
        "progress",
        "progress",
        "progress",
        "stage.finished",
        "calibration.summary",
    ]
    last = [e for e in logs if e["event"] == "progress"][-1]
    assert last["FAST"] == "4/5 (V4 I0 T0 M0 E0)" and last["SLOW"] == "3/5 (V3 I0 T0 M0 E0)"
    assert logs[-2]["elapsed_s"] == 30.0
    assert (logs[-2]["name"], logs[-2]["summary_name"], logs[-2]["records"]) == (
        "telemetry",
        "clash",
        10,
    )
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in out
    assert "0.100" in out


def test_summary_tolerates_missing_keys_and_shows_cis() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    display = ProgressDisplay(console=console, tiers=["FAST", "SLOW"], enabled=False)
    export: dict[str, Any] = {
        "validation_report": {"summary": "FAILED", "passed": False},
        "noise_models": {
            "fast": {
                "timeout_rate": 0.12,
                "timeout_rate_ci": [0.08, 0.17],
                "spurious_fail_rate": None,
                "spurious_pass_rate": 0.3,
                "spurious_pass_rate_ci": [0.2, None],
                "timeout_distribution": {"type": "gamma", "params": {"a": 2.0, "scale": 90.0}},
                "timeout_for_rate": {"0.05": 0.81, 0.01: 1.4},
                "timeout_s": 0.5,
                "training_samples": 80,
            },
            "slow": {"timeout_distribution": {"type": None}},
            "balanced": {"timeout_distribution": {"type": "expon", "units": "s",
                                                  "params": {"scale": 1.5}}},
            "extra": "not a mapping",
        },
    }
    display.print_summary(export)
    display.print_summary({})
    out = console.file.getvalue()  # type: ignore[attr-defined]
    rows = [line for line in out.splitlines() if line.startswith("│")]
    fast = next(line for line in rows if "FAST" in line)
    assert "0.120 [0.080, 0.170]" in fast and "0.300" in fast and "gamma(a=2, scale=0.09 s)" in fast
    # above the tier's 0.5 s budget: marked
    assert "5%: 0.81 s (extrapolated" in fast and "0.5 s" in fast
    assert "no fit" in next(line for line in rows if "SLOW" in line)
    # one unit per column: time parameters in seconds whatever unit the export used
    assert "expon(scale=1.5 s)" in next(line for line in rows if "balanced" in line)
    assert "Statistical self-check (held-out validation of the model): FAILED" in out


SCRIPT = r"""
import sys, time, structlog
from rich.console import Console
sys.path[:0] = [sys.argv[1], str(__import__("pathlib").Path(sys.argv[1]).parent)]
from test_progress import task, record, TIERS
from calib_async.events import RunFinished, RunStarted, StageFinished, StageStarted
from calib_async.cli.logs import configure_logging
from calib_async.cli.progress import ProgressDisplay

console = Console()
configure_logging()
with ProgressDisplay(console=console, tiers=TIERS, enabled=console.is_terminal) as display:
    display(StageStarted(2, "telemetry", totals_by_tier={"FAST": 4, "BALANCED": 6, "SLOW": 8}))
    for i in range(3):
        for name in TIERS:
            t = task(f"i{i}", name)
            display(RunStarted(t, running=2))
            display(RunFinished(t, record(t, "VERIFIED" if i else "VERIFIER_TIMEOUT"), running=1))
    log = structlog.get_logger("calib_async.telemetry.scheduler")
    log.info("run.finished", run_id="r9", tier="SLOW", item="i2")
    time.sleep(0.3)  # let the live display refresh at least once with the log line above it
    display(StageFinished(2, "telemetry"))
display.print_summary({"noise_models": {"fast": {"timeout_rate": 0.25}}})
"""


@pytest.mark.parametrize("columns", [80, 150])
def test_pty_renders_a_bar_for_each_tier_and_logs_do_not_tear_it(columns: int) -> None:
    # COLUMNS too: GNU readline (imported under pytest) exports COLUMNS=80 to children
    env = dict(os.environ, COLUMNS=str(columns), LINES="40")
    child = pexpect.spawn(
        sys.executable,
        ["-c", SCRIPT, str(Path(__file__).parent)],
        encoding="utf-8",
        timeout=60,
        dimensions=(40, columns),
        env=env,
    )
    out = child.read()
    child.close()
    assert child.exitstatus == 0, out
    assert "\x1b[" in out  # a real terminal display
    text = ANSI.sub("", out).replace("\r", "")
    headers = (
        "VERIFIED  INVALID  TIMEOUT  MEM  ERROR" if columns >= 120 else "VER  INV  T/O  MEM  ERR"
    )
    assert headers in text
    for name, done in (("FAST", "3/4"), ("BALANCED", "3/6"), ("SLOW", "3/8")):
        lines = [line for line in text.splitlines() if re.match(rf"{name}\s+━", line)]
        assert lines, f"no bar for {name}:\n{text}"
        assert lines[-1].split()[2:3] == [done] and lines[-1].split()[-5:] == [
            "2",
            "0",
            "1",
            "0",
            "0",
        ]
        assert len(lines[-1]) <= columns
    log_lines = [line for line in text.splitlines() if "run.finished" in line]
    assert log_lines and all(
        "item=i2" in line and "run_id=r9" in line and "tier=SLOW" in line for line in log_lines
    )
    assert "0.250" in text


def test_piped_stdout_gets_no_ansi() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "\x1b" not in proc.stdout and "\x1b" not in proc.stderr
    assert not re.search(r"^(FAST|SLOW)\s+━", proc.stdout, re.M)  # plain log lines instead
    assert "stage.started" in proc.stderr and "stage.finished" in proc.stderr
    assert "Calibration summary" in proc.stdout and "0.250" in proc.stdout
