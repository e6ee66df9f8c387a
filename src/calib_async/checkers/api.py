"""The checker seam: what a checker kind declares, and what a checker does.

A **kind** (the YAML ``kind:`` value) is a :class:`CheckerKind`: it names the extra profile keys
it accepts, validates a profile, declares its built-in profiles and tiers and its per-tier
strictness, and opens a :class:`Checker` for one profile. A **checker** turns a
:class:`~calib_async.records.Task` into an :class:`Observation`; how it does so is its own
affair (one process per check, a pool of long-lived processes, a service).

Built-in kinds live in their own packages (``checkers/command``, ``checkers/lean``,
``checkers/simulated``); a third party adds one through the entry-point group
``calib_async.checkers`` (see :mod:`calib_async.checkers.registry` and README, "Adding a
checker kind"). :class:`KindBase` gives the defaults, so a new kind states only what differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from calib_async.records import Outcome, Task, Tier, TimeoutKind
from calib_async.runner.spec import ExecResult

if TYPE_CHECKING:
    from calib_async.backends import Backend
    from calib_async.profiles import CheckerConfig, VerifierConfig

__all__ = [
    "Checker",
    "CheckerKind",
    "KindBase",
    "Observation",
    "OpenContext",
    "Verdict",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A checker's reading of a finished check."""

    outcome: Outcome
    timeout_kind: TimeoutKind | None = None
    uses_sorry: bool = False
    error_count: int = 0
    first_error: str | None = None
    axioms: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What one check produced.

    ``result`` carries the measurements: a one-shot kind gets them from the measured process;
    a pool or service kind fills the same fields from its own (termination, duration_ms,
    cpu_time_ms, memory_peak_mb with memory_peak_source, stdout/stderr with byte counts,
    message). ``details`` is kind-specific telemetry, JSON-ready (str keys; str, int, float,
    bool, None, lists and mappings of them); the record keeps it in its field ``checker``
    (None when empty).
    """

    result: ExecResult
    verdict: Verdict
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Checker(Protocol):
    """One opened profile: checks tasks until closed."""

    name: str  # the profile name

    async def check(self, task: Task) -> Observation:
        """Check ``task.item`` at ``task.tier`` within ``task.effective_timeout_s``.

        **Cancellation:** kills whatever it started for this check (and reaps it), then
        re-raises; no observation is produced.
        """
        ...

    async def version(self) -> str | None:
        """The checker's version string (first line, at most 200 characters), or None when
        it has none or cannot tell; computed once and cached.

        **Cancellation:** as :meth:`check`; a cancelled probe is not cached.
        """
        ...

    async def aclose(self) -> None:
        """Release everything the checker holds. Idempotent.

        **Cancellation:** shielded: no process the checker started survives it.
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenContext:
    """What a run gives every checker it opens."""

    work_dir: Path  # absolute; a kind makes its own subdirectory under it
    backend: Backend  # placement of one-shot runs; pool and service kinds may ignore it
    sandbox: str | None = None  # "bwrap" or None; a kind that cannot honour it raises
    sample_interval_s: float = 0.2
    run_id: str = ""


class CheckerKind(Protocol):
    """A kind of checker (the YAML ``kind:`` value). See :class:`KindBase` for defaults."""

    name: str  # the YAML ``kind:`` value
    #: extra top-level profile keys this kind accepts (stored in ``VerifierConfig.options``)
    profile_keys: frozenset[str]
    #: built-in canary classes that apply to this kind's items (the Lean ones read Lean source)
    canary_classes: tuple[str, ...]

    def validate(self, config: VerifierConfig) -> None:
        """Raise :class:`~calib_async.errors.ConfigError` (one line, with the fix) when the
        profile is not usable by this kind."""
        ...

    def validate_tier(self, config: VerifierConfig, tier: Tier) -> None:
        """Raise ConfigError when ``tier``'s options do not suit this kind's ``config``."""
        ...

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        """Per-tier option defaults (strictness), by built-in tier name."""
        ...

    def defaults(self) -> CheckerConfig | None:
        """Built-in profiles and tiers (the set-up when no ``--config`` replaces them)."""
        ...

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        """Whether a check with ``config`` at ``tier`` runs every check this kind knows, so
        its verdict may count as ground truth (consensus; see labels/consensus.py)."""
        ...

    def with_project(self, config: VerifierConfig, project: str) -> VerifierConfig:
        """``config`` with the run's ``--lean-project`` applied (unchanged if it has no use)."""
        ...

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        """A checker for ``config``. Starts nothing yet: resources are acquired on first use
        and released by :meth:`Checker.aclose`."""
        ...


class KindBase:
    """Defaults for a :class:`CheckerKind`: no extra keys, no built-in profiles or canaries,
    every check strict. A subclass sets ``name`` and implements :meth:`open`."""

    name: str = ""
    profile_keys: frozenset[str] = frozenset()
    canary_classes: tuple[str, ...] = ()

    def validate(self, config: VerifierConfig) -> None:
        return None

    def validate_tier(self, config: VerifierConfig, tier: Tier) -> None:
        return None

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        return {}

    def defaults(self) -> CheckerConfig | None:
        return None

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        return True

    def with_project(self, config: VerifierConfig, project: str) -> VerifierConfig:
        return config

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        raise NotImplementedError(f"checker kind {self.name!r} does not implement open()")
