"""The two tiers of the process API: :func:`run_process_measured` runs one checker to the end
and returns its finished record; :func:`open_process_measured` yields the low-level handle for
streaming and embedding. Only these two construct a :class:`MeasuredProcess`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from calib_async.runner.process import MeasuredProcess
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spawn import SpawnError
from calib_async.runner.spawn_thread import start_off_loop
from calib_async.runner.spec import ExecResult, ExecSpec
from calib_async.runner.workdir import create_workdir, creation_error, remove_tree


@asynccontextmanager
async def open_process_measured(
    spec: ExecSpec, *, sampler: TreeSampler
) -> AsyncIterator[MeasuredProcess]:
    """Start ``spec`` and yield its handle; on leaving, the handle is waited for (and so killed
    and reaped if still running: call ``terminate()`` first to stop it early).

    **Cancellation:** as :meth:`MeasuredProcess.wait`: the tree is killed, shielded, then the
    cancellation propagates.
    """
    created = False
    try:
        create_workdir(spec.workdir)
        created = spec.workdir is not None
    except OSError as e:
        proc = MeasuredProcess(spec, sampler, spawn_error=creation_error(spec.workdir, e))
    else:
        proc = MeasuredProcess(spec, sampler)
    try:
        yield proc
    finally:
        try:
            if proc._result is None:
                if proc._proc is not None and proc._exit_at is None:
                    proc.terminate()
                await proc.wait()
        finally:
            if created and spec.workdir is not None:  # after the reap
                remove_tree(spec.workdir)


async def run_process_measured(spec: ExecSpec, *, sampler: TreeSampler | None = None) -> ExecResult:
    """Run one checker to the end and return its measured result; always reaps.

    Never raises for checker failures: a missing or non-executable ``argv[0]`` gives
    Termination.SPAWN_ERROR with a message. Without ``sampler`` a private one (interval
    ``spec.sample_interval_s``) lives for this call; a scheduler should share one.

    **Cancellation:** the whole tree is killed (SIGTERM, ``grace_s``, SIGKILL, sweep), shielded,
    the leader is reaped, then the cancellation is re-raised; no result is returned.
    """
    if sampler is None:
        async with TreeSampler(interval_s=spec.sample_interval_s) as own:
            return await _run_measured(spec, own)
    return await _run_measured(spec, sampler)


async def _run_measured(spec: ExecSpec, sampler: TreeSampler) -> ExecResult:
    """Spawn off the loop (:func:`calib_async.runner.spawn_thread.start_off_loop`: the run's
    working directory, the checker), then watch from the event loop. Only the spawn runs in a
    spawn thread; registering with the sampler and all waiting stay on the loop.

    **Cancellation:** the spawn is shielded: a started checker is always handed to a
    :class:`MeasuredProcess`, whose ``wait()`` kills and reaps it if cancelled.
    """
    pool = sampler.cgroup_pool
    cg = pool.acquire() if pool is not None else None
    t0 = time.monotonic()
    try:
        started, made = await start_off_loop(spec, cg)
    except SpawnError as e:
        if cg is not None and pool is not None:
            pool.release(cg)
        return await MeasuredProcess(spec, sampler, spawn_error=str(e), t0=t0).wait()
    try:
        return await MeasuredProcess(spec, sampler, started=(cg, started), t0=t0).wait()
    finally:
        if made:  # after the reap: no process of the run is left in it
            remove_tree(spec.workdir)  # type: ignore[arg-type]
