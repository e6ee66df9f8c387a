"""A fitted duration distribution as exported, turned into timeout predictions.

The stats stage exports ``timeout_distribution`` as ``{type, params, loc, unit, ...}``;
parameter names accepted per family: weibull_min {shape|c, scale}, gamma {shape|a, scale},
lognorm {sigma|s|shape, scale}, fisk {shape|c, scale}, expon {scale}; ``loc`` (in params or
beside them) defaults to 0; ``unit``/``units`` is ms (default) or s. ``type`` None (or params
None) means no fit. scipy is imported only when a distribution is evaluated.

Newer files add (all optional; a file without them reads as before):
``cure_fraction`` pi (runaway share: S = pi + (1 - pi) S_b), ``reported_timeout_share`` h
(timeouts the checker reports whatever the budget), ``status`` (``ok`` | ``misfit`` |
``insufficient_data``), ``max_observed_budget_s`` and ``kaplan_meier`` (``times_ms``,
``survival``, ``up_to_ms``). Then P(timeout at t) = h + (1 - h) S(t); with status ``misfit``
the Kaplan–Meier curve replaces S up to ``up_to_ms`` and nothing is predicted beyond it.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from calib_async.errors import CalibError

#: Accepted parameter names per family: canonical name -> aliases (scipy's own name included).
_PARAM_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "expon": {"scale": ("scale",)},
    "gamma": {"shape": ("shape", "a"), "scale": ("scale",)},
    "lognorm": {"shape": ("sigma", "s", "shape"), "scale": ("scale",)},
    "weibull_min": {"shape": ("shape", "c"), "scale": ("scale",)},
    "fisk": {"shape": ("shape", "c"), "scale": ("scale",)},
}
_NO_FIT_TYPES = {None, "", "none", "null"}
_UNIT_TO_MS = {"ms": 1.0, "s": 1000.0}


@dataclass(frozen=True, slots=True)
class SurvivalModel:
    """A fitted duration distribution: family, canonical params, units of its variable.

    ``params`` holds ``shape`` (absent for expon), ``scale`` and ``loc`` (default 0).
    """

    family: str
    params: Mapping[str, float]
    units: str = "ms"
    cure_fraction: float = 0.0
    reported_share: float = 0.0
    status: str = "ok"
    max_observed_budget_s: float | None = None
    km_times_ms: tuple[float, ...] = ()
    km_survival: tuple[float, ...] = ()
    km_up_to_ms: float | None = None

    @classmethod
    def from_export(cls, spec: Any, *, where: str = "timeout_distribution") -> SurvivalModel | None:
        """Parse an exported ``timeout_distribution``; ``None`` when it records no fit."""
        if spec is None:
            return None
        if not isinstance(spec, Mapping):
            raise CalibError(f"{where}: expected a mapping with 'type' and 'params'")
        family = spec.get("type")
        if isinstance(family, str):
            family = family.strip().lower()
        if family in _NO_FIT_TYPES:
            return None
        if family not in _PARAM_ALIASES:
            known = ", ".join(sorted(_PARAM_ALIASES))
            raise CalibError(f"{where}.type: unknown distribution {family!r} (expected {known})")
        raw = spec.get("params")
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise CalibError(f"{where}.params: expected a mapping of parameter names to numbers")
        params: dict[str, float] = {}
        for canonical, aliases in _PARAM_ALIASES[family].items():
            found = [a for a in aliases if raw.get(a) is not None]
            if not found:
                if canonical == "scale" or family != "expon":
                    names = " or ".join(aliases)
                    raise CalibError(f"{where}.params: missing {names} for {family}")
                continue
            params[canonical] = positive_number(raw[found[0]], f"{where}.params.{found[0]}")
        loc, loc_key = raw.get("loc"), f"{where}.params.loc"
        if loc is None:  # the stats stage exports loc beside params
            loc, loc_key = spec.get("loc"), f"{where}.loc"
        params["loc"] = 0.0 if loc is None else finite_number(loc, loc_key)
        unit_key = "units" if "units" in spec else "unit"
        units = spec.get(unit_key) or "ms"
        if units not in _UNIT_TO_MS:
            raise CalibError(f"{where}.{unit_key}: expected 'ms' or 's', got {units!r}")
        extra = _extras(spec, where)
        return cls(family=family, params=params, units=units, **extra)

    def frozen(self) -> Any:
        """The scipy frozen distribution, in this model's units."""
        from scipy import stats

        p = self.params
        loc, scale = p.get("loc", 0.0), p["scale"]
        if self.family == "expon":
            return stats.expon(loc=loc, scale=scale)
        if self.family == "gamma":
            return stats.gamma(p["shape"], loc=loc, scale=scale)
        if self.family == "lognorm":
            return stats.lognorm(p["shape"], loc=loc, scale=scale)
        if self.family == "fisk":
            return stats.fisk(p["shape"], loc=loc, scale=scale)
        return stats.weibull_min(p["shape"], loc=loc, scale=scale)

    @property
    def floor(self) -> float:
        """h + (1 - h) pi: the timeout probability no budget goes below."""
        h = self.reported_share
        return h + (1.0 - h) * self.cure_fraction

    def survival_at_seconds(self, t_s: float) -> float:
        """P(a wall-clock run is still going at t_s seconds): pi + (1 - pi) S_b."""
        return float(self.survival_curve(t_s))

    def survival_curve(self, t_s: Any) -> Any:
        """pi + (1 - pi) S_b(t) for an array of budgets in seconds (numpy in, numpy out)."""
        import numpy as np

        sf = self.frozen().sf(np.asarray(t_s, dtype=float) * 1000.0 / _UNIT_TO_MS[self.units])
        return self.cure_fraction + (1.0 - self.cure_fraction) * sf

    def timeout_probability(self, t_s: float) -> float | None:
        """h + (1 - h) S(t); under status ``misfit`` Kaplan–Meier, None beyond its range."""
        h = self.reported_share
        if self.status == "ok":
            return h + (1.0 - h) * self.survival_at_seconds(t_s)
        t_ms = t_s * 1000.0
        if self.km_up_to_ms is None or t_ms > self.km_up_to_ms or not self.km_times_ms:
            return None
        i = bisect.bisect_right(self.km_times_ms, t_ms)
        return h + (1.0 - h) * (1.0 if i == 0 else self.km_survival[i - 1])

    def seconds_for_rate(self, rate: float) -> float | None:
        """The smallest budget (s) with timeout probability <= ``rate``; None if unreachable."""
        if rate <= self.floor:
            return None
        h = self.reported_share
        if self.status != "ok":
            for t_ms, s in zip(self.km_times_ms, self.km_survival, strict=True):
                if h + (1.0 - h) * s <= rate:
                    return t_ms / 1000.0
            return None
        base = ((rate - h) / (1.0 - h) - self.cure_fraction) / (1.0 - self.cure_fraction)
        value = float(self.frozen().isf(base)) * _UNIT_TO_MS[self.units] / 1000.0
        return value if math.isfinite(value) else None

    def seconds_for_survival(self, rate: float) -> float:
        """The budget (seconds) at which pi + (1 - pi) S_b equals ``rate`` (inf below pi)."""
        value = self.seconds_for_rate(rate) if self.reported_share == 0.0 else None
        return math.inf if value is None else value

    def to_export(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.family, "params": dict(self.params), "unit": self.units}
        if self.cure_fraction or self.reported_share or self.status != "ok":  # newer keys
            out.update(
                cure_fraction=self.cure_fraction,
                reported_timeout_share=self.reported_share,
                status=self.status,
            )
        return out


def _extras(spec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The optional keys of newer files (module docstring); defaults reproduce old files."""
    out: dict[str, Any] = {}
    for key, field_name in (
        ("cure_fraction", "cure_fraction"),
        ("reported_timeout_share", "reported_share"),
    ):
        value = spec.get(key)
        if value is not None:
            number = finite_number(value, f"{where}.{key}")
            if not 0.0 <= number < 1.0:
                raise CalibError(f"{where}.{key}: expected a share in [0, 1), got {value!r}")
            out[field_name] = number
    status = spec.get("status")
    if status is not None:
        if status not in ("ok", "misfit", "insufficient_data", "partial"):
            raise CalibError(f"{where}.status: expected ok, misfit or insufficient_data")
        out["status"] = "ok" if status == "partial" else str(status)
    budget = spec.get("max_observed_budget_s")
    if budget is not None:
        out["max_observed_budget_s"] = positive_number(budget, f"{where}.max_observed_budget_s")
    km = spec.get("kaplan_meier")
    if isinstance(km, Mapping) and km.get("up_to_ms") is not None:
        times, surv = km.get("times_ms") or [], km.get("survival") or []
        if len(times) != len(surv):
            raise CalibError(f"{where}.kaplan_meier: times_ms and survival differ in length")
        out["km_times_ms"] = tuple(
            finite_number(t, f"{where}.kaplan_meier.times_ms") for t in times
        )
        out["km_survival"] = tuple(finite_number(v, f"{where}.kaplan_meier.survival") for v in surv)
        out["km_up_to_ms"] = finite_number(km["up_to_ms"], f"{where}.kaplan_meier.up_to_ms")
    return out


class ExtrapolationWarning(UserWarning):
    """A prediction for a budget beyond the largest one observed in calibration."""


def beyond(seconds: float | None, limit: float | None) -> bool:
    """Whether a budget of ``seconds`` lies beyond the largest observed budget ``limit``."""
    return seconds is not None and limit is not None and seconds > limit * (1 + 1e-9)


def warn_if_extrapolated(tier: str, what: str, seconds: float, limit: float | None) -> None:
    if beyond(seconds, limit):
        warnings.warn(
            f"tier {tier}: {what} at {seconds:.3g} s extrapolates the fitted model beyond "
            f"the largest observed budget {limit} s",
            ExtrapolationWarning,
            stacklevel=3,
        )


def finite_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise CalibError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def positive_number(value: Any, where: str) -> float:
    number = finite_number(value, where)
    if number <= 0:
        raise CalibError(f"{where}: expected a positive number, got {value!r}")
    return number


def probability(value: Any, where: str) -> float | None:
    """An exported rate: None stays None, anything else must be a number in [0, 1]."""
    if value is None:
        return None
    number = finite_number(value, where)
    if not 0.0 <= number <= 1.0:
        raise CalibError(f"{where}: expected a probability in [0, 1], got {value!r}")
    return number
