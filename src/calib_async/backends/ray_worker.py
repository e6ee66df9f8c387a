"""The Ray backend's worker side: what runs inside a Ray worker process for each task.

Imported by the driver only to hand :func:`run_on_worker` to ``ray.remote``; everything here
executes on the worker: the guardian that kills a dead worker's checkers, the worker's cgroup
pool, and the measured run itself (the same runner the local backend uses).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from typing import Any

import anyio
import structlog

from calib_async.runner.spec import ExecResult, ExecSpec

log = structlog.get_logger(__name__)

GUARD_VAR = "CALIB_ASYNC_RAY_GUARD"  # set in each checker's environment on a Ray worker

_GUARDIAN_SOURCE = """\
import os, signal, sys
if os.fork():
    os._exit(0)  # detach: Ray kills its worker's direct children, but not this grandchild
sys.stdin.buffer.read()  # returns at end of file: the worker is gone
mark = ("\\0%s=%s\\0" % (sys.argv[1], sys.argv[2])).encode()
for _ in range(5):  # again while members of a tree may still be forking
    found = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/environ" % name, "rb") as f:
                    if mark in b"\\0" + f.read():
                        os.kill(int(name), signal.SIGKILL)
                        found += 1
            except OSError:
                pass
    if not found:
        break
"""


class _Guardian:
    """Per worker process: a detached helper that, when this worker dies, SIGKILLs every
    process whose environment carries this worker's mark (its checkers and their
    descendants, even those that called setsid). It costs nothing per run: it only waits for
    end of file on a pipe whose write end this worker alone holds."""

    def __init__(self) -> None:
        self._pid = -1  # the worker pid it guards (a forked worker needs its own)
        self._fd = -1
        self.token = ""

    def ensure(self) -> str:
        """Start the guardian for this process if needed; the mark's value for checkers."""
        if self._pid != os.getpid():
            token = f"{os.getpid()}.{uuid.uuid4().hex[:12]}"
            r, w = os.pipe()  # not inheritable: checkers never hold the write end
            try:
                helper = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _GUARDIAN_SOURCE, GUARD_VAR, token],
                    stdin=r,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                helper.wait()  # the intermediate exits at once after forking the guardian
            except BaseException:
                os.close(w)
                raise
            finally:
                os.close(r)
            self._pid, self._fd, self.token = os.getpid(), w, token
        return self.token


_guardian = _Guardian()


def _attempt_number() -> int:
    """0 for the first execution of this task, n for its n-th retry (0 if Ray cannot say)."""
    try:
        import ray

        worker = ray._private.worker.global_worker
        return int(worker.core_worker.get_current_task_attempt_number())
    except Exception:
        return 0


_cgroups: dict[int, Any] = {}  # worker pid -> its CgroupPool (or None: not usable)


def _worker_cgroup_pool() -> Any:
    """One pool of run cgroups per worker process, reused by all its tasks (a pool per task,
    a fresh sampler's own, creates and removes cgroups every run: about 1 ms more here)."""
    pid = os.getpid()
    if pid not in _cgroups:
        from calib_async.runner import cgroups

        _cgroups[pid] = cgroups.open_pool()
    return _cgroups[pid]


async def _measure(spec: ExecSpec, sample_interval_s: float) -> ExecResult:
    from calib_async.runner.measured import run_process_measured
    from calib_async.runner.sampler import TreeSampler

    async with TreeSampler(interval_s=sample_interval_s, cgroups=False) as sampler:
        sampler.cgroup_pool = _worker_cgroup_pool()
        try:
            return await run_process_measured(spec, sampler=sampler)
        finally:
            sampler.cgroup_pool = None  # the worker's pool outlives this sampler


def run_on_worker(
    spec: ExecSpec, sample_interval_s: float, driver_cwd: str
) -> tuple[ExecResult, int]:
    """The Ray task: run ``spec`` here and return (result, attempt number)."""
    attempt = _attempt_number()
    try:
        spec = replace(spec, env={**spec.env, GUARD_VAR: _guardian.ensure()})
    except OSError as e:  # costs only the protection against a dying worker, never the run
        log.warning("ray.guardian_unavailable", error=repr(e))
    if (spec.cwd is None or not os.path.isabs(spec.cwd)) and os.path.isdir(driver_cwd):
        spec = replace(spec, cwd=os.path.normpath(os.path.join(driver_cwd, spec.cwd or ".")))
    result = anyio.run(_measure, spec, sample_interval_s, backend="asyncio")
    return result, attempt


__all__ = ["GUARD_VAR", "run_on_worker"]
