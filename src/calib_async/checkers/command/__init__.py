"""The ``command`` kind: any command-line checker, described by a YAML profile (an argv
template plus first-match-wins rules; see README, "Config file")."""

from __future__ import annotations

from calib_async.checkers.api import Checker, KindBase, OpenContext
from calib_async.errors import ConfigError
from calib_async.profiles import VerifierConfig


class CommandKind(KindBase):
    """Runs the profile's ``command`` once per check and classifies it by its ``rules``."""

    name = "command"

    def validate(self, config: VerifierConfig) -> None:
        if not config.command:
            raise ConfigError(
                f"verifier {config.name!r}: 'command' is required "
                '(an argv list such as ["coqc", "{file}"])'
            )

    def open(self, config: VerifierConfig, ctx: OpenContext) -> Checker:
        from calib_async.checkers.command.profile import CommandVerifier
        from calib_async.checkers.oneshot import OneShotChecker

        verifier = CommandVerifier(config, work_dir=ctx.work_dir / "coq-audit")
        return OneShotChecker(verifier, ctx.backend)


KIND = CommandKind()
