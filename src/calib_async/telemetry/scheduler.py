"""Bounded async scheduling of checker runs, the escalation ladder, and the embeddable API.

Usage from any anyio program (asyncio or trio)::

    async with Scheduler(checkers=checkers, workers=8) as scheduler:
        async for record in scheduler.map(tasks):
            ...

or, to feed tasks yourself::

    async with Scheduler(...) as scheduler:
        async with anyio.create_task_group() as tg:
            tg.start_soon(feed, scheduler)  # submit(task) ..., then close()
            async for record in scheduler.results():
                ...

**Cancellation** (for every public coroutine here): cancelling the surrounding scope cancels
every running checker; each is killed as a whole process tree (SIGTERM, grace period,
SIGKILL, sweep) under a shielded scope and reaped before the cancellation propagates, so no
process outlives the scheduler. Runs that finished before the cancellation have already been
delivered to listeners and to the results stream; runs that were killed are not delivered.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Self

import anyio
import structlog
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from calib_async.checkers.api import Checker
from calib_async.events import Listener, RunEscalated, RunFinished, RunStarted
from calib_async.records import Outcome, Task, TelemetryRecord
from calib_async.telemetry.record_builder import LoadAverage, build_record

log = structlog.get_logger(__name__)


class _DebugLevel:
    """Whether debug lines are wanted, asked of the logger at most once a second: a dropped
    ``log.debug`` still costs about 20 µs (a bound logger and the filter), once per run."""

    def __init__(self) -> None:
        self._next = -1.0
        self._enabled = True

    def enabled(self) -> bool:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + 1.0
            check = getattr(log, "is_enabled_for", None)
            self._enabled = True if check is None else bool(check(logging.DEBUG))
        return self._enabled


def escalation_ladder(multiplier: float) -> list[float]:
    """Timeout factors for escalation: 2, 4, 8, ... below ``multiplier``, then ``multiplier``.

    ``escalation_ladder(10) == [2, 4, 8, 10]``; a multiplier <= 1 gives no escalation.
    """
    if multiplier <= 1:
        return []
    factors: list[float] = []
    f = 2.0
    while f < multiplier:
        factors.append(f)
        f *= 2
    factors.append(float(multiplier))
    return factors


class Scheduler:
    """Runs checker tasks with at most ``workers`` checks at once.

    ``checkers`` maps a profile name (a task's ``verifier``) to its opened
    :class:`~calib_async.checkers.api.Checker`
    (:func:`calib_async.checkers.registry.open_checkers`).
    The scheduler owns them: it closes every one when it exits. Results stream out as runs
    finish, to ``listeners`` (events) and to the caller.
    """

    def __init__(
        self,
        *,
        checkers: Mapping[str, Checker],
        workers: int,
        listeners: Sequence[Listener] = (),
        master_seed: int = 0,
        run_id: str = "",
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.checkers = dict(checkers)
        self.workers = workers
        self.listeners = list(listeners)
        self.master_seed = master_seed
        self.run_id = run_id
        self.running = 0
        self._slots = anyio.Semaphore(workers)  # released by whichever task finishes
        self._load = LoadAverage()
        self._debug = _DebugLevel()
        self._tg: TaskGroup | None = None
        self._send: MemoryObjectSendStream[TelemetryRecord] | None = None
        self._receive: MemoryObjectReceiveStream[TelemetryRecord] | None = None
        self._outstanding = 0
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._send, self._receive = anyio.create_memory_object_stream[TelemetryRecord](
            max_buffer_size=math.inf
        )
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        try:
            if tg is not None:
                if exc is not None:
                    tg.cancel_scope.cancel()
                await tg.__aexit__(exc_type, exc, tb)
        finally:
            if self._send is not None:
                self._send.close()
            if self._receive is not None:
                self._receive.close()
            # after the runs: a checker that holds processes (a pool) must outlive its checks
            async with contextlib.AsyncExitStack() as closing:
                for checker in self.checkers.values():
                    closing.push_async_callback(checker.aclose)  # each shields itself
        return None

    # -- single runs -------------------------------------------------------------------------

    async def run_one(self, task: Task) -> TelemetryRecord:
        """Run one task under the concurrency bound and return its record.

        **Cancellation:** the checker's process tree is killed and reaped, then the
        cancellation propagates; no record is produced.
        """
        async with self._slots:
            return await self._run_unbounded(task)

    async def _run_unbounded(self, task: Task) -> TelemetryRecord:
        checker = self.checkers[task.verifier]
        version = await checker.version()
        self.running += 1
        concurrency = self.running
        load = self._load.get()
        self._emit(RunStarted(task=task, running=concurrency))
        try:
            observation = await checker.check(task)
        finally:
            self.running -= 1
        record = build_record(
            task,
            observation,
            concurrency=concurrency,
            load_avg_1m=load,
            master_seed=self.master_seed,
            run_id=self.run_id,
            checker_version=version,
        )
        if self._debug.enabled():
            log.debug(
                "run.finished",
                run_id=self.run_id,
                tier=task.tier.name,
                item=task.item.item_id,
                phase=task.phase.value,
                attempt=task.attempt,
                outcome=record.outcome,
                duration_ms=round(record.duration_ms, 1),
            )
        busy = self.workers - int(self._slots.value)  # this run's slot is still held
        self._emit(RunFinished(task=task, record=record, running=self.running, busy=busy))
        return record

    # -- many runs ---------------------------------------------------------------------------

    async def submit(self, task: Task) -> None:
        """Start ``task`` as soon as a worker is free (waits for one: backpressure).

        Its record arrives on :meth:`results`.

        **Cancellation:** if cancelled while waiting for a worker, the task is not started.
        """
        if self._tg is None or self._send is None:
            raise RuntimeError("use the scheduler inside 'async with'")
        if self._closed:
            raise RuntimeError("submit() after close()")
        await self._slots.acquire()
        self._outstanding += 1
        self._tg.start_soon(self._worker, task)

    async def _worker(self, task: Task) -> None:
        try:
            record = await self._run_unbounded(task)
            assert self._send is not None
            self._send.send_nowait(record)
        finally:
            self._slots.release()
            self._outstanding -= 1
            if self._closed and self._outstanding == 0 and self._send is not None:
                self._send.close()

    def close(self) -> None:
        """No more submissions; :meth:`results` ends after the outstanding runs finish."""
        self._closed = True
        if self._outstanding == 0 and self._send is not None:
            self._send.close()

    async def results(self) -> AsyncIterator[TelemetryRecord]:
        """Records of submitted tasks, in completion order, until close() and all are done.

        **Cancellation:** stops iterating; running checkers are killed when the scheduler's
        scope exits.
        """
        assert self._receive is not None
        async for record in self._receive:
            yield record

    async def map(self, tasks: Iterable[Task]) -> AsyncIterator[TelemetryRecord]:
        """Run ``tasks`` (consumed lazily, so memory stays flat) and yield records as they finish.

        The feeding runs in the scheduler's task group, so this generator never yields from
        inside a cancel scope of its own; closing it early stops the feeding and cancels the
        runs it started.

        **Cancellation:** stops feeding; running checkers are killed and reaped.
        """
        if self._tg is None:
            raise RuntimeError("use the scheduler inside 'async with'")
        slots = self._slots
        send, receive = anyio.create_memory_object_stream[TelemetryRecord](
            max_buffer_size=self.workers * 4
        )
        feeder_scope = anyio.CancelScope()
        pending = iter(tasks)

        async def worker(out: MemoryObjectSendStream[TelemetryRecord]) -> None:
            # One long-lived task per worker slot pulls the next task once it holds a slot
            # (lazy, so memory stays flat): no task is created per run.
            async with out:
                while True:
                    await slots.acquire()
                    try:
                        task = next(pending, None)
                        if task is None:
                            return
                        record = await self._run_unbounded(task)
                        # the consumer went away: the record is dropped with it
                        with contextlib.suppress(
                            anyio.BrokenResourceError, anyio.ClosedResourceError
                        ):
                            await out.send(record)
                    finally:
                        slots.release()

        async def feed() -> None:
            with feeder_scope:
                async with send, anyio.create_task_group() as inner:
                    for _ in range(self.workers):
                        inner.start_soon(worker, send.clone())

        self._tg.start_soon(feed)
        try:
            async with receive:
                async for record in receive:
                    yield record
        finally:
            feeder_scope.cancel()

    # -- escalation --------------------------------------------------------------------------

    async def escalate(
        self,
        task: Task,
        first: TelemetryRecord,
        *,
        max_multiplier: float,
        run_one: Callable[[Task], Awaitable[TelemetryRecord]] | None = None,
    ) -> list[TelemetryRecord]:
        """The escalation ladder for a timed-out run: retry at timeout x 2, x 4, ... up to
        ``max_multiplier``, stopping at the first run that does not time out.

        Each attempt is its own record (attempt 1, 2, ...) with the timeout it used. ``first``
        is the record that timed out; it is not re-run. ``run_one`` replaces
        :meth:`run_one` (the pipeline passes one that replays attempts already checkpointed).

        **Cancellation:** the running attempt's tree is killed; earlier attempts are already
        delivered to listeners.
        """
        records: list[TelemetryRecord] = []
        previous = first
        base = first.timeout_s
        run = run_one or self.run_one
        if previous.outcome != Outcome.VERIFIER_TIMEOUT:
            return records
        for attempt, factor in enumerate(escalation_ladder(max_multiplier), start=task.attempt + 1):
            nxt = replace(task, attempt=attempt, timeout_s=base * factor)
            self._emit(RunEscalated(task=nxt, previous=previous))
            record = await run(nxt)
            records.append(record)
            previous = record
            if record.outcome != Outcome.VERIFIER_TIMEOUT:
                break
        return records

    # -- events ------------------------------------------------------------------------------

    def _emit(self, event: RunStarted | RunFinished | RunEscalated) -> None:
        for listener in self.listeners:
            listener(event)
