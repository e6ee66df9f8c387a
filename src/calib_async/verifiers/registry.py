"""Building Verifier objects from their YAML configuration."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from calib_async.config.schema import VerifierConfig
from calib_async.verifiers.base import Verifier


def build_verifier(config: VerifierConfig, *, work_dir: Path) -> Verifier:
    """The profile object for ``config.kind`` (command, lean or simulated).

    ``work_dir`` (audit copies, checked files) is made absolute here: every checker runs in its
    own private ``{workdir}``, where a path relative to the driver's directory means nothing.
    """
    work_dir = Path(work_dir).resolve()
    if config.kind == "lean":
        from calib_async.verifiers.lean import LeanVerifier

        return LeanVerifier(config, work_dir=work_dir / "lean-audit")
    if config.kind == "simulated":
        from calib_async.verifiers.simulated import SimulatedVerifier

        return SimulatedVerifier(config, work_dir=work_dir)
    from calib_async.verifiers.command import CommandVerifier

    return CommandVerifier(config, work_dir=work_dir / "coq-audit")


def build_verifiers(
    configs: Mapping[str, VerifierConfig], *, work_dir: Path
) -> dict[str, Verifier]:
    return {name: build_verifier(cfg, work_dir=work_dir) for name, cfg in configs.items()}
