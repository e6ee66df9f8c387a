"""One tier's timeout model: reported timeouts, the wall-clock duration model, its status.

* **Reported timeouts.** A VERIFIER_TIMEOUT the runner did not kill (``timed_out`` False:
  Lean's heartbeat limit, a profile rule mapping output to a timeout) does not depend on the
  wall budget. Their share ``h`` of all runs is a budget-independent floor; the duration model
  (``calib_async.stats.durations``, cure models included) is fitted on the other runs, and
  ``P(timeout at budget t) = h + (1 - h) S(t)``.
* **Longer observations.** The escalation ladder's re-runs of sampled timeouts watch those
  runs up to the ladder's last budget (``calib_async.stats.escalations``); the model, the
  Kaplan–Meier curve (then defined up to that budget) and the goodness-of-fit bootstrap all
  use them. Without any, the floor is not identified beyond the budget and ``floor_ci`` is
  the region [h, h + (1 - h) S(T)].
* **Status follows the evidence.** ``ok`` unless the goodness-of-fit bootstrap rejects at
  ``1 - confidence`` or the implied timeout rate at the tier's budget lies outside the
  observed ``timeout_rate`` interval; then ``misfit``, and every prediction falls back to the
  Kaplan–Meier estimate ``h + (1 - h) S_KM(t)``, defined up to the largest watched budget.
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
  (``monotone``). Each has a bootstrap interval over items (``stats.recommend_ci``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from calib_async.stats.binomial import clopper_pearson
from calib_async.stats.censoring import DEFAULT_RESOLUTION_MS
from calib_async.stats.durations import DurationModel, fit_duration_model, frozen
from calib_async.stats.escalations import Extended, extend_with_ladders
from calib_async.stats.gof import DEFAULT_MAX_N, GoodnessOfFit, goodness_of_fit
from calib_async.stats.recommend_ci import (
    DEFAULT_REPLICATES,
    Chosen,
    recommendation_intervals,
    tier_runs,
)
from calib_async.stats.recommendation import (
    KM_KNOTS,
    KaplanMeier,
    Recommendation,
    kaplan_meier,
    monotone,
)
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns
from calib_async.stats.timeout_intervals import between_models, intervals, pi_zero_plausible

__all__ = [
    "INSUFFICIENT",
    "KM_KNOTS",
    "MISFIT",
    "OK",
    "KaplanMeier",
    "Recommendation",
    "TierTimeouts",
    "fit_tier_timeouts",
    "kaplan_meier",
    "monotone",
    "recommend",
    "reported_timeouts",
]

OK = "ok"
MISFIT = "misfit"
INSUFFICIENT = "insufficient_data"


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
    #: killed runs an escalation ladder watched beyond the budget, and of those the ones
    #: still running at its last budget (``stats.escalations``)
    n_escalated: int = 0
    n_escalated_running: int = 0

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
            "escalations": {
                "watched_beyond_budget": self.n_escalated,
                "still_running": self.n_escalated_running,
                "watched_to_s": self.max_budget_ms / 1000.0,
            },
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
    ladders: RunColumns | None = None,
    replicates: int = DEFAULT_REPLICATES,
) -> TierTimeouts:
    """Fit one tier's timeout model from its (training) runs; see the module docstring.

    ``ladders``: the escalation attempts of the same items (``stats.escalations``), which
    watch killed runs beyond the budget. ``replicates``: bootstrap replicates of the
    recommendation intervals (``stats.recommend_ci``; 0: none).
    """
    timeout_ms = float(timeout_s) * 1000.0
    reported = reported_timeouts(runs)
    wall = runs.subset(~reported)
    n_rep = int(reported.sum())
    ext = extend_with_ladders(wall, ladders, resolution_ms)
    data = ext.data
    max_budget = max(float(runs.timeout_ms.max()), ext.watched_to_ms) if len(runs) else timeout_ms
    km = kaplan_meier(data, max_budget if ext.identified else min(timeout_ms, max_budget))
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
            escalated=ext.n_extended,
            watched_to_ms=ext.watched_to_ms,
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
    if len(runs) and (not identified or floor_ci is None):
        # [h, h + (1 - h) S(watched)], each end with its exact bound; S(watched) is S(T)
        # times the share of ladders still running at their last budget
        n_to = n_rep + int(wall.timed_out.sum())
        high = clopper_pearson(n_to, len(runs), confidence)[1]
        if ext.identified:
            high *= clopper_pearson(ext.n_still_running, ext.n_extended, confidence)[1]
        floor_ci = (clopper_pearson(n_rep, len(runs), confidence)[0], min(high, 1.0))
    out = TierTimeouts(
        model, gof, status, tuple(reasons), len(runs), n_rep, timeout_ms, max_budget, km, (),
        rate_ci, floor_ci, identified, ext.n_extended, ext.n_still_running,
    )  # fmt: skip
    recs = monotone(tuple(recommend(out, float(r)) for r in targets))
    recs = _with_intervals(out, recs, runs, reported, ext, confidence, replicates, rng)
    return replace(out, recommendations=recs)


def _with_intervals(
    t: TierTimeouts,
    recs: tuple[Recommendation, ...],
    runs: RunColumns,
    reported: np.ndarray,
    ext: Extended,
    confidence: float,
    replicates: int,
    rng: np.random.Generator,
) -> tuple[Recommendation, ...]:
    """``recs`` with their bootstrap intervals over items (``stats.recommend_ci``)."""
    if not len(runs) or replicates <= 0:
        return recs
    chosen = t.model.chosen if t.model else None
    use_model = chosen is not None and t.status == OK
    predictor = Chosen(
        chosen.family if use_model and chosen is not None else None,
        chosen.params if chosen is not None else None,
        bool(chosen.cure) if chosen is not None else False,
        chosen.cure_fraction if chosen is not None else 0.0,
    )
    cis = recommendation_intervals(
        tier_runs(runs, reported, ext),
        predictor,
        targets=[r.target for r in recs],
        up_to_ms=t.km.up_to_ms,
        replicates=replicates,
        confidence=confidence,
        rng=rng,
    )
    out = []
    for r in recs:
        ci = cis.get(r.target)
        if ci is None:
            out.append(r)
            continue
        out.append(replace(r, ci=(ci.low_s, ci.high_s), unreachable_share=ci.unreachable_share,
                           ci_replicates=ci.replicates))  # fmt: skip
    return tuple(out)


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
