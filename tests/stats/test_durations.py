"""Censored duration models: lifelines cross-checks, censoring rules, AIC, goodness of fit."""

from __future__ import annotations

import math

import lifelines
import numpy as np
import pytest
from scipy import stats

from calib_async.stats.censored_likelihood import refit
from calib_async.stats.durations import (
    CensoredDurations,
    censor_durations,
    fit_duration_model,
    fit_family,
    log_likelihood,
)
from calib_async.stats.gof import goodness_of_fit, km_sup_distance


def _censored_sample(rv, n: int, seed: int, censor_share: float = 0.15):
    rng = np.random.default_rng(seed)
    d = rv.rvs(size=n, random_state=rng)
    limit = float(rv.isf(censor_share))
    killed = d > limit
    observed = np.where(killed, limit + 7.0, d)  # a killed run's duration overshoots a little
    return d, limit, killed, censor_durations(observed, killed, np.full(n, limit))


@pytest.mark.parametrize(
    ("family", "rv", "fitter", "to_ours"),
    [
        (
            "weibull_min",
            stats.weibull_min(1.5, scale=300.0),
            lifelines.WeibullFitter,
            lambda p: {"shape": p["rho_"], "scale": p["lambda_"]},
        ),
        (
            "lognorm",
            stats.lognorm(0.8, scale=200.0),
            lifelines.LogNormalFitter,
            lambda p: {"shape": p["sigma_"], "scale": math.exp(p["mu_"])},
        ),
        (
            "expon",
            stats.expon(scale=250.0),
            lifelines.ExponentialFitter,
            lambda p: {"scale": p["lambda_"]},
        ),
    ],
)
@pytest.mark.parametrize("n", [150, 3000])
def test_censored_mle_matches_lifelines(family, rv, fitter, to_ours, n) -> None:
    d, limit, killed, data = _censored_sample(rv, n, seed=n)
    ours = fit_family(family, data)
    ref = fitter().fit(np.minimum(d, limit), event_observed=~killed)
    expected = to_ours(ref.params_.to_dict())
    assert ours.status == "ok"
    for name, value in expected.items():
        assert ours.params[name] == pytest.approx(value, rel=1e-4)
    assert ours.loglik == pytest.approx(ref.log_likelihood_, rel=1e-4)


def test_loglik_is_logpdf_of_events_plus_logsf_of_censored_plus_interval_mass() -> None:
    data = CensoredDurations(
        events=np.array([10.0, 20.0, 35.0]),
        right=np.array([50.0, 50.0]),
        interval=np.array([[0.0, 1.0]]),
    )
    params = {"shape": 1.3, "scale": 30.0}
    rv = stats.weibull_min(1.3, scale=30.0)
    expected = rv.logpdf(data.events).sum() + rv.logsf(data.right).sum() + np.log(rv.cdf(1.0))
    assert log_likelihood("weibull_min", params, data) == pytest.approx(expected, rel=1e-12)


def test_censoring_comes_from_the_runner_flag_not_from_duration_over_timeout() -> None:
    # a run that finished just past the budget (not killed) is an event at the budget (it
    # finished within the budget as enforced: one definition of timed out); a killed run that
    # reports less than the budget is censored at what it reports
    data = censor_durations(
        np.array([120.0, 1010.0, 990.0, 0.0]),
        np.array([False, False, True, False]),
        np.full(4, 1000.0),
    )
    assert data.events.tolist() == [120.0, 1000.0]
    assert data.right.tolist() == [990.0]
    assert data.interval.tolist() == [[0.0, 1.0]]  # zero duration: below the timer resolution


def test_killed_runs_are_censored_at_the_timeout_not_at_their_overshoot() -> None:
    data = censor_durations(np.array([1040.0]), np.array([True]), np.array([1000.0]))
    assert data.right.tolist() == [1000.0]


def test_aic_counts_free_parameters_only_and_picks_the_true_family() -> None:
    _, _, _, data = _censored_sample(
        stats.lognorm(0.8, scale=200.0), 2000, seed=3, censor_share=0.1
    )
    model = fit_duration_model(data)
    by_name = {c.name: c for c in model.candidates}
    assert by_name["expon"].aic == pytest.approx(2 * 1 - 2 * by_name["expon"].loglik)
    assert by_name["gamma"].aic == pytest.approx(2 * 2 - 2 * by_name["gamma"].loglik)
    assert model.chosen.family == "lognorm"


def test_zero_durations_do_not_break_the_fit() -> None:
    rng = np.random.default_rng(4)
    d = np.concatenate([np.zeros(20), stats.expon(scale=5.0).rvs(size=300, random_state=rng)])
    model = fit_duration_model(censor_durations(d, np.zeros(d.size, bool), np.full(d.size, 1e4)))
    assert model.n_interval == 20
    plain = [c for c in model.candidates if not c.cure]
    assert all(c.status == "ok" and math.isfinite(c.loglik) for c in plain)
    # no censored run: a runaway share is not identified, so no cure candidate competes
    assert {c.status for c in model.candidates if c.cure} == {"insufficient_data"}


def test_all_runs_killed_gives_marked_insufficient_candidates() -> None:
    data = censor_durations(np.full(50, 500.0), np.ones(50, bool), np.full(50, 500.0))
    model = fit_duration_model(data)
    assert model.chosen is None
    assert {c.status for c in model.candidates} == {"insufficient_data"}
    assert "distinct completed durations" in model.candidates[1].message


def test_two_events_fit_expon_but_not_the_two_parameter_families() -> None:
    data = censor_durations(
        np.array([10.0, 20.0, 500.0]), np.array([False, False, True]), np.full(3, 500.0)
    )
    model = fit_duration_model(data)
    statuses = {c.name: c.status for c in model.candidates}
    assert statuses == {
        "expon": "ok",
        "expon+cure": "insufficient_data",
        "gamma": "insufficient_data",
        "lognorm": "insufficient_data",
        "weibull_min": "insufficient_data",
        "fisk": "insufficient_data",
    }
    assert model.chosen.family == "expon"


def test_km_distance_is_small_for_the_true_model_and_large_for_a_wrong_one() -> None:
    rv = stats.weibull_min(1.5, scale=300.0)
    _, limit, _, data = _censored_sample(rv, 5000, seed=5, censor_share=0.1)
    true = km_sup_distance(data, "weibull_min", {"shape": 1.5, "scale": 300.0}, limit)
    wrong = km_sup_distance(data, "expon", {"scale": 300.0}, limit)
    assert true < 0.03 < 0.1 < wrong


def test_gof_bootstrap_p_value_and_implied_timeout_rate() -> None:
    rv = stats.weibull_min(1.5, scale=300.0)
    _, limit, killed, data = _censored_sample(rv, 600, seed=6, censor_share=0.1)
    model = fit_duration_model(data)
    rng = np.random.default_rng(0)
    common = dict(
        budgets_ms=np.full(600, limit), timeout_ms=limit, n_wall_timeouts=int(killed.sum()), rng=rng
    )
    gof = goodness_of_fit(data, model.chosen, bootstrap=19, **common)
    assert gof.bootstrap == 19 and 0.05 <= gof.p_value <= 1.0
    assert gof.implied_inside_ci is True
    off = goodness_of_fit(data, model.chosen, bootstrap=0, **common)
    assert off.p_value is None and off.bootstrap == 0 and off.sup_distance == gof.sup_distance
    # subsampled bootstrap compares on the sqrt(n) scale
    sub = goodness_of_fit(data, model.chosen, bootstrap=19, max_n=200, **common)
    assert sub.bootstrap_n == 200 and 0.05 <= sub.p_value <= 1.0


def test_gof_rejects_a_badly_wrong_family() -> None:
    rv = stats.lognorm(1.2, scale=100.0)
    _, limit, killed, data = _censored_sample(rv, 3000, seed=8, censor_share=0.1)
    expon = fit_family("expon", data)
    gof = goodness_of_fit(
        data,
        expon,
        budgets_ms=np.full(3000, limit),
        timeout_ms=limit,
        n_wall_timeouts=int(killed.sum()),
        bootstrap=19,
        rng=np.random.default_rng(1),
    )
    assert gof.p_value == pytest.approx(1 / 20)


@pytest.mark.parametrize("family", ["expon", "gamma", "lognorm", "weibull_min"])
def test_bootstrap_refit_reaches_the_same_optimum_as_the_scipy_fit(family: str) -> None:
    rv = stats.gamma(1.8, scale=120.0)
    _, _, _, data = _censored_sample(rv, 800, seed=9, censor_share=0.1)
    data = CensoredDurations(data.events, data.right, np.array([[0.0, 1.0]] * 3))
    reference = fit_family(family, data)
    start = {k: v * 1.2 for k, v in reference.params.items()}
    ours = refit(family, data, start)
    for name, value in reference.params.items():
        assert ours[name] == pytest.approx(value, rel=1e-5)
