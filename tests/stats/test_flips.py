"""Flip statistics: the estimator, its clustered interval, zero flips, pairs by outcome."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calib_async.stats.flips import flip_statistics, zero_flip_upper_bound


def test_no_flip_gives_zero_with_the_exact_upper_bound() -> None:
    r = flip_statistics({f"i{k}": ["VERIFIED"] * 3 for k in range(30)})
    assert r.flip_rate == 0.0 and r.items_with_flip == 0 and r.pairs == 90
    assert r.flip_rate_ci == (0.0, pytest.approx(zero_flip_upper_bound(30)))
    assert r.flip_rate_ci[1] < 0.12  # 1 - 0.025^(1/30)


def test_per_item_pair_shares_are_averaged_and_split_by_outcome_pair() -> None:
    r = flip_statistics(
        {
            "a": ["VERIFIED", "VERIFIED", "VERIFIER_TIMEOUT"],  # 2 of 3 pairs disagree
            "b": ["VERIFIED", "PROOF_INVALID"],  # 1 of 1
            "c": ["VERIFIED", "VERIFIED"],  # 0
            "d": ["VERIFIED"],  # one run: ignored
        }
    )
    assert r.items == 3 and r.runs_per_item == (2, 3)
    assert r.flip_rate == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert r.items_with_flip == 2
    assert r.by_outcome_pair == {
        "VERIFIED|VERIFIER_TIMEOUT": {"pairs": 2, "items": 1, "rate": pytest.approx(2 / 9)},
        "PROOF_INVALID|VERIFIED": {"pairs": 1, "items": 1, "rate": pytest.approx(1 / 3)},
    }
    assert sum(v["rate"] for v in r.by_outcome_pair.values()) == pytest.approx(r.flip_rate)


def test_no_item_with_two_runs_is_insufficient_data_not_a_zero() -> None:
    r = flip_statistics({"a": ["VERIFIED"]})
    assert r.status == "insufficient_data" and r.flip_rate is None and r.flip_rate_ci is None
    assert "--replicates" in (r.reason or "")


@given(
    st.lists(
        st.lists(
            st.sampled_from(["VERIFIED", "PROOF_INVALID", "VERIFIER_TIMEOUT"]),
            min_size=2,
            max_size=4,
        ),
        min_size=1,
        max_size=40,
    )
)
def test_interval_holds_the_estimate_inside_zero_one(groups: list[list[str]]) -> None:
    r = flip_statistics({str(i): g for i, g in enumerate(groups)})
    assert r.flip_rate is not None and r.flip_rate_ci is not None
    lo, hi = r.flip_rate_ci
    assert 0.0 <= lo <= r.flip_rate <= hi <= 1.0
    assert r.share_items_with_flip == r.items_with_flip / r.items
