"""Run one checker process, measured: spawn, capture, limit, time out, kill the whole tree, reap.

:class:`MeasuredProcess` is the handle (pid, live tree stats, ``terminate()``, ``wait()``);
:mod:`calib_async.runner.measured` holds the two API tiers that construct it.

**Spawning and limits**: :mod:`calib_async.runner.spawn` (one Python path) and the run's cgroups
(:mod:`calib_async.runner.cgroups`). With a memory or pids controller the kernel enforces the
limit; a sampler tick that sees the cgroup's OOM kill or a refused fork ends the run at once
(Termination.MEMORY, Termination.PROCESS_LIMIT), since the rest of the tree may otherwise wait
for its timeout. Without controllers (Mechanism.RLIMIT) the sampler's watchdogs do it: a tree
whose RSS exceeds ``memory_mb`` or that has more than ``max_processes`` live processes is
killed (RLIMIT_NPROC counts every process of the user, and none as root).

**Waiting.** ``os.pidfd_open`` on the leader plus the two pipes go into one ``epoll`` object; the
task awaits ``anyio.wait_readable`` on that single fd (asyncio and trio, no task per stream, no
thread). The leader is reaped by our own ``os.wait4``, which gives the rusage.

**Output**: the first and last ``max(output_cap_bytes, 64 KiB)`` bytes of each stream, all counted.

**Timeout.** SIGTERM to the group, await the leader for ``grace_s``, SIGKILL the group; then the
sweep of the ordered ``finally`` in :meth:`MeasuredProcess.wait` (group, sampled members including
setsid escapees, cgroup, holders of our pipes), then the reap. The sweep also runs after a normal
exit: nothing a checker started outlives its run.

**Cancellation:** the same ladder, shielded, then re-raised; no process or fd is left.

**Memory.** Termination.MEMORY when the cgroup OOM-killed a process of the run, or (fallback)
the RSS watchdog fired, or the run failed while a memory limit was set and its output matches an
out-of-memory pattern, or it died of a SIGKILL the runner did not send. The first termination
reason wins. Peak memory: the cgroup's figure when there is a memory controller (exact, the whole
tree), else :func:`calib_async.runner.memory.memory_peak`.

**CPU.** ``cpu_time_ms`` is the cgroup's (``cpuacct.usage`` or ``cpu.stat``: descendants nobody
waited for included) where there is one, else wait4's user+sys; ``cpu_time_source`` says which.

**Duration** is monotonic, from just before the spawn to the moment the leader's exit was seen.

``ExecResult.memory_peak_source`` is "cgroup:memory.peak", "cgroup:memory.max_usage_in_bytes",
"rusage", "vmhwm" or "none" (never started). ``ExecResult.warnings`` may hold:
``cpu_rusage_below_sampled`` and ``cpu_rusage_below_cgroup`` (CPU of descendants wait4 never
saw), ``memory_peak_sampled_only`` (below the driver's floor: the figure is the largest sampled
VmHWM), ``killed_escaped_descendants`` (the sweep killed setsid escapees),
``output_pipe_held_open`` (something unseen kept stdout/stderr open; output may be incomplete).
"""

from __future__ import annotations

import os
import re
import resource
import select
import signal
import time
from contextlib import nullcontext, suppress

import anyio
import structlog

from calib_async.runner import cgroups, pause
from calib_async.runner.capture import OutputCapture
from calib_async.runner.killing import kill_pipe_holders, kill_verified
from calib_async.runner.memory import memory_peak
from calib_async.runner.sampler import TreeSampler, TreeStats
from calib_async.runner.spawn import DRIVER_FAILED, Leader, SpawnError, read_status
from calib_async.runner.spec import ExecResult, ExecSpec, Mechanism, Termination

log = structlog.get_logger(__name__)

MIN_OUTPUT_CAP = 64 * 1024
_READ_SIZE = 256 * 1024
_MIB = 2**20
_OOM = re.compile(
    rb"MemoryError|std::bad_alloc|Cannot allocate memory|out of memory|failed to create thread",
    re.IGNORECASE,
)


class MeasuredProcess:
    """A running checker tree. Constructed only by :func:`open_process_measured` and
    :func:`run_process_measured`; ``wait()`` must be awaited exactly once."""

    def __init__(
        self,
        spec: ExecSpec,
        sampler: TreeSampler,
        *,
        started: tuple[cgroups.RunCgroup | None, tuple[Leader, str, int, int]] | None = None,
        spawn_error: SpawnError | None = None,
        t0: float | None = None,
    ) -> None:
        self.spec, self.sampler = spec, sampler
        cap = max(spec.limits.output_cap_bytes, MIN_OUTPUT_CAP)
        self._out, self._err = OutputCapture(cap), OutputCapture(cap)
        self.reason: Termination | None = None
        self.message: str | None = None
        self.warnings: list[str] = []
        self._killed = False  # whether the runner sent any kill signal
        self._cg: cgroups.RunCgroup | None = None
        self._proc: Leader | None = None
        self.stats: TreeStats | None = None
        self._exit_at: float | None = None
        self._result: ExecResult | None = None
        self._scope: anyio.CancelScope | None = None
        self._terminate = False
        self._figures: cgroups.Figures | None = None
        self._status: str | None = None  # the wrapper's own error, read after the reap
        self.t0 = time.monotonic() if t0 is None else t0
        if spawn_error is not None:
            self._result = self._spawn_error(spawn_error)
            return
        try:
            self._spawn(started)
        except SpawnError as e:
            self._result = self._spawn_error(e)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _spawn(
        self,
        started: tuple[cgroups.RunCgroup | None, tuple[Leader, str, int, int]] | None,
    ) -> None:
        if started is None:
            raise SpawnError("nothing was started")
        self._cg, (self._proc, self.exe, r_out, r_err) = started
        try:
            self._watch(self._proc.pid, r_out, r_err)
        except BaseException as e:  # e.g. EMFILE: do not leave an unwatched checker behind
            with suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            os.waitpid(self._proc.pid, 0)
            self._proc.returncode = -signal.SIGKILL
            read_status(self._proc)  # closes the status pipe
            for fd in (r_out, r_err, getattr(self, "pidfd", -1)):
                with suppress(OSError):
                    os.close(fd)
            if hasattr(self, "ep"):
                self.ep.close()
            self._release_cgroup()
            if not isinstance(e, Exception):
                raise
            raise SpawnError(f"cannot watch checker {self.exe!r}: {e}") from None

    def _watch(self, pid: int, r_out: int, r_err: int) -> None:
        spec = self.spec
        self.floor_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pause.start()
        self.pidfd = os.pidfd_open(pid)
        self.ep = select.epoll(3)
        self.pipes = {r_out: self._out, r_err: self._err}
        for fd in (r_out, r_err):  # blocking is fine: read once per readiness, sole reader
            self.ep.register(fd, select.EPOLLIN)
        self.ep.register(self.pidfd, select.EPOLLIN)
        self._open = set(self.pipes)
        cg = self._cg
        limit = spec.limits.memory_mb * _MIB if spec.limits.memory_mb else None
        # The watchdogs only where no controller limits the run: a cgroup's limit is exact,
        # and RSS counts mapped file pages (Lean's .olean files) that the cgroup may reclaim.
        self.stats = self.sampler.register(
            pid,
            memory_limit_bytes=None if cg is not None and cg.mem_dir is not None else limit,
            on_breach=self._breach,
            max_processes=None if cg is not None and cg.pids_dir else spec.limits.max_processes,
            on_process_breach=self._process_breach,
        )
        if cg is not None and (cg.mem_dir is not None or cg.pids_dir is not None):
            self.stats.on_tick = self._cgroup_tick

    # -- events -------------------------------------------------------------------------------
    def _decide(self, reason: Termination, message: str) -> None:
        if self.reason is None:  # the first termination reason wins
            self.reason, self.message = reason, message

    def _signal_group(self, sig: int) -> None:
        """Signal the leader's process group (valid until the leader is reaped)."""
        assert self._proc is not None
        self._killed = self._killed or self._exit_at is None  # a kill that could end the leader
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _breach(self, stats: TreeStats) -> None:
        limit = self.spec.limits.memory_mb
        msg = f"tree RSS {stats.rss_bytes / _MIB:.0f} MiB exceeded the {limit} MiB limit"
        self._decide(Termination.MEMORY, msg)
        self._sweep()

    def _process_breach(self, stats: TreeStats) -> None:
        limit = self.spec.limits.max_processes
        msg = f"process tree had {stats.processes} processes, above the limit of {limit}"
        self._decide(Termination.PROCESS_LIMIT, msg)
        self._sweep()

    def _cgroup_tick(self) -> None:
        """At a sampler tick: a cgroup OOM kill or a refused fork ends the run now (the tree
        may live on without the killed process, or retry its forks, until its timeout)."""
        assert self._cg is not None
        oom, forks = self._cg.events_since_begin()
        if oom:
            self._decide(Termination.MEMORY, self._oom_message())
        elif forks:
            self._decide(Termination.PROCESS_LIMIT, self._pids_message(forks))
        else:
            return
        self.stats.on_tick = None  # type: ignore[union-attr]
        self._sweep()

    def _oom_message(self) -> str:
        return f"cgroup OOM kill at the {self.spec.limits.memory_mb} MiB memory limit"

    def _pids_message(self, forks: int) -> str:
        limit = self.spec.limits.max_processes
        return f"fork refused {forks} times at the limit of {limit} processes (pids.max)"

    def terminate(self) -> None:
        """Run the timeout ladder now (SIGTERM, grace, SIGKILL, sweep); ``wait()`` does it and
        returns Termination.TIMEOUT with the message "terminated by the caller"."""
        self._decide(Termination.TIMEOUT, "terminated by the caller")
        self._terminate = True
        if self._scope is not None:
            self._scope.deadline = -float("inf")

    def _exited_meanwhile(self) -> bool:  # at the deadline: is the leader's exit there to read?
        self._poll()
        return self._exit_at is not None

    def _poll(self) -> None:
        for fd, _ in self.ep.poll(0):
            if fd == self.pidfd:
                self.ep.unregister(fd)  # stays readable once exited: stop watching
                self._exit_at = time.monotonic()
                continue
            try:
                data = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                continue
            if data:
                self.pipes[fd].feed(data)
            else:
                self.ep.unregister(fd)
                self._open.discard(fd)

    async def _until(self, deadline: float, done: str) -> bool:
        """Read output until the leader exited (done="exit") or all pipes hit EOF ("eof"),
        or the anyio-clock deadline passed. True when done."""
        self._poll()
        if (self._exit_at is not None) if done == "exit" else not self._open:
            return True  # fast path: no cancel scope, no wait
        with anyio.CancelScope(deadline=deadline) as self._scope:
            while True:
                await anyio.wait_readable(self.ep.fileno())
                self._poll()
                if (self._exit_at is not None) if done == "exit" else not self._open:
                    return True
        return False

    def _sweep(self) -> None:
        """SIGKILL everything of the tree we know of. Safe until the leader is reaped."""
        self._signal_group(signal.SIGKILL)
        assert self.stats is not None
        if len(self.stats.members) > 1:
            members = self.stats.live_members()
            n = sum(kill_verified(p, st, signal.SIGKILL) for p, st in members)
            if n and self.stats.escaped and "killed_escaped_descendants" not in self.warnings:
                self.warnings.append("killed_escaped_descendants")
        if self._cg is not None:
            self._cg.kill()

    # -- the run ------------------------------------------------------------------------------
    async def wait(self) -> ExecResult:
        """Wait for the leader (enforcing the timeout), kill what is left, reap, measure.

        **Cancellation:** if the calling scope is cancelled (or anything raises) while the checker
        runs, the cleanup below runs shielded: SIGTERM to the group, up to ``grace_s`` awaiting
        the leader's exit, SIGKILL to the group, the sweep, the reap; then the cancellation is
        re-raised. So a cancelled wait returns within about ``grace_s`` and leaves no process.
        """
        if self._result is not None:
            return self._result
        assert self._proc is not None and self.stats is not None
        spec, finished = self.spec, False
        try:
            deadline = -float("inf") if self._terminate else anyio.current_time() + spec.timeout_s
            # The clock of a run is the checker's: a leader that exited while the driver could
            # not look (paused) is never a timeout; only one still running after its budget is.
            if not await self._until(deadline, "exit") and not self._exited_meanwhile():
                self._decide(
                    Termination.TIMEOUT,
                    f"killed after the {spec.timeout_s:g} s timeout (grace {spec.grace_s:g} s)",
                )
                self._signal_group(signal.SIGTERM)
                await self._until(anyio.current_time() + spec.grace_s, "exit")
            finished = True
        finally:
            # Shielding costs ~20 µs; a leader that exited with its pipes at EOF needs no await.
            must_await = not finished or self._exit_at is None or bool(self._open)
            with anyio.CancelScope(shield=True) if must_await else nullcontext():
                # 1. Cancelled or failed while the leader runs: the same ladder as a timeout
                #    (straight to step 2 if the ladder or a watchdog already signalled it).
                if not finished and self._exit_at is None and not self._killed:
                    self._decide(Termination.CANCELLED, "the calling scope was cancelled")
                    self._signal_group(signal.SIGTERM)
                    await self._until(anyio.current_time() + spec.grace_s, "exit")
                # 2. SIGKILL the group, every member the sampler saw (setsid escapees first get
                #    their own group killed), the cgroup. Before the reap: the unreaped leader pins
                #    its pgid, so the group cannot be a recycled one.
                self._sweep()
                # 3. The leader dies of that SIGKILL at the latest; await it through the pidfd.
                await self._until(float("inf"), "exit")
                # 4. Drain the pipes to EOF. If something unseen still holds them after a short
                #    while, find it by its open fds and kill it; give up after another bound.
                if finished and not await self._until(anyio.current_time() + 0.05, "eof"):
                    kill_pipe_holders(self._open)
                    if not await self._until(anyio.current_time() + max(1.0, spec.grace_s), "eof"):
                        self.warnings.append("output_pipe_held_open")
                # 5. Reap the leader ourselves: wait4 gives the rusage.
                _, status, ru = os.wait4(self._proc.pid, 0)
                self._proc.returncode = os.waitstatus_to_exitcode(status)
                self._status = read_status(self._proc)  # out of band: never the output
                # 6. Forget the tree (after the last use of its member list), read the cgroup's
                #    figures, release it, close fds.
                self.sampler.unregister(self.stats)
                if self._cg is not None:
                    self._figures = self._cg.figures()
                self._release_cgroup()
                for fd in (*self.pipes, self.pidfd):
                    os.close(fd)
                self.ep.close()
        if pause.pause_near(self.t0, self._exit_at or time.monotonic()):
            self.warnings.append("driver_paused")  # when it ended is unknown: not counted
        self._result = self._finish(ru)
        return self._result

    def _release_cgroup(self) -> None:
        if self._cg is not None and self.sampler.cgroup_pool is not None:
            self.sampler.cgroup_pool.release(self._cg)

    def _spawn_error(self, error: SpawnError) -> ExecResult:
        """A run that never reached the checker (a refused driver fork: marked, not counted)."""
        message = str(error)
        log.info("checker spawn error", argv=self.spec.argv, message=message)
        return ExecResult(
            self.spec.argv, Termination.SPAWN_ERROR, None, None,
            (time.monotonic() - self.t0) * 1000, 0.0, 0.0, "none", False, 0.0,
            b"", b"", 0, 0, message=message, warnings=(DRIVER_FAILED,) if error.driver else (),
        )  # fmt: skip

    def _finish(self, ru: resource.struct_rusage) -> ExecResult:
        assert self._proc is not None and self.stats is not None and self._exit_at is not None
        assert self._proc.returncode is not None  # reaped
        code, stats, warnings = self._proc.returncode, self.stats, self.warnings
        exit_code, sig = (code, None) if code >= 0 else (None, -code)
        out, err = self._out.value(), self._err.value()
        if self.reason is None and (why := self._status) is not None:  # the wrapper's, out of band
            return self._spawn_error(SpawnError(f"cannot start checker {self.exe!r}: {why}"))
        fig = self._figures
        if self.reason is None and fig is not None and fig.oom_kills:
            self._decide(Termination.MEMORY, self._oom_message())
        if self.reason is None and fig is not None and fig.fork_refusals:
            self._decide(Termination.PROCESS_LIMIT, self._pids_message(fig.fork_refusals))
        if self.reason is None and code != 0:
            if sig == signal.SIGKILL and not self._killed:
                self._decide(Termination.MEMORY, "SIGKILL not sent by the runner (OOM killer?)")
            elif self.spec.limits.memory_mb and (m := _OOM.search(out) or _OOM.search(err)):
                self._decide(Termination.MEMORY, f"out-of-memory message: {m[0].decode()!r}")
        cpu_ms, cpu_source = (ru.ru_utime + ru.ru_stime) * 1000, "rusage"
        if stats.cpu_ms > cpu_ms * 1.1 + 30:  # clock ticks are 10 ms
            warnings.append("cpu_rusage_below_sampled")
        if fig is not None and fig.cpu_ms is not None:
            if fig.cpu_ms > cpu_ms * 1.1 + 5:
                warnings.append("cpu_rusage_below_cgroup")
            cpu_ms, cpu_source = fig.cpu_ms, fig.cpu_source
        if fig is not None and fig.peak_bytes is not None:  # exact: the whole tree
            peak, source, floor = fig.peak_bytes / _MIB, fig.peak_source, False
        else:
            peak, source, floor = memory_peak(ru.ru_maxrss, stats.max_hwm_bytes, self.floor_kb)
            if source == "vmhwm" and ru.ru_maxrss <= self.floor_kb:
                warnings.append("memory_peak_sampled_only")
        return ExecResult(
            argv=self.spec.argv,
            termination=self.reason or Termination.EXITED,
            exit_code=exit_code,
            signal=sig,
            duration_ms=(self._exit_at - self.t0) * 1000,
            cpu_time_ms=cpu_ms,
            memory_peak_mb=peak,
            memory_peak_source=source,
            memory_peak_is_floor=floor,
            memory_final_mb=stats.rss_bytes / _MIB,
            stdout=out,
            stderr=err,
            stdout_bytes=self._out.total,
            stderr_bytes=self._err.total,
            message=self.message,
            cgroup=self._cg is not None,
            warnings=tuple(warnings),
            mechanism=self._cg.mechanism if self._cg is not None else Mechanism.RLIMIT,
            cpu_time_source=cpu_source,
            processes_peak=fig.pids_peak if fig is not None else None,
        )
