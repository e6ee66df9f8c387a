"""One process per check: a profile builds the process (:class:`Verifier`), a
:class:`~calib_async.backends.Backend` runs it, :func:`classify_run` reads it.

:class:`OneShotChecker` is the :class:`~calib_async.checkers.api.Checker` every one-shot kind
(command, lean, simulated) opens. The runner-side overrides applied before a profile classifies
(:func:`classify_run`) live here too.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from calib_async.checkers.api import Observation, Verdict
from calib_async.checkers.environment import allowlisted_env, workdir_env
from calib_async.records import CorpusItem, Outcome, Task, TimeoutKind
from calib_async.runner.spec import ExecResult, ExecSpec, Limits, Termination

if TYPE_CHECKING:
    from calib_async.backends import Backend
    from calib_async.records import Tier

__all__ = [
    "OOM_KILL",
    "OneShotChecker",
    "Verdict",
    "Verifier",
    "allowlisted_env",
    "as_signal_death",
    "classify_run",
    "limits_for",
    "one_shot_checkers",
    "workdir_env",
]

VERSION_TIMEOUT_S = 10.0


class Verifier(Protocol):
    """A checker profile. Implementations: command (YAML), lean, simulated."""

    name: str

    def build_spec(
        self, item: CorpusItem, tier: Tier, *, timeout_s: float, attempt: int
    ) -> ExecSpec:
        """The process to run for ``item`` at ``tier`` with this timeout."""
        ...

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        """Pure: the verdict for a run that ended on its own (Termination.EXITED)."""
        ...

    def version_argv(self) -> tuple[str, ...] | None:
        """An argv that prints the checker's version, or None."""
        ...


def limits_for(tier: Tier) -> Limits:
    """The runner's limits for a run at ``tier``."""
    return Limits(
        memory_mb=tier.memory_limit_mb,
        max_processes=tier.max_processes,
        max_file_mb=tier.max_file_mb,
        output_cap_bytes=tier.output_cap_kb * 1024,
        address_space_mb=tier.address_space_limit_mb,
    )


MAX_SIGNAL = 64
OOM_KILL = "killed by a SIGKILL the runner did not send (the OOM killer?)"


def as_signal_death(result: ExecResult) -> ExecResult:
    """``result`` with an exit status 128+N (1 <= N <= 64) read as a death by signal N.

    That is how a shell reports a child killed by a signal, and how bwrap reports its checker's
    (it cannot re-raise the signal on itself), so a status of 137 cannot be told apart from a
    SIGKILL under the sandbox. Reading it the same way with and without the sandbox makes one
    exit status mean one thing everywhere. The record keeps the status as it was.
    """
    code = result.exit_code
    if code is not None and 128 < code <= 128 + MAX_SIGNAL:
        return replace(result, exit_code=None, signal=code - 128)
    return result


def classify_run(verifier: Verifier, result: ExecResult, tier: Tier) -> Verdict:
    """The runner's decision first (timeout, memory, spawn error), then the profile's.

    The first termination reason wins: a run the runner killed for time is a timeout even if
    its output also mentions memory. A run that ended on its own is shown to the profile with
    :func:`as_signal_death` applied; a SIGKILL the runner did not send (a status of 137
    included) is MEMORY_LIMIT_EXCEEDED, as the runner decides for a real one: the same outcome
    with and without ``--sandbox bwrap``.
    """
    if result.termination in (Termination.TIMEOUT, Termination.CANCELLED):
        return Verdict(Outcome.VERIFIER_TIMEOUT, timeout_kind=TimeoutKind.WALL)
    if result.termination is Termination.MEMORY:
        return Verdict(Outcome.MEMORY_LIMIT_EXCEEDED)
    if result.termination in (Termination.SPAWN_ERROR, Termination.PROCESS_LIMIT):
        return Verdict(Outcome.VERIFIER_ERROR, first_error=result.message)
    seen = as_signal_death(result)
    if seen.signal == signal.SIGKILL:
        return Verdict(Outcome.MEMORY_LIMIT_EXCEEDED, first_error=OOM_KILL)
    return verifier.classify(seen, tier)


class OneShotChecker:
    """A :class:`~calib_async.checkers.api.Checker` that runs one process per check.

    ``verifier`` builds the process and classifies it; ``backend`` places it (local or ray).
    The backend is shared and owned by whoever started it: :meth:`aclose` leaves it alone.
    """

    def __init__(self, verifier: Verifier, backend: Backend) -> None:
        self.name = verifier.name
        self.verifier = verifier
        self.backend = backend
        self._version: str | None = None
        self._probed = False

    async def check(self, task: Task) -> Observation:
        """Build the task's process, run it on the backend, classify it.

        **Cancellation:** the backend kills and reaps the process tree, then re-raises.
        """
        spec = self.verifier.build_spec(
            task.item, task.tier, timeout_s=task.effective_timeout_s, attempt=task.attempt
        )
        result = await self.backend.run(spec)
        return Observation(result, classify_run(self.verifier, result, task.tier))

    async def version(self) -> str | None:
        """The first line of the version command's output (exit 0), at most 200 characters.

        Probed once: callers that arrive while the probe runs get None, as do checks of a
        profile without a version command. A profile with ``observe_version`` (Lean) is shown
        the whole output, so it can adapt (Lean switches to ``--json`` when supported).

        **Cancellation:** the probe's process tree is killed; the version stays None.
        """
        if self._probed:
            return self._version
        self._probed = True  # concurrent callers do not start a second probe
        argv = self.verifier.version_argv()
        if not argv:
            return None
        result = await self.backend.run(
            ExecSpec(
                argv=tuple(argv), timeout_s=VERSION_TIMEOUT_S, env=allowlisted_env(), grace_s=0.5
            )
        )
        text = result.output_text.strip()
        version = text.splitlines()[0][:200] if text and result.exit_code == 0 else None
        self._version = version
        observe = getattr(self.verifier, "observe_version", None)
        if version is not None and observe is not None:
            observe(text)
        return version

    def with_verifier(self, verifier: Verifier) -> OneShotChecker:
        """The same checker with its profile replaced (a spec transform such as the sandbox)."""
        return OneShotChecker(verifier, self.backend)

    async def aclose(self) -> None:
        """Nothing to release: each check's process is reaped by the time it returns.

        **Cancellation:** returns at once.
        """
        return None


def one_shot_checkers(
    verifiers: Mapping[str, Verifier], backend: Backend
) -> dict[str, OneShotChecker]:
    """A one-shot checker per profile, all placing their runs on ``backend`` (for embedders
    and benchmarks that build profiles directly; a run opens them by kind instead)."""
    return {name: OneShotChecker(v, backend) for name, v in verifiers.items()}
