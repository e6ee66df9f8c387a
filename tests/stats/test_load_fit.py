"""Load fit: Firth logistic in log(level), separation, statuses, max concurrency."""

from __future__ import annotations

import math

import pytest

from calib_async.stats.load_fit import fit_load


def _runs(counts: dict[int, tuple[int, int]]) -> tuple[list[int], list[bool]]:
    levels, timeouts = [], []
    for level, (k, n) in counts.items():
        levels += [level] * n
        timeouts += [True] * k + [False] * (n - k)
    return levels, timeouts


def test_equal_rates_give_a_slope_interval_around_zero() -> None:
    fit = fit_load(*_runs({1: (6, 20), 4: (6, 20), 8: (6, 20)}))
    assert fit.status == "ok" and abs(fit.slope) < 0.05
    assert fit.slope_ci[0] < 0 < fit.slope_ci[1] and fit.slope_p_value > 0.5


def test_separated_data_give_a_finite_slope_whose_interval_excludes_zero() -> None:
    fit = fit_load(*_runs({1: (0, 20), 4: (5, 20), 8: (20, 20)}))
    assert fit.separation == "quasi" and math.isfinite(fit.slope)
    assert fit.slope_ci[0] > 0 and fit.slope_p_value < 0.001
    mc = fit.max_concurrency_for_rate
    assert mc[0.01]["estimate"] <= mc[0.05]["estimate"] <= mc[0.1]["estimate"] <= 8
    for entry in mc.values():
        assert entry["conservative"] is None or entry["conservative"] <= entry["estimate"]
    assert fit.predict(8) > fit.predict(4) > fit.predict(1)


def test_rows_hold_observed_and_predicted_rates_with_intervals() -> None:
    fit = fit_load(*_runs({1: (1, 10), 8: (5, 10)}), concurrency=[1] * 10 + [8] * 10)
    row = fit.to_export()["levels"][1]
    assert row["level"] == 8 and row["rate"] == 0.5 and row["mean_concurrency"] == 8
    assert row["rate_ci"][0] < 0.5 < row["rate_ci"][1]
    assert row["predicted_ci"][0] < row["predicted"] < row["predicted_ci"][1]


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({4: (2, 10)}, "single_level"),
        ({}, "no_data"),
        ({1: (0, 10), 8: (0, 10)}, "no_timeouts"),
        ({1: (10, 10), 8: (10, 10)}, "all_timeouts"),
    ],
)
def test_statuses_say_what_the_data_cannot_identify(counts: dict, status: str) -> None:
    fit = fit_load(*_runs(counts))
    assert fit.status == status
    if status in ("single_level", "no_data"):
        assert fit.slope is None and fit.reason


def test_max_concurrency_is_never_below_the_smallest_tested_level_without_a_reason() -> None:
    fit = fit_load(*_runs({4: (8, 40), 8: (20, 40), 16: (35, 40)}))
    mc = fit.max_concurrency_for_rate
    for entry in mc.values():  # even 4 exceeds 1 %, 5 % and 10 %: no level 1-3 offered
        assert entry["estimate"] is None and entry["conservative"] is None
        assert entry["reason"].startswith("the predicted rate exceeds")
        assert "smallest tested level 4" in entry["reason"]
    assert fit.to_export()["min_concurrency_tested"] == 4
    easy = fit_load(*_runs({4: (0, 40), 8: (1, 40), 16: (30, 40)})).max_concurrency_for_rate
    assert easy[0.1]["estimate"] is not None and easy[0.1]["estimate"] >= 4


def test_max_concurrency_has_an_interval_from_conservative_to_the_lower_bound_inversion() -> None:
    fit = fit_load(*_runs({1: (1, 60), 4: (4, 60), 8: (12, 60), 16: (30, 60)}))
    for target, entry in fit.max_concurrency_for_rate.items():
        low, high = entry["interval"]
        assert low == entry["conservative"]
        if entry["estimate"] is not None:
            assert high is not None and high >= entry["estimate"]
            assert 1 <= high <= 16 and entry["interval_capped"] == (high == 16)
            if high < 16:  # beyond the upper end even the rate's lower bound exceeds it
                assert fit.predict(high + 1) > target
