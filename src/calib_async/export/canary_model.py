"""Canary rates in a loaded calibration: ``noise_models.<tier>.canaries.<class>``.

Each entry is ``{run, passed, spurious_pass_rate, spurious_pass_rate_ci, not_applicable}``
(plus ``outcomes`` and ``status``); see :mod:`calib_async.stats.canaries`. Consumers reach
them through :meth:`calib_async.NoiseModel.spurious_pass_rate` (``exploit=...``) or
:meth:`TierNoise.canary`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from calib_async.errors import CalibError
from calib_async.stats.survival import probability


@dataclass(frozen=True, slots=True)
class CanaryRate:
    """P(VERIFIED | a canary of this exploit class) at one tier, with its counts."""

    exploit: str
    run: int
    passed: int
    spurious_pass_rate: float | None
    spurious_pass_rate_ci: tuple[float, float] | None
    not_applicable: int = 0


def parse_canary_rates(raw: Any, where: str) -> dict[str, CanaryRate]:
    """``{class: CanaryRate}`` from a tier's ``canaries`` mapping (absent: empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CalibError(f"{where}: expected a mapping of canary classes")
    out: dict[str, CanaryRate] = {}
    for exploit, entry in raw.items():
        at = f"{where}.{exploit}"
        if not isinstance(entry, Mapping):
            raise CalibError(f"{at}: expected a mapping with run, passed, spurious_pass_rate")
        run, passed = _count(entry.get("run"), f"{at}.run"), _count(entry.get("passed"), at)
        if passed > run:
            raise CalibError(f"{at}: passed {passed} exceeds run {run}")
        out[str(exploit)] = CanaryRate(
            exploit=str(exploit),
            run=run,
            passed=passed,
            spurious_pass_rate=probability(entry.get("spurious_pass_rate"), at),
            spurious_pass_rate_ci=_interval(entry.get("spurious_pass_rate_ci"), at),
            not_applicable=_count(entry.get("not_applicable", 0), f"{at}.not_applicable"),
        )
    return out


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise CalibError(f"{where}: expected a count (integer >= 0), got {value!r}")
    return int(value)


def _interval(value: Any, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CalibError(f"{where}.spurious_pass_rate_ci: expected [low, high], got {value!r}")
    low, high = probability(value[0], where), probability(value[1], where)
    if low is None or high is None or low > high:
        raise CalibError(f"{where}.spurious_pass_rate_ci: not an interval: {value!r}")
    return (low, high)
