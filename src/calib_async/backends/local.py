"""The default backend: checker processes on this machine, sampled by one shared sampler."""

from __future__ import annotations

from calib_async.runner.measured import run_process_measured
from calib_async.runner.sampler import TreeSampler
from calib_async.runner.spec import ExecResult, ExecSpec


class LocalBackend:
    """Runs each process here with :func:`calib_async.runner.measured.run_process_measured`."""

    name = "local"

    def __init__(self, *, sample_interval_s: float = 0.2) -> None:
        self._interval = sample_interval_s
        self._sampler: TreeSampler | None = None

    async def start(self) -> None:
        """Start the shared tree sampler.

        **Cancellation:** a sampler that started is stopped by :meth:`aclose`.
        """
        if self._sampler is None:
            self._sampler = TreeSampler(interval_s=self._interval)
            await self._sampler.__aenter__()

    async def run(self, spec: ExecSpec) -> ExecResult:
        """Run one process.

        **Cancellation:** the runner kills the process tree (shielded), reaps it, re-raises.
        """
        return await run_process_measured(spec, sampler=self._sampler)

    async def aclose(self) -> None:
        """Stop the sampler. Safe to call twice.

        **Cancellation:** the sampler's task group is cancelled and exits; it holds no process.
        """
        sampler, self._sampler = self._sampler, None
        if sampler is not None:
            await sampler.__aexit__(None, None, None)
