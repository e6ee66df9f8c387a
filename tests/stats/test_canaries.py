"""Canary rates: counts, Wilson intervals, and the interval's coverage (exact, not sampled)."""

from __future__ import annotations

import pytest
from scipy import stats

from calib_async.stats.canaries import class_rate
from calib_async.stats.rates import wilson_interval


def test_class_rate_counts_every_run_and_passes_only_verified() -> None:
    entry = class_rate({"VERIFIED": 3, "PROOF_INVALID": 4, "VERIFIER_TIMEOUT": 1}, 2)
    assert (entry["run"], entry["passed"], entry["not_applicable"]) == (8, 3, 2)
    assert entry["spurious_pass_rate"] == pytest.approx(3 / 8)
    assert entry["spurious_pass_rate_ci"] == pytest.approx(list(wilson_interval(3, 8)))
    assert entry["status"] == "ok"


def test_no_run_gives_no_rate_and_says_why() -> None:
    assert class_rate({}, 5) | {"outcomes": {}} == {
        "run": 0, "passed": 0, "spurious_pass_rate": None, "spurious_pass_rate_ci": None,
        "not_applicable": 5, "outcomes": {}, "status": "not_applicable",
    }  # fmt: skip
    assert class_rate({}, 0)["status"] == "no_data"


@pytest.mark.parametrize("n", [5, 20, 60])
def test_wilson_coverage_and_bias_at_canary_sample_sizes(n: int) -> None:
    """Exact coverage over k ~ Binomial(n, p): the rate passed/run is unbiased, and the
    95 % Wilson interval covers p at least 0.90 of the time for every p on a grid (its
    known dips), about 0.95 on average."""
    intervals = [wilson_interval(k, n) for k in range(n + 1)]
    coverages = []
    for p in [i / 40 for i in range(1, 40)]:
        pmf = stats.binom.pmf(range(n + 1), n, p)
        coverages.append(
            sum(w for w, (lo, hi) in zip(pmf, intervals, strict=True) if lo <= p <= hi)
        )
        assert sum(w * k / n for k, w in enumerate(pmf)) == pytest.approx(p)  # unbiased
    assert min(coverages) >= (0.87 if n == 5 else 0.90)
    assert 0.93 <= sum(coverages) / len(coverages) <= 0.97
