"""``noise_models.<tier>``: one tier's calibrated noise as the export writes it.

The rates sit flat in the tier (``timeout_rate``, ``timeout_rate_ci``, ``<rate>_bounds``) and
their statuses in ``counts.<rate>.status``, as files have always had them; :meth:`TierModel.rate`
gathers one rate's parts into a :class:`RateModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from calib_async.errors import CalibError
from calib_async.model.block import Block, anything, blocks, key, opaque_mapping, optional
from calib_async.model.parts import (
    CanaryModel,
    CountsModel,
    DistributionModel,
    FlipsModel,
    LoadModel,
    StabilityModel,
)
from calib_async.model.statuses import RateStatus, TierStatus
from calib_async.model.values import FIX, count, interval, member, number, probability, text

#: the five rates of a tier, in the order the export writes them
RATES = (
    "timeout_rate",
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)
#: the four rates conditional on the truth (the labels); each has ``_bounds``
CONDITIONAL = RATES[1:]


@dataclass(frozen=True, slots=True)
class RateModel:
    """One rate of a tier: estimate, interval, identification bounds and status."""

    name: str
    value: float | None
    ci: tuple[float, float] | None
    bounds: tuple[float, float] | None
    status: RateStatus | None


def _rate_key(key: Any, where: str) -> float:
    """A target-rate key (a number, or its text in files written by hand)."""
    try:
        rate = float(key)
    except (TypeError, ValueError):
        raise CalibError(f"{where}: key {key!r} is not a number; {FIX}") from None
    if not 0.0 <= rate <= 1.0:
        raise CalibError(f"{where}: key {key!r} is not a rate in [0, 1]; {FIX}")
    return rate


def _budgets(value: Any, where: str) -> Mapping[float, float | None] | None:
    """``{target rate: seconds or null}`` (the keys are rates)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CalibError(f"{where}: expected a mapping rate -> seconds; {FIX}")
    out: dict[float, float | None] = {}
    for rate, seconds in value.items():
        _rate_key(rate, where)
        out[rate] = number(seconds, f"{where}.{rate}")
    return out


def _recommendations(value: Any, where: str) -> Mapping[float, Mapping[str, Any]] | None:
    """``{target rate: {timeout_s, method, extrapolated, reason, ...}}``."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CalibError(f"{where}: expected a mapping rate -> recommendation; {FIX}")
    out: dict[float, Mapping[str, Any]] = {}
    for rate, rec in value.items():
        _rate_key(rate, where)
        if not isinstance(rec, Mapping):
            raise CalibError(f"{where}.{rate}: expected a mapping with timeout_s; {FIX}")
        number(rec.get("timeout_s"), f"{where}.{rate}.timeout_s")
        out[rate] = rec
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TierModel(Block):
    """One tier's noise model. Rates are probabilities; None means no estimate."""

    timeout_rate: float | None = key(probability)
    timeout_rate_ci: tuple[float, float] | None = key(interval)
    spurious_fail_rate: float | None = key(probability)
    spurious_fail_rate_ci: tuple[float, float] | None = key(interval)
    spurious_pass_rate: float | None = key(probability)
    spurious_pass_rate_ci: tuple[float, float] | None = key(interval)
    timeout_distribution: DistributionModel | None = key(optional(DistributionModel))
    training_samples: int | None = key(count)
    timeout_given_valid: float | None = key(probability)
    timeout_given_valid_ci: tuple[float, float] | None = key(interval)
    timeout_given_invalid: float | None = key(probability)
    timeout_given_invalid_ci: tuple[float, float] | None = key(interval)
    status: TierStatus | None = key(partial(member, TierStatus))
    failed_reason: str | None = key(text)
    status_reason: str | None = key(text)
    timeout_s: float | None = key(number)
    counts: CountsModel | None = key(optional(CountsModel))
    candidates: Mapping[str, Any] | None = key(opaque_mapping)
    timeout_for_rate: Mapping[float, float | None] | None = key(_budgets)
    timeout_for_rate_unit: str | None = key(text)
    timeout_recommendations: Mapping[float, Mapping[str, Any]] | None = key(_recommendations)
    load_sensitivity: Mapping[str, Any] | None = key(opaque_mapping)
    stationarity: StabilityModel | None = key(optional(StabilityModel))
    spurious_fail_rate_bounds: tuple[float, float] | None = key(interval)
    timeout_given_valid_bounds: tuple[float, float] | None = key(interval)
    spurious_pass_rate_bounds: tuple[float, float] | None = key(interval)
    timeout_given_invalid_bounds: tuple[float, float] | None = key(interval)
    undetermined_share: float | None = key(probability)
    canaries: Mapping[str, CanaryModel] | None = key(blocks(CanaryModel))
    youden_j: float | None = key(number)
    youden_j_ci: Any = key(anything)
    flips: FlipsModel | None = key(optional(FlipsModel))
    load: LoadModel | None = key(optional(LoadModel))

    def rate(self, name: str) -> RateModel:
        """The rate ``name`` (one of :data:`RATES`) with its interval, bounds and status."""
        if name not in RATES:
            raise ValueError(f"{name!r} is not one of {', '.join(RATES)}")
        counts = self.counts.of(name) if self.counts is not None else None
        bounds: tuple[float, float] | None = (
            getattr(self, f"{name}_bounds") if name in CONDITIONAL else None
        )
        return RateModel(
            name=name,
            value=getattr(self, name),
            ci=getattr(self, f"{name}_ci"),
            bounds=bounds,
            status=counts.status if counts is not None else None,
        )

    def rates(self) -> dict[str, RateModel]:
        """Every rate by name, in :data:`RATES` order."""
        return {name: self.rate(name) for name in RATES}
