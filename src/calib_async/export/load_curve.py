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

from calib_async.model import LoadModel, LoadStatus
from calib_async.stats.survival import ExtrapolationWarning, positive_number

_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class LoadCurve:
    """Timeout rate against concurrency, at the tier's own timeout ``timeout_s``."""

    intercept: float
    slope: float
    status: LoadStatus
    timeout_s: float | None = None
    max_level_tested: int | None = None
    min_level_tested: int | None = None

    @classmethod
    def from_model(cls, load: LoadModel | None, *, where: str) -> LoadCurve | None:
        """The curve of a checked ``noise_models.<tier>.load``; ``None`` when absent or
        without a fit."""
        if load is None or load.intercept is None or load.slope is None:
            return None
        bottom = load.min_concurrency_tested
        if bottom is None and isinstance(load.levels, list):  # files from before the key
            found = [r.get("level") for r in load.levels if isinstance(r, Mapping)]
            bottom = min((v for v in found if isinstance(v, int | float)), default=None)
        top = load.max_concurrency_tested
        return cls(
            intercept=load.intercept,
            slope=load.slope,
            status=load.status or LoadStatus.OK,
            timeout_s=None
            if load.timeout_s is None
            else positive_number(load.timeout_s, f"{where}.timeout_s"),
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
