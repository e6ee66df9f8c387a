"""Signals and exit codes: only the CLI decides them.

SIGINT, SIGTERM and SIGHUP (a closed terminal) stop a run the same way: the library's
cancellation kills every checker tree and fsyncs the checkpoint, then the CLI prints the resume
command and exits 128 + the signal number. A second signal exits at once.

The subcommands without an event loop (``refit``, ``compare``, ``label``) run under
:func:`stop_on_signals`: SIGTERM and SIGHUP raise :class:`Stopped` in the main thread (SIGINT
stays KeyboardInterrupt), so their atomic writes clean up and the CLI exits 128 + N.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
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


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived while a subcommand ran (BaseException: no ``except Exception``
    in the subcommand swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Stopped` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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


def exit_if_threads_abandoned(exit_code: int) -> None:
    """Exit the process now if a stage abandoned on a signal still runs in a worker thread.

    Stage 1 and stages 4-6 run in worker threads abandoned on cancellation
    (``abandon_on_cancel``); the checkpoint is already fsynced and every checker killed when
    this is called, but Python would join those non-daemon threads at exit, so Ctrl-C would
    wait for the corpus scan or the fit to finish (seconds to minutes). Nothing they compute
    is kept: stdout and stderr are flushed and the process ends with ``exit_code``.
    """
    main = threading.main_thread()
    if threading.current_thread() is not main:
        return  # embedded in another program's thread: leave the exit to it
    if any(t.is_alive() and not t.daemon and t is not main for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(exit_code)


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
