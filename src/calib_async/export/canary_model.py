"""Canary rates in a loaded calibration: ``noise_models.<tier>.canaries.<class>``.

Each entry is ``{run, passed, spurious_pass_rate, spurious_pass_rate_ci, not_applicable}``
(plus ``outcomes`` and ``status``); see :mod:`calib_async.stats.canaries`. Consumers reach
them through :meth:`calib_async.NoiseModel.spurious_pass_rate` (``exploit=...``) or
:meth:`TierNoise.canary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from calib_async.model import CanaryModel


@dataclass(frozen=True, slots=True)
class CanaryRate:
    """P(VERIFIED | a canary of this exploit class) at one tier, with its counts."""

    exploit: str
    run: int
    passed: int
    spurious_pass_rate: float | None
    spurious_pass_rate_ci: tuple[float, float] | None
    not_applicable: int = 0


def canary_rates(models: Mapping[str, CanaryModel] | None) -> dict[str, CanaryRate]:
    """``{class: CanaryRate}`` from a tier's checked ``canaries`` (absent: empty)."""
    return {
        exploit: CanaryRate(
            exploit=exploit,
            run=m.run or 0,
            passed=m.passed or 0,
            spurious_pass_rate=m.spurious_pass_rate,
            spurious_pass_rate_ci=m.spurious_pass_rate_ci,
            not_applicable=m.not_applicable or 0,
        )
        for exploit, m in (models or {}).items()
    }
