"""The load experiment (after stage 2): a seeded sample run at each concurrency level.

Design:

* **Blocks.** One block per (tier, level): the load sample at that tier with exactly
  ``level`` checkers in flight. Blocks run one after another in a seeded random order, so
  drift in the machine (other jobs, thermal state, caches) is spread over the levels at
  random instead of lining up with them.
* **The level is held to the end.** When a block's last measured runs are in flight, filler
  runs (the block's own tasks again, attempt 1, never logged) keep ``level`` checkers
  running until every measured run has finished; then the fillers are killed. Without them
  the last ``level - 1`` runs of a block would run at a falling concurrency, the very
  confounding of the within-run diagnostic (:mod:`calib_async.stats.load`) this design avoids.
* **Resumable.** A measured run is a task of phase ``load`` whose key carries the level
  (``...|c4``); a resumed run replays the finished ones and runs only the rest, at the
  block's level. Each record carries ``load_level``.

On ``--backend ray`` the level is the number of Ray tasks in flight from the driver. How many
of them run at once, and on which nodes, is Ray's placement: on a cluster with more free CPU
slots than the level, the runs may land on different nodes and contend only for shared
resources (the filesystem, the network); with fewer slots, the excess waits in Ray's queue
(its wait is not part of a run's duration, which the worker measures).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

import anyio

from calib_async.errors import CalibError
from calib_async.events import Listener, StageFinished, StageStarted, emit
from calib_async.records import CorpusItem, Phase, Task, TelemetryRecord, Tier
from calib_async.telemetry.replicates import seeded_sample
from calib_async.telemetry.resuming import ResumingRunner
from calib_async.telemetry.stage import STAGE, outcome_counts

NAME = "load experiment"
FILLER_ATTEMPT = 1


@dataclass(frozen=True, slots=True)
class LoadRuns:
    """The measured runs of the load experiment and the order its blocks ran in."""

    records: list[TelemetryRecord]
    block_order: list[tuple[str, int]]  # (tier, level), first block first


def check_levels(levels: Sequence[int], workers: int) -> tuple[int, ...]:
    """Distinct levels, ascending; a level must be >= 1 and at most ``workers``."""
    out = tuple(sorted(set(levels)))
    if any(level < 1 for level in out):
        raise CalibError("--load-levels: every level must be >= 1, e.g. --load-levels 1,4,8")
    if out and out[-1] > workers:
        raise CalibError(
            f"--load-levels: level {out[-1]} exceeds --workers {workers}; "
            f"raise --workers to at least {out[-1]}"
        )
    return out


def block_order(tiers: Sequence[Tier], levels: Sequence[int], seed: int) -> list[tuple[str, int]]:
    """Every (tier, level) block once, in a seeded random order."""
    blocks = [(tier.name, level) for tier in tiers for level in levels]
    random.Random(f"calib-async-load-order-{seed}").shuffle(blocks)
    return blocks


async def run_load_experiment(
    runner: ResumingRunner,
    items: Sequence[CorpusItem],
    tiers: Sequence[Tier],
    *,
    levels: Sequence[int],
    sample_size: int,
    seed: int,
    listeners: Sequence[Listener],
) -> LoadRuns:
    """Run (or replay) the load sample at every (tier, level) block, blocks in seeded order.

    **Cancellation:** running checkers (measured and fillers) are killed and reaped; finished
    measured runs are already in the checkpoint and are not run again.
    """
    levels = sorted(set(levels))
    if not levels or sample_size < 1:
        return LoadRuns([], [])
    sample = seeded_sample(items, sample_size, seed, "load")
    order = block_order(tiers, levels, seed)
    by_name = {tier.name: tier for tier in tiers}
    totals = {tier.name: len(levels) * len(sample) for tier in tiers}
    emit(listeners, StageStarted(STAGE, NAME, len(order) * len(sample), totals, Phase.LOAD.value))
    records: list[TelemetryRecord] = []
    for tier_name, level in order:
        tier = by_name[tier_name]
        tasks = [
            Task(item, tier, tier.verifier, Phase.LOAD, 0, load_level=level) for item in sample
        ]
        records.extend(await run_block(runner, tasks, level))
    emit(listeners, StageFinished(STAGE, NAME, outcome_counts(records)))
    return LoadRuns(records, order)


async def run_block(
    runner: ResumingRunner, tasks: Sequence[Task], level: int
) -> list[TelemetryRecord]:
    """The records of ``tasks`` run with ``level`` checkers in flight, fillers at the end.

    **Cancellation:** every running checker of the block is killed and reaped.
    """
    pending = [t for t in tasks if t.key not in runner.done]
    # replayed from the checkpoint (run_one emits the replay event and starts nothing)
    records = [await runner.run_one(t) for t in tasks if t.key in runner.done]
    if not pending:
        return records
    slots = anyio.Semaphore(level)
    finished = anyio.Event()
    remaining = len(pending)

    async def measured(task: Task) -> None:
        nonlocal remaining
        try:
            records.append(await runner.run_one(task))
            remaining -= 1
            if remaining == 0:
                finished.set()  # before the slot is released: no filler starts after the last
        finally:
            slots.release()

    async def filler(task: Task) -> None:
        try:
            await runner.scheduler.run_one(task)  # never logged: it only holds the level
        finally:
            slots.release()

    async def stop_filling(scope: anyio.CancelScope) -> None:
        await finished.wait()
        scope.cancel()

    async with anyio.create_task_group() as tg:
        for task in pending:
            await slots.acquire()
            tg.start_soon(measured, task)
        if level > 1:
            with anyio.CancelScope() as filling:
                tg.start_soon(stop_filling, filling)
                async with anyio.create_task_group() as fillers:
                    for task in itertools.cycle(pending):
                        await slots.acquire()
                        if finished.is_set():
                            slots.release()
                            break
                        fillers.start_soon(filler, replace(task, attempt=FILLER_ATTEMPT))
                    fillers.cancel_scope.cancel()
    return records
