"""Timeout prediction from an exported timeout_distribution mapping."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from calib_async.stats import predict_timeout_rate, timeout_for_rate
from calib_async.stats.prediction import timeout_table

WEIBULL = {"type": "weibull_min", "unit": "ms", "params": {"shape": 1.5, "scale": 300.0}}


@pytest.mark.parametrize(
    ("export", "rv"),
    [
        (WEIBULL, stats.weibull_min(1.5, scale=300.0)),
        (
            {"type": "lognorm", "params": {"shape": 0.8, "scale": 200.0}},
            stats.lognorm(0.8, scale=200.0),
        ),
        (
            {"type": "gamma", "params": {"shape": 2.0, "scale": 150.0}},
            stats.gamma(2.0, scale=150.0),
        ),
        ({"type": "expon", "params": {"scale": 250.0}}, stats.expon(scale=250.0)),
    ],
)
def test_prediction_is_the_survival_at_the_budget_in_ms(export, rv) -> None:
    for seconds in (0.0, 0.1, 0.5, 2.0):
        assert predict_timeout_rate(export, seconds) == pytest.approx(float(rv.sf(seconds * 1000)))


def test_recommended_timeout_is_the_smallest_budget_meeting_the_target() -> None:
    for rate in (0.2, 0.05, 0.01):
        t = timeout_for_rate(WEIBULL, rate)
        assert predict_timeout_rate(WEIBULL, t) == pytest.approx(rate)
        assert predict_timeout_rate(WEIBULL, t * 0.99) > rate
    table = timeout_table(WEIBULL)
    assert list(table) == [0.05, 0.01] and table[0.05] < table[0.01]


def test_prediction_refuses_a_missing_model_and_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"^timeout_distribution holds no fitted model"):
        predict_timeout_rate({"type": None, "params": {}}, 1.0)
    with pytest.raises(ValueError, match=r"^timeout_s must be >= 0"):
        predict_timeout_rate(WEIBULL, -1.0)
    with pytest.raises(ValueError, match=r"^target_rate must be in \(0, 1\)"):
        timeout_for_rate(WEIBULL, 0.0)
    assert math.isfinite(timeout_for_rate(WEIBULL, 1e-9))


def test_prediction_includes_runaways_and_reported_timeouts_and_their_floor() -> None:
    export = {**WEIBULL, "cure_fraction": 0.05, "reported_timeout_share": 0.02}
    base = stats.weibull_min(1.5, scale=300.0)
    expected = 0.02 + 0.98 * (0.05 + 0.95 * float(base.sf(600.0)))
    assert predict_timeout_rate(export, 0.6) == pytest.approx(expected)
    floor = 0.02 + 0.98 * 0.05
    assert timeout_for_rate(export, floor) == math.inf  # no budget reaches the floor
    t = timeout_for_rate(export, floor + 0.01)
    assert predict_timeout_rate(export, t) == pytest.approx(floor + 0.01)


def test_a_misfit_export_predicts_from_kaplan_meier_within_its_budget_only() -> None:
    km = {"times_ms": [100.0, 300.0], "survival": [0.5, 0.1], "up_to_ms": 800.0}
    export = {**WEIBULL, "status": "misfit", "kaplan_meier": km}
    assert predict_timeout_rate(export, 0.2) == pytest.approx(0.5)
    assert timeout_for_rate(export, 0.2) == pytest.approx(0.3)
    assert timeout_for_rate(export, 0.05) == math.inf
    with pytest.raises(ValueError, match=r"^the duration model is misfit"):
        predict_timeout_rate(export, 1.0)
