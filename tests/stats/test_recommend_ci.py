"""Bootstrap intervals over items on every recommended timeout (issue 27)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calib_async.export.verdict_values import bootstrap_text
from calib_async.stats.censoring import censor_durations
from calib_async.stats.duration_sim import DurationScenario, simulate_ladders, simulate_runs
from calib_async.stats.recommend_ci import MAX_REPLICATES, _km_bounds
from calib_async.stats.recommendation import kaplan_meier
from calib_async.stats.timeouts import fit_tier_timeouts

TARGETS = (0.10, 0.05, 0.01)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 60), st.booleans()), min_size=3, max_size=40
    ),
    st.sampled_from((*TARGETS, 0.3, 0.5)),
)
def test_unit_weights_give_the_point_kaplan_meier_budget(rows, target) -> None:
    duration = np.array([float(d) * 10 for d, _ in rows])
    killed = np.array([k for _, k in rows])
    budget = np.full(duration.size, 1000.0)
    data = censor_durations(duration, killed, budget)
    km = kaplan_meier(data, 1000.0)
    rates = km.survival
    hit = np.nonzero(rates <= target + 1e-12)[0]
    expected = float(km.times_ms[hit[0]]) if hit.size else math.nan
    got = _km_bounds(
        duration, ~killed, np.ones((1, duration.size)),
        np.zeros(1), [target], 1000.0,
    )[0, 0]  # fmt: skip
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def _fit(scenario: DurationScenario, seed: int, replicates: int = 49):
    rng = np.random.default_rng(seed)
    runs = simulate_runs(scenario, 400, rng)
    return fit_tier_timeouts(
        runs, scenario.timeout_ms / 1000.0, bootstrap=0, rng=np.random.default_rng(seed),
        targets=TARGETS, ladders=simulate_ladders(scenario, runs, 200, rng),
        replicates=replicates,
    )  # fmt: skip


def test_every_recommendation_has_a_seeded_interval_around_it() -> None:
    fit = _fit(DurationScenario("plain"), 3)
    again = _fit(DurationScenario("plain"), 3)
    for r, s in zip(fit.recommendations, again.recommendations, strict=True):
        assert r.ci is not None and r.ci == s.ci and r.ci_replicates == 49
        assert r.timeout_s is not None and r.ci[0] <= r.timeout_s * 1.05
        assert r.timeout_s * 0.95 <= r.ci[1]
        exported = r.to_export()
        assert exported["timeout_s"] == r.timeout_s  # the older keys stay
        assert exported["timeout_s_bootstrap_ci"] == list(r.ci)


def test_interval_ends_are_monotone_in_the_target() -> None:
    fit = _fit(DurationScenario("runaway", cure=0.05), 8)
    by = sorted(fit.recommendations, key=lambda r: -r.target)
    lows = [r.ci[0] for r in by if r.ci]
    highs = [r.ci[1] for r in by if r.ci]
    assert lows == sorted(lows) and highs == sorted(highs)
    one = {r.target: r for r in fit.recommendations}[0.01]
    assert one.timeout_s is None and one.unreachable_share == 1.0
    assert one.to_export()["timeout_s_bootstrap_ci"] == [None, None]


def test_replicates_are_bounded_and_zero_means_none() -> None:
    assert all(r.ci is None for r in _fit(DurationScenario("plain"), 1, 0).recommendations)
    capped = _fit(DurationScenario("plain"), 1, 10_000).recommendations
    assert all(0 < r.ci_replicates <= MAX_REPLICATES for r in capped)


@pytest.mark.parametrize(
    ("ci", "text"),
    [
        ([0.41, 0.63], " [0.41, 0.63]"),
        ([0.41, None], " [0.41, unreachable]"),
        ([None, None], " [unreachable]"),
    ],
)
def test_bootstrap_text_names_an_open_end_unreachable(ci, text) -> None:
    assert bootstrap_text({"timeout_s_bootstrap_ci": ci}) == text
    assert bootstrap_text({"timeout_s": 1.0}) == ""
