"""Resume-aware task running: tasks already in the checkpoint are replayed, not run again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from calib_async.checkpoint.canonical import canonicalize
from calib_async.checkpoint.writing import CheckpointWriter
from calib_async.events import Listener, RunFinished, emit
from calib_async.records import Task, TelemetryRecord
from calib_async.telemetry.scheduler import Scheduler


class ResumingRunner:
    """Runs tasks through a :class:`Scheduler`, replaying those already in the checkpoint.

    Every record it runs is appended to the checkpoint at once; ``done`` maps task keys to
    finished records (the checkpoint's, then this run's).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        writer: CheckpointWriter,
        done: dict[str, TelemetryRecord],
        listeners: Sequence[Listener],
    ) -> None:
        self.scheduler = scheduler
        self.writer = writer
        self.done = done
        self.listeners = listeners

    def _replay(self, task: Task) -> TelemetryRecord | None:
        record = self.done.get(task.key)
        if record is not None:
            emit(self.listeners, RunFinished(task=task, record=record, running=0, resumed=True))
        return record

    async def run_all(self, tasks: Iterable[Task]) -> AsyncIterator[TelemetryRecord]:
        """Records of all ``tasks``: replayed ones first, then the others as they finish.

        **Cancellation:** running checkers are killed and reaped (see :class:`Scheduler`);
        every record already yielded is in the checkpoint.
        """
        pending: list[Task] = []
        for task in tasks:
            record = self._replay(task)
            if record is not None:
                yield record
            else:
                pending.append(task)
        async for record in self.scheduler.map(pending):
            yield self._keep(record)

    async def run_one(self, task: Task) -> TelemetryRecord:
        """The record of one task, replayed or run.

        **Cancellation:** the running checker is killed and reaped; nothing is appended.
        """
        record = self._replay(task)
        if record is None:
            record = self._keep(await self.scheduler.run_one(task))
        return record

    def _keep(self, record: TelemetryRecord) -> TelemetryRecord:
        """Append ``record`` to the checkpoint; return it as the checkpoint holds it (canonical:
        measurements rounded), so that later stages see exactly what a resume or a refit
        reads back from the log."""
        raw = canonicalize(record.to_dict())
        self.writer.append(raw)
        kept = TelemetryRecord.from_dict(raw)
        self.done[kept.task_key] = kept
        return kept
