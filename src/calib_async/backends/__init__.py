"""Where a checker process runs: ``local`` (default) or ``ray`` (a cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

from calib_async.runner.spec import ExecResult, ExecSpec

B = TypeVar("B", bound="Backend")


class Backend(Protocol):
    """Runs one measured process somewhere and returns its result.

    Implementations must enforce the timeout and kill the whole tree where the process runs,
    and must honour cancellation of the calling scope.
    """

    name: str

    async def start(self) -> None:
        """Acquire resources (called once, inside the event loop).

        **Cancellation:** whatever was acquired before the cancellation is released by
        :meth:`aclose`, which :func:`running` always calls.
        """
        ...

    async def run(self, spec: ExecSpec) -> ExecResult:
        """Run ``spec`` to completion.

        **Cancellation:** kills the process tree, then re-raises.
        """
        ...

    async def aclose(self) -> None:
        """Release resources. Safe to call twice.

        **Cancellation:** shielded: resources are released even when the caller is cancelled.
        """
        ...


@asynccontextmanager
async def running(backend: B) -> AsyncIterator[B]:
    """``backend`` started for the block and closed after it (whoever made it owns it; the
    one-shot checkers that place their runs on it only use it).

    **Cancellation:** the backend is closed before the cancellation propagates. Not shielded
    here: a backend that holds a task group (the sampler) must exit it in the same
    cancel-scope nesting it entered it; its own cleanup shields itself.
    """
    try:
        await backend.start()
        yield backend
    finally:
        await backend.aclose()


BACKENDS = ("local", "ray")


def make_backend(
    name: str, *, ray_address: str | None = None, sample_interval_s: float = 0.2
) -> Backend:
    """The backend called ``name``: ``local`` (default) or ``ray`` (needs the ray extra)."""
    if name == "local":
        from calib_async.backends.local import LocalBackend

        return LocalBackend(sample_interval_s=sample_interval_s)
    if name == "ray":
        from calib_async.backends.ray import RayBackend

        return RayBackend(address=ray_address, sample_interval_s=sample_interval_s)
    from calib_async.errors import CalibError

    raise CalibError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
