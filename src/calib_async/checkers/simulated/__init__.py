"""The ``simulated`` kind: the bundled simulated checker (:mod:`.checker`), a real process that
behaves like ``lean FILE`` (profile: :mod:`calib_async.checkers.simulated.profile`).

Profile ``options``: ``precision`` (fast, balanced, slow, reference), ``seed``, ``timeout_s``
(the consensus timeout), all optional. A tier's ``options.precision`` applies when the
profile sets none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calib_async.checkers.api import Checker, KindBase, OpenContext
from calib_async.checkers.lean import TIER_PRECISION
from calib_async.errors import ConfigError
from calib_async.inputs import describe, kernel_int
from calib_async.inputs import fields as checks
from calib_async.profiles import BUILTIN_CANARY_CLASSES, CheckerConfig, VerifierConfig
from calib_async.records import Tier

OPTIONS = frozenset({"precision", "seed", "timeout_s"})
PRECISIONS = ("fast", "balanced", "slow", "reference")
#: Timeouts for the simulated checker: sub-second to seconds, so the demo finishes quickly.
SIM_TIMEOUTS = {"FAST": 0.5, "BALANCED": 1.0, "SLOW": 2.0}


def default_synthetic_config() -> CheckerConfig:
    """The bundled simulated checker, with strict reference profiles used for consensus."""
    verifiers = {"simulated": VerifierConfig(name="simulated", kind="simulated")}
    for seed, suffix in enumerate("abc", start=1):
        name = f"sim-reference-{suffix}"
        verifiers[name] = VerifierConfig(
            name=name,
            kind="simulated",
            options={"precision": "reference", "seed": seed, "timeout_s": 6.0},
        )
    memory = {"FAST": 80, "BALANCED": 160, "SLOW": 320}
    tiers = {
        name: Tier(
            name=name,
            timeout_s=t,
            verifier="simulated",
            memory_limit_mb=memory[name],
            options={"precision": name.lower()},
            grace_s=0.2,
        )
        for name, t in SIM_TIMEOUTS.items()
    }
    return CheckerConfig(
        verifiers=verifiers,
        tiers=tiers,
        consensus_verifiers=("sim-reference-a", "sim-reference-b", "sim-reference-c"),
    )


def check_precision(value: Any, where: str) -> None:
    if value is not None and value not in PRECISIONS:
        raise ConfigError(f"{where} must be one of {', '.join(PRECISIONS)}, not {describe(value)}")


class SimulatedKind(KindBase):
    """The simulated checker: Lean's tiers and canary classes, precision instead of flags."""

    name = "simulated"
    canary_classes = BUILTIN_CANARY_CLASSES

    def validate(self, config: VerifierConfig) -> None:
        where = f"verifier {config.name!r}"
        options = config.options
        unknown = set(options) - OPTIONS
        if unknown:
            raise ConfigError(
                f"{where}: unknown option(s) {sorted(unknown)} for kind simulated; "
                f"allowed: {sorted(OPTIONS)}"
            )
        check_precision(options.get("precision"), f"{where}: options.precision")
        if options.get("seed") is not None:
            kernel_int(options["seed"], f"{where}: options.seed", min=0, error=ConfigError)
        if options.get("timeout_s") is not None:
            checks.timeout_s(options["timeout_s"], f"{where}: options")

    def validate_tier(self, config: VerifierConfig, tier: Tier) -> None:
        check_precision(tier.options.get("precision"), f"tier {tier.name}: options.precision")

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        return TIER_PRECISION

    def defaults(self) -> CheckerConfig:
        return default_synthetic_config()

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        from calib_async.checkers.simulated.profile import precision_of, strictness

        return all(strictness(precision_of(config, tier)).values())

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        from calib_async.checkers.oneshot import OneShotChecker
        from calib_async.checkers.simulated.profile import SimulatedVerifier

        return OneShotChecker(SimulatedVerifier(config, work_dir=ctx.work_dir), ctx.backend)


KIND = SimulatedKind()
