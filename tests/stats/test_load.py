"""Load sensitivity: timeout rate by load level and the Cochran–Armitage trend test."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from calib_async.stats.load import cochran_armitage, load_sensitivity
from calib_async.stats.record_arrays import TIMEOUT_CODE, RunColumns


def _runs(
    load: np.ndarray, timeouts: np.ndarray, concurrency: np.ndarray | None = None
) -> RunColumns:
    n = load.size
    return RunColumns(
        item=np.arange(n),
        outcome=np.where(timeouts, TIMEOUT_CODE, 0).astype(np.int8),
        timed_out=timeouts.astype(bool),
        duration_ms=np.full(n, 100.0),
        timeout_ms=np.full(n, 1000.0),
        load_avg_1m=load.astype(float),
        concurrency=(np.full(n, 4.0) if concurrency is None else concurrency.astype(float)),
    )


def test_trend_statistic_is_the_logistic_score_test_of_the_slope() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, 400)
    y = rng.random(400) < 1 / (1 + np.exp(-(-2 + 0.3 * x)))
    z, p = cochran_armitage(x, y)
    # score test of slope = 0 at the intercept-only fit: U^2 / I, with I from the null model
    null = sm.GLM(y.astype(float), np.ones((x.size, 1)), family=sm.families.Binomial()).fit()
    mu = null.fittedvalues
    u = np.sum(x * (y - mu))
    info = np.sum(mu * (1 - mu) * x * x) - np.sum(mu * (1 - mu) * x) ** 2 / np.sum(mu * (1 - mu))
    assert z == pytest.approx(u / np.sqrt(info))
    assert 0 < p < 1


def test_a_tier_whose_timeouts_rise_with_load_is_flagged() -> None:
    rng = np.random.default_rng(1)
    load = rng.uniform(0, 8, 2000)
    timeouts = rng.random(2000) < 0.02 + 0.03 * load
    out = load_sensitivity(_runs(load, timeouts))
    assert out["flagged"] is True
    assert out["load_avg_1m"]["status"] == "ok" and out["load_avg_1m"]["p_holm"] < 1e-6
    rates = [lvl["rate"] for lvl in out["load_avg_1m"]["levels"]]
    assert len(rates) == 4 and rates == sorted(rates)
    assert out["concurrency"]["status"] == "no_load_variation"


def test_no_load_effect_is_not_flagged_and_falling_rates_are_not_alarms() -> None:
    rng = np.random.default_rng(2)
    load = rng.uniform(0, 8, 2000)
    assert load_sensitivity(_runs(load, rng.random(2000) < 0.1))["flagged"] is False
    falling = rng.random(2000) < 0.3 - 0.03 * load
    assert load_sensitivity(_runs(load, falling))["flagged"] is False  # one-sided test


def test_levels_use_distinct_values_when_few_and_handle_no_runs() -> None:
    conc = np.repeat([1, 2, 4], 10)
    out = load_sensitivity(_runs(np.zeros(30), np.arange(30) % 3 == 0, conc))
    assert [lvl["low"] for lvl in out["concurrency"]["levels"]] == [1.0, 2.0, 4.0]
    assert out["load_avg_1m"]["status"] == "no_load_variation"
    empty = load_sensitivity(_runs(np.zeros(0), np.zeros(0, bool)))
    assert empty["flagged"] is False and empty["load_avg_1m"]["status"] == "insufficient_data"
