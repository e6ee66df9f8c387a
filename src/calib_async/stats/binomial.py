"""Exact binomial intervals: Clopper–Pearson, for rates that live near 0 or 1.

Wilson's interval covers as little as about 0.84 for some true rates at n = 20 (near the
boundaries, exactly where canary pass rates and rare timeout rates live). Clopper–Pearson
inverts two one-sided exact tests, so its coverage is at least ``confidence`` for every true
rate and every n (conservative: wider than Wilson in the middle). ``scripts/canary_coverage.py``
measures both side by side.
"""

from __future__ import annotations

from scipy import stats

#: The ``method`` string of a rate whose interval is Clopper–Pearson.
CLOPPER_PEARSON = "clopper_pearson"


def clopper_pearson(x: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval; ``x`` and ``n`` may be fractional (an effective sample)."""
    alpha = 1.0 - confidence
    low = 0.0 if x <= 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    high = 1.0 if x >= n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    return low, high


__all__ = ["CLOPPER_PEARSON", "clopper_pearson"]
