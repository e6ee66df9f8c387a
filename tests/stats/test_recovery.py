"""A fast parameter-recovery check (the full study is scripts/recovery_study.py).

Records are simulated in-process with known truth (``calib_async.stats.simulate``); the real
``fit_and_validate`` must cover the true rates and pick the true duration family.
"""

from __future__ import annotations

import numpy as np
import pytest

from calib_async.stats import fit_and_validate
from calib_async.stats.durations import censor_durations, fit_duration_model, frozen
from calib_async.stats.simulate import SimModel, simulate


def test_exported_intervals_cover_the_true_rates() -> None:
    model = SimModel()
    truth = model.truth()
    rng = np.random.default_rng(2024)
    hits, total, passed = 0, 0, 0
    reps = 12
    for r in range(reps):
        telemetry, labeled = simulate(model, 500, 150, rng)
        fit = fit_and_validate(
            telemetry,
            labeled,
            tiers=model.config_tiers(),
            validation_split=0.2,
            seed=r,
            bootstrap=0,
        )
        passed += fit.validation.passed
        for tier, tf in fit.tiers.items():
            for name, est in tf.rates().items():
                assert est.ci is not None, (tier, name)
                total += 1
                hits += est.ci[0] <= truth[tier][name] <= est.ci[1]
    # 180 intervals at nominal 0.95: the pooled coverage is far above 0.85 unless broken
    assert hits / total >= 0.88
    assert passed >= reps - 2


@pytest.mark.parametrize(
    ("family", "params"),
    [("weibull_min", {"shape": 1.5, "scale": 300.0}), ("lognorm", {"shape": 0.8, "scale": 200.0})],
)
def test_aic_picks_the_true_family_at_n2000_with_10_percent_censoring(family, params) -> None:
    rv = frozen(family, params)
    limit = float(rv.isf(0.1))
    rng = np.random.default_rng(7)
    picks = []
    for _ in range(6):
        d = rv.rvs(size=2000, random_state=rng)
        killed = d > limit
        data = censor_durations(np.where(killed, limit, d), killed, np.full(2000, limit))
        model = fit_duration_model(data)
        picks.append(model.chosen.family)
        if model.chosen.family == family:
            for name, value in params.items():
                assert model.chosen.params[name] == pytest.approx(value, rel=0.1)
    assert picks.count(family) >= 5
