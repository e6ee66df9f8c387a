"""The exported load fit of a tier (``noise_models.<tier>.load``) as a consumer reads it.

logit P(timeout at the tier's timeout | concurrency k) = intercept + slope * log k. At
another time budget t the load is assumed to multiply the odds of a timeout by the same
factor: logit P(t, k) = logit S(t) + logit P(T, k) - logit S(T), where S is the fitted
duration survival (measured at stage 2's concurrency) and T the tier's timeout. At t = T this
is the load fit itself.

The fit holds between the smallest and the largest level tested; a concurrency outside that
range issues an :class:`~calib_async.stats.survival.ExtrapolationWarning` (the logistic curve
is then an assumption, not a measurement).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calib_async.errors import CalibError
from calib_async.stats.survival import ExtrapolationWarning, finite_number, positive_number

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class LoadCurve:
    """Timeout rate against concurrency, at the tier's own timeout ``timeout_s``."""

    intercept: float
    slope: float
    status: str
    timeout_s: float | None = None
    max_level_tested: int | None = None
    min_level_tested: int | None = None

    @classmethod
    def from_export(cls, raw: Any, *, where: str) -> LoadCurve | None:
        """Parse ``noise_models.<tier>.load``; ``None`` when absent or without a fit."""
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise CalibError(f"{where}: expected a mapping (the load experiment's fit)")
        if raw.get("intercept") is None or raw.get("slope") is None:
            return None
        timeout_s = raw.get("timeout_s")
        top = raw.get("max_concurrency_tested")
        bottom = raw.get("min_concurrency_tested")
        levels = raw.get("levels")
        if bottom is None and isinstance(levels, list):  # files from before the key
            found = [r.get("level") for r in levels if isinstance(r, Mapping)]
            bottom = min((v for v in found if isinstance(v, int | float)), default=None)
        return cls(
            intercept=finite_number(raw["intercept"], f"{where}.intercept"),
            slope=finite_number(raw["slope"], f"{where}.slope"),
            status=str(raw.get("status", "ok")),
            timeout_s=None
            if timeout_s is None
            else positive_number(timeout_s, f"{where}.timeout_s"),
            max_level_tested=None
            if top is None
            else int(positive_number(top, f"{where}.max_concurrency_tested")),
            min_level_tested=None
            if bottom is None
            else int(positive_number(bottom, f"{where}.min_concurrency_tested")),
        )

    def rate_at(self, concurrency: float) -> float:
        """P(timeout at the tier's own timeout) with ``concurrency`` checkers in flight."""
        if not concurrency >= 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
        low, high = self.min_level_tested, self.max_level_tested
        if (high is not None and concurrency > high) or (low is not None and concurrency < low):
            warnings.warn(
                f"concurrency {concurrency:g} is outside the tested levels "
                f"[{low if low is not None else '?'}, {high if high is not None else '?'}]; "
                "the load curve is extrapolated there: run the load experiment at that level",
                ExtrapolationWarning,
                stacklevel=3,
            )
        return _expit(self.intercept + self.slope * math.log(concurrency))

    def shift(self, survival_t: float, survival_base: float, concurrency: float) -> float:
        """P(timeout at budget t, concurrency k) from S(t), S(T) and the fit (module docstring)."""
        return _expit(
            _logit(survival_t) + _logit(self.rate_at(concurrency)) - _logit(survival_base)
        )


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1 - _EPS)
    return math.log(p / (1 - p))
