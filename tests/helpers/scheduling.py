"""A scheduler over one-shot profiles, for tests that build profiles directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from calib_async.backends import Backend, running
from calib_async.backends.local import LocalBackend
from calib_async.checkers.oneshot import Verifier, one_shot_checkers
from calib_async.events import Listener
from calib_async.telemetry.scheduler import Scheduler


@asynccontextmanager
async def scheduler_over(
    verifiers: Mapping[str, Verifier],
    *,
    workers: int,
    backend: Backend | None = None,
    listeners: Sequence[Listener] = (),
    master_seed: int = 0,
    run_id: str = "",
) -> AsyncIterator[Scheduler]:
    """A started ``backend`` (local by default) and a scheduler whose checkers run each
    profile once per check on it; both closed on exit."""
    backend = backend or LocalBackend()
    checkers = one_shot_checkers(verifiers, backend)
    async with (
        running(backend),
        Scheduler(
            checkers=checkers,
            workers=workers,
            listeners=listeners,
            master_seed=master_seed,
            run_id=run_id,
        ) as scheduler,
    ):
        yield scheduler
