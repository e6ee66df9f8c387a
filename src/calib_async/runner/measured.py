"""The two tiers of the process API: :func:`run_process_measured` runs one checker to the end
and returns its finished record; :func:`open_process_measured` yields the low-level handle for
streaming and embedding. Only these two construct a :class:`MeasuredProcess`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from calib_async.runner.process import MeasuredProcess
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spawn import MIB, SpawnError, rlimit_plan
from calib_async.runner.spawn_thread import start_off_loop
from calib_async.runner.spec import ExecResult, ExecSpec
from calib_async.runner.workdir import release_workdir


async def _start(spec: ExecSpec, sampler: TreeSampler) -> tuple[MeasuredProcess, bool]:
    """Take a run cgroup (its limits set), spawn off the loop
    (:func:`calib_async.runner.spawn_thread.start_off_loop`: the run's working directory, the
    checker) and hand the leader to a :class:`MeasuredProcess`: (the handle, whether the
    workdir was created and must be removed after the reap). A spawn error is the handle's
    result.

    **Cancellation:** the spawn is shielded: a started checker is always handed to a
    :class:`MeasuredProcess`, whose ``wait()`` kills and reaps it if cancelled.
    """
    pool, limits = sampler.cgroup_pool, spec.limits
    t0 = time.monotonic()
    cg = None
    if pool is not None:
        memory = limits.memory_mb * MIB if limits.memory_mb else None
        try:
            cg = pool.acquire(memory, limits.max_processes)
        except OSError as e:
            message = f"cannot set up the run's cgroup: {e.strerror or e}"
            return MeasuredProcess(spec, sampler, spawn_error=message, t0=t0), False
    plan = rlimit_plan(
        limits,
        memory_cgroup=cg is not None and cg.mem_dir is not None,
        pids_cgroup=cg is not None and cg.pids_dir is not None,
    )
    try:
        started, made = await start_off_loop(spec, plan, cg.procs if cg is not None else ())
    except SpawnError as e:
        if cg is not None and pool is not None:
            pool.release(cg)
        return MeasuredProcess(spec, sampler, spawn_error=str(e), t0=t0), False
    return MeasuredProcess(spec, sampler, started=(cg, started), t0=t0), made


@asynccontextmanager
async def open_process_measured(
    spec: ExecSpec, *, sampler: TreeSampler
) -> AsyncIterator[MeasuredProcess]:
    """Start ``spec`` and yield its handle; on leaving, the handle is waited for (and so killed
    and reaped if still running: call ``terminate()`` first to stop it early).

    **Cancellation:** as :meth:`MeasuredProcess.wait`: the tree is killed, shielded, then the
    cancellation propagates.
    """
    proc, made = await _start(spec, sampler)
    try:
        yield proc
    finally:
        try:
            if proc._result is None:
                if proc._proc is not None and proc._exit_at is None:
                    proc.terminate()
                await proc.wait()
        finally:
            if made:  # after the reap
                release_workdir(spec.workdir)  # type: ignore[arg-type]


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
    """Spawn off the loop, then watch from the event loop. Only the spawn runs in a spawn
    thread; registering with the sampler and all waiting stay on the loop."""
    proc, made = await _start(spec, sampler)
    try:
        return await proc.wait()
    finally:
        if made:  # after the reap: no process of the run is left in it
            release_workdir(spec.workdir)  # type: ignore[arg-type]
