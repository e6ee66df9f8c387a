"""Partial identification of the conditional rates when labels stay UNDETERMINED.

Labels are missing *because of* what the items are (invalid proofs that crash every checker,
proofs that never finish, split consensus votes), so UNDETERMINED cannot be treated as
missing at random. Instead every undetermined record of a stratum may be either truth
(Manski's worst-case bounds):

* In stratum h, the sampled runs split into ``a_h`` determined members of the conditioning
  class c, ``b_h`` determined others and ``u_h`` undetermined (``s_h = a_h + b_h + u_h``).
  The class share of the stratum lies in ``[a_h / s_h, (a_h + u_h) / s_h]``; a stratum with
  runs but no sampled run at all has ``[0, 1]``.
* The rate ``R = sum_{h in E} N_h theta_h / sum_h N_h theta_h`` increases with the class
  share of an event stratum and decreases with that of any other stratum, so its bounds are
  reached at corners: the *lower* bound takes the smallest share in event strata and the
  largest elsewhere, the *upper* bound the opposite. These corners are exported as
  ``<rate>_bounds`` (the estimated identification interval).

**Interval.** Each corner is an ordinary stratified ratio with pseudo-counts, so it gets
the same Jeffreys Monte Carlo posterior as a fully labelled rate (see
``calib_async.stats.rates``); strata with no sampled run are held at their worst case. The
interval is ``[q_{alpha/2}(R_lower), q_{1-alpha/2}(R_upper)]``: it covers the whole
identified set, hence the true rate whatever the labels' missingness mechanism. With no
undetermined label both corners coincide and the interval is exactly the fully labelled one.

Why not the Imbens–Manski refinement (tail level between alpha/2 and alpha, shrinking as
the bounds widen): measured, it undercovers here. With 12 % of invalid items crashing every
checker, FAST ``spurious_fail_rate`` lies near its lower bound and its corner rests on a few
events, where the Jeffreys posterior is skewed; the refined interval covered 0.905 of 200
simulations, the alpha/2 one 0.955 (``scripts/recovery_study.py``).

Exact-style ends. At each end the event strata take Clopper–Pearson-style posteriors:
``Beta(x_h, s_h - x_h + 1)`` for the lower end, ``Beta(x_h + 1, s_h - x_h)`` for the upper
end, whose quantiles are the exact binomial bounds; the other strata keep Jeffreys. Spurious
rates rest on a few events spread over several fail strata, where Jeffreys' half a
pseudo-event per stratum lifts the lower end: SLOW ``spurious_fail_rate`` (truth 0.020,
about 3 events) was missed below by 6 % of 200 simulated samples with Jeffreys at both
ends, by 1 % this way. A lower corner without any event ends at 0; one with only events
pushes the other strata up (``Beta(x_h + 1, s_h - x_h)``), and the upper end is then 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from calib_async.stats.strata import LabelTable


@dataclass(frozen=True, slots=True)
class Identified:
    """The identification interval of one rate and its sampling-inclusive interval."""

    bounds: tuple[float, float]
    ci: tuple[float, float]
    #: the draws whose quantiles give each end, with the boundary rules applied (pooled over
    #: imputations by ``calib_async.stats.label_error``)
    low_draws: np.ndarray | None = field(default=None, repr=False, compare=False)
    high_draws: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class _Corner:
    x: np.ndarray  # pseudo class count per stratum
    n: np.ndarray  # sampled runs per stratum (determined + undetermined)
    fixed: np.ndarray  # worst-case class share of strata with runs but no sample; NaN elsewhere


def _corner(table: LabelTable, in_class: np.ndarray, event: np.ndarray, *, high: bool) -> _Corner:
    take_max = event if high else ~event
    x = in_class + np.where(take_max, table.undetermined, 0.0)
    n = table.determined + table.undetermined
    fixed = np.full(n.shape, np.nan)
    unsampled = (table.population > 0) & (n == 0)
    fixed[unsampled] = np.where(take_max, 1.0, 0.0)[unsampled]
    return _Corner(x=x, n=n, fixed=fixed)


def _corner_ratio(corner: _Corner, population: np.ndarray, event: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(corner.n > 0, corner.x / corner.n, corner.fixed)
    theta = np.where(population > 0, theta, 0.0)
    total = float(np.sum(population * theta))
    return float(np.sum((population * theta)[event])) / total if total > 0 else math.nan


def _corner_draws(
    corner: _Corner,
    pi: np.ndarray,
    event: np.ndarray,
    rng: np.random.Generator,
    *,
    up: np.ndarray | None = None,
    down: np.ndarray | None = None,
) -> np.ndarray:
    """Draws of the corner's ratio: Jeffreys Beta per sampled stratum, fixed worst cases.

    Sampled strata marked ``up`` take ``Beta(x + 1, n - x)`` and those marked ``down``
    ``Beta(x, n - x + 1)`` instead: the Clopper–Pearson-style posteriors whose quantiles
    are the exact binomial bounds.
    """
    a, b = corner.x + 0.5, corner.n - corner.x + 0.5
    sampled = corner.n > 0
    if up is not None:
        rows = up & sampled
        a = np.where(rows, corner.x + 1.0, a)
        b = np.where(rows, np.maximum(corner.n - corner.x, 1e-12), b)
    if down is not None:
        rows = down & sampled
        a = np.where(rows, np.maximum(corner.x, 1e-12), a)
        b = np.where(rows, corner.n - corner.x + 1.0, b)
    theta = rng.beta(a, b, size=pi.shape)
    fixed = np.isfinite(corner.fixed)
    theta[:, fixed] = corner.fixed[fixed]
    weighted = pi * theta
    with np.errstate(invalid="ignore", divide="ignore"):
        sample: np.ndarray = weighted[:, event].sum(axis=1) / weighted.sum(axis=1)
    finite: np.ndarray = sample[np.isfinite(sample)]
    return finite


def _events(corner: _Corner, event: np.ndarray, side: np.ndarray) -> tuple[float, bool]:
    """(pseudo count of class members in ``side`` strata, whether a fixed stratum is there)."""
    sampled = corner.n > 0
    count = float(np.sum(corner.x[side & sampled]))
    fixed_there = bool(np.any(np.isfinite(corner.fixed[side]) & (corner.fixed[side] > 0)))
    return count, fixed_there


def identify(
    table: LabelTable,
    in_class: np.ndarray,
    event: np.ndarray,
    pi: np.ndarray,
    *,
    confidence: float,
    rng: np.random.Generator,
) -> Identified | None:
    """Bounds and interval of one conditional rate; None when no corner defines the rate."""
    pop = table.population
    low = _corner(table, in_class, event, high=False)
    high = _corner(table, in_class, event, high=True)
    r_low, r_high = _corner_ratio(low, pop, event), _corner_ratio(high, pop, event)
    if math.isnan(r_low) and math.isnan(r_high):
        return None
    s_low = _corner_draws(low, pi, event, rng, down=event)
    s_high = _corner_draws(high, pi, event, rng, up=event)
    if s_low.size == 0 or s_high.size == 0:
        return None
    # A corner whose denominator can vanish: fall back to the rate's trivial end.
    r_low = 0.0 if math.isnan(r_low) else r_low
    r_high = 1.0 if math.isnan(r_high) else r_high
    tail = (1.0 - confidence) / 2
    lo = min(float(np.quantile(s_low, tail)), r_low)
    hi = max(float(np.quantile(s_high, 1 - tail)), r_high)
    # boundary rules, lower end (corner "low")
    ev, ev_fixed = _events(low, event, event)
    nonev, nonev_fixed = _events(low, event, ~event)
    low_draws = s_low
    if ev == 0 and not ev_fixed:
        lo = 0.0
        low_draws = np.zeros_like(s_low)
    elif nonev == 0 and not nonev_fixed:
        pushed = _corner_draws(low, pi, event, rng, down=event, up=~event)
        if pushed.size:
            q = float(np.quantile(pushed, tail))
            if q < lo:
                low_draws = pushed
            lo = min(lo, q)
    # upper end (corner "high")
    ev, _ = _events(high, event, event)
    nonev, nonev_fixed = _events(high, event, ~event)
    high_draws = s_high
    if nonev == 0 and not nonev_fixed and ev > 0:
        hi = 1.0
        high_draws = np.ones_like(s_high)
    return Identified(
        bounds=(r_low, r_high),
        ci=(max(lo, 0.0), min(hi, 1.0)),
        low_draws=low_draws,
        high_draws=high_draws,
    )
