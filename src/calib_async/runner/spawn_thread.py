"""Spawning off the event loop: long-lived spawn threads, which wake the loop through an eventfd.

:func:`start_off_loop` is the one entry: it creates the run's working directory and has
:func:`spawn_in_thread` run :func:`calib_async.runner.spawn.start_checker` in a spawn thread,
which stays alive while the driver runs (PR_SET_PDEATHSIG fires when the spawning thread ends).

Why a thread at all: a vfork suspends the spawning thread until the child has exec'd; with busy
cores that is milliseconds, during which an event loop that spawned inline could serve no other
checker (``fork_exec`` releases the GIL, so a thread lets the loop go on).

Why not ``anyio.to_thread.run_sync``: per spawn it costs about 80-100 µs of driver CPU (a
future, a capacity limiter, a context copy, ``call_soon_threadsafe`` through the loop's
self-pipe), measured with ``/tmp``-free micro-benchmarks on our 2-core machine, and its worker
threads exit after 10 s idle. A checker whose leader asked for ``PR_SET_PDEATHSIG`` gets that
signal when the *thread* that spawned it exits, so spawning from a pool thread that may retire
would kill long checkers. The threads here never exit while the driver runs.

How: :func:`spawn_in_thread` puts ``(function, args, eventfd)`` on a ``queue.SimpleQueue`` and
awaits ``anyio.wait_readable`` on a fresh ``eventfd`` (works under asyncio and trio, and
with any number of event loops: the request carries its own wake-up fd). A spawn thread runs the
function, stores its result or exception and writes the eventfd. Threads serve the
queue, started on demand (one per spawn in flight, up to ``MAX_THREADS``), so a vfork whose
child is slow to get a core does not hold up the others.

After a ``fork()`` (Ray workers, multiprocessing) the child starts its own threads on first use.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio

from calib_async.runner import spawn
from calib_async.runner.spec import ExecSpec
from calib_async.runner.workdir import create_workdir, creation_error, release_workdir

T = TypeVar("T")
Started = tuple[spawn.Leader, str, int, int]  # leader, resolved argv[0], stdout fd, stderr fd

#: Most spawn threads per driver process. Threads are started on demand, one per spawn in
#: flight (a vfork blocks its thread until the child execs, which under load takes
#: milliseconds: a fixed 1 or 2 threads halved throughput in scripts/bench_scheduler.py), and
#: never exit; a scheduler has at most ``workers`` spawns in flight.
MAX_THREADS = 64

_queue: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
_lock = threading.Lock()
_owner_pid = -1  # the process whose threads serve _queue
_threads = 0
_in_flight = 0  # requests queued or being served


def _serve(requests: queue.SimpleQueue[list[Any]]) -> None:
    global _in_flight
    # A checker inherits its spawning thread's signal mask (Popen): it must block nothing,
    # whatever the thread that started this one blocked. (Python runs handlers in the main
    # thread only; a signal delivered here is handed over to it.)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    get = requests.get
    while True:
        req = get()
        try:
            req[3] = req[0](*req[1])
        except BaseException as e:  # handed to the awaiting task, which re-raises it
            req[4] = e
        with _lock:
            _in_flight -= 1
        with contextlib.suppress(OSError):  # cannot fail while the caller waits; never die
            os.eventfd_write(req[2], 1)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def _submit(req: list[Any]) -> None:
    global _owner_pid, _queue, _threads, _in_flight
    with _lock:
        if _owner_pid != os.getpid():  # first use, or a forked child (no threads there)
            _owner_pid, _queue, _threads, _in_flight = os.getpid(), queue.SimpleQueue(), 0, 0
        _in_flight += 1
        if _in_flight > _threads and _threads < MAX_THREADS:
            _threads += 1
            name = f"calib-async-spawn-{_threads}"
            threading.Thread(target=_serve, args=(_queue,), name=name, daemon=True).start()
        _queue.put(req)


async def spawn_in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a spawn thread; its result, or its exception re-raised here.

    **Cancellation:** shielded: the call always completes (a started checker must be handed
    on, not lost); a pending cancellation takes effect at the caller's next checkpoint.
    """
    efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    req: list[Any] = [function, args, efd, None, None]
    _submit(req)
    with anyio.CancelScope(shield=True):
        await anyio.wait_readable(efd)
    # Closed only once written: if the wait raised (KeyboardInterrupt), the fd is left open so
    # that the thread's late write can never hit a recycled fd number.
    os.close(efd)
    if req[4] is not None:
        raise req[4]
    return req[3]  # type: ignore[no-any-return]


async def start_off_loop(
    spec: ExecSpec, plan: spawn.RlimitPlan, cgroup_procs: Sequence[str] = ()
) -> tuple[Started, bool]:
    """Create ``spec.workdir`` (if set) and start the checker off the event loop: (started,
    whether the workdir was created here: the caller removes it after the reap). Raises
    SpawnError (nothing left behind: no process, no fd, no directory).

    **Cancellation:** shielded, as :func:`spawn_in_thread`.
    """
    made = False
    if spec.workdir is not None:
        try:
            create_workdir(spec.workdir)
        except OSError as e:
            raise spawn.SpawnError(creation_error(spec.workdir, e)) from None
        made = True
    try:
        return await spawn_in_thread(spawn.start_checker, spec, plan, cgroup_procs), made
    except BaseException:
        if made:
            release_workdir(spec.workdir)  # type: ignore[arg-type]
        raise
