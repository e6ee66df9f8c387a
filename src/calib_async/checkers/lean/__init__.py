"""The ``lean`` kind: Lean 4 as a checker, ``lean FILE`` or ``lake env lean FILE`` once per
check (options and classification: :mod:`calib_async.checkers.lean.profile`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from calib_async.checkers.api import Checker, KindBase, OpenContext
from calib_async.profiles import BUILTIN_CANARY_CLASSES, CheckerConfig, VerifierConfig
from calib_async.records import Tier

#: The tiers' timeouts (s): 30/60/120.
LEAN_TIMEOUTS = {"FAST": 30.0, "BALANCED": 60.0, "SLOW": 120.0}
#: Tier options that make a Lean check strict (a consensus run sets both).
STRICTNESS_OPTIONS = ("reject_sorry", "audit_axioms")
#: Tier precision for Lean (and the simulated checker, which mimics it):
#: FAST trusts the exit code only, BALANCED also rejects sorry, SLOW also audits axioms.
TIER_PRECISION: dict[str, dict[str, Any]] = {
    "FAST": {"reject_sorry": False, "audit_axioms": False},
    "BALANCED": {"reject_sorry": True, "audit_axioms": False},
    "SLOW": {"reject_sorry": True, "audit_axioms": True},
}


def default_lean_config() -> CheckerConfig:
    """Lean 4 at 30/60/120 s, the tiers differing in precision as well as time."""
    verifiers = {"lean": VerifierConfig(name="lean", kind="lean")}
    heartbeats = {"FAST": 200000, "BALANCED": 400000, "SLOW": 800000}
    memory = {"FAST": 4096, "BALANCED": 8192, "SLOW": 16384}
    tiers = {
        name: Tier(
            name=name,
            timeout_s=t,
            verifier="lean",
            memory_limit_mb=memory[name],
            options={**TIER_PRECISION[name], "max_heartbeats": heartbeats[name]},
        )
        for name, t in LEAN_TIMEOUTS.items()
    }
    return CheckerConfig(verifiers=verifiers, tiers=tiers, consensus_verifiers=("lean",))


class LeanKind(KindBase):
    """Lean 4: built-in tiers FAST/BALANCED/SLOW, the built-in (Lean) canary classes."""

    name = "lean"
    canary_classes = BUILTIN_CANARY_CLASSES

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        return TIER_PRECISION

    def defaults(self) -> CheckerConfig:
        return default_lean_config()

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        return all(bool(tier.options.get(k)) for k in STRICTNESS_OPTIONS)

    def with_project(self, config: VerifierConfig, project: str) -> VerifierConfig:
        if config.options.get("lean_project"):
            return config  # the profile's own workspace wins
        return replace(config, options={**config.options, "lean_project": project})

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        from calib_async.checkers.lean.profile import LeanVerifier
        from calib_async.checkers.oneshot import OneShotChecker

        return OneShotChecker(
            LeanVerifier(config, work_dir=ctx.work_dir / "lean-audit"), ctx.backend
        )


KIND = LeanKind()
