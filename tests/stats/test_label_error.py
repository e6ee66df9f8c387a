"""Rates corrected for the reference's error; unverified where it is not identified."""

from __future__ import annotations

import functools

import numpy as np

from calib_async.records import Outcome
from calib_async.stats import fit_and_validate
from calib_async.stats.label_scenarios import ReferenceSim, reference_votes
from calib_async.stats.rates import CONDITIONAL_RATES, OK, UNVERIFIED
from calib_async.stats.simulate import SimModel, simulate
from calib_async.stats.tier_fit import TIER_FAILED
from helpers import make_record

MODEL = SimModel(p_undetermined_timeout=0.0)


@functools.cache
def _fit(ref: ReferenceSim, *, seed: int = 3, own_judge: tuple[tuple[str, str], ...] = ()):
    rng = np.random.default_rng(seed)
    telemetry, labeled = simulate(MODEL, 800, 240, rng)
    labeled, evidence = reference_votes(labeled, ref, rng)
    return fit_and_validate(
        telemetry,
        labeled,
        tiers=MODEL.config_tiers(),
        validation_split=0.2,
        seed=seed,
        bootstrap=0,
        reference=evidence,
        own_judge=dict(own_judge),
    )


def test_three_independent_references_give_ok_rates_that_cover_the_truth() -> None:
    fit = _fit(ReferenceSim(profiles=3))
    truth = MODEL.truth()
    misses = 0
    for tier, tf in fit.tiers.items():
        for name in CONDITIONAL_RATES:
            est = tf.rate(name)
            assert est.status == OK, (tier, name, est.status)
            misses += not est.ci[0] <= truth[tier][name] <= est.ci[1]
    assert misses <= 1  # 12 intervals at 95 %
    assert fit.to_export()["statistics"]["label_model"]["identified"] is True


def test_a_reference_wrong_on_ten_percent_of_runs_no_longer_inflates_spurious_pass() -> None:
    # issue 26: one vote of a 10 %-wrong reference gave SLOW spurious pass 0.144 (truth 0.019)
    fit = _fit(ReferenceSim(profiles=3))
    truth = MODEL.truth()["SLOW"]["spurious_pass_rate"]
    assert fit.tiers["SLOW"].rate("spurious_pass_rate").rate < 3 * truth


def test_one_reference_profile_makes_every_conditional_rate_unverified() -> None:
    fit = _fit(ReferenceSim(profiles=1, repeats=3))
    for tf in fit.tiers.values():
        for name in CONDITIONAL_RATES:
            est = tf.rate(name)
            assert est.status == UNVERIFIED
            assert "one reference source" in est.counts["unverified_reason"]
        assert tf.timeout_rate.status == OK  # needs no label
    assert fit.validation.summary.startswith("UNVERIFIED")
    assert not fit.validation.passed


def test_a_tier_that_judges_itself_is_unverified_alone() -> None:
    fit = _fit(ReferenceSim(profiles=3), own_judge=(("FAST", "its own judge"),))
    assert {e.status for e in fit.tiers["FAST"].conditional.values()} == {UNVERIFIED}
    assert all(e.status == OK for e in fit.tiers["SLOW"].conditional.values())
    assert "FAST: its own judge" in fit.validation.summary


def test_three_labels_per_stratum_never_give_an_ok_rate() -> None:
    rng = np.random.default_rng(5)
    telemetry, labeled = simulate(SimModel(), 1000, 15, rng)  # floor of 3 in each of 5 strata
    fit = fit_and_validate(
        telemetry, labeled, tiers=SimModel().config_tiers(), validation_split=0.2, seed=5,
        bootstrap=0,
    )  # fmt: skip
    for tier, tf in fit.tiers.items():
        for name in CONDITIONAL_RATES:
            est = tf.rate(name)
            assert est.status != OK, (tier, name)
            if est.rate is not None:
                assert est.rate > 0.0  # a posterior median, never a bare 0.0


def test_a_tier_of_verifier_errors_fails_with_the_dominant_message() -> None:
    records = [
        make_record(f"i{i}", "T", "VERIFIER_ERROR", first_error="lean: command not found")
        for i in range(15)
    ] + [make_record(f"i{i}", "T", "VERIFIED") for i in range(15, 17)]
    tier = MODEL.config_tiers()[0]
    fit = fit_and_validate(
        records, [], tiers=[type(tier)(name="T", timeout_s=1.0, verifier="x")],
        validation_split=0.0, seed=1, bootstrap=0,
    )  # fmt: skip
    tf = fit.tiers["T"]
    assert tf.status == TIER_FAILED
    assert tf.failed_reason == "15 of 17 runs VERIFIER_ERROR: lean: command not found"
    assert fit.to_export()["noise_models"]["T"]["failed_reason"] == tf.failed_reason
    assert fit.validation.summary.startswith("FAILED: tier(s) T failed")
    assert not fit.validation.passed
    assert Outcome.VERIFIER_ERROR.value in tf.outcome_counts


def test_deterministic_errors_of_one_family_are_unverified() -> None:
    fit = _fit(ReferenceSim(profiles=3, mode="shared", one_family=True))
    statuses = {e.status for tf in fit.tiers.values() for e in tf.conditional.values()}
    assert statuses == {UNVERIFIED}
