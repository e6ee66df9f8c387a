"""One tier's timeout model: reported timeouts, the wall-clock duration model, its status.

* **Reported timeouts.** A VERIFIER_TIMEOUT the runner did not kill (``timed_out`` False:
  Lean's heartbeat limit, a profile rule mapping output to a timeout) does not depend on the
  wall budget. Their share ``h`` of all runs is a budget-independent floor; the duration model
  (``calib_async.stats.durations``, cure models included) is fitted on the other runs, and
  ``P(timeout at budget t) = h + (1 - h) S(t)``.
* **Status follows the evidence.** ``ok`` unless the goodness-of-fit bootstrap rejects at
  ``1 - confidence`` or the implied timeout rate at the tier's budget lies outside the
  observed ``timeout_rate`` interval; then ``misfit``, and every prediction falls back to the
  Kaplan–Meier estimate ``h + (1 - h) S_KM(t)``, defined for t up to the tier's budget.
  ``insufficient_data`` when no family could be fitted.
* **Recommended timeouts** (``Recommendation``), per target rate r:
  - below the floor ``h + (1 - h) pi`` (runaways and reported timeouts time out at any
    budget) a target is ``unreachable``: null, with the reason;
  - ``model``: the fitted quantile, but never shorter than the smallest budget at which the
    observed (Kaplan–Meier) rate is at most r (``bounded_by_observed`` when that binds); if
    the observed rate at the largest budget still exceeds r while the model says a shorter
    budget suffices, the data contradict the model and the target is reported unreachable;
  - ``kaplan_meier`` (misfit): the smallest observed budget meeting r, else unreachable;
  - ``extrapolated``: the budget is beyond the largest budget any run had.
* **Monotone in the target.** A smaller target never gets a shorter budget than a larger
  one, and once a target is unreachable every smaller one is too, with the reason
  (``monotone``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.binomial import clopper_pearson
from calib_async.stats.censoring import DEFAULT_RESOLUTION_MS, CensoredDurations, censor_durations
from calib_async.stats.durations import DurationModel, fit_duration_model, frozen
from calib_async.stats.gof import DEFAULT_MAX_N, GoodnessOfFit, goodness_of_fit
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns
from calib_async.stats.timeout_intervals import between_models, intervals, pi_zero_plausible

OK = "ok"
MISFIT = "misfit"
INSUFFICIENT = "insufficient_data"
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

    def to_export(self) -> dict[str, Any]:
        return {
            "timeout_s": self.timeout_s,
            "method": self.method,
            "extrapolated": self.extrapolated,
            "bounded_by_observed": self.bounded_by_observed,
            "reason": self.reason,
        }


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


@dataclass(frozen=True, slots=True)
class TierTimeouts:
    """Everything about one tier's timeouts; ``distribution_export`` is the YAML mapping."""

    model: DurationModel | None
    gof: GoodnessOfFit | None
    status: str
    reasons: tuple[str, ...]
    n_runs: int
    n_reported: int
    timeout_ms: float
    max_budget_ms: float
    km: KaplanMeier
    recommendations: tuple[Recommendation, ...]
    #: Intervals (``confidence``) of the timeout rate at the budget and of the floor
    rate_ci: tuple[float, float] | None = None
    floor_ci: tuple[float, float] | None = None
    #: False when no run was watched beyond the tier's budget: the floor is then known only
    #: to lie in [h, h + (1 - h) S(T)] (``floor_ci`` is that region, with sampling error)
    floor_identified: bool = True

    @property
    def reported_share(self) -> float:
        return self.n_reported / self.n_runs if self.n_runs else 0.0

    @property
    def floor(self) -> float:
        """h + (1 - h) pi: the timeout rate no budget goes below.

        Without a trusted model (status not ``ok``) only the reported share h is known.
        """
        chosen = self.model.chosen if self.model else None
        h = self.reported_share
        if chosen is None or self.status != OK:
            return h
        return h + (1.0 - h) * chosen.cure_fraction

    def predicted_rate(self, t_ms: float) -> float | None:
        """P(timeout at budget t) under the predictor in use (None where not identified)."""
        h = self.reported_share
        chosen = self.model.chosen if self.model else None
        if self.status == OK and chosen is not None:
            return h + (1.0 - h) * float(chosen.survival(t_ms))
        if t_ms <= self.km.up_to_ms and self.km.times_ms.size:
            return h + (1.0 - h) * self.km.at(t_ms)
        return None

    def timeout_for_rate(self) -> dict[float, float | None]:
        return {r.target: r.timeout_s for r in self.recommendations}

    def distribution_export(self) -> dict[str, Any]:
        chosen = self.model.chosen if self.model else None
        h = self.reported_share
        km = self.km.compressed()
        common = {
            "reported_timeout_share": h,
            "status_reasons": list(self.reasons),
            "predictor": "model" if self.status == OK else "kaplan_meier",
            "max_observed_budget_s": self.max_budget_ms / 1000.0,
            "timeout_rate_at_budget": self.predicted_rate(self.timeout_ms),
            "timeout_rate_at_budget_ci": list(self.rate_ci) if self.rate_ci else None,
            "kaplan_meier": {
                "times_ms": km.times_ms.tolist(),
                "survival": km.survival.tolist(),
                "up_to_ms": km.up_to_ms,
                "of": "wall-clock runs (reported timeouts excluded)",
            },
        }
        gof = self.gof.to_export() if self.gof else {}
        if chosen is None:
            return {
                "type": None,
                "unit": "ms",
                "params": {},
                "goodness_of_fit": gof,
                "status": self.status,
                "cure_fraction": None,
                **common,
            }
        assert self.model is not None
        return {
            "type": chosen.family,
            "unit": "ms",
            "params": dict(chosen.params or {}),
            "loc": 0.0,
            "loglik": chosen.loglik,
            "aic": chosen.aic,
            "goodness_of_fit": gof,
            "censoring": {
                "events": self.model.n_events,
                "right_censored": self.model.n_right,
                "interval_censored": self.model.n_interval,
                "reported_timeouts": self.n_reported,
            },
            "status": self.status,
            "model": chosen.name,
            "n_params": chosen.n_params,
            "cure_fraction": chosen.cure_fraction,
            "floor": self.floor,
            "floor_ci": list(self.floor_ci) if self.floor_ci else None,
            "floor_identified": self.floor_identified,
            **(
                {}
                if self.floor_identified
                else {"floor_note": "not identified beyond the observed budget"}
            ),
            **common,
        }


def reported_timeouts(runs: RunColumns) -> np.ndarray:
    """Mask of runs whose VERIFIER_TIMEOUT the checker reported (the runner did not kill)."""
    reported: np.ndarray = (runs.outcome == TIMEOUT_CODE) & ~runs.timed_out
    return reported


def fit_tier_timeouts(
    runs: RunColumns,
    timeout_s: float,
    *,
    bootstrap: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
    targets: Sequence[float] = (0.05, 0.01),
    resolution_ms: float = DEFAULT_RESOLUTION_MS,
    bootstrap_max_n: int = DEFAULT_MAX_N,
) -> TierTimeouts:
    """Fit one tier's timeout model from its (training) runs; see the module docstring."""
    timeout_ms = float(timeout_s) * 1000.0
    reported = reported_timeouts(runs)
    wall = runs.subset(~reported)
    n_rep = int(reported.sum())
    max_budget = float(runs.timeout_ms.max()) if len(runs) else timeout_ms
    data = censor_durations(wall.duration_ms, wall.timed_out, wall.timeout_ms, resolution_ms)
    km = kaplan_meier(data, min(timeout_ms, max_budget) if len(runs) else timeout_ms)
    model = fit_duration_model(data) if len(wall) else None
    gof = None
    reasons: list[str] = []
    chosen = model.chosen if model else None
    if chosen is None:
        status = INSUFFICIENT
        reasons.append("no duration family could be fitted")
    else:
        gof = goodness_of_fit(
            data,
            chosen,
            budgets_ms=wall.timeout_ms,
            timeout_ms=timeout_ms,
            n_wall_timeouts=int(wall.timed_out.sum()),
            bootstrap=bootstrap,
            rng=rng,
            confidence=confidence,
            max_n=bootstrap_max_n,
            n_reported=n_rep,
        )
        alpha = round(1.0 - confidence, 12)
        if gof.p_value is not None and gof.p_value <= alpha:
            reasons.append(f"goodness-of-fit bootstrap rejects (p = {gof.p_value:.3g})")
        if gof.implied_inside_ci is False:
            lo, hi = gof.observed_timeout_ci or (math.nan, math.nan)
            reasons.append(
                f"implied timeout rate {gof.implied_timeout_rate:.3g} at the budget lies "
                f"outside the observed interval [{lo:.3g}, {hi:.3g}]"
            )
        status = MISFIT if reasons else OK
    pi_hat = chosen.cure_fraction if chosen is not None else 0.0
    between = between_models(model, timeout_ms) if model is not None else (0.0, 0.0)
    plausible = model is not None and pi_zero_plausible(model)
    rate_ci, floor_ci = intervals(
        gof, status, len(runs), n_rep, pi_hat, confidence, between, plausible
    )
    identified = max_budget > timeout_ms * (1 + 1e-9)
    if not identified and len(runs):  # [h, h + (1 - h) S(T)], each end with its exact bound
        n_to = n_rep + int(wall.timed_out.sum())
        floor_ci = (
            clopper_pearson(n_rep, len(runs), confidence)[0],
            clopper_pearson(n_to, len(runs), confidence)[1],
        )
    out = TierTimeouts(
        model, gof, status, tuple(reasons), len(runs), n_rep, timeout_ms, max_budget, km, (),
        floor_identified=identified, floor_ci=floor_ci,
    )  # fmt: skip
    recs = monotone(tuple(recommend(out, float(r)) for r in targets))
    return TierTimeouts(
        model,
        gof,
        status,
        tuple(reasons),
        len(runs),
        n_rep,
        timeout_ms,
        max_budget,
        km,
        recs,
        rate_ci,
        floor_ci,
        identified,
    )


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


def _observed_budget(t: TierTimeouts, target: float) -> float | None:
    """Smallest observed budget (ms) at which h + (1 - h) S_KM <= target; None if none."""
    h = t.reported_share
    rates = h + (1.0 - h) * t.km.survival
    hit = np.nonzero(rates <= target + 1e-12)[0]
    return float(t.km.times_ms[hit[0]]) if hit.size else None


def recommend(t: TierTimeouts, target: float) -> Recommendation:
    """The recommended budget for ``target`` (module docstring)."""
    chosen = t.model.chosen if t.model else None
    observed_ms = _observed_budget(t, target)
    limit_s = t.km.up_to_ms / 1000.0
    floor = t.floor
    if target <= floor and (floor > 0 or t.status == OK):
        why = "reported timeouts and runaway runs, which time out at any budget"
        if not t.floor_identified and floor > t.reported_share:
            lo, hi = t.floor_ci or (t.reported_share, 1.0)
            why = (
                f"the model's runaway share; the floor is not identified beyond the observed "
                f"budget {limit_s:g} s (it lies in [{lo:.3g}, {hi:.3g}]): no run was watched "
                "past it, so runaways and a heavy tail cannot be told apart"
            )
        return Recommendation(
            target,
            None,
            "unreachable",
            reason=f"target {target:g} is at or below the floor {floor:.3g} = h + (1 - h) pi "
            f"of {why}",
        )
    if t.status != OK or chosen is None:
        if observed_ms is not None:
            return Recommendation(target, observed_ms / 1000.0, "kaplan_meier")
        return Recommendation(
            target,
            None,
            "unreachable",
            reason=(
                f"duration model {t.status}; the observed timeout rate still exceeds {target:g} "
                f"at the largest observed budget {limit_s:g} s, and beyond it nothing is identified"
            ),
        )
    h, pi = t.reported_share, chosen.cure_fraction
    base_sf = ((target - h) / (1.0 - h) - pi) / (1.0 - pi)
    assert chosen.params is not None
    model_ms = float(frozen(chosen.family, chosen.params).isf(base_sf))
    if not math.isfinite(model_ms):
        return Recommendation(target, None, "unreachable", reason="the fitted quantile is infinite")
    if observed_ms is None and model_ms <= t.km.up_to_ms:
        return Recommendation(
            target,
            None,
            "unreachable",
            reason=(
                f"the observed timeout rate exceeds {target:g} at the largest observed budget "
                f"{limit_s:g} s, while the fitted model puts the budget at "
                f"{model_ms / 1000:.3g} s; "
                "the data contradict the model there"
            ),
        )
    bounded = observed_ms is not None and observed_ms > model_ms
    seconds = max(model_ms, observed_ms or 0.0) / 1000.0
    return Recommendation(
        target,
        seconds,
        "model",
        extrapolated=seconds * 1000 > t.max_budget_ms,
        bounded_by_observed=bounded,
    )
