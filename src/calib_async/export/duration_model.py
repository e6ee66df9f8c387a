"""A fitted duration distribution as exported, turned into a scipy frozen distribution.

The stats stage exports ``timeout_distribution`` as ``{type, params, loc, unit, ...}``;
parameter names accepted per family: weibull_min {shape|c, scale}, gamma {shape|a, scale},
lognorm {sigma|s|shape, scale}, expon {scale}; ``loc`` (in params or beside them) defaults
to 0; ``unit``/``units`` is ms (default) or s. ``type`` None (or params None) means no fit.
scipy is imported only when a distribution is evaluated.
"""

from __future__ import annotations

import math
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
}
_NO_FIT_TYPES = {None, "", "none", "null"}
_UNIT_TO_MS = {"ms": 1.0, "s": 1000.0}


@dataclass(frozen=True, slots=True)
class DurationModel:
    """A fitted duration distribution: family, canonical params, units of its variable.

    ``params`` holds ``shape`` (absent for expon), ``scale`` and ``loc`` (default 0).
    """

    family: str
    params: Mapping[str, float]
    units: str = "ms"

    @classmethod
    def from_export(cls, spec: Any, *, where: str = "timeout_distribution") -> DurationModel | None:
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
        return cls(family=family, params=params, units=units)

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
        return stats.weibull_min(p["shape"], loc=loc, scale=scale)

    def survival_at_seconds(self, t_s: float) -> float:
        """P(duration > t_s seconds)."""
        return float(self.frozen().sf(t_s * 1000.0 / _UNIT_TO_MS[self.units]))

    def survival_curve(self, t_s: Any) -> Any:
        """P(duration > t) for an array of budgets in seconds (numpy in, numpy out)."""
        import numpy as np

        return self.frozen().sf(np.asarray(t_s, dtype=float) * 1000.0 / _UNIT_TO_MS[self.units])

    def seconds_for_survival(self, rate: float) -> float:
        """The budget (seconds) at which P(duration > budget) equals ``rate``."""
        return float(self.frozen().isf(rate)) * _UNIT_TO_MS[self.units] / 1000.0

    def to_export(self) -> dict[str, Any]:
        return {"type": self.family, "params": dict(self.params), "unit": self.units}


def finite_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise CalibError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def positive_number(value: Any, where: str) -> float:
    number = finite_number(value, where)
    if number <= 0:
        raise CalibError(f"{where}: expected a positive number, got {value!r}")
    return number
