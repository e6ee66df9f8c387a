"""``kind: service``: a verification service reached over HTTP (kimina-lean-server first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calib_async.checkers.api import Checker, KindBase, OpenContext
from calib_async.checkers.service.checker import ServiceChecker
from calib_async.checkers.service.designs import design_settings
from calib_async.checkers.service.settings import (
    PROFILE_KEYS,
    check_tier_options,
    read_settings,
)
from calib_async.profiles import BUILTIN_CANARY_CLASSES, VerifierConfig
from calib_async.records import Tier

#: Per-tier strictness: FAST takes the server's word, BALANCED re-reads the sorry warning,
#: SLOW also audits axioms and asks for a fresh REPL (no state from earlier snippets).
TIER_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "FAST": {"reuse": True},
    "BALANCED": {"reuse": True, "reject_sorry": True},
    "SLOW": {"reuse": False, "reject_sorry": True, "audit_axioms": True},
}


class ServiceKind(KindBase):
    name = "service"
    profile_keys = PROFILE_KEYS
    canary_classes = BUILTIN_CANARY_CLASSES

    def validate(self, config: VerifierConfig) -> None:
        read_settings(config.name, config.options)
        design_settings(config)

    def validate_tier(self, config: VerifierConfig, tier: Tier) -> None:
        check_tier_options(config.name, tier.name, tier.options)

    def tier_defaults(self) -> Mapping[str, Mapping[str, Any]]:
        return TIER_DEFAULTS

    def is_strict(self, config: VerifierConfig, tier: Tier) -> bool:
        options = tier.options
        return bool(options.get("reject_sorry")) and bool(options.get("audit_axioms"))

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        return ServiceChecker(read_settings(config.name, config.options))


KIND = ServiceKind()
