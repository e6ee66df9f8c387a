"""Checker profiles as written in YAML: the values ``config`` parses and ``checkers`` open.

They live below both, so that the YAML loader (``config``) can ask a checker kind
(``checkers``) about its keys while the kinds read the same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calib_async.inputs.regex import UserRegex
from calib_async.records import Outcome, Tier, plain_value

#: The built-in Lean canary classes (calib_async.corpus.canaries); profiles may not reuse their
#: names.
BUILTIN_CANARY_CLASSES: tuple[str, ...] = (
    "sorry",
    "admit",
    "axiom",
    "native_decide",
    "skip_kernel",
    "statement",
    "fake_axioms",
)


@dataclass(frozen=True, slots=True)
class GenericCanary:
    """One profile-declared exploit class: a regex rewrite, or text appended / prepended."""

    name: str
    find: UserRegex | None = None
    replace: str = ""
    count: str = "first"  # "first" | "all"
    append: str | None = None
    prepend: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: all given conditions must match."""

    outcome: Outcome
    exit_codes: tuple[int, ...] | None = None
    output: UserRegex | None = None


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """A checker profile as written in YAML (see README "Config file").

    ``options`` holds the ``options`` mapping and any extra top-level keys the profile's kind
    accepts (:attr:`calib_async.checkers.api.CheckerKind.profile_keys`).
    """

    name: str
    kind: str = "command"
    command: tuple[str, ...] = ()
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    default: Outcome = Outcome.PROOF_INVALID
    version_command: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: exploit classes for canaries (not part of the identity: canaries are new files)
    canaries: tuple[GenericCanary, ...] = ()

    def identity(self) -> dict[str, Any]:
        """What a resumed run's fingerprint must match."""
        return {
            "kind": self.kind,
            "command": list(self.command),
            "cwd": self.cwd,
            "env": dict(sorted(self.env.items())),
            "rules": [
                [r.outcome.value, list(r.exit_codes or ()), r.output.pattern if r.output else None]
                for r in self.rules
            ],
            "default": self.default.value,
            "options": plain_value(self.options),
        }


@dataclass(frozen=True, slots=True)
class CheckerConfig:
    """Verifier profiles, tiers and default consensus profiles, from YAML or built in."""

    verifiers: Mapping[str, VerifierConfig]
    tiers: Mapping[str, Tier]
    consensus_verifiers: tuple[str, ...] = ()
