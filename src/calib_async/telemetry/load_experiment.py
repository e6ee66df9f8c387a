"""The load experiment (after stage 2): a seeded sample run at each concurrency level.

Design:

* **Rounds and blocks.** A block is one (tier, level) pass over the load sample with exactly
  ``level`` checkers in flight. The experiment runs ``rounds`` rounds (``--load-rounds``,
  default 3); each round runs every (tier, level) block once, in its own seeded random order.
  A block's time slot is then not tied to its level: a shock to the machine during one block
  (another job, thermal state, caches) hits one round of one level, and with several blocks
  per level the fit (:mod:`calib_async.stats.load_blocks`) measures such between-block
  variation and widens the slope's interval by it, instead of reading it as a load effect.
* **The level is held to the end.** When a block's last measured runs are in flight, filler
  runs (the block's own tasks again, attempt ``FILLER_ATTEMPT``, never logged) keep ``level``
  checkers running until every measured run has finished; then the fillers are killed.
  Without them the last ``level - 1`` runs of a block would run at a falling concurrency, the
  very confounding of the within-run diagnostic (:mod:`calib_async.stats.load`) this design
  avoids.
* **Resumable.** A measured run is a task of phase ``load`` whose attempt is its round
  (0, 1, ...) and whose key carries the level (``...|0|c4``); a resumed run replays the
  finished ones and runs only the rest, at the block's level. Round 0's keys and order are
  those of the earlier one-round design, so a checkpoint from it resumes into the rounds.
  Each record carries ``load_level``.

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
#: a filler's attempt: never a round's index, so a filler never shares a measured run's key
FILLER_ATTEMPT = -1
DEFAULT_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class LoadRuns:
    """The measured runs of the load experiment and the order its blocks ran in."""

    records: list[TelemetryRecord]
    #: (tier, level), first block first; round r is entries r*B .. (r+1)*B - 1 (B blocks a round)
    block_order: list[tuple[str, int]]


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


def block_order(
    tiers: Sequence[Tier], levels: Sequence[int], seed: int, rounds: int = 1
) -> list[tuple[str, int]]:
    """Every (tier, level) block once per round, each round in its own seeded random order.

    The first round's order is the one-round design's (same generator, drawn first).
    """
    rng = random.Random(f"calib-async-load-order-{seed}")
    out: list[tuple[str, int]] = []
    for _ in range(rounds):
        blocks = [(tier.name, level) for tier in tiers for level in levels]
        rng.shuffle(blocks)
        out += blocks
    return out


async def run_load_experiment(
    runner: ResumingRunner,
    items: Sequence[CorpusItem],
    tiers: Sequence[Tier],
    *,
    levels: Sequence[int],
    sample_size: int,
    seed: int,
    listeners: Sequence[Listener],
    rounds: int = DEFAULT_ROUNDS,
) -> LoadRuns:
    """Run (or replay) the load sample at every (tier, level) block, ``rounds`` times over,
    blocks in seeded order (module docstring).

    **Cancellation:** running checkers (measured and fillers) are killed and reaped; finished
    measured runs are already in the checkpoint and are not run again.
    """
    levels = sorted(set(levels))
    if not levels or sample_size < 1 or rounds < 1:
        return LoadRuns([], [])
    sample = seeded_sample(items, sample_size, seed, "load")
    order = block_order(tiers, levels, seed, rounds)
    per_round = len(tiers) * len(levels)
    by_name = {tier.name: tier for tier in tiers}
    totals = {tier.name: rounds * len(levels) * len(sample) for tier in tiers}
    emit(listeners, StageStarted(STAGE, NAME, len(order) * len(sample), totals, Phase.LOAD.value))
    records: list[TelemetryRecord] = []
    for position, (tier_name, level) in enumerate(order):
        tier = by_name[tier_name]
        round_ = position // per_round
        tasks = [
            Task(item, tier, tier.verifier, Phase.LOAD, round_, load_level=level)
            for item in sample
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
