"""The typed blocks inside one tier's noise model (``noise_models.<tier>.<block>``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from calib_async.errors import CalibError
from calib_async.model.block import Block, anything, key, optional
from calib_async.model.statuses import (
    CanaryStatus,
    DistributionStatus,
    FlipStatus,
    LoadStatus,
    RateStatus,
    StationarityStatus,
)
from calib_async.model.values import (
    FIX,
    count,
    interval,
    mapping,
    member,
    number,
    probability,
    text,
)


def _texts(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CalibError(f"{where}: expected a list of strings; {FIX}")
    return tuple(value)


def _numbers(value: Any, where: str) -> Mapping[str, float | None] | None:
    if value is None:
        return None
    return {k: number(v, f"{where}.{k}") for k, v in mapping(value, where).items()}


def _counts(value: Any, where: str) -> Mapping[str, int] | None:
    if value is None:
        return None
    return {k: count(v, f"{where}.{k}") or 0 for k, v in mapping(value, where).items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DistributionModel(Block):
    """``timeout_distribution``: the censored duration model (durations in ``unit``, ms)."""

    type: str | None = key(text)  # scipy family, None without a model
    unit: str | None = key(text)
    params: Mapping[str, float | None] | None = key(_numbers)
    status: DistributionStatus | None = key(partial(member, DistributionStatus))
    status_reasons: tuple[str, ...] | None = key(_texts)
    predictor: str | None = key(text)  # "model" | "kaplan_meier"
    cure_fraction: float | None = key(probability)
    max_observed_budget_s: float | None = key(number)


@dataclass(frozen=True, slots=True, kw_only=True)
class RateCounts(Block):
    """``counts.<rate>``: how a rate was estimated and from how many runs and labels."""

    status: RateStatus | None = key(partial(member, RateStatus))
    method: str | None = key(text)
    n: int | None = key(count)  # exact binomial (the timeout rate)
    k: int | None = key(count)
    n_labelled: float | None = key(number)  # the conditional rates
    n_events: float | None = key(number)
    n_determined: int | None = key(count)
    n_undetermined: int | None = key(count)
    weighted_total: float | None = key(number)


@dataclass(frozen=True, slots=True, kw_only=True)
class CountsModel(Block):
    """``counts``: runs, runs per outcome, wall-clock kills, and per rate its counts."""

    records: int | None = key(count)
    outcomes: Mapping[str, int] | None = key(_counts)
    wall_timeouts: int | None = key(count)
    timeout_rate: RateCounts | None = key(optional(RateCounts))
    spurious_fail_rate: RateCounts | None = key(optional(RateCounts))
    timeout_given_valid: RateCounts | None = key(optional(RateCounts))
    spurious_pass_rate: RateCounts | None = key(optional(RateCounts))
    timeout_given_invalid: RateCounts | None = key(optional(RateCounts))

    def of(self, rate: str) -> RateCounts | None:
        """The counts of ``rate`` (one of the five rate names)."""
        value: RateCounts | None = getattr(self, rate)
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryModel(Block):
    """``canaries.<class>``: P(VERIFIED | a canary of this exploit class), with its counts."""

    run: int | None = key(count)
    passed: int | None = key(count)
    spurious_pass_rate: float | None = key(probability)
    spurious_pass_rate_ci: tuple[float, float] | None = key(interval)
    not_applicable: int | None = key(count)
    outcomes: Mapping[str, int] | None = key(_counts)
    status: CanaryStatus | None = key(partial(member, CanaryStatus))

    def check(self, where: str) -> None:
        if self.run is None or self.passed is None:
            raise CalibError(f"{where}: expected run and passed counts; {FIX}")
        if self.passed > self.run:
            raise CalibError(f"{where}: passed {self.passed} exceeds run {self.run}; {FIX}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadModel(Block):
    """``load``: logit P(timeout) = intercept + slope * log(concurrency), at ``timeout_s``."""

    status: LoadStatus | None = key(partial(member, LoadStatus))
    intercept: float | None = key(number)
    slope: float | None = key(number)
    max_concurrency_tested: float | None = key(number)
    min_concurrency_tested: float | None = key(number)
    timeout_s: float | None = key(number)
    levels: Any = key(anything)  # per level: level, runs, timeouts (kept as read)


@dataclass(frozen=True, slots=True, kw_only=True)
class StabilityModel(Block):
    """``stationarity``: outcomes and durations against run order (``stats.stationarity``)."""

    status: StationarityStatus | None = key(partial(member, StationarityStatus))
    alpha: float | None = key(probability)
    p_value: float | None = key(probability)
    reason: str | None = key(text)
    message: str | None = key(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlipsModel(Block):
    """``flips``: how often a replicated item's outcome changes between identical runs."""

    status: FlipStatus | None = key(partial(member, FlipStatus))
    flip_rate: float | None = key(probability)
    flip_rate_ci: tuple[float, float] | None = key(interval)
    items: int | None = key(count)
    share_items_with_flip: float | None = key(probability)
    share_items_with_flip_ci: tuple[float, float] | None = key(interval)
