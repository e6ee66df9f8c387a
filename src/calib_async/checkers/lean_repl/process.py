"""One long-lived REPL process: start, one command at a time, measure, kill.

**Start.** ``argv`` from a list (never a shell), its own session (a kill reaches the whole
group), the run token in its environment (the driver's watcher kills every holder when the
driver dies, even by ``kill -9``: :mod:`calib_async.runner.leftovers`) and, where util-linux
``setpriv`` is installed, ``PR_SET_PDEATHSIG=SIGKILL`` on the leader.

**Waiting.** stdout, stderr and a pidfd of the leader go into one ``epoll`` object, awaited with
``anyio.wait_readable`` (asyncio and trio alike). While a command runs, both pipes are read
whenever they have data, so a REPL that writes megabytes to stderr never blocks on a full pipe;
stderr bytes that arrive between commands are drained at the start of the next one and counted
apart (``stderr_idle_bytes``).

**Measuring one command** (the window from the request's first byte written to the reply's
last byte read): CPU of the process tree as the exact difference of the kernel's counters
(utime + stime + cutime + cstime of every live member, in clock ticks), RSS of the tree before
and after, and the window's peak (the leader's ``VmHWM`` reset through ``clear_refs`` at the start
of the window; the tree's sampled RSS when that is not allowed). With ``memory_limit_mb`` the
tree's RSS is sampled every ``sample_interval_s`` and a breach kills the REPL (MEMORY).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio

from calib_async.checkers.lean_repl.procfs import ProcFiles, hwm_mb, tree_usage
from calib_async.checkers.lean_repl.protocol import ReplReply, ReplyFramer, decode_reply
from calib_async.errors import CalibError
from calib_async.runner.leftovers import TOKEN_VAR, current_token
from calib_async.runner.spec import Termination

_READ = 1 << 16
_TAIL = 4096
_SETPRIV = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")


class ReplStartError(CalibError):
    """The REPL could not be started (missing, not executable): a set-up mistake, so the run
    stops with this one-line message, which says what to fix."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one command produced, measured over its window."""

    reply: ReplReply | None
    termination: Termination  # EXITED: a reply came, or the REPL died on its own
    elapsed_ms: float
    cpu_ms: float
    rss_before_mb: float
    rss_after_mb: float
    rss_peak_mb: float
    peak_source: str
    stderr_bytes: int
    stderr_tail: bytes
    stdout_noise_bytes: int
    stderr_idle_bytes: int
    exit_code: int | None = None
    signal: int | None = None
    message: str | None = None
    bad_reply: str | None = None  # text that should have been a reply but was not JSON


def _resolve(argv0: str, path: str, cwd: str | None) -> str:
    """The REPL's executable (on the profile's PATH, or relative to its cwd), or
    ReplStartError saying what to fix."""
    if "/" in argv0:
        found = argv0 if os.path.isabs(argv0) else os.path.join(cwd or os.getcwd(), argv0)
        if os.access(found, os.X_OK) and not os.path.isdir(found):
            return found
    elif (hit := shutil.which(argv0, path=path)) is not None:
        return hit
    raise ReplStartError(
        f"cannot start the REPL {argv0!r}: not found or not executable (PATH={path!r}); fix the"
        " profile's command (an argv list, e.g. [lake, env, repl]) or its cwd"
    )


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class ReplProcess:
    """A started REPL (see the module docstring). Not safe for two commands at once."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str | None) -> None:
        env = dict(env)
        token = current_token()
        if token is not None:
            env[TOKEN_VAR] = token
        exe = _resolve(argv[0], env.get("PATH", os.defpath), cwd)
        full = [exe, *argv[1:]]
        if _SETPRIV:
            full = [_SETPRIV, "--pdeathsig", "KILL", "--", *full]
        try:
            self.proc = subprocess.Popen(
                full,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ReplStartError(
                f"cannot start the REPL {argv[0]!r}: {exc.strerror or exc}; fix the profile's"
                " command (an argv list) or cwd"
            ) from None
        self.pid = self.proc.pid
        self.started = time.monotonic()
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        os.set_blocking(self._in, False)
        self.pidfd = os.pidfd_open(self.pid)
        self.ep = select.epoll(3)
        for fd in (self._out, self._err, self.pidfd):
            self.ep.register(fd, select.EPOLLIN)
        self._open = {self._out, self._err}
        self.framer = ReplyFramer()
        self._replies: list[bytes] = []
        self._err_tail = bytearray()
        self._err_count = 0
        self.files = ProcFiles()
        # Under asyncio the epoll fd stays registered with the loop for the process's life and
        # its callback drains the pipes (between commands too): a command costs a future and a
        # timer instead of a reader added and removed and a cancel scope (anyio's portable
        # wait, used under trio, where it is cheap).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fut: asyncio.Future[None] | None = None
        with contextlib.suppress(RuntimeError):  # no asyncio loop running: trio
            self._loop = asyncio.get_running_loop()
        if self._loop is not None:
            self._loop.add_reader(self.ep.fileno(), self._ready)
        self._last: tuple[float, float] | None = None  # (CPU ms, RSS MiB) after the last command
        self.exited = False
        self.commands = 0  # commands sent (the header included)

    # -- I/O ----------------------------------------------------------------------------------
    def _poll(self) -> None:
        for fd, _ in self.ep.poll(0):
            if fd == self.pidfd:
                self.ep.unregister(fd)
                self.exited = True
                continue
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                continue
            if not data:
                self.ep.unregister(fd)
                self._open.discard(fd)
            elif fd == self._out:
                self._replies += self.framer.feed(data)
            else:
                self._err_count += len(data)
                self._err_tail += data
                del self._err_tail[:-_TAIL]

    async def _write(self, payload: bytes, deadline: float) -> bool:
        view = memoryview(payload)
        first = True
        while view:
            if not first:
                self._poll()  # keep both pipes drained while a large request goes in
            first = False
            try:
                view = view[os.write(self._in, view) :]
            except BlockingIOError:
                with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                    await anyio.wait_writable(self._in)
                    continue
                return False
            except (BrokenPipeError, OSError):
                return True  # it died: the reader sees the exit
        return True

    def _ready(self) -> None:
        """asyncio reader callback: drain the pipes, wake the waiting command if it is done."""
        self._poll()
        fut = self._fut
        if fut is not None and (self._replies or self.exited) and not fut.done():
            fut.set_result(None)

    async def _wait(self, until: float) -> None:
        if self._loop is not None:  # asyncio: the persistent reader, a future and a timer
            if self._replies or self.exited:
                return
            fut = self._fut = self._loop.create_future()
            timer = self._loop.call_later(max(0.0, until - time.monotonic()), _wake, fut)
            try:
                await fut
            finally:
                timer.cancel()
                self._fut = None
            return
        fd = self.ep.fileno()
        with anyio.move_on_after(max(0.0, until - time.monotonic())):
            while True:  # one cancel scope for the whole wait, not one per readiness
                await anyio.wait_readable(fd)
                self._poll()
                if self._replies or self.exited:
                    return

    # -- one command --------------------------------------------------------------------------
    async def exchange(
        self,
        payload: bytes,
        *,
        timeout_s: float,
        memory_limit_mb: float | None = None,
        sample_interval_s: float = 0.1,
    ) -> Exchange:
        """Send one request and read its reply (see the module docstring). What arrived since
        the last :meth:`_poll` (the pool's :attr:`alive` check just before) counts as idle.

        **Cancellation:** the REPL is killed and reaped (shielded), then the cancellation
        propagates.
        """
        idle = self._err_count
        self._err_count = 0
        self._err_tail.clear()
        noise0 = self.framer.noise_bytes
        # the counters read at the end of the previous command serve as this one's start: the
        # REPL sat blocked on its stdin in between (what it did idle is counted here)
        cpu0, rss0 = self._last if self._last is not None else tree_usage(self.pid, self.files)
        hwm = self.files.reset_hwm(self.pid)
        peak = rss0
        start = time.monotonic()
        deadline = start + timeout_s
        self.commands += 1
        reason: Termination | None = None
        message = None
        try:
            if not await self._write(payload, deadline):
                reason = Termination.TIMEOUT
            next_sample = start + sample_interval_s
            while reason is None and not self._replies and not self.exited:
                now = time.monotonic()
                if now >= deadline:
                    reason, message = Termination.TIMEOUT, f"no reply within {timeout_s:g} s"
                    break
                if memory_limit_mb is not None and now >= next_sample:
                    rss = tree_usage(self.pid, self.files)[1]
                    peak = max(peak, rss)
                    if rss > memory_limit_mb:
                        reason = Termination.MEMORY
                        message = (
                            f"REPL RSS {rss:.0f} MiB exceeded the {memory_limit_mb:g} MiB limit"
                        )
                        break
                    next_sample = now + sample_interval_s
                until = min(deadline, next_sample) if memory_limit_mb is not None else deadline
                await self._wait(until)
        except BaseException:
            self.kill()  # cancelled mid-command: its state is unknown
            await self.reap()  # shielded
            raise
        elapsed = (time.monotonic() - start) * 1000
        cpu1, rss1 = self._last = tree_usage(self.pid, self.files)
        window_hwm = hwm_mb(self.pid, self.files) if hwm else None
        if window_hwm is not None:
            peak, source = max(window_hwm, rss1), "vmhwm_window"
        else:
            peak, source = max(peak, rss1), "sampled_rss"
        reply = bad = None
        if reason is None and self._replies:
            text = self._replies.pop(0)
            try:
                reply = decode_reply(text)
            except ValueError:
                bad = text[:300].decode("utf-8", errors="replace")
        if reason is not None:
            self.kill()
        exit_code = sig = None
        if self.exited or reason is not None:
            exit_code, sig = await self.reap()
        return Exchange(
            reply=reply,
            termination=reason or Termination.EXITED,
            elapsed_ms=elapsed,
            cpu_ms=max(0.0, cpu1 - cpu0),
            rss_before_mb=rss0,
            rss_after_mb=rss1 if not self.exited else 0.0,
            rss_peak_mb=peak,
            peak_source=source,
            stderr_bytes=self._err_count,
            stderr_tail=bytes(self._err_tail),
            stdout_noise_bytes=self.framer.noise_bytes - noise0,
            stderr_idle_bytes=idle,
            exit_code=exit_code,
            signal=sig,
            message=message,
            bad_reply=bad,
        )

    # -- ending -------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        if self.ep.closed:
            return False
        self._poll()
        return not self.exited and self.proc.returncode is None

    def kill(self) -> None:
        """SIGKILL the whole session (the REPL and whatever it started)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    async def reap(self) -> tuple[int | None, int | None]:
        """Wait for the leader (after a kill or its own exit); drain what is left; close fds.
        Returns (exit code, signal).

        **Cancellation:** shielded (at most 30 s for the leader, 1 s for the pipes).
        """
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(30):
                while self.proc.poll() is None:
                    await anyio.wait_readable(self.pidfd)
            if self.proc.returncode is None:  # should not happen after SIGKILL
                self.proc.kill()
                self.proc.wait()
            # the group may still hold descendants: kill them too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            end = time.monotonic() + 1.0
            while self._open and time.monotonic() < end:
                await self._wait(end)
        self.close_fds()
        code = self.proc.returncode
        return (code, None) if code >= 0 else (None, -code)

    def close_fds(self) -> None:
        if self.ep.closed:
            return
        if self._loop is not None:
            self._loop.remove_reader(self.ep.fileno())
        self.ep.close()
        self.files.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(OSError):
            os.close(self.pidfd)

    async def aclose(self) -> None:
        """Kill and reap; idempotent.

        **Cancellation:** shielded, as :meth:`reap`.
        """
        if not self.ep.closed:
            self.kill()
            await self.reap()
