"""The live display at 80 columns, its totals in every stage, and Ctrl-C's one marker."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from calib_async.cli.progress import ProgressDisplay
from calib_async.events import RunFinished, RunStarted, StageFinished, StageStarted
from calib_async.records import CorpusItem, Phase, Task, TelemetryRecord, Tier
from helpers import make_record

TIERS = ["FAST", "BALANCED", "SLOW"]


def task(item: str, tier: str, phase: Phase = Phase.TELEMETRY, attempt: int = 0) -> Task:
    verifier = tier.removeprefix("label:") if tier.startswith("label:") else "sim"
    return Task(
        item=CorpusItem(item, f"M.{item}", f"/c/{item}.lean", "0" * 64),
        tier=Tier(tier, 1.0, verifier),
        verifier=verifier,
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

DONE = re.compile(r"\b(\d+)/(\d+)\b")


def frame(display: ProgressDisplay, width: int) -> str:
    out = Console(file=io.StringIO(), width=width, color_system=None)
    out.print(display.render())
    return out.file.getvalue()  # type: ignore[attr-defined]


def busy_display(width: int) -> tuple[ProgressDisplay, FakeClock]:
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=width)
    display = ProgressDisplay(console=console, tiers=TIERS, enabled=True, clock=clock)
    plan = {"reference-profile-1": 20, "reference-profile-2": 20}
    display(StageStarted(3, "ground-truth labelling", total=40, totals_by_tier=plan))
    for i in range(26):  # profile 1 runs repeats beyond its plan of 20
        t = task(f"i{i}", "label:reference-profile-1", Phase.LABEL)
        display(RunStarted(t, running=1))
        clock.now += 1.0
        display(RunFinished(t, record(t, "VERIFIED"), running=0))
    for i in range(5):
        t = task(f"i{i}", "label:reference-profile-2", Phase.LABEL)
        display(RunStarted(t, running=1))
        clock.now += 1.0
        display(RunFinished(t, record(t, "PROOF_INVALID"), running=0))
    return display, clock


@pytest.mark.parametrize("width", [60, 80, 120])
def test_narrow_terminal_keeps_names_totals_and_eta(width: int) -> None:
    display, _ = busy_display(width)
    text = frame(display, width)
    assert all(len(line) <= width for line in text.splitlines())
    assert "…" not in text
    two = next(line for line in text.splitlines() if "reference-profile-2" in line)
    assert "consensus · reference-profile-2" in two and "5/20" in two
    assert "0:00:" in two  # its ETA
    assert "label runs 31/" in " ".join(text.split())


def test_counts_never_exceed_their_totals() -> None:
    display, _ = busy_display(160)
    text = frame(display, 160)
    pairs = [(int(a), int(b)) for a, b in DONE.findall(text)]
    assert pairs and all(done <= total for done, total in pairs), text
    assert "26/26" in text  # the plan grew with the repeats


def test_later_stages_get_live_totals_and_their_own_log_lines() -> None:
    clock = FakeClock()
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    display = ProgressDisplay(console=console, tiers=TIERS, enabled=True, clock=clock)
    display(StageStarted(2, "telemetry collection", 6, {t: 2 for t in TIERS}))
    for t in TIERS:
        for i in range(2):
            x = task(f"i{i}", t)
            display(RunFinished(x, record(x, "VERIFIED"), running=0))
    display(StageFinished(2, "telemetry collection"))
    display(StageStarted(2, "canaries", 6, {t: 2 for t in TIERS}, Phase.CANARY.value))
    c = task("i0.canary-sorry", "FAST", Phase.CANARY)
    display(RunStarted(c, running=1))
    clock.now += 1
    display(RunFinished(c, record(c, "VERIFIED"), running=0))
    text = frame(display, 120)
    line = next(line for line in text.splitlines() if line.startswith("canary · FAST"))
    assert "1/2" in line
    assert next(line for line in text.splitlines() if line.startswith("FAST ")).count("2/2")


def test_plain_log_lines_of_a_later_stage_count_that_stage() -> None:
    from structlog.testing import capture_logs

    clock = FakeClock()
    console = Console(file=io.StringIO(), width=120)
    display = ProgressDisplay(console=console, tiers=["FAST"], enabled=False, clock=clock)
    display(StageStarted(2, "telemetry collection", 1, {"FAST": 1}))
    x = task("i0", "FAST")
    display(RunFinished(x, record(x, "VERIFIED"), running=0))
    display(StageFinished(2, "telemetry collection"))
    with capture_logs() as logs:
        display(StageStarted(2, "verdict replicates", 2, {"FAST": 2}, Phase.REPLICATE.value))
        r = task("i0", "FAST", Phase.REPLICATE, attempt=1)
        display(RunFinished(r, record(r, "VERIFIED"), running=0))
        display(StageFinished(2, "verdict replicates"))
    progress = [e for e in logs if e["event"] == "progress"]
    assert progress and progress[-1].get("replicate:FAST", "").startswith("1/2")
    assert "FAST" not in progress[-1]  # no stale stage-2 counts


def test_interrupt_prints_one_marker() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    display = ProgressDisplay(console=console, tiers=TIERS, enabled=True, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt), display:
        display(StageStarted(2, "telemetry collection", 3, {t: 1 for t in TIERS}))
        raise KeyboardInterrupt
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert printed.count("✗ interrupted") == 1
    assert "✗ interrupted in stage 2/6 telemetry collection" in printed
