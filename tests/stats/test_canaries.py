"""Canary rates: counts, Clopper–Pearson intervals, and their coverage (exact, not sampled)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scipy import stats

from calib_async.stats.binomial import clopper_pearson
from calib_async.stats.canaries import class_rate
from calib_async.stats.rates import wilson_interval


def test_class_rate_counts_every_run_and_passes_only_verified() -> None:
    entry = class_rate({"VERIFIED": 3, "PROOF_INVALID": 4, "VERIFIER_TIMEOUT": 1}, 2)
    assert (entry["run"], entry["passed"], entry["not_applicable"]) == (8, 3, 2)
    assert entry["spurious_pass_rate"] == pytest.approx(3 / 8)
    assert entry["spurious_pass_rate_ci"] == pytest.approx(list(clopper_pearson(3, 8)))
    assert entry["status"] == "ok"


def test_no_run_gives_no_rate_and_says_why() -> None:
    assert class_rate({}, 5) | {"outcomes": {}} == {
        "run": 0, "passed": 0, "spurious_pass_rate": None, "spurious_pass_rate_ci": None,
        "not_applicable": 5, "outcomes": {}, "status": "not_applicable",
    }  # fmt: skip
    assert class_rate({}, 0)["status"] == "no_data"


def _coverages(interval: Callable[[int, int], tuple[float, float]], n: int) -> list[float]:
    """Exact coverage over k ~ Binomial(n, p) on a fine grid of p, boundaries included."""
    intervals = [interval(k, n) for k in range(n + 1)]
    out = []
    for p in [i / 400 for i in range(1, 400)]:
        pmf = stats.binom.pmf(range(n + 1), n, p)
        out.append(sum(w for w, (lo, hi) in zip(pmf, intervals, strict=True) if lo <= p <= hi))
        assert sum(w * k / n for k, w in enumerate(pmf)) == pytest.approx(p)  # unbiased
    return out


@pytest.mark.parametrize("n", [5, 20, 60])
def test_canary_interval_minimum_coverage_at_canary_sample_sizes(n: int) -> None:
    """The canary interval's minimum coverage over every true rate is at least 0.93 (it is
    Clopper–Pearson: at least 0.95), where Wilson's dips well below at the boundaries."""
    cp = _coverages(clopper_pearson, n)
    assert min(cp) >= 0.93
    assert min(_coverages(wilson_interval, n)) < 0.93  # what the change fixed
