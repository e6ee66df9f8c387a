"""The noisy reward's unbiased correction (export/reward.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.errors import CalibError
from calib_async.export.noise_model import NoiseModel
from calib_async.export.reward import RewardNoise
from helpers.exports import export_with_warnings

rates = st.floats(0.0, 0.45)


@given(false_pass=rates, false_fail=rates)
def test_debiased_reward_is_unbiased_for_validity(false_pass: float, false_fail: float) -> None:
    noise = RewardNoise("T", false_pass, false_fail)
    for valid in (False, True):
        p_one = noise.expected(valid)  # P(raw reward 1 | validity)
        mean = p_one * noise.debiased(True) + (1 - p_one) * noise.debiased(False)
        assert mean == pytest.approx(float(valid), abs=1e-9)


def test_simulated_rewards_average_to_the_true_validity() -> None:
    rng = np.random.default_rng(7)
    noise = RewardNoise("T", false_pass=0.3, false_fail=0.2)
    valid = rng.random(200_000) < 0.4
    raw = np.where(valid, rng.random(valid.size) >= 0.2, rng.random(valid.size) < 0.3)
    debiased = np.where(raw, noise.debiased(True), noise.debiased(False))
    assert raw.mean() == pytest.approx(0.4 * 0.8 + 0.6 * 0.3, abs=0.005)  # biased
    assert debiased.mean() == pytest.approx(0.4, abs=0.01)  # unbiased


def test_bounds_hold_the_point_value_and_widen_with_the_intervals() -> None:
    point = RewardNoise("T", 0.1, 0.1)
    wide = RewardNoise("T", 0.1, 0.1, (0.05, 0.2), (0.02, 0.3))
    for verdict in (True, False):
        low, high = wide.debiased_bounds(verdict)
        assert low < wide.debiased(verdict) < high
        assert point.debiased_bounds(verdict) == (point.debiased(verdict),) * 2


def test_no_signal_is_refused_with_what_to_do() -> None:
    with pytest.raises(CalibError, match=r"^tier T: Youden's J = 0\.000 <= 0, .* stricter"):
        RewardNoise("T", 0.5, 0.5).debiased(True)


def test_tier_reward_noise_counts_timeouts_of_valid_proofs_as_fails() -> None:
    doc = export_with_warnings()
    doc["noise_models"]["slow"].update(timeout_given_valid=0.05, timeout_given_valid_ci=[0.01, 0.1])
    slow = NoiseModel.from_dict(doc).tier("SLOW")
    noise = slow.reward_noise()
    assert noise.false_pass == 0.0 and noise.false_fail == pytest.approx(0.07)
    assert noise.false_fail_ci == pytest.approx((0.0 + 0.01, 0.10 + 0.1))
    assert slow.reward_noise(timeouts_fail=False).false_fail == pytest.approx(0.02)
    assert noise.youden_j == pytest.approx(0.93)
