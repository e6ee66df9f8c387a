"""The Ray backend (``--backend ray``): each checker run is a Ray task on a cluster worker.

**What runs where.** The driver (scheduler, classification, records, the checkpoint) stays
here; only the process runner moves. A task calls the same
:func:`~calib_async.runner.measured.run_process_measured` the local backend uses, inside
``anyio.run(..., backend="asyncio")`` on the worker (a sampler per task, a cgroup pool per
worker process), so timeouts, whole-tree kills and telemetry are enforced where the checker
runs. The task returns the :class:`~calib_async.runner.spec.ExecResult` (plain frozen data)
to the driver; only the driver writes the checkpoint, so resuming a Ray run needs nothing
special.

**Resources.** Each task asks for ``num_cpus`` (default 1) and, when the tier sets a memory
limit, that much of Ray's ``memory`` resource. A request larger than the largest node offers
would never be scheduled; it is clamped to that node's figure (logged once).

**Shared filesystem.** A spec carries paths (the checker, the proof file, audit files written
by the driver, the working directory), not contents. Workers must see the driver's files at
the same paths, with the checker and ``calib-async`` (same version) installed: trivially true
for a local Ray, and on a cluster this means an NFS-style shared mount and one environment
image. A spec without a ``cwd`` runs in the driver's working directory when it exists on the
worker (Ray workers start elsewhere), so relative paths mean what they mean locally.

**Cancellation.** When the awaiting scope is cancelled (Ctrl-C, a driver timeout), the driver
calls ``ray.cancel(ref)``: Ray raises KeyboardInterrupt in the task, asyncio's runner turns it
into a cancellation of the runner, which kills the tree shielded (SIGTERM, grace, SIGKILL,
sweep) and reaps it. The runner never blocks in ``wait4``: it awaits the pidfd through
``anyio.wait_readable`` and calls ``wait4`` only once the leader has exited, and the sampler
wakes the loop every tick, so the interrupt is seen within a tick. The driver waits (shielded)
for the task to end, up to the spec's grace period plus ``cancel_margin_s``; after that,
``ray.cancel(ref, force=True)`` kills the worker as a backstop, and the worker's guardian
(below) kills the tree. Then the cancellation propagates; no result is returned, as
locally. A task cancelled by someone else (``ray.cancel`` from outside, a stopped job) is a
Termination.CANCELLED result, which classifies as a timeout, never as a crash.

**Worker death.** Tasks have ``max_retries`` (default 2) for system failures. A result of a
retried task carries the warning ``ray_retried`` (from the task's attempt number). A task
whose retries ran out becomes a Termination.SPAWN_ERROR result (VERIFIER_ERROR) with the
message "ray worker died: ..." and the warning ``ray_worker_died``; a worker killed by Ray's
memory monitor gives Termination.MEMORY. The run goes on either way. A checker runs in its own
session, so a dead worker's tree would outlive it (Ray kills only direct children, and only
on a clean exit). So each worker process starts one *guardian*, a detached helper (not a
child of the worker) blocked reading a pipe whose write end only the worker holds; checkers
on that worker get one extra environment variable, ``CALIB_ASYNC_RAY_GUARD=<worker mark>``.
At end of file (the worker is gone, however it died) the guardian SIGKILLs every process
whose environment carries the mark: the checkers and their descendants, setsid escapees
included (a process that empties its own environment is missed). Nothing is sent per run.

**trio.** Ray object refs are awaited on the asyncio loop (Ray resolves them via
``call_soon_threadsafe``), so anyio's trio backend cannot use this backend: ``start()`` raises
:class:`~calib_async.errors.CalibError`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from contextlib import suppress
from dataclasses import replace
from typing import Any

import anyio
import structlog

from calib_async.backends.ray_worker import run_on_worker
from calib_async.errors import CalibError
from calib_async.runner.spec import ExecResult, ExecSpec, Termination

log = structlog.get_logger(__name__)

_MIB = 2**20
TRIO_MESSAGE = (
    "--backend ray needs the asyncio backend; anyio's trio backend cannot await Ray tasks: "
    "run under asyncio (anyio.run(..., backend='asyncio')) or use --backend local"
)


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise CalibError(TRIO_MESSAGE) from None


#: Seconds to wait for a TCP connection to a ``--ray-address`` before giving up.
CONNECT_TIMEOUT_S = 10.0


def probe_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise CalibError (one line) when ``host:port`` (or ``ray://host:port``) does not accept a
    TCP connection within ``timeout`` s; "auto", "local" and addresses without a port are left
    to ``ray.init``."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise CalibError(
            f"cannot reach the Ray cluster at {address!r} ({why} within {timeout:g} s); check "
            "--ray-address (e.g. 'auto' on a cluster node, or ray://HOST:10001) or run "
            "'ray status'"
        ) from None


class RayBackend:
    """Runs each process in a Ray task (see the module docstring for the contract).

    ``address``: a cluster to join (``"auto"``, ``"ray://host:10001"``, ...); None starts a
    local Ray with every CPU of this machine, unless Ray is already initialised in this
    process (an embedding tool's session is reused, and left running by :meth:`aclose`).
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        sample_interval_s: float = 0.2,
        num_cpus: float = 1.0,
        max_retries: int = 2,
        cancel_margin_s: float = 5.0,
    ) -> None:
        self.address = address
        self.sample_interval_s = sample_interval_s
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.cancel_margin_s = cancel_margin_s
        self.init_s: float | None = None  # seconds ray.init took (None: reused a session)
        self._ray: Any = None
        self._remote: Any = None
        self._by_memory: dict[int | None, Any] = {}
        self._owns_ray = False
        self._max_node_memory: int | None = None
        self._clamped = False
        self._cwd = os.getcwd()

    async def start(self) -> None:
        """Connect to a cluster (in a worker thread), or start a local Ray (in the loop's own
        thread: see below), or reuse the Ray this process already initialised.

        ``ray.init`` takes seconds. Connecting runs in ``anyio.to_thread``. Starting a local
        Ray cannot: Ray gives the processes it starts PR_SET_PDEATHSIG, bound to the starting
        *thread*, and anyio retires idle worker threads after 10 s, which would kill the
        cluster mid-run. So the loop waits for a local start (before any checker runs).
        The caller's SIGTERM handler is restored afterwards (ray.init replaces it).

        Raises CalibError under trio, without the ray extra, or when Ray cannot start.

        **Cancellation:** ``ray.init`` is not interruptible; a cancel takes effect once it
        returns (the session is then closed by :meth:`aclose`).
        """
        _require_asyncio()
        if self._remote is not None:
            return
        try:
            import ray
        except ImportError:
            raise CalibError("--backend ray needs Ray: pip install 'calib-async[ray]'") from None
        self._ray = ray
        t0 = time.monotonic()
        if ray.is_initialized():
            self._owns_ray = False
        elif self.address or os.environ.get("RAY_ADDRESS"):
            # ray.init retries an address that does not answer for minutes: a bounded probe
            await anyio.to_thread.run_sync(probe_address, self.address or os.environ["RAY_ADDRESS"])
            self._owns_ray = await anyio.to_thread.run_sync(self._init)  # connects only
        else:
            # A local Ray starts here, in this thread, blocking the loop for its few seconds:
            # Ray starts its processes with PR_SET_PDEATHSIG, which fires when the *thread*
            # that started them exits, and anyio retires idle worker threads after 10 s.
            log.info("ray.starting_local", note="the event loop waits for ray.init")
            self._owns_ray = self._init()
        if self._owns_ray:
            self.init_s = time.monotonic() - t0
        self._max_node_memory = await anyio.to_thread.run_sync(self._largest_node_memory)
        self._remote = ray.remote(
            num_cpus=self.num_cpus, max_retries=self.max_retries, retry_exceptions=False
        )(run_on_worker)
        log.info("ray.started", address=self.address, owned=self._owns_ray, init_s=self.init_s)

    def _init(self) -> bool:
        ray = self._ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "ignore_reinit_error": True,
            "logging_level": logging.ERROR,  # not "Started a local Ray instance." on stderr
        }
        main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main else None
        try:
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray"
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CalibError(
                f"cannot start {where}: {first}; check --ray-address (e.g. 'auto' on a cluster "
                "node, or ray://HOST:10001) or run 'ray status'"
            ) from None
        finally:
            if main and sigterm is not None:  # ray.init sets a SIGTERM handler: keep ours
                signal.signal(signal.SIGTERM, sigterm)
        return True

    def _largest_node_memory(self) -> int | None:
        sizes = [
            int(n.get("Resources", {}).get("memory", 0))
            for n in self._ray.nodes()
            if n.get("Alive", n.get("alive", False))
        ]
        return max(sizes) if sizes and max(sizes) > 0 else None

    def _task(self, memory_mb: int | None) -> Any:
        """The remote function with this memory request (cached per distinct request)."""
        task = self._by_memory.get(memory_mb)
        if task is None:
            task = self._remote
            if memory_mb:
                want = memory_mb * _MIB
                if self._max_node_memory is not None and want > self._max_node_memory:
                    if not self._clamped:
                        log.warning(
                            "ray.memory_request_clamped",
                            requested_mb=memory_mb,
                            largest_node_mb=self._max_node_memory // _MIB,
                        )
                        self._clamped = True
                    want = self._max_node_memory
                task = task.options(memory=want)
            self._by_memory[memory_mb] = task
        return task

    async def run(self, spec: ExecSpec) -> ExecResult:
        """Run ``spec`` in a Ray task and return its result; worker deaths become results.

        **Cancellation:** ``ray.cancel(ref)`` (the task kills and reaps the tree), awaited
        shielded for up to ``spec.grace_s + cancel_margin_s``; then ``ray.cancel(ref,
        force=True)`` as a backstop; then the cancellation is re-raised.
        """
        if self._remote is None:
            raise RuntimeError("RayBackend.start() must be awaited before run()")
        ref = self._task(spec.limits.memory_mb).remote(spec, self.sample_interval_s, self._cwd)
        result: ExecResult
        attempt: int
        try:
            result, attempt = await ref
        except self._ray.exceptions.RayError as e:
            return self._failure(spec, e)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._cancel(ref, spec)
            raise
        if attempt > 0:
            log.info("ray.task_retried", argv=spec.argv[:2], attempt=attempt)
            result = replace(result, warnings=(*result.warnings, "ray_retried"))
        return result

    async def _cancel(self, ref: Any, spec: ExecSpec) -> None:
        ray = self._ray
        try:
            ray.cancel(ref)
        except Exception as e:  # a finished task or a lost connection: nothing left to stop
            log.info("ray.cancel_failed", error=repr(e))
            return
        with anyio.move_on_after(spec.grace_s + self.cancel_margin_s):
            with suppress(Exception):
                await ref
            return
        log.warning("ray.cancel_forced", argv=spec.argv[:2], waited_s=spec.grace_s)
        with suppress(Exception):
            ray.cancel(ref, force=True)

    def _failure(self, spec: ExecSpec, error: Exception) -> ExecResult:
        """A result for a task that raised instead of returning (see the module docstring)."""
        exc = self._ray.exceptions
        text = str(error).strip().splitlines()
        first = text[0][:300] if text else type(error).__name__
        if isinstance(error, exc.TaskCancelledError):
            return _result(spec, Termination.CANCELLED, "the Ray task was cancelled outside")
        if isinstance(error, exc.OutOfMemoryError):
            msg = f"Ray's memory monitor killed the worker: {first}"
            return _result(spec, Termination.MEMORY, msg, ("ray_worker_died",))
        if isinstance(error, exc.RuntimeEnvSetupError):
            raise CalibError(f"Ray could not set up the task environment: {first}") from None
        if isinstance(error, exc.RayTaskError):
            cause = error.cause if hasattr(error, "cause") else None
            if isinstance(cause, ImportError):
                raise CalibError(
                    f"a Ray worker cannot import calib_async ({cause}): install calib-async "
                    "(this version) in the Python environment of every Ray node"
                ) from None
            raise error  # a bug in the runner itself: fail as the local backend would
        log.warning("ray.worker_died", argv=spec.argv[:2], error=first)
        msg = f"ray worker died: {first}"
        return _result(spec, Termination.SPAWN_ERROR, msg, ("ray_worker_died",))

    async def aclose(self) -> None:
        """Shut Ray down if :meth:`start` started it (in a thread). Safe to call twice.

        **Cancellation:** shielded: a Ray this backend started is always shut down.
        """
        ray, owned = self._ray, self._owns_ray
        self._remote, self._by_memory, self._owns_ray = None, {}, False
        if ray is not None and owned:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(ray.shutdown)


def _result(
    spec: ExecSpec, termination: Termination, message: str, warnings: tuple[str, ...] = ()
) -> ExecResult:
    """A result for a run that never reported back (nothing was measured)."""
    return ExecResult(
        spec.argv, termination, None, None, 0.0, 0.0, 0.0, "none", False, 0.0,
        b"", b"", 0, 0, message=message, warnings=warnings,
    )  # fmt: skip


__all__ = ["TRIO_MESSAGE", "RayBackend"]
