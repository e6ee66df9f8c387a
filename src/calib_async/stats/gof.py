"""Goodness of fit of a censored duration model: Kaplan–Meier against the fitted survival.

KS on the observed durations is the wrong test here (the pile-up at the timeout makes it
reject the true model at p = 2e-90, and with estimated parameters it is far too
conservative). Instead:

* **Statistic.** ``D = sup_{t < T} |S_KM(t) - S_fit(t)|``, the largest gap between the
  Kaplan–Meier survival curve (``scipy.stats.ecdf`` on CensoredData) and the fitted survival
  before the tier's timeout T. Both sides of every KM jump are checked.
* **p-value.** Parametric bootstrap: draw B data sets from the fitted model, censored at the
  same budgets as the observed runs, refit the same family (``stats.censored_likelihood``, the
  same censored likelihood without scipy's per-call fit overhead), recompute D;
  ``p = (1 + #{D* >= D}) / (B + 1)``. This accounts for the estimated parameters. B = 0
  disables it (p-value None).
* **Cost.** Refits use ``stats.censored_likelihood`` (no scipy fit overhead), so 3 tiers x
  10k runs x B = 199 take seconds in one thread (stages 4-6 start no processes). For n above
  ``max_n`` (default 20k) the bootstrap data sets have ``max_n`` runs and the statistics are
  compared on the sqrt(n) scale (``sqrt(m) D*`` against ``sqrt(n) D``): the scaled
  KM-minus-model process has a limit that does not depend on n, so the cost stays bounded.
* **Implied timeout rate.** ``h + (1 - h) S_fit(T)`` (h: the share of timeouts the checker
  reported itself, ``n_reported`` of all runs; ``data`` holds the other runs) is compared
  with the Wilson interval of the observed timeout rate (killed plus reported timeouts over
  all runs, the tier's ``timeout_rate``); ``implied_inside_ci`` says whether it falls within.
* **Cure models.** For a candidate with a runaway share pi the fitted survival is
  ``pi + (1 - pi) S_b``, bootstrap data sets draw runaways with probability pi, and each
  refit is a cure-model refit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.censored_likelihood import refit
from calib_async.stats.durations import CandidateFit, CensoredDurations, frozen
from calib_async.stats.rates import wilson_interval

DEFAULT_MAX_N = 20_000


def km_sup_distance(
    data: CensoredDurations,
    family: str,
    params: Mapping[str, float],
    timeout_ms: float,
    *,
    cure: float = 0.0,
) -> float:
    """sup over t < timeout_ms of |Kaplan–Meier survival - fitted survival|.

    Interval-censored zero durations enter the Kaplan–Meier curve as events at the upper end
    of their interval (scipy's ecdf takes only exact and right-censored values).
    """
    events = np.concatenate([data.events, data.interval[:, 1]])
    if events.size == 0:
        return math.nan
    km = stats.ecdf(stats.CensoredData(uncensored=events, right=data.right)).sf
    times, surv = km.quantiles, km.probabilities
    before = times < timeout_ms
    t = times[before]
    after_jump = surv[before]
    before_jump = np.concatenate([[1.0], surv[:-1]])[before]
    rv = frozen(family, params)
    fitted = cure + (1.0 - cure) * rv.sf(t)
    gaps = [np.abs(after_jump - fitted), np.abs(before_jump - fitted)]
    last = after_jump[-1] if t.size else 1.0
    tail = abs(float(last) - (cure + (1.0 - cure) * float(rv.sf(timeout_ms))))
    return float(max([tail, *(float(g.max()) for g in gaps if g.size)]))


def simulate_censored(
    family: str,
    params: Mapping[str, float],
    budgets_ms: np.ndarray,
    rng: np.random.Generator,
    *,
    cure: float = 0.0,
    escalated: int = 0,
    watched_to_ms: float = 0.0,
) -> CensoredDurations:
    """One data set from the model (runaways with probability ``cure``), censored at budgets.

    ``escalated`` of the killed runs (chosen at random, as the ground-truth stage samples
    timeouts) are watched on to ``watched_to_ms``, as the escalation ladder does.
    """
    draws = frozen(family, params).rvs(size=budgets_ms.size, random_state=rng)
    if cure > 0.0:
        draws = np.where(rng.random(budgets_ms.size) < cure, np.inf, draws)
    budgets = budgets_ms.astype(np.float64)
    killed_idx = np.nonzero(draws > budgets)[0]
    if escalated > 0 and killed_idx.size:
        pick = rng.choice(killed_idx, size=min(escalated, killed_idx.size), replace=False)
        budgets = budgets.copy()
        budgets[pick] = np.maximum(budgets[pick], watched_to_ms)
    killed = draws > budgets
    return CensoredDurations(
        events=draws[~killed], right=budgets[killed], interval=np.zeros((0, 2))
    )


@dataclass(frozen=True, slots=True)
class GoodnessOfFit:
    """KM-vs-model sup distance, its bootstrap p-value, and the implied timeout rate check."""

    sup_distance: float | None
    p_value: float | None
    bootstrap: int  # B actually used (0 = disabled)
    bootstrap_n: int | None  # size of each bootstrap data set
    bootstrap_failed: int  # bootstrap refits that failed (left out of the p-value)
    implied_timeout_rate: float | None  # h + (1 - h) S(T): every timeout
    observed_timeout_rate: float | None
    observed_timeout_ci: tuple[float, float] | None
    implied_inside_ci: bool | None
    reported_timeout_share: float = 0.0  # h
    implied_wall_timeout_rate: float | None = None  # (1 - h) S(T): runs the runner kills
    #: Per successful bootstrap refit: its S*(T) and runaway share pi* (parametric-bootstrap
    #: draws of the estimates, for their intervals in ``calib_async.stats.timeouts``).
    boot_survival: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    boot_cure: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_export(self) -> dict[str, Any]:
        return {
            "statistic": "sup_t<T |KM(t) - S_fit(t)|",
            "sup_distance": self.sup_distance,
            "p_value": self.p_value,
            "bootstrap": self.bootstrap,
            "bootstrap_n": self.bootstrap_n,
            "bootstrap_failed": self.bootstrap_failed,
            "implied_timeout_rate": self.implied_timeout_rate,
            "observed_timeout_rate": self.observed_timeout_rate,
            "observed_timeout_ci": (
                list(self.observed_timeout_ci) if self.observed_timeout_ci else None
            ),
            "implied_inside_ci": self.implied_inside_ci,
            "implied_wall_timeout_rate": self.implied_wall_timeout_rate,
            "reported_timeout_share": self.reported_timeout_share,
        }


def goodness_of_fit(
    data: CensoredDurations,
    chosen: CandidateFit,
    *,
    budgets_ms: np.ndarray,
    timeout_ms: float,
    n_wall_timeouts: int,
    bootstrap: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
    max_n: int = DEFAULT_MAX_N,
    n_reported: int = 0,
    escalated: int = 0,
    watched_to_ms: float = 0.0,
) -> GoodnessOfFit:
    """Goodness of fit of ``chosen`` (fitted to ``data``); see the module docstring.

    ``data`` are the runs the wall-clock model describes; ``n_reported`` more runs ended in a
    timeout the checker reported itself. ``escalated`` killed runs were watched on to
    ``watched_to_ms`` by the escalation ladder (``stats.escalations``); the bootstrap data
    sets are watched the same way. ``budgets_ms`` are the runs' own budgets.
    """
    if chosen.params is None:
        raise ValueError(f"goodness_of_fit needs a fitted model; {chosen.family} has no params")
    family, params, pi = chosen.family, chosen.params, chosen.cure_fraction
    n = data.n
    total = n + n_reported
    h = n_reported / total if total else 0.0
    d_obs = km_sup_distance(data, family, params, timeout_ms, cure=pi)
    wall_implied = float(chosen.survival(timeout_ms))
    implied = h + (1.0 - h) * wall_implied
    k_total = n_wall_timeouts + n_reported
    observed = k_total / total if total else None
    ci = wilson_interval(k_total, total, confidence) if total else None
    inside = bool(ci[0] <= implied <= ci[1]) if ci else None
    p_value, used, failed, m = None, 0, 0, None
    boot_s: list[float] = []
    boot_pi: list[float] = []
    if bootstrap > 0 and math.isfinite(d_obs):
        m = min(n, max_n)
        scale = math.sqrt(n / m)  # sqrt(m) D* >= sqrt(n) D  <=>  D* >= D sqrt(n / m)
        exceed = 0
        for _ in range(bootstrap):
            budgets = budgets_ms if m == n else rng.choice(budgets_ms, size=m, replace=False)
            sim = simulate_censored(
                family,
                params,
                budgets,
                rng,
                cure=pi,
                escalated=round(escalated * m / n) if n else 0,
                watched_to_ms=watched_to_ms,
            )
            refitted = refit(family, sim, params, cure=max(pi, 1e-3) if chosen.cure else None)
            if refitted is None:
                failed += 1
                continue
            pi_star = refitted.pop("cure_fraction", 0.0)
            d_star = km_sup_distance(sim, family, refitted, timeout_ms, cure=pi_star)
            if not math.isfinite(d_star):
                failed += 1
                continue
            used += 1
            base_t = float(frozen(family, refitted).sf(timeout_ms))
            boot_s.append(pi_star + (1.0 - pi_star) * base_t)
            boot_pi.append(pi_star)
            if d_star >= d_obs * scale:
                exceed += 1
        p_value = (1 + exceed) / (used + 1) if used else None
    return GoodnessOfFit(
        sup_distance=d_obs if math.isfinite(d_obs) else None,
        p_value=p_value,
        bootstrap=used,
        bootstrap_n=m,
        bootstrap_failed=failed,
        implied_timeout_rate=implied,
        observed_timeout_rate=observed,
        observed_timeout_ci=ci,
        implied_inside_ci=inside,
        reported_timeout_share=h,
        implied_wall_timeout_rate=(1.0 - h) * wall_implied,
        boot_survival=np.asarray(boot_s if used else [], dtype=np.float64),
        boot_cure=np.asarray(boot_pi if used else [], dtype=np.float64),
    )
