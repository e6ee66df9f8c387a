"""Events the pipeline and scheduler emit to listeners (progress display, logs, embedders).

A listener is any callable taking one event. Listeners are always called on the event-loop
thread (stages 4-6 run in a worker thread and hand their events to the loop with
``anyio.from_thread``) and must not block; the progress display only updates counters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from calib_async.records import Task, TelemetryRecord


@dataclass(frozen=True, slots=True)
class StageStarted:
    """One of the six stages (1..6) began. ``total`` is the number of runs it plans, if known;
    ``totals_by_tier`` splits it: per tier in stage 2, per consensus profile in stage 3.
    ``phase``: the phase of the runs it starts when it is one of stage 2's experiments
    (``canary``, ``replicate``, ``load``), so a display counts them apart from stage 2's own."""

    stage: int
    name: str
    total: int | None = None
    totals_by_tier: dict[str, int] | None = None
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class StageFinished:
    stage: int
    name: str
    summary: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunStarted:
    task: Task
    running: int  # checkers running after this one started


@dataclass(frozen=True, slots=True)
class RunFinished:
    task: Task
    record: TelemetryRecord
    running: int  # checkers still running after this one finished
    resumed: bool = False  # True when replayed from the checkpoint instead of run
    #: workers occupied when this was emitted, this run's own included: its worker is busy
    #: until the record is handed over (None: not known, e.g. a replay)
    busy: int | None = None


@dataclass(frozen=True, slots=True)
class RunEscalated:
    """A timed-out run is retried with a longer timeout (labelling's escalation ladder)."""

    task: Task  # the next attempt
    previous: TelemetryRecord


Event = StageStarted | StageFinished | RunStarted | RunFinished | RunEscalated
Listener = Callable[[Event], None]


def emit(listeners: Sequence[Listener], event: Event) -> None:
    """Call every listener with ``event`` (on the calling thread: the event loop's)."""
    for listener in listeners:
        listener(event)
