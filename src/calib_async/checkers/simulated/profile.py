"""The built-in profile for the bundled simulated checker (``checker.py``).

It runs the checker with the current interpreter in isolated mode (``python -I -S FILE``, about
20 ms to start) and classifies its output with the Lean rules, since the simulated checker
prints Lean's formats. Tier precision follows Lean's default tiers: FAST trusts the exit code
only, BALANCED also rejects ``sorry``, SLOW (and the ``reference`` profile used for ground
truth) also audits axioms via appended ``#print axioms`` lines.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from calib_async.checkers.api import Verdict
from calib_async.checkers.environment import allowlisted_env, workdir_env
from calib_async.checkers.lean import TIER_PRECISION
from calib_async.checkers.lean.profile import LeanVerifier
from calib_async.checkers.oneshot import limits_for
from calib_async.profiles import VerifierConfig
from calib_async.records import CorpusItem, Tier
from calib_async.runner.spec import ExecResult, ExecSpec
from calib_async.runner.workdir import new_workdir

CHECKER = Path(__file__).with_name("checker.py")
_GUARD_FACTORS = (1, 2, 4, 8, 10, 16, 20)


def precision_of(config: VerifierConfig, tier: Tier) -> str:
    return str(config.options.get("precision") or tier.options.get("precision") or "balanced")


def strictness(precision: str) -> dict[str, bool]:
    """reject_sorry / audit_axioms for a simulated precision (reference = slow)."""
    key = "SLOW" if precision == "reference" else precision.upper()
    return dict(TIER_PRECISION.get(key, TIER_PRECISION["BALANCED"]))


class SimulatedVerifier:
    """Profile for the simulated checker; ``options``: precision, seed, timeout_s."""

    def __init__(self, config: VerifierConfig, *, work_dir: Path) -> None:
        self.name = config.name
        self.config = config
        self.work_dir = work_dir
        self._env = allowlisted_env(config.env)
        # Borrow the Lean profile for audit files and classification: same message formats.
        self._lean = LeanVerifier(replace(config, kind="lean"), work_dir=work_dir / "audit")

    def _effective(self, tier: Tier) -> Tier:
        """The tier with the strictness of this profile's precision."""
        return replace(
            tier, options={**tier.options, **strictness(precision_of(self.config, tier))}
        )

    def build_spec(
        self, item: CorpusItem, tier: Tier, *, timeout_s: float, attempt: int
    ) -> ExecSpec:
        precision = precision_of(self.config, tier)
        effective = self._effective(tier)
        path = self._lean.checked_file(item, effective)
        # the audit reads Lean's answers by position, which only --json output carries
        json_flag = ("--json",) if effective.options.get("audit_axioms") else ()
        guards = ",".join(f"{tier.timeout_s * f:g}" for f in _GUARD_FACTORS)
        argv = (
            sys.executable, "-I", "-S", str(CHECKER),
            "--precision", precision,
            "--seed", str(self.seed_for(tier)),
            "--guard", guards,
            *json_flag,
            *tier.args,
            str(path),
        )  # fmt: skip
        workdir = new_workdir()
        return ExecSpec(
            argv=argv,
            timeout_s=timeout_s,
            env=workdir_env(self._env, workdir),
            cwd=workdir,
            limits=limits_for(tier),
            grace_s=tier.grace_s,
            workdir=workdir,
        )

    def seed_for(self, tier: Tier) -> int:
        """The profile's seed; an independent repeat (tier option ``repeat``) shifts it, so a
        repeated consensus check is a fresh draw, as a re-run of a noisy checker would be."""
        return int(self.config.options.get("seed", 0)) + 7919 * int(tier.options.get("repeat", 0))

    def classify(self, result: ExecResult, tier: Tier) -> Verdict:
        return self._lean.classify(result, self._effective(tier))

    def version_argv(self) -> tuple[str, ...] | None:
        return (sys.executable, "-I", "-S", str(CHECKER), "--version")
