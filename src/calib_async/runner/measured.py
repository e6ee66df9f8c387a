"""The two tiers of the process API: :func:`run_process_measured` runs one checker to the end
and returns its finished record; :func:`open_process_measured` yields the low-level handle for
streaming and embedding. Only these two construct a :class:`MeasuredProcess`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from calib_async.runner.process import MeasuredProcess
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spawn import SpawnError, start_checker
from calib_async.runner.spawn_thread import spawn_in_thread
from calib_async.runner.spec import ExecResult, ExecSpec
from calib_async.runner.workdir import create_workdir, remove_tree


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
        message = f"cannot create the run's working directory {spec.workdir}: {e.strerror or e}"
        proc = MeasuredProcess(spec, sampler, spawn_error=message)
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
    try:
        create_workdir(spec.workdir)
    except OSError as e:
        message = f"cannot create the run's working directory {spec.workdir}: {e.strerror or e}"
        return await MeasuredProcess(spec, sampler or TreeSampler(), spawn_error=message).wait()
    try:
        if sampler is None:
            async with TreeSampler(interval_s=spec.sample_interval_s) as own:
                return await (await _start_measured(spec, own)).wait()
        return await (await _start_measured(spec, sampler)).wait()
    finally:
        if spec.workdir is not None:  # after the reap: no process of the run is left in it
            remove_tree(spec.workdir)


async def _start_measured(spec: ExecSpec, sampler: TreeSampler) -> MeasuredProcess:
    """Spawn in a spawn thread (:mod:`calib_async.runner.spawn_thread`: why a thread, and why
    not ``anyio.to_thread``), then watch from the event loop. Only the spawn runs in the thread;
    registering with the sampler and all waiting stay on the loop. Spawn threads never exit,
    which PR_SET_PDEATHSIG needs: it fires when the spawning *thread* ends.

    **Cancellation:** the spawn is shielded: a started checker is always handed to a
    :class:`MeasuredProcess`, whose ``wait()`` kills and reaps it if cancelled.
    """
    pool = sampler.cgroup_pool
    cg = pool.acquire() if pool is not None else None
    t0 = time.monotonic()
    try:
        started = await spawn_in_thread(start_checker, spec, cg)
    except SpawnError as e:
        if cg is not None and pool is not None:
            pool.release(cg)
        return MeasuredProcess(spec, sampler, spawn_error=str(e), t0=t0)
    return MeasuredProcess(spec, sampler, started=(cg, started), t0=t0)
