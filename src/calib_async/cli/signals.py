"""Signals and exit codes: only the CLI decides them.

SIGINT, SIGTERM and SIGHUP (a closed terminal) stop a run the same way: the library's
cancellation kills every checker tree and fsyncs the checkpoint, then the CLI prints the resume
command and exits 128 + the signal number. A second signal exits at once.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import structlog

from calib_async.errors import CalibError, only_calib_error

log = structlog.get_logger(__name__)

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(CalibError):
    """The run was stopped by a signal after the checkpoint was flushed."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}", exit_code=128 + signum)
        self.signum = signum


async def run_until_signal(main: Callable[[], Awaitable[T]]) -> T:
    """Await ``main()``; on a stop signal cancel it and raise :class:`Interrupted`.

    **Cancellation:** ``main`` is cancelled with the surrounding scope; its own cancellation
    contract applies (the pipeline kills checkers and fsyncs the checkpoint).
    """
    stopped: list[int] = []
    result: list[T] = []
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(_watch, tg.cancel_scope, stopped)

            async def run() -> None:
                result.append(await main())
                tg.cancel_scope.cancel()

            tg.start_soon(run)
    except BaseExceptionGroup as group:
        user_error = only_calib_error(group)
        if user_error is None:
            raise
        raise user_error from None
    if stopped:
        raise Interrupted(stopped[0])
    return result[0]


async def _watch(
    scope: anyio.CancelScope, stopped: list[int], *, task_status: Any = anyio.TASK_STATUS_IGNORED
) -> None:
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        task_status.started()
        async for signum in signals:
            if stopped:  # second signal: force the exit now
                os._exit(128 + stopped[0])
            stopped.append(signum)
            log.warning("interrupt.received", signal=signal.Signals(signum).name)
            scope.cancel()
