"""The ``lean_repl`` checker kind: Lean as RL pipelines run it, through a pool of long-lived
REPL processes (leanprover-community/repl command mode). See README, "REPL pools"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from calib_async.checkers.api import KindBase, OpenContext
from calib_async.checkers.lean import STRICTNESS_OPTIONS, TIER_PRECISION
from calib_async.checkers.lean_repl.options import PROFILE_KEYS, ReplOptions
from calib_async.profiles import BUILTIN_CANARY_CLASSES

if TYPE_CHECKING:
    from calib_async.checkers.api import Checker
    from calib_async.profiles import VerifierConfig
    from calib_async.records import Tier


class LeanReplKind(KindBase):
    """The kind object the registry holds (YAML ``kind: lean_repl``)."""

    name = "lean_repl"
    profile_keys = PROFILE_KEYS
    canary_classes = BUILTIN_CANARY_CLASSES  # the items are Lean source, as for kind: lean

    def validate(self, config: VerifierConfig) -> None:
        from calib_async.checkers.lean_repl.designs import design_settings

        ReplOptions.parse(config)
        design_settings(config)

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        return TIER_PRECISION

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        return all(bool(tier.options.get(k)) for k in STRICTNESS_OPTIONS)

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        from calib_async.checkers.lean_repl.checker import LeanReplChecker

        return LeanReplChecker(config, ctx)


KIND = LeanReplKind()

__all__ = ["KIND", "LeanReplKind"]
