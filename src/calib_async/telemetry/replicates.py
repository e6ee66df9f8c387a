"""Verdict replicates (after stage 2): a seeded sample of items run R more times at each tier.

Each replicate is its own task (phase ``replicate``, ``attempt`` = the replicate index 1..R),
so a resumed run replays the replicates already in the checkpoint and runs only the others.
Replicates run replicate-major (every sampled item once, then again), so the runs of one item
are spread over the session rather than back to back. Together with the item's stage-2 run
each sampled item has R + 1 runs per tier; :mod:`calib_async.stats.flips` compares them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.records import CorpusItem, Phase, Task, TelemetryRecord, Tier
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.telemetry.stage import STAGE, outcome_counts, per_tier

NAME = "verdict replicates"


def seeded_sample(
    items: Sequence[CorpusItem], size: int, seed: int, purpose: str
) -> list[CorpusItem]:
    """``size`` items (all when fewer) drawn without replacement, in corpus order.

    ``purpose`` separates the streams: the replicate and load samples are independent draws.
    """
    if size >= len(items):
        return list(items)
    rng = random.Random(f"calib-async-{purpose}-sample-{seed}")
    chosen = sorted(rng.sample(range(len(items)), size))
    return [items[i] for i in chosen]


def replicate_tasks(
    sample: Sequence[CorpusItem], tiers: Sequence[Tier], replicates: int
) -> list[Task]:
    """The replicate tasks, replicate-major: index 1 of every (item, tier), then index 2, ..."""
    return [
        Task(item, tier, tier.verifier, Phase.REPLICATE, r)
        for r in range(1, replicates + 1)
        for item in sample
        for tier in tiers
    ]


async def run_replicates(
    runner: ResumingRunner,
    items: Sequence[CorpusItem],
    tiers: Sequence[Tier],
    *,
    replicates: int,
    sample_size: int,
    seed: int,
    listeners: Sequence[Listener],
) -> list[TelemetryRecord]:
    """Run (or replay) ``replicates`` more runs of a seeded sample of ``sample_size`` items.

    Runs go through the session's scheduler, bounded by ``--workers`` like stage 2.

    **Cancellation:** as :meth:`ResumingRunner.run_all`: running checkers are killed and
    reaped; finished replicates are already in the checkpoint and are not run again.
    """
    if replicates < 1 or sample_size < 1:
        return []
    sample = seeded_sample(items, sample_size, seed, "replicate")
    tasks = replicate_tasks(sample, tiers, replicates)
    emit(listeners, StageStarted(STAGE, NAME, len(tasks), per_tier(tasks), Phase.REPLICATE.value))
    records = [record async for record in runner.run_all(tasks)]
    emit(listeners, StageFinished(STAGE, NAME, outcome_counts(records)))
    return records
