"""Rates: Wilson against statsmodels, the score test, Holm, and the stratified ratio estimator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.proportion import test_proportions_2indep as sm_score_test

from calib_async.stats.columns import (
    OUTCOME_CODE,
    TRUTH_INVALID,
    TRUTH_UNDETERMINED,
    TRUTH_VALID,
    LabelColumns,
)
from calib_async.stats.rates import (
    INSUFFICIENT,
    OK,
    PARTIAL,
    binomial_rate,
    conditional_rates,
    holm,
    posterior_comparison,
    score_test_2indep,
    wilson_interval,
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
    assert est["spurious_pass_rate"].rate == 0.0 and est["spurious_pass_rate"].ci[0] == 0.0
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
