"""Stage 2: every item at every tier, once, with full telemetry, in a seeded random order.

The (item, tier) tasks run interleaved in an order drawn from the run's seed, not item by
item or tier by tier: a machine that changes during the run (load from a neighbour, a
checker that slows down) then hits every tier and every kind of item alike, and the
statistics can test run order against outcomes (``calib_async.stats.stationarity``). The
order depends only on the seed and the task keys, so a resumed run draws the same order and
runs the tasks the checkpoint lacks in it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.records import CorpusItem, Task, TelemetryRecord, Tier
from calib_async.telemetry.resuming import ResumingRunner

STAGE = 2
NAME = "telemetry collection"


async def collect_telemetry(
    runner: ResumingRunner,
    items: Sequence[CorpusItem],
    tiers: Sequence[Tier],
    listeners: Sequence[Listener],
    *,
    seed: int = 0,
) -> list[TelemetryRecord]:
    """One telemetry-phase record per (item, tier), replayed from the checkpoint when there.

    **Cancellation:** as :meth:`ResumingRunner.run_all`: running checkers are killed and
    reaped; finished records are already in the checkpoint.
    """
    tasks = interleaved(
        [Task(item, tier, tier.verifier) for item in items for tier in tiers], seed=seed
    )
    emit(listeners, StageStarted(STAGE, NAME, len(tasks), {t.name: len(items) for t in tiers}))
    telemetry = [record async for record in runner.run_all(tasks)]
    emit(listeners, StageFinished(STAGE, NAME, outcome_counts(telemetry)))
    return telemetry


def per_tier(tasks: Iterable[Task]) -> dict[str, int]:
    """Planned runs per tier name (a display's totals)."""
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.tier.name] = counts.get(task.tier.name, 0) + 1
    return counts


def interleaved(tasks: Sequence[Task], *, seed: int) -> list[Task]:
    """``tasks`` in a random order drawn from ``seed`` (the same for the same keys)."""
    ordered = sorted(tasks, key=lambda t: t.key)
    random.Random(f"stage2-order:{seed}").shuffle(ordered)
    return ordered


def outcome_counts(records: Iterable[TelemetryRecord]) -> dict[str, int]:
    """Records per outcome."""
    counts: dict[str, int] = {}
    for r in records:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts
