"""Recommended timeouts and the Kaplan–Meier curve they are bounded by (``stats.timeouts``).

* ``Recommendation``: the smallest budget whose predicted timeout rate is at most a target,
  with its method, flags, the reason when unreachable, and a bootstrap interval
  (``calib_async.stats.recommend_ci``).
* ``monotone``: a smaller target never gets a shorter budget than a larger one, and once a
  target is unreachable every smaller one is too, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.censoring import CensoredDurations

#: Most Kaplan–Meier knots exported (a step in survival of at least 1/KM_KNOTS is kept).
KM_KNOTS = 200


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The smallest budget (s) whose predicted timeout rate is at most ``target``."""

    target: float
    timeout_s: float | None
    method: str  # "model" | "kaplan_meier" | "unreachable"
    extrapolated: bool = False
    bounded_by_observed: bool = False
    reason: str | None = None
    #: bootstrap interval of the budget in seconds (``math.inf``: unreachable at that end)
    ci: tuple[float, float] | None = None
    #: share of bootstrap replicates in which the target is unreachable
    unreachable_share: float | None = None
    ci_replicates: int = 0

    def to_export(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "timeout_s": self.timeout_s,
            "method": self.method,
            "extrapolated": self.extrapolated,
            "bounded_by_observed": self.bounded_by_observed,
            "reason": self.reason,
        }
        if self.ci is not None:  # newer keys (an older file reads without them)
            out["timeout_s_bootstrap_ci"] = [_finite_or_none(v) for v in self.ci]
            out["unreachable_share"] = self.unreachable_share
            out["bootstrap_replicates"] = self.ci_replicates
        return out

    def interval_text(self) -> str:
        """The interval as text: ``[0.41, 0.63] s``, ``[0.41 s, unreachable]``, or ""."""
        if self.ci is None:
            return ""
        lo, hi = self.ci
        if math.isinf(lo):
            return "[unreachable in most replicates]"
        if math.isinf(hi):
            return f"[{lo:.3g} s, unreachable]"
        return f"[{lo:.3g}, {hi:.3g}] s"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class KaplanMeier:
    """The wall-clock runs' Kaplan–Meier survival as a step function (knots, right-continuous)."""

    times_ms: np.ndarray
    survival: np.ndarray  # survival just after each knot
    up_to_ms: float  # defined for t <= up_to_ms

    def at(self, t_ms: float) -> float:
        i = int(np.searchsorted(self.times_ms, t_ms, side="right"))
        return 1.0 if i == 0 else float(self.survival[i - 1])

    def compressed(self, knots: int = KM_KNOTS) -> KaplanMeier:
        """At most about ``knots`` knots; dropped knots make the curve higher (conservative)."""
        keep, last = [], 1.0
        for i, s in enumerate(self.survival):
            if last - s >= 1.0 / knots or i == self.survival.size - 1:
                keep.append(i)
                last = float(s)
        idx = np.asarray(keep, dtype=np.int64)
        return KaplanMeier(self.times_ms[idx], self.survival[idx], self.up_to_ms)


def kaplan_meier(data: CensoredDurations, up_to_ms: float) -> KaplanMeier:
    events = np.concatenate([data.events, data.interval[:, 1]])
    if events.size == 0:
        return KaplanMeier(np.zeros(0), np.zeros(0), up_to_ms)
    km = stats.ecdf(stats.CensoredData(uncensored=events, right=data.right)).sf
    inside = km.quantiles <= up_to_ms
    return KaplanMeier(km.quantiles[inside], km.probabilities[inside], up_to_ms)


def monotone(recs: tuple[Recommendation, ...]) -> tuple[Recommendation, ...]:
    """Recommendations made monotone in the target (module docstring), in input order."""
    fixed: dict[float, Recommendation] = {}
    budget, blocked = 0.0, None
    for rec in sorted(recs, key=lambda r: -r.target):
        if blocked is not None and rec.timeout_s is not None:
            reason = (
                f"the larger target {blocked.target:g} is already unreachable: {blocked.reason}"
            )
            rec = Recommendation(rec.target, None, "unreachable", reason=reason)
        elif rec.timeout_s is None:
            blocked = blocked or rec
        elif rec.timeout_s < budget:
            rec = Recommendation(
                rec.target, budget, rec.method, rec.extrapolated, bounded_by_observed=True
            )
        budget = max(budget, rec.timeout_s or 0.0)
        fixed[rec.target] = rec
    return tuple(fixed[r.target] for r in recs)
