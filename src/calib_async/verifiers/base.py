"""The verifier protocol and the runner-side overrides applied before a profile classifies."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from calib_async.records import CorpusItem, Outcome, TimeoutKind
from calib_async.runner.spec import ExecResult, ExecSpec, Termination

if TYPE_CHECKING:
    from calib_async.records import Tier

#: Environment variables passed through from the parent. Everything else is dropped.
ENV_ALLOWLIST = ("PATH", "HOME", "LANG", "TMPDIR", "TZ", "USER", "LOGNAME")
ENV_ALLOWLIST_PREFIXES = ("LC_",)


def allowlisted_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The parent's allowlisted environment plus ``extra`` (which wins)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ENV_ALLOWLIST or k.startswith(ENV_ALLOWLIST_PREFIXES)
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def workdir_env(env: Mapping[str, str], workdir: str) -> dict[str, str]:
    """``env`` with ``TMPDIR`` set to the run's private directory and ``{workdir}`` filled in
    wherever a value names it."""
    out = {k: v.replace("{workdir}", workdir) for k, v in env.items()}  # one key: one pass
    out["TMPDIR"] = workdir
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """A profile's reading of a finished run."""

    outcome: Outcome
    timeout_kind: TimeoutKind | None = None
    uses_sorry: bool = False
    error_count: int = 0
    first_error: str | None = None
    axioms: tuple[str, ...] | None = None


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
