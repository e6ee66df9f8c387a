"""Rates: Wilson against statsmodels, the score test, Holm, and the stratified ratio estimator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.proportion import test_proportions_2indep as sm_score_test

from calib_async.stats.rates import (
    INSUFFICIENT,
    LOW_LABELS,
    OK,
    PARTIAL,
    binomial_rate,
    conditional_rates,
    holm,
    posterior_comparison,
    score_test_2indep,
    wilson_interval,
)
from calib_async.stats.record_arrays import (
    OUTCOME_CODE,
    TRUTH_INVALID,
    TRUTH_UNDETERMINED,
    TRUTH_VALID,
    LabelColumns,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_statsmodels(kn: tuple[int, int]) -> None:
    k, n = kn
    lo, hi = wilson_interval(k, n, 0.95)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert lo == pytest.approx(ref_lo, abs=1e-12)
    assert hi == pytest.approx(ref_hi, abs=1e-12)


def test_binomial_rate_without_trials_is_insufficient_not_an_error() -> None:
    est = binomial_rate("timeout_rate", 0, 0)
    assert est.status == INSUFFICIENT and est.rate is None and est.ci is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels' ratio/odds at p=0
@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(2, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from(["two-sided", "larger", "smaller"]),
    st.booleans(),
)
def test_score_test_matches_statsmodels(
    a: tuple[int, int], b: tuple[int, int], alternative: str, correction: bool
) -> None:
    (k1, n1), (k2, n2) = a, b
    ours = score_test_2indep(k1, n1, k2, n2, alternative=alternative, correction=correction)
    if (k1 + k2) in (0, n1 + n2):  # degenerate: no variance, no evidence
        assert ours.p_value == 1.0
        return
    ref = sm_score_test(
        k1,
        n1,
        k2,
        n2,
        method="score",
        compare="diff",
        alternative=alternative,
        correction=correction,
    )
    assert ours.z == pytest.approx(float(ref.statistic), rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-12)


def test_holm_matches_statsmodels() -> None:
    p = [0.01, 0.04, 0.03, 0.2, 0.0001, 0.5]
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]))


def _labels(rows: list[tuple[str, int]]) -> LabelColumns:
    return LabelColumns(
        item=np.arange(len(rows), dtype=np.int64),
        outcome=np.asarray([OUTCOME_CODE[o] for o, _ in rows], dtype=np.int8),
        truth=np.asarray([t for _, t in rows], dtype=np.int8),
    )


def _counts(**by_outcome: int) -> np.ndarray:
    out = np.zeros(len(OUTCOME_CODE), dtype=np.int64)
    for name, n in by_outcome.items():
        out[OUTCOME_CODE[name]] = n
    return out


def test_ratio_estimator_uses_ht_weights_in_numerator_and_denominator() -> None:
    # 900 VERIFIED runs (10 labelled, all valid), 100 PROOF_INVALID runs (10 labelled: 2 valid).
    counts = _counts(VERIFIED=900, PROOF_INVALID=100)
    labels = _labels(
        [("VERIFIED", TRUTH_VALID)] * 10
        + [("PROOF_INVALID", TRUTH_VALID)] * 2
        + [("PROOF_INVALID", TRUTH_INVALID)] * 8
    )
    est, draws = conditional_rates(counts, labels, rng=np.random.default_rng(0))
    sf = est["spurious_fail_rate"]
    # weighted: valid = 900 + 100 * 2/10 = 920; spurious fails = 20
    assert sf.rate == pytest.approx(20 / 920)
    assert sf.counts["weighted_total"] == pytest.approx(920)
    assert sf.counts["n_labelled"] == 12 and sf.counts["n_events"] == 2
    assert sf.ci[0] <= sf.rate <= sf.ci[1]
    # 8 labelled invalid runs, below MIN_CLASS_LABELS: low_labels, and the point is the
    # posterior median, not the 0.0 the ratio gives with no event
    sp = est["spurious_pass_rate"]
    assert sp.status == LOW_LABELS and sp.ci[0] == 0.0
    assert 0.0 < sp.rate == pytest.approx(float(np.median(draws["spurious_pass_rate"])))
    assert set(draws) == {
        "spurious_fail_rate",
        "timeout_given_valid",
        "spurious_pass_rate",
        "timeout_given_invalid",
    }


def test_undetermined_labels_are_dropped_and_the_stratum_reweighted() -> None:
    counts = _counts(VERIFIED=100, VERIFIER_TIMEOUT=100)
    labels = _labels(
        [("VERIFIED", TRUTH_VALID)] * 10
        + [("VERIFIER_TIMEOUT", TRUTH_VALID)] * 2
        + [("VERIFIER_TIMEOUT", TRUTH_INVALID)] * 2
        + [("VERIFIER_TIMEOUT", TRUTH_UNDETERMINED)] * 6
    )
    est, _ = conditional_rates(counts, labels, rng=np.random.default_rng(0))
    tv = est["timeout_given_valid"]
    # timeout stratum: n_h = 4 determined, half valid -> 50 valid timeouts of 150 valid runs
    assert tv.rate == pytest.approx(50 / 150)
    assert tv.counts["n_undetermined"] == 6


def test_rates_without_labels_are_insufficient_and_unlabelled_strata_partial() -> None:
    counts = _counts(VERIFIED=50, PROOF_INVALID=50)
    est, draws = conditional_rates(counts, _labels([]), rng=np.random.default_rng(0))
    assert all(e.status == INSUFFICIENT and e.rate is None for e in est.values())
    assert draws == {}
    est, _ = conditional_rates(
        counts, _labels([("VERIFIED", TRUTH_VALID)] * 5), rng=np.random.default_rng(0)
    )
    sf = est["spurious_fail_rate"]
    assert sf.status == PARTIAL and sf.counts["unlabelled_strata"] == ["PROOF_INVALID"]
    assert sf.ci is not None and sf.ci[1] > 0.2  # ignorance about the stratum widens the CI


def test_stratified_ratio_estimator_is_unbiased_on_a_simulated_stratified_sample() -> None:
    """Outcome-stratified labels: the HT ratio estimator recovers the truth, naive does not."""
    rng = np.random.default_rng(7)
    n_runs, p_valid, p_sf = 4000, 0.6, 0.03
    strat, naive = [], []
    for _ in range(300):
        valid = rng.random(n_runs) < p_valid
        fail = np.where(valid, rng.random(n_runs) < p_sf, rng.random(n_runs) < 0.9)
        outcome = np.where(fail, OUTCOME_CODE["PROOF_INVALID"], OUTCOME_CODE["VERIFIED"])
        counts = np.bincount(outcome, minlength=len(OUTCOME_CODE))
        picks = np.concatenate(
            [
                rng.choice(np.flatnonzero(outcome == o), 100, replace=False)
                for o in np.unique(outcome)
            ]
        )
        labels = LabelColumns(
            item=picks,
            outcome=outcome[picks].astype(np.int8),
            truth=np.where(valid[picks], TRUTH_VALID, TRUTH_INVALID).astype(np.int8),
        )
        est, _ = conditional_rates(counts, labels, draws=200, rng=rng)
        strat.append(est["spurious_fail_rate"].rate)
        v = valid[picks]
        naive.append(np.mean(fail[picks][v]))
    assert np.mean(strat) == pytest.approx(p_sf, rel=0.05)
    assert np.mean(naive) > 1.5 * p_sf  # the plan's estimator, for contrast


def test_posterior_comparison_flags_only_real_differences() -> None:
    rng = np.random.default_rng(1)
    same = posterior_comparison(rng.beta(30, 70, 20000), rng.beta(30, 70, 20000))
    assert same.status == OK and same.p_value > 0.2
    differ = posterior_comparison(rng.beta(30, 70, 20000), rng.beta(70, 30, 20000))
    assert differ.p_value < 1e-3 and differ.z < 0


def test_zero_events_get_an_exact_style_upper_bound_not_the_jeffreys_one() -> None:
    # 0 spurious passes among 50 labelled VERIFIED runs: the Jeffreys upper bound (~0.049)
    # undercovers; the interval uses the Clopper–Pearson one, 1 - 0.025 ** (1 / 50) = 0.071
    counts = _counts(VERIFIED=1000, PROOF_INVALID=1000)
    labels = _labels([("VERIFIED", TRUTH_VALID)] * 50 + [("PROOF_INVALID", TRUTH_INVALID)] * 50)
    est, _ = conditional_rates(counts, labels, rng=np.random.default_rng(3))
    lo, hi = est["spurious_pass_rate"].ci
    assert lo == 0.0 and 0.058 < hi < 0.075
    # mirror image: every valid run failed spuriously -> [exact lower, 1]
    labels = _labels([("VERIFIED", TRUTH_INVALID)] * 50 + [("PROOF_INVALID", TRUTH_VALID)] * 50)
    est, _ = conditional_rates(counts, labels, rng=np.random.default_rng(3))
    lo, hi = est["spurious_fail_rate"].ci
    assert hi == 1.0 and 0.925 < lo < 0.942


def test_every_sampled_timeout_undetermined_gives_bounds_not_a_zero_rate() -> None:
    # regression (issue 13): the timeout stratum dropped out and timeout_given_* became 0.0
    counts = _counts(VERIFIED=600, PROOF_INVALID=300, VERIFIER_TIMEOUT=100)
    labels = _labels(
        [("VERIFIED", TRUTH_VALID)] * 30
        + [("PROOF_INVALID", TRUTH_INVALID)] * 27
        + [("PROOF_INVALID", TRUTH_VALID)] * 3
        + [("VERIFIER_TIMEOUT", TRUTH_UNDETERMINED)] * 30
    )
    est, _ = conditional_rates(counts, labels, rng=np.random.default_rng(0))
    for name in ("timeout_given_valid", "timeout_given_invalid"):
        e = est[name]
        assert e.rate is None and e.status == PARTIAL
        assert e.bounds is not None and e.bounds[0] == 0.0 and e.bounds[1] > 0.1
        assert e.ci[0] == 0.0 and e.ci[1] >= e.bounds[1]
        assert e.counts["unlabelled_strata"] == ["VERIFIER_TIMEOUT"]
    # the spurious rates keep the timeouts in their denominators (as bounds), not dropped
    sf = est["spurious_fail_rate"]
    valid_runs = 600 + 300 * 0.1
    assert sf.bounds == pytest.approx((30 / (valid_runs + 100), 30 / valid_runs))
    assert sf.rate is None and sf.ci[0] <= sf.bounds[0] and sf.ci[1] >= sf.bounds[1]


def test_bounds_assign_every_undetermined_label_its_worst_case() -> None:
    # fail stratum: 10 sampled, 2 valid, 6 invalid, 2 undetermined (crashes)
    counts = _counts(VERIFIED=900, PROOF_INVALID=100)
    labels = _labels(
        [("VERIFIED", TRUTH_VALID)] * 10
        + [("PROOF_INVALID", TRUTH_VALID)] * 2
        + [("PROOF_INVALID", TRUTH_INVALID)] * 6
        + [("PROOF_INVALID", TRUTH_UNDETERMINED)] * 2
    )
    est, _ = conditional_rates(counts, labels, rng=np.random.default_rng(0))
    sf = est["spurious_fail_rate"]
    # point: 2 of 8 determined are valid; bounds: 2 or 4 of 10 sampled
    assert sf.rate == pytest.approx(25 / 925)
    assert sf.bounds == pytest.approx((20 / 920, 40 / 940))
    assert sf.ci[0] <= sf.bounds[0] < sf.rate < sf.bounds[1] <= sf.ci[1]
    assert sf.status == PARTIAL and sf.counts["undetermined_share"] == pytest.approx(0.02)


def test_undetermined_not_at_random_stays_inside_the_interval() -> None:
    """Invalid items that crash every checker stay undetermined: the MAR point estimate is
    biased upwards, the interval still covers (>= 0.93 over 200 samples)."""
    rng = np.random.default_rng(11)
    n_runs, p_valid, p_sf, p_crash = 4000, 0.6, 0.03, 0.15
    hits, points = 0, []
    for _ in range(200):
        valid = rng.random(n_runs) < p_valid
        crash = ~valid & (rng.random(n_runs) < p_crash)
        fail = np.where(valid, rng.random(n_runs) < p_sf, rng.random(n_runs) < 0.9) | crash
        outcome = np.where(fail, OUTCOME_CODE["PROOF_INVALID"], OUTCOME_CODE["VERIFIED"])
        counts = np.bincount(outcome, minlength=len(OUTCOME_CODE))
        picks = np.concatenate(
            [rng.choice(np.flatnonzero(outcome == o), 60, replace=False) for o in (0, 1)]
        )
        truth = np.where(valid[picks], TRUTH_VALID, TRUTH_INVALID)
        truth = np.where(crash[picks], TRUTH_UNDETERMINED, truth).astype(np.int8)
        labels = LabelColumns(item=picks, outcome=outcome[picks].astype(np.int8), truth=truth)
        sf = conditional_rates(counts, labels, draws=2000, rng=rng)[0]["spurious_fail_rate"]
        hits += sf.ci[0] <= p_sf <= sf.ci[1]
        points.append(sf.rate)
    assert np.mean(points) > 1.1 * p_sf  # the point estimate is biased (status partial) ...
    assert hits / 200 >= 0.93  # ... the interval is not fooled


def test_strata_with_fewer_than_three_labels_are_low_labels_unless_complete() -> None:
    counts = _counts(VERIFIED=500, PROOF_INVALID=100, MEMORY_LIMIT_EXCEEDED=2)
    rows = [("VERIFIED", TRUTH_VALID)] * 20 + [("PROOF_INVALID", TRUTH_INVALID)] * 20
    complete = _labels(rows + [("MEMORY_LIMIT_EXCEEDED", TRUTH_INVALID)] * 2)
    est, _ = conditional_rates(counts, complete, rng=np.random.default_rng(0))
    assert est["spurious_fail_rate"].status == OK  # 2 of 2: a census, no sampling error
    counts[OUTCOME_CODE["MEMORY_LIMIT_EXCEEDED"]] = 40
    est, _ = conditional_rates(counts, complete, rng=np.random.default_rng(0))
    for e in est.values():
        assert e.status in (LOW_LABELS, INSUFFICIENT)
    assert est["spurious_fail_rate"].status == LOW_LABELS
    assert est["spurious_fail_rate"].counts["low_label_strata"] == ["MEMORY_LIMIT_EXCEEDED"]
