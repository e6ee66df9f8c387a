"""The ``lean_repl`` checker kind: Lean as RL pipelines run it, through a pool of long-lived
REPL processes (leanprover-community/repl command mode). See README, "REPL pools"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from calib_async.checkers.api import KindBase, OpenContext
from calib_async.checkers.lean_repl.options import PROFILE_KEYS, ReplOptions

if TYPE_CHECKING:
    from calib_async.checkers.api import Checker
    from calib_async.profiles import VerifierConfig
    from calib_async.records import Tier


class LeanReplKind(KindBase):
    """The kind object the registry holds (YAML ``kind: lean_repl``)."""

    name = "lean_repl"
    profile_keys = PROFILE_KEYS
    canary_classes = ("sorry", "admit", "axiom", "native_decide", "skip_kernel", "statement")

    def validate(self, config: VerifierConfig) -> None:
        from calib_async.checkers.lean_repl.designs import design_settings

        ReplOptions.parse(config)
        design_settings(config)

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        opts: Any = tier.options
        return bool(opts.get("reject_sorry")) and bool(opts.get("audit_axioms"))

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        from calib_async.checkers.lean_repl.checker import LeanReplChecker

        return LeanReplChecker(config, ctx)


KIND = LeanReplKind()

__all__ = ["KIND", "LeanReplKind"]
