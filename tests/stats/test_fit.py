"""fit_and_validate end to end: export shape and types, the item split, degenerate tiers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml

from calib_async.records import LabeledRecord, LabelMethod, Outcome, Tier, Truth
from calib_async.stats import CalibrationFit, fit_and_validate, predict_timeout_rate
from calib_async.stats.simulate import SimModel, SimTier, simulate

PLAN_TIER_KEYS = {
    "timeout_rate",
    "timeout_rate_ci",
    "spurious_fail_rate",
    "spurious_fail_rate_ci",
    "spurious_pass_rate",
    "spurious_pass_rate_ci",
    "timeout_distribution",
    "training_samples",
}
NEW_TIER_KEYS = {
    "counts",
    "timeout_given_valid",
    "timeout_given_valid_ci",
    "timeout_given_invalid",
    "timeout_given_invalid_ci",
    "candidates",
    "timeout_for_rate",
    "load_sensitivity",
    "status",
    "spurious_fail_rate_bounds",
    "spurious_pass_rate_bounds",
    "timeout_given_valid_bounds",
    "timeout_given_invalid_bounds",
    "undetermined_share",
}


@pytest.fixture(scope="module")
def sim() -> tuple[SimModel, list, list]:
    model = SimModel()
    telemetry, labeled = simulate(model, 400, 150, np.random.default_rng(11))
    return model, telemetry, labeled


@pytest.fixture(scope="module")
def fitted(sim) -> CalibrationFit:
    model, telemetry, labeled = sim
    return fit_and_validate(
        telemetry,
        labeled,
        tiers=model.config_tiers(),
        validation_split=0.25,
        seed=5,
        bootstrap=9,
    )


def _assert_plain(value: object, where: str = "export") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) in (str, float, int), f"{where}: key {k!r} is {type(k)}"
            _assert_plain(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _assert_plain(v, f"{where}[{i}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), f"{where}: {type(value)}"


def test_export_has_plan_and_new_keys_in_plain_python_types(fitted: CalibrationFit) -> None:
    export = fitted.to_export()
    _assert_plain(export)
    assert set(export["noise_models"]) == {"FAST", "BALANCED", "SLOW"}
    for tier in export["noise_models"].values():
        assert set(tier) >= PLAN_TIER_KEYS | NEW_TIER_KEYS
        assert {"type", "params", "goodness_of_fit"} <= set(tier["timeout_distribution"])
        assert len(tier["timeout_rate_ci"]) == 2 and tier["training_samples"] > 0
        families = {"expon", "gamma", "lognorm", "weibull_min", "fisk"}
        assert set(tier["candidates"]) == families | {f"{f}+cure" for f in families}
        dist = tier["timeout_distribution"]
        assert {"cure_fraction", "reported_timeout_share", "status", "kaplan_meier"} <= set(dist)
        assert set(tier["timeout_recommendations"]) == {0.05, 0.01}
        assert set(tier["timeout_for_rate"]) == {0.05, 0.01}
        for c in tier["candidates"].values():
            assert {"params", "loglik", "aic", "n_params"} <= set(c)
    report = export["validation_report"]
    assert {"summary", "passed", "tier_monotonicity", "calibration_error", "coverage"} <= set(
        report
    )
    yaml.safe_load(yaml.safe_dump(export))  # representable with the safe dumper


def test_training_samples_count_only_the_training_items(fitted: CalibrationFit, sim) -> None:
    _, telemetry, _ = sim
    held = fitted.held_out_items
    assert len(held) == 100  # 25 % of 400 items
    for name, tier in fitted.tiers.items():
        train = [r for r in telemetry if r.tier == name and r.item_id not in held]
        assert tier.training_samples == len(train)
        assert fitted.validation.held_out["records"][name] == 100


def test_the_split_is_seeded_and_by_item(sim) -> None:
    model, telemetry, labeled = sim
    kw = dict(tiers=model.config_tiers(), validation_split=0.3, bootstrap=0)
    a = fit_and_validate(telemetry, labeled, seed=1, **kw)
    b = fit_and_validate(list(reversed(telemetry)), labeled, seed=1, **kw)
    c = fit_and_validate(telemetry, labeled, seed=2, **kw)
    assert a.held_out_items == b.held_out_items != c.held_out_items
    assert a.to_export() == b.to_export()


def test_exported_distribution_predicts_the_observed_timeout_rate(fitted: CalibrationFit) -> None:
    for tier in fitted.to_export()["noise_models"].values():
        dist = tier["timeout_distribution"]
        predicted = predict_timeout_rate(dist, tier["timeout_s"])
        assert predicted == pytest.approx(dist["goodness_of_fit"]["implied_timeout_rate"])
        lo, hi = tier["timeout_rate_ci"]
        assert lo - 0.05 <= predicted <= hi + 0.05


def test_a_longer_tier_that_times_out_more_fails_monotonicity() -> None:
    # SLOW is configured with the longest timeout, but its runs time out far more often
    model = SimModel(tiers=(SimTier("FAST", 0.45, 0.05, 0.1), SimTier("SLOW", 0.8, 0.05, 0.1)))
    telemetry, _ = simulate(model, 600, 100, np.random.default_rng(3))
    tiers = [Tier("FAST", 0.45, "sim"), Tier("SLOW", 0.8, "sim")]
    swapped = [
        dataclasses.replace(r, tier={"FAST": "SLOW", "SLOW": "FAST"}[r.tier]) for r in telemetry
    ]
    fit = fit_and_validate(swapped, [], tiers=tiers, validation_split=0.2, seed=0, bootstrap=0)
    mono = fit.validation.tier_monotonicity
    (pair,) = mono["tests"]
    assert pair["shorter"] == "FAST" and pair["longer"] == "SLOW"
    assert pair["z"] > 3 and pair["violation"] and not mono["passed"]
    assert not fit.validation.passed and "SLOW times out more than FAST" in fit.validation.summary


def test_degenerate_tiers_get_a_status_not_a_crash(sim) -> None:
    model, telemetry, labeled = sim
    fast = [r for r in telemetry if r.tier == "FAST"]
    all_killed = [
        dataclasses.replace(
            r,
            tier="KILLED",
            outcome=Outcome.VERIFIER_TIMEOUT.value,
            timed_out=True,
            duration_ms=450.0,
        )
        for r in fast
    ]
    tiers = [*model.config_tiers(), Tier("KILLED", 0.45, "sim"), Tier("EMPTY", 5.0, "sim")]
    fit = fit_and_validate(
        telemetry + all_killed, labeled, tiers=tiers, validation_split=0.2, seed=0, bootstrap=5
    )
    export = fit.to_export()
    killed, empty = export["noise_models"]["KILLED"], export["noise_models"]["EMPTY"]
    assert killed["status"] == "no_completed_runs"
    assert killed["timeout_rate"] == 1.0 and killed["timeout_distribution"]["type"] is None
    assert killed["spurious_fail_rate"] is None  # no labels in this tier
    assert killed["counts"]["spurious_fail_rate"]["status"] == "insufficient_data"
    assert empty["status"] == "no_records" and empty["timeout_rate"] is None
    assert empty["training_samples"] == 0 and empty["timeout_for_rate"] == {0.05: None, 0.01: None}
    assert (
        fit.validation.calibration_error["EMPTY"]["timeout_rate"]["status"] == "insufficient_data"
    )


def test_no_records_at_all() -> None:
    fit = fit_and_validate(
        [], [], tiers=[Tier("FAST", 1.0, "sim")], validation_split=0.2, seed=0, bootstrap=9
    )
    export = fit.to_export()
    assert export["noise_models"]["FAST"]["status"] == "no_records"
    assert export["validation_report"]["status"] == "not_evaluated"
    assert export["validation_report"]["passed"] is False


def test_label_phase_runs_and_unknown_tiers_are_ignored(sim) -> None:
    model, telemetry, labeled = sim
    extra = [dataclasses.replace(r, phase="label") for r in telemetry[:50]]
    extra += [dataclasses.replace(r, tier="OTHER") for r in telemetry[:50]]
    kw = dict(tiers=model.config_tiers(), validation_split=0.2, seed=0, bootstrap=0)
    assert (
        fit_and_validate(telemetry + extra, labeled, **kw).to_export()
        == fit_and_validate(telemetry, labeled, **kw).to_export()
    )


def test_records_with_a_foreign_stratum_are_reweighted_per_tier_and_outcome(sim) -> None:
    model, telemetry, labeled = sim
    relabelled = [
        LabeledRecord(lr.record, lr.truth, lr.method, lr.confidence, "custom", 1.0)
        for lr in labeled
    ]
    kw = dict(tiers=model.config_tiers(), validation_split=0.2, seed=0, bootstrap=0)
    a = fit_and_validate(telemetry, labeled, **kw).to_export()
    b = fit_and_validate(telemetry, relabelled, **kw).to_export()
    assert (
        a["noise_models"]["FAST"]["spurious_fail_rate"]
        == b["noise_models"]["FAST"]["spurious_fail_rate"]
    )


def test_all_labels_undetermined_leaves_conditional_rates_insufficient(sim) -> None:
    model, telemetry, labeled = sim
    unknown = [
        LabeledRecord(
            lr.record, Truth.UNDETERMINED, LabelMethod.UNKNOWN, 0.0, lr.stratum, lr.weight
        )
        for lr in labeled
    ]
    fit = fit_and_validate(
        telemetry, unknown, tiers=model.config_tiers(), validation_split=0.2, seed=0, bootstrap=0
    )
    for tier in fit.to_export()["noise_models"].values():
        assert tier["spurious_pass_rate"] is None and tier["status"] == "partial"
        assert tier["counts"]["spurious_pass_rate"]["n_undetermined"] > 0


def test_bad_arguments_raise_value_error() -> None:
    with pytest.raises(ValueError, match=r"^validation_split must be in \[0, 1\)"):
        fit_and_validate([], [], tiers=[], validation_split=1.0, seed=0)
    with pytest.raises(ValueError, match=r"^bootstrap must be >= 0"):
        fit_and_validate([], [], tiers=[], validation_split=0.2, seed=0, bootstrap=-1)


def test_validation_false_alarms_are_rare_on_small_samples() -> None:
    """A perfect model on small samples (60 items): few false alarms, never a crash."""
    model = SimModel()
    rng = np.random.default_rng(21)
    alarms = 0
    for r in range(25):
        telemetry, labeled = simulate(model, 60, 30, rng)
        fit = fit_and_validate(
            telemetry,
            labeled,
            tiers=model.config_tiers(),
            validation_split=0.2,
            seed=r,
            bootstrap=0,
        )
        assert fit.validation.status == "evaluated"
        alarms += not fit.validation.passed
    assert alarms <= 4  # binomial(25, 0.05): P(X >= 5) < 0.01
