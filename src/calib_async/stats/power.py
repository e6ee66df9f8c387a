"""How strong a validation test is: power against a doubled rate, minimum detectable difference.

A PASS means little when the test could not have seen a real defect. Each validation test
therefore reports, at its actual sample sizes and at the level the Holm gate needs for a
single rejection (alpha / m for m tests):

* ``power`` — the probability of rejecting when the held-out rate is *twice* the training
  rate (for the monotonicity pairs: the longer tier times out twice as often as the
  shorter); None when the training rate is 0 (doubling it changes nothing);
* ``mdd`` — the minimum detectable difference: the smallest increase of the rate that the
  test detects with probability ``POWER_TARGET``.

Normal approximations: for the two-sample score test the statistic's null s.e. uses the
pooled proportion and the alternative s.e. the two separate ones; for the comparison of two
Jeffreys posteriors (stratified rates) the s.e. is ``sqrt(var(train draws) + var(held-out
draws))`` under both.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

#: Power a test should have against a doubled rate before a PASS counts as strong.
POWER_TARGET = 0.8


def _z(level: float, two_sided: bool) -> float:
    return float(stats.norm.isf(level / 2 if two_sided else level))


def score_power(
    p1: float, n1: float, p2: float, n2: float, *, level: float, two_sided: bool = True
) -> float | None:
    """Power of the two-sample score test of p1 = p2 when the truths are p1 and p2."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (n1 * p1 + n2 * p2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    se1 = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    z = _z(level, two_sided)
    if se1 <= 0:  # both rates 0 or 1: the outcome is certain
        return 1.0 if abs(p2 - p1) > z * se0 else 0.0
    return float(stats.norm.sf((z * se0 - abs(p2 - p1)) / se1))


def score_mdd(
    p1: float, n1: float, n2: float, *, level: float, two_sided: bool = True
) -> float | None:
    """Smallest increase d with ``score_power(p1, n1, p1 + d, n2) >= POWER_TARGET``."""
    if n1 <= 0 or n2 <= 0 or p1 >= 1.0:
        return None

    def gap(d: float) -> float:
        power = score_power(p1, n1, p1 + d, n2, level=level, two_sided=two_sided)
        return (power if power is not None else 0.0) - POWER_TARGET

    top = 1.0 - p1
    if gap(top) < 0:
        return None  # not even a rate of 1 would be detected reliably
    return float(optimize.brentq(gap, 1e-12, top, xtol=1e-9))


def doubled_score_power(
    p1: float | None, n1: float, n2: float, *, level: float, two_sided: bool = True
) -> float | None:
    """Power against ``p2 = min(2 p1, 1)``; None without a positive training rate."""
    if p1 is None or not p1 > 0:
        return None
    return score_power(p1, n1, min(2 * p1, 1.0), n2, level=level, two_sided=two_sided)


def normal_power(delta: float | None, se: float, *, level: float) -> float | None:
    """Two-sided power of a z-test with s.e. ``se`` against a difference ``delta``."""
    if delta is None or not delta > 0 or not se > 0:
        return None
    return float(stats.norm.sf((_z(level, True) * se - delta) / se))


def normal_mdd(se: float, *, level: float) -> float | None:
    """Difference a two-sided z-test with s.e. ``se`` detects with probability POWER_TARGET."""
    if not se > 0:
        return None
    return float((_z(level, True) + stats.norm.isf(1 - POWER_TARGET)) * se)
