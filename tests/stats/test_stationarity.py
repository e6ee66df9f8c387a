"""Stationarity: drift, a mid-run burst and a load burst change the tier's status."""

from __future__ import annotations

import numpy as np
import pytest

from calib_async.stats.record_arrays import LabelColumns
from calib_async.stats.stationarity import check_stationarity
from calib_async.stats.tier_fit import fit_tier
from helpers.machine_runs import machine_runs as _runs


@pytest.mark.parametrize(
    ("scenario", "status"),
    [
        ("steady", "stationary"),
        ("drift", "drift"),
        ("burst", "drift"),
        ("load_burst", "load_burst"),
    ],
)
def test_a_change_over_the_run_is_detected_and_load_named_when_it_explains_it(
    scenario: str, status: str
) -> None:
    results = [check_stationarity(_runs(scenario, np.random.default_rng(s))) for s in range(10)]
    assert sum(r.status == status for r in results) >= 8  # tests at 0.05; chance both ways
    result = next(r for r in results if r.status == status)
    if status == "stationary":
        assert result.message() is None and result.p_value > 0.05
        return
    message = result.message()
    assert message is not None and message.startswith("the run is not stationary (p = ")
    assert "timeout rate by third of the run" in message
    if status == "load_burst":
        base = result.baseline
        assert base is not None and base["load_max"] < 3.0
        assert base["timeout_rate_ci"][0] <= base["timeout_rate"] <= base["timeout_rate_ci"][1]
        assert "offered, not exported" in message


def test_runs_without_distinct_times_are_not_tested() -> None:
    result = check_stationarity(_runs("drift", np.random.default_rng(1), times=False))
    assert result.status == "not_tested" and "start times" in (result.reason or "")


def test_a_drifting_tier_is_not_ok_and_exports_the_numbers() -> None:
    runs = _runs("drift", np.random.default_rng(3))
    labels = LabelColumns(item=runs.item, outcome=runs.outcome, truth=np.ones(len(runs), np.int8))
    fit = fit_tier("FAST", 4.0, runs, labels, bootstrap=0, rng=np.random.default_rng(0))
    out = fit.to_export()
    assert out["status"] == "drift"
    assert out["status_reason"].startswith("the run is not stationary")
    assert out["stationarity"]["status"] == "drift"
    assert out["stationarity"]["thirds"][0]["third"] == "first"
