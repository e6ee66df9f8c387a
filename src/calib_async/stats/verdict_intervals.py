"""Two intervals the per-tier verdict needs: Youden's J and the recommended timeout.

* **Youden's J** = 1 − spurious-fail − spurious-pass: how much a checker's verdict still
  separates valid from invalid proofs. A reward built on a checker with J > 0 still points the
  right way (its expected value is an increasing affine function of validity with slope J); at
  J = 0 it carries no signal. The two rates are estimated on disjoint labelled runs (valid and
  invalid), so their errors are independent; the interval combines their own intervals by
  MOVER (Zou & Donner 2008: "method of variance estimates recovery"), which keeps each
  interval's asymmetry near 0 and 1 instead of assuming a normal difference.
* **The recommended timeout's interval**: the budget at which a tier times out at most a
  target share r of runs is the (1 − r)-quantile of the run durations, counting every run
  that timed out as longer than any budget (a reported timeout never finishes; a runner-killed
  one is known only to exceed the tier's timeout). Its distribution-free interval uses order
  statistics: [D_(l), D_(u)] with the ranks from Binomial(n, 1 − r) (Hahn & Meeker,
  "Statistical Intervals", ch. 5), exact whatever the duration family. The upper end is
  ``None`` when it lies among the runs that timed out: no run was watched that long.

``scripts/verdict_intervals_study.py`` measures both intervals' coverage by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats


def youden_j(
    spurious_fail: float | None,
    fail_ci: Sequence[float] | None,
    spurious_pass: float | None,
    pass_ci: Sequence[float] | None,
) -> tuple[float | None, tuple[float, float] | None]:
    """(J, its MOVER interval) from the two rates and their intervals; None where missing.

    The interval has the confidence level of the rates' intervals (each rate's interval is
    taken as given, bounds of partial identification included)."""
    if spurious_fail is None or spurious_pass is None:
        return None, None
    j = 1.0 - spurious_fail - spurious_pass
    if not (_pair(fail_ci) and _pair(pass_ci)):
        return j, None
    assert fail_ci is not None and pass_ci is not None
    s = spurious_fail + spurious_pass
    low_s = s - math.hypot(spurious_fail - fail_ci[0], spurious_pass - pass_ci[0])
    high_s = s + math.hypot(fail_ci[1] - spurious_fail, pass_ci[1] - spurious_pass)
    return j, (max(-1.0, 1.0 - high_s), min(1.0, 1.0 - low_s))


def quantile_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """1-based ranks (l, u) with P(D_(l) <= xi_q <= D_(u)) >= confidence, as equal-tailed as
    the binomial allows; l = 0 means no lower end, u = n + 1 no upper end."""
    alpha = (1.0 - confidence) / 2.0
    # P(D_(l) > xi_q) = P(B < l) = cdf(l - 1): largest l with cdf(l - 1) <= alpha
    low = int(stats.binom.ppf(alpha, n, q))
    while low > 0 and stats.binom.cdf(low - 1, n, q) > alpha:
        low -= 1
    while stats.binom.cdf(low, n, q) <= alpha:
        low += 1
    # P(D_(u) < xi_q) = P(B >= u) = sf(u - 1): smallest u with sf(u - 1) <= alpha
    high = int(stats.binom.isf(alpha, n, q)) + 1
    while high > 1 and stats.binom.sf(high - 2, n, q) <= alpha:
        high -= 1
    while stats.binom.sf(high - 1, n, q) > alpha:
        high += 1
    return low, high


def budget_interval(
    durations_s: Sequence[float | None],
    target: float,
    confidence: float,
) -> tuple[float | None, float | None] | None:
    """Interval of the smallest budget at which at most ``target`` of runs time out.

    ``durations_s``: one entry per run, its duration in seconds, or None for a run that timed
    out (it counts as longer than any budget). None when there are no runs; an end is None
    when the data cannot bound it (the lower end: too few runs; the upper end: it lies among
    the runs that timed out).
    """
    n = len(durations_s)
    if n == 0 or not 0.0 < target < 1.0:
        return None
    ordered = sorted(durations_s, key=lambda d: math.inf if d is None else d)
    low, high = quantile_ranks(n, 1.0 - target, confidence)
    lower = ordered[low - 1] if 1 <= low <= n else None
    upper = ordered[high - 1] if 1 <= high <= n else None
    return lower, upper


def _pair(ci: Sequence[float] | None) -> bool:
    return ci is not None and len(ci) == 2 and all(isinstance(c, int | float) for c in ci)
