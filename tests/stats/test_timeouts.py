"""Runaways, checker-reported timeouts, misfit status and flagged extrapolation (issue 13)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from calib_async.errors import CalibError
from calib_async.export.noise_model import ExtrapolationWarning, NoiseModel
from calib_async.stats.censoring import censor_durations
from calib_async.stats.duration_check import duration_model_entry
from calib_async.stats.duration_sim import DurationScenario, simulate_runs
from calib_async.stats.durations import fit_duration_model
from calib_async.stats.rates import wilson_interval
from calib_async.stats.record_arrays import OUTCOME_CODE, TIMEOUT_CODE
from calib_async.stats.timeouts import MISFIT, OK, Recommendation, fit_tier_timeouts, monotone

RUNAWAY = DurationScenario("runaway", cure=0.06)
REPORTED = DurationScenario("reported", reported=0.05)
BOTH = DurationScenario("both", cure=0.05, reported=0.03)


def _wall_data(runs):
    keep = ~((runs.outcome == TIMEOUT_CODE) & ~runs.timed_out)
    return censor_durations(runs.duration_ms[keep], runs.timed_out[keep], runs.timeout_ms[keep])


@pytest.mark.parametrize(
    ("scenario", "cure"), [(RUNAWAY, True), (DurationScenario("plain"), False)]
)
def test_aic_picks_a_cure_model_exactly_when_some_runs_never_finish(scenario, cure) -> None:
    rng = np.random.default_rng(11)
    picks = [
        fit_duration_model(_wall_data(simulate_runs(scenario, 1500, rng))).chosen.cure
        for _ in range(6)
    ]
    assert sum(p == cure for p in picks) >= 5


def test_reported_timeouts_are_a_floor_and_not_durations() -> None:
    runs = simulate_runs(REPORTED, 2000, np.random.default_rng(3))
    fit = fit_tier_timeouts(runs, 0.8, bootstrap=0, rng=np.random.default_rng(0))
    n_rep = int(np.count_nonzero((runs.outcome == TIMEOUT_CODE) & ~runs.timed_out))
    assert fit.n_reported == n_rep and fit.reported_share == pytest.approx(n_rep / 2000)
    censoring = fit.distribution_export()["censoring"]
    assert censoring["events"] + censoring["right_censored"] == 2000 - n_rep
    # P(timeout at T) = h + (1 - h) S(T) agrees with the observed timeout rate
    k = int(np.count_nonzero(runs.outcome == TIMEOUT_CODE))
    lo, hi = wilson_interval(k, 2000, 0.95)
    assert lo <= fit.predicted_rate(800.0) <= hi
    below = {r.target: r for r in fit.recommendations}[0.01]
    assert below.timeout_s is None and below.method == "unreachable"
    assert below.reason.startswith("target 0.01 is at or below the floor")


def test_target_below_the_runaway_floor_is_unreachable_and_above_it_finite() -> None:
    runs = simulate_runs(RUNAWAY, 2000, np.random.default_rng(5))
    fit = fit_tier_timeouts(
        runs, 0.8, bootstrap=0, rng=np.random.default_rng(0), targets=(0.05, 0.10)
    )
    assert fit.model.chosen.cure and fit.floor == pytest.approx(0.06, abs=0.015)
    recs = {r.target: r for r in fit.recommendations}
    assert recs[0.05].timeout_s is None and "floor" in recs[0.05].reason
    assert recs[0.10].timeout_s is not None and math.isfinite(recs[0.10].timeout_s)
    assert BOTH.timeout_rate(recs[0.10].timeout_s * 1000) == pytest.approx(0.10, abs=0.02)


def test_intervals_of_the_rate_at_the_budget_and_of_the_floor_cover_the_truth() -> None:
    rng = np.random.default_rng(2024)
    rate_hits, floor_hits, rates = [], [], []
    truth_rate = BOTH.timeout_rate(BOTH.timeout_ms)
    for _ in range(30):
        runs = simulate_runs(BOTH, 600, rng)
        fit = fit_tier_timeouts(runs, 0.8, bootstrap=29, rng=rng)
        rates.append(fit.predicted_rate(800.0))
        if fit.status == OK:
            rate_hits.append(fit.rate_ci[0] <= truth_rate <= fit.rate_ci[1])
            floor_hits.append(fit.floor_ci[0] <= BOTH.floor <= fit.floor_ci[1])
    assert len(rate_hits) >= 25
    assert np.mean(rate_hits) >= 0.87 and np.mean(floor_hits) >= 0.87
    assert abs(np.mean(rates) / truth_rate - 1) < 0.10


def _bimodal_runs(n: int, seed: int):
    runs = simulate_runs(DurationScenario("x"), n, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    d = np.where(rng.random(n) < 0.5, rng.normal(100, 5, n), rng.normal(600, 10, n))
    killed = rng.random(n) < 0.04
    return dataclasses.replace(
        runs,
        duration_ms=np.where(killed, 830.0, d),
        timed_out=killed,
        outcome=np.where(killed, TIMEOUT_CODE, OUTCOME_CODE["VERIFIED"]).astype(np.int8),
    )


def test_a_misfit_model_says_so_and_predicts_from_kaplan_meier() -> None:
    runs = _bimodal_runs(1500, 8)
    fit = fit_tier_timeouts(runs, 0.8, bootstrap=39, rng=np.random.default_rng(1))
    assert fit.status == MISFIT and fit.reasons
    observed = float(np.mean(runs.outcome == TIMEOUT_CODE))
    assert fit.predicted_rate(800.0) == pytest.approx(observed)
    assert fit.predicted_rate(2000.0) is None  # beyond the budget nothing is identified
    recs = {r.target: r for r in fit.recommendations}
    assert recs[0.05].method == "kaplan_meier" and recs[0.05].timeout_s <= 0.8
    assert recs[0.01].timeout_s is None and recs[0.01].reason.startswith("duration model misfit")
    export = fit.distribution_export()
    assert export["status"] == MISFIT and export["predictor"] == "kaplan_meier"


def _noise_model(fit, rate: float) -> NoiseModel:
    return NoiseModel.from_dict(
        {
            "noise_models": {
                "fast": {
                    "timeout_rate": rate,
                    "timeout_s": 0.8,
                    "timeout_distribution": fit.distribution_export(),
                    "timeout_for_rate": fit.timeout_for_rate(),
                    "timeout_recommendations": {
                        r.target: r.to_export() for r in fit.recommendations
                    },
                }
            }
        }
    )


def test_noise_model_flags_extrapolation_and_keeps_unreachable_targets_null() -> None:
    runs = simulate_runs(BOTH, 1500, np.random.default_rng(9))
    fit = fit_tier_timeouts(
        runs, 0.8, bootstrap=0, rng=np.random.default_rng(0), targets=(0.09, 0.05)
    )
    tier = _noise_model(fit, 0.1).tier("fast")
    assert tier.recommended_timeout_s(0.05) is None
    assert "floor" in tier.timeout_recommendation(0.05)["reason"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inside = tier.timeout_probability(0.8)  # within the observed budget: no warning
    assert inside == pytest.approx(fit.predicted_rate(800.0))
    with pytest.warns(ExtrapolationWarning, match=r"^tier fast: timeout_probability at 5 s"):
        beyond = tier.timeout_probability(5.0)
    assert beyond == pytest.approx(fit.floor, abs=1e-6)  # only runaways and reported remain
    assert tier.timeout_recommendation(0.09)["extrapolated"] is (
        tier.timeout_recommendation(0.09)["timeout_s"] > 0.8
    )


def test_noise_model_refuses_a_misfit_prediction_beyond_the_budget() -> None:
    runs = _bimodal_runs(1500, 8)
    fit = fit_tier_timeouts(runs, 0.8, bootstrap=39, rng=np.random.default_rng(1))
    tier = _noise_model(fit, 0.04).tier("fast")
    assert tier.timeout_probability(0.8) == pytest.approx(fit.predicted_rate(800.0), abs=0.01)
    with pytest.raises(CalibError, match=r"^tier fast: the duration model is misfit"):
        tier.timeout_probability(1.5)


def test_an_old_file_without_the_new_keys_loads_as_a_plain_model() -> None:
    old = {"type": "fisk", "params": {"c": 3.0, "scale": 200.0}, "unit": "ms"}
    tier = NoiseModel.from_dict(
        {"noise_models": {"t": {"timeout_rate": 0.1, "timeout_distribution": old}}}
    ).tier("t")
    assert tier.timeout_probability(0.4) == pytest.approx(1 / (1 + 2.0**3))


def test_the_validation_duration_test_counts_reported_timeouts_too() -> None:
    train = simulate_runs(REPORTED, 1500, np.random.default_rng(21))
    held = simulate_runs(REPORTED, 800, np.random.default_rng(22))
    fit = fit_tier_timeouts(train, 0.8, bootstrap=0, rng=np.random.default_rng(0))

    class _Fit:  # the two TierFit attributes the check reads
        timeouts = fit
        training_samples = len(train)

    entry = duration_model_entry(_Fit(), held)  # type: ignore[arg-type]
    assert entry["held_out"] == pytest.approx(np.mean(held.outcome == TIMEOUT_CODE))
    assert entry["train"] == pytest.approx(fit.predicted_rate(800.0))
    assert entry["status"] == "ok" and entry["p_value"] > 0.05


def test_recommendations_are_monotone_in_the_target_and_unreachable_spreads_down() -> None:
    recs = (
        Recommendation(0.1, 2.0, "model"),
        Recommendation(0.05, None, "unreachable", reason="the data contradict the model"),
        Recommendation(0.02, 1.5, "model"),
        Recommendation(0.01, 9.0, "model", extrapolated=True),
    )
    fixed = {r.target: r for r in monotone(recs)}
    assert fixed[0.1].timeout_s == 2.0
    assert fixed[0.02].timeout_s is None and fixed[0.01].timeout_s is None
    assert fixed[0.01].reason == (
        "the larger target 0.05 is already unreachable: the data contradict the model"
    )
    raised = {r.target: r for r in monotone((recs[0], recs[2]))}
    assert raised[0.02].timeout_s == 2.0 and raised[0.02].bounded_by_observed


def test_without_runs_beyond_the_budget_the_floor_is_an_identification_region() -> None:
    runs = simulate_runs(RUNAWAY, 2000, np.random.default_rng(5))
    fit = fit_tier_timeouts(
        runs, 0.8, bootstrap=0, rng=np.random.default_rng(0), targets=(0.05, 0.10)
    )
    observed = float(np.mean(runs.outcome == TIMEOUT_CODE))
    assert not fit.floor_identified and fit.floor_ci is not None
    assert fit.floor_ci[0] <= fit.reported_share and fit.floor_ci[1] >= observed
    out = fit.distribution_export()
    assert out["floor_note"] == "not identified beyond the observed budget"
    reason = {r.target: r for r in fit.recommendations}[0.05].reason
    assert "not identified beyond the observed budget 0.8 s" in reason
