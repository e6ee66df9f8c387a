"""Validation strength: every test reports its power and minimum detectable difference."""

from __future__ import annotations

import numpy as np
import pytest

from calib_async.stats import fit_and_validate
from calib_async.stats.power import (
    POWER_TARGET,
    doubled_score_power,
    normal_mdd,
    normal_power,
    score_mdd,
    score_power,
)
from calib_async.stats.simulate import SimModel, simulate


def test_score_power_grows_with_n_and_the_mdd_is_where_it_reaches_the_target() -> None:
    assert score_power(0.1, 200, 0.1, 200, level=0.05) == pytest.approx(0.025, abs=0.01)
    small = doubled_score_power(0.05, 100, 25, level=0.05)
    large = doubled_score_power(0.05, 4000, 1000, level=0.05)
    assert small < 0.3 < 0.99 < large
    d = score_mdd(0.05, 800, 200, level=0.05)
    assert score_power(0.05, 800, 0.05 + d, 200, level=0.05) == pytest.approx(POWER_TARGET)
    assert doubled_score_power(0.0, 800, 200, level=0.05) is None
    assert score_mdd(0.0, 800, 200, level=0.05) > 0  # still defined at a zero rate
    se = 0.01
    assert normal_power(normal_mdd(se, level=0.01), se, level=0.01) == pytest.approx(0.8)


def test_a_pass_on_small_samples_is_marked_weak_with_power_per_test() -> None:
    model = SimModel()
    telemetry, labeled = simulate(model, 80, 30, np.random.default_rng(3))
    fit = fit_and_validate(
        telemetry, labeled, tiers=model.config_tiers(), validation_split=0.2, seed=1, bootstrap=0
    )
    report = fit.to_export()["validation_report"]
    assert report["weak"] is True
    power = report["power"]
    assert power["median"] < POWER_TARGET and power["level"] == pytest.approx(
        0.05 / report["n_tests"]
    )
    if report["passed"]:
        assert report["summary"].startswith("PASSED (WEAK: median power ")
    evaluated = [
        e
        for entries in report["calibration_error"].values()
        for e in entries.values()
        if e["p_value"] is not None
    ] + [p for p in report["tier_monotonicity"]["tests"] if p["p_value"] is not None]
    assert evaluated and all("power" in e and "mdd" in e for e in evaluated)
    assert all(e["mdd"] is None or e["mdd"] > 0 for e in evaluated)
    assert not any(
        "_se" in e for entries in report["calibration_error"].values() for e in entries.values()
    )
