"""A partially identified rate is sampled inside its identification region, and says so."""

from __future__ import annotations

import pytest

from calib_async.export.noise_model import NoiseModel
from calib_async.records import Outcome, Truth


def _tier(**rates: object) -> NoiseModel:
    fast = {"timeout_rate": 0.1, "timeout_s": 10.0, **rates}
    return NoiseModel.from_dict({"noise_models": {"fast": fast}})


def test_a_partial_rate_is_drawn_at_the_midpoint_of_its_bounds_not_its_point_estimate() -> None:
    # regression: P(timeout | invalid) estimated 0 under missing-at-random labels (truth 0.159)
    tier = _tier(
        timeout_given_invalid=0.0,
        timeout_given_invalid_bounds=[0.0, 0.4],
        timeout_given_valid=0.08,
        timeout_given_valid_bounds=[0.08, 0.08],
    ).tier("FAST")
    assert tier.outcome_probabilities(Truth.INVALID)[Outcome.VERIFIER_TIMEOUT] == pytest.approx(0.2)
    assert tier.outcome_probabilities(Truth.VERIFIED)[Outcome.VERIFIER_TIMEOUT] == 0.08
    assert tier.sampling_source("timeout_given_invalid").startswith(
        "midpoint of the identification region [0, 0.4]"
    )
    assert tier.sampling_source("timeout_given_valid") == "point estimate"
    assert tier.to_noise_config()["sampled_from"]["timeout_given_invalid"].startswith("midpoint")
    with pytest.raises(ValueError, match=r"^'timeout_rate' is not one of"):
        tier.sampling_source("timeout_rate")
