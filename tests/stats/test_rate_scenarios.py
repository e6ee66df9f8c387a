"""Fast versions of the recovery study's rate scenarios (issue 13): messy labels, known truth.

Rates only (``run_rate_scenario(full=False)``: every record, no duration model), a few
repetitions each; the full study is ``scripts/recovery_study.py --only-rates``.
"""

from __future__ import annotations

import numpy as np
import pytest

from calib_async.stats.rates import LOW_LABELS, PARTIAL
from calib_async.stats.scenarios import RATE_SCENARIOS, run_rate_scenario

CONDITIONAL = ("spurious_fail_rate", "spurious_pass_rate", "timeout_given_valid")


@pytest.mark.parametrize("name", sorted(RATE_SCENARIOS))
def test_exported_intervals_cover_the_truth_in_every_rate_scenario(name: str) -> None:
    reps = 8
    res = run_rate_scenario(RATE_SCENARIOS[name], reps, np.random.default_rng(13), full=False)
    keys = list(res.statuses)
    assert all(res.no_ci[k] == 0 for k in keys), "a rate went out without an interval"
    hits = sum(sum(res.covered[k]) for k in keys)
    # 15 intervals x 8 reps at >= 0.95 each: pooled coverage far above 0.88 unless broken
    assert hits / (len(keys) * reps) >= 0.88
    assert all(res.coverage(k) >= 0.6 for k in keys)  # no rate systematically missed


def test_crashing_invalid_items_bias_the_point_but_not_the_interval() -> None:
    res = run_rate_scenario(RATE_SCENARIOS["crash"], 10, np.random.default_rng(5), full=False)
    key = ("FAST", "spurious_fail_rate")
    assert set(res.statuses[key]) == {PARTIAL}
    assert res.coverage(key) >= 0.9
    assert np.mean(res.estimates[key]) > res.truth["FAST"]["spurious_fail_rate"]


def test_every_timeout_undetermined_leaves_timeout_rates_bounded_not_zero() -> None:
    sc = RATE_SCENARIOS["timeouts_undetermined"]
    res = run_rate_scenario(sc, 6, np.random.default_rng(2), full=False)
    for tier in ("FAST", "BALANCED"):
        key = (tier, "timeout_given_valid")
        assert res.estimates[key] == []  # not point-identified: no number at all
        assert all(res.in_bounds[key]) and res.coverage(key) == 1.0


def test_label_sample_below_the_floor_gives_low_labels_and_covering_intervals() -> None:
    sc = RATE_SCENARIOS["few_labels"]
    assert sc.labels_per_tier < 3 * 5
    res = run_rate_scenario(sc, 8, np.random.default_rng(4), full=False)
    for key, statuses in res.statuses.items():
        if key[1] in CONDITIONAL:
            assert statuses.get("ok", 0) == 0  # never "ok" on 1-2 labels per stratum
            assert LOW_LABELS in statuses or PARTIAL in statuses
    cov = [res.coverage(k) for k in res.statuses]
    assert np.mean(cov) >= 0.9
