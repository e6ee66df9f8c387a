"""NoiseModel.timeout_probability(t, concurrency=k): the load fit, shifted to other budgets."""

from __future__ import annotations

import math
import warnings

import pytest

from calib_async.errors import CalibError
from calib_async.export.noise_model import ExtrapolationWarning, NoiseModel


def _model(load: dict | None, dist: dict | None = None) -> NoiseModel:
    tier = {"timeout_rate": 0.1, "timeout_s": 10.0, "timeout_distribution": dist}
    if load is not None:
        tier["load"] = load
    return NoiseModel.from_dict({"noise_models": {"fast": tier}})


LOAD = {"status": "ok", "intercept": -3.0, "slope": 1.0, "timeout_s": 10.0}


def test_at_the_tiers_timeout_the_fit_is_used_directly() -> None:
    tier = _model(LOAD).tier("FAST")
    expected = 1 / (1 + math.exp(-(-3.0 + math.log(8))))
    assert tier.timeout_probability(10.0, concurrency=8) == pytest.approx(expected)
    assert tier.timeout_probability(10.0, concurrency=1) < tier.timeout_probability(
        10.0, concurrency=8
    )


def test_other_budgets_shift_the_duration_models_odds_and_agree_at_the_timeout() -> None:
    dist = {"type": "expon", "params": {"scale": 4000.0}}
    tier = _model(LOAD, dist).tier("FAST")
    at_t = tier.timeout_probability(10.0, concurrency=4)
    assert tier.timeout_probability(10.0 + 1e-12, concurrency=4) == pytest.approx(at_t)
    assert (
        tier.timeout_probability(20.0, concurrency=4)
        < at_t
        < tier.timeout_probability(5.0, concurrency=4)
    )


def test_without_a_load_fit_a_concurrency_is_an_error_not_ignored() -> None:
    with pytest.raises(
        CalibError, match=r"^tier fast has no load fit; recalibrate with --load-levels"
    ):
        _model(None).tier("FAST").timeout_probability(10.0, concurrency=4)
    no_fit = {"status": "single_level", "intercept": None, "slope": None}
    with pytest.raises(CalibError, match=r"no load fit"):
        _model(no_fit).tier("FAST").timeout_probability(10.0, concurrency=4)
    with pytest.raises(CalibError, match=r"holds at its own timeout"):
        _model(LOAD).tier("FAST").timeout_probability(3.0, concurrency=4)


def test_a_malformed_load_block_names_the_key() -> None:
    with pytest.raises(CalibError, match=r"noise_models\.fast\.load\.slope"):
        _model({"intercept": -1.0, "slope": "steep"})


def test_a_concurrency_outside_the_tested_levels_warns_and_inside_does_not() -> None:
    tested = {**LOAD, "max_concurrency_tested": 8, "levels": [{"level": 2}, {"level": 8}]}
    tier = _model(tested).tier("FAST")
    with pytest.warns(ExtrapolationWarning, match=r"^concurrency 1000 is outside .*\[2, 8\]"):
        tier.timeout_probability(10.0, concurrency=1000)
    with pytest.warns(ExtrapolationWarning, match=r"concurrency 1 is outside"):
        tier.timeout_probability(10.0, concurrency=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tier.timeout_probability(10.0, concurrency=4)
