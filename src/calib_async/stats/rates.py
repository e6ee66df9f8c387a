"""Noise rates with confidence intervals: binomial (Wilson) and stratified ratio (Jeffreys MC).

Definitions (per tier; "says valid" means outcome VERIFIED):

* ``timeout_rate`` = P(outcome = VERIFIER_TIMEOUT), over *all* telemetry-phase runs of the
  tier (not only the labelled ones). Wilson interval from
  ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.
* ``spurious_fail_rate`` = P(outcome in {PROOF_INVALID, MEMORY_LIMIT_EXCEEDED,
  VERIFIER_ERROR} | truth VERIFIED).
* ``timeout_given_valid`` = P(outcome = VERIFIER_TIMEOUT | truth VERIFIED).
* ``spurious_pass_rate`` = P(outcome = VERIFIED | truth INVALID).
* ``timeout_given_invalid`` = P(outcome = VERIFIER_TIMEOUT | truth INVALID).

The conditional rates use the labelled sample, which is stratified by (tier, observed
outcome). Treating it as a simple random sample is badly biased (issue 6: 0.065 for a true
0.030), so they use the *stratified ratio estimator* with Horvitz–Thompson weights
``w_h = N_h / n_h`` in numerator and denominator::

    R = sum_h w_h #{labelled in h: truth c, outcome in E} / sum_h w_h #{labelled in h: truth c}

where c is the conditioning truth and E the event outcomes. Because strata are defined by
outcome, a stratum is wholly inside or outside E, so ``R = sum_{h in E} N_h p_h / sum_h N_h p_h``
with ``p_h`` the share of truth c among the stratum's labelled runs.

**Missing labels.** The point estimate uses the *determined* labels only (``n_h`` counts
them), i.e. it treats UNDETERMINED as missing at random within the stratum. It is not: items
stay undetermined because of what they are. So every conditional rate also carries
``bounds``, the identification interval when each undetermined record may be either truth,
and its interval covers the true rate whatever the missingness mechanism (Manski bounds;
``calib_async.stats.identification``). ``N_h`` is the number of telemetry runs of the
stratum in the data being fitted (the training split), so the weights are recomputed after
the item split.

**Interval: Jeffreys Monte Carlo.** The target is the checker's underlying rate, which in
terms of the strata is ``R = sum_{h in E} pi_h p_h / sum_h pi_h p_h`` with ``pi_h`` the share
of runs that land in stratum h. Both stages are uncertain, so both get Jeffreys posteriors:
``pi ~ Dirichlet(N_h + 1/2)`` and ``p_h ~ Beta(x_h + 1/2, n_h - x_h + 1/2)``; R is computed
for ``draws`` joint draws and the equal-tailed quantiles form the interval, except that the
event strata take Clopper–Pearson-style Beta draws at the end they bound (lower end
``Beta(x_h, n_h - x_h + 1)``, upper ``Beta(x_h + 1, n_h - x_h)``): with no event the
Jeffreys upper bound is too low, and with a few events spread over several strata the
Jeffreys lower bound is too high; see ``calib_async.stats.identification``. The point
estimate is the HT ratio estimator above.
Leaving out the uncertainty of the stratum sizes (treating ``N_h`` as fixed) undercovers
badly when a stratum is labelled completely, as small timeout strata are: the recovery study
measured 0.75-0.88 for ``timeout_given_valid`` that way, 0.92-0.97 with it.

Why this interval: it stays honest with zero events and tiny strata, where the linearised
interval has zero width and the logit one is undefined; and unlike a stratified bootstrap it
costs milliseconds and is deterministic given the seed. Its coverage is measured by
scripts/recovery_study.py.

Statuses. ``partial``: some label is undetermined (the interval includes the bounds); when
a stratum with runs has no determined label the rate is not point-identified at all, and
``rate`` is None while bounds and interval stay (a stratum is never silently dropped, and no
rate is 0.0 for lack of labels). ``low_labels``: a stratum behind the rate has between 1 and
``MIN_LABELS - 1`` determined labels and was not labelled completely (the ratio estimator is
biased there). ``insufficient_data``: no labels or no runs; rate, interval and bounds None.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from calib_async.stats.identification import Identified, identify
from calib_async.stats.record_arrays import (
    FAIL_CODES,
    OUTCOMES,
    TIMEOUT_CODE,
    TRUTH_INVALID,
    TRUTH_VALID,
    VERIFIED_CODE,
    LabelColumns,
)
from calib_async.stats.strata import LabelTable, label_table

OK = "ok"
PARTIAL = "partial"  # undetermined labels: the rate is only partially identified
LOW_LABELS = "low_labels"  # too few labels behind the rate (MIN_LABELS, MIN_CLASS_LABELS)
INSUFFICIENT = "insufficient_data"
#: the labels' own error is not identified (one reference source, or the tier judging itself)
UNVERIFIED = "unverified_labels"

#: Determined labels a sampled stratum needs before its ratio estimate is trusted.
MIN_LABELS = 3
#: Determined labels of the conditioning class (valid for the spurious-fail and
#: timeout-given-valid rates, invalid for the others) a rate needs: with 3 per stratum the
#: ratio estimator was biased by -18 % (spurious fail) and -28 % (spurious pass).
MIN_CLASS_LABELS = 10

#: name -> (conditioning truth code, event outcome codes)
CONDITIONAL_RATES: dict[str, tuple[int, tuple[int, ...]]] = {
    "spurious_fail_rate": (TRUTH_VALID, FAIL_CODES),
    "timeout_given_valid": (TRUTH_VALID, (TIMEOUT_CODE,)),
    "spurious_pass_rate": (TRUTH_INVALID, (VERIFIED_CODE,)),
    "timeout_given_invalid": (TRUTH_INVALID, (TIMEOUT_CODE,)),
}


@dataclass(frozen=True, slots=True)
class RateEstimate:
    """One rate, its interval, how it was computed and the counts behind it."""

    name: str
    rate: float | None
    ci: tuple[float, float] | None
    status: str  # "ok" | "partial" | "low_labels" | "insufficient_data"
    method: str
    counts: Mapping[str, Any] = field(default_factory=dict)
    #: identification interval (worst cases for the undetermined labels); None for binomials
    bounds: tuple[float, float] | None = None


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (scipy's binomtest; n must be > 0)."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def binomial_rate(name: str, k: int, n: int, confidence: float = 0.95) -> RateEstimate:
    """k / n with its Wilson interval; ``insufficient_data`` when n = 0."""
    counts = {"n": int(n), "k": int(k)}
    if n <= 0:
        return RateEstimate(name, None, None, INSUFFICIENT, "wilson", counts)
    return RateEstimate(name, k / n, wilson_interval(k, n, confidence), OK, "wilson", counts)


def ratio_point(
    table: LabelTable, in_class: np.ndarray, event: np.ndarray
) -> tuple[float, float, float]:
    """(estimate, weighted events, weighted class total) over strata with determined labels."""
    used = (table.determined > 0) & (table.population > 0)
    w = np.zeros_like(table.population)
    w[used] = table.population[used] / table.determined[used]
    total = float(np.sum(w * in_class))
    events = float(np.sum(w * in_class * event))
    return (events / total if total > 0 else math.nan), events, total


def posterior_draws(
    table: LabelTable, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Joint Jeffreys posterior draws (pi, theta_valid), each of shape (draws, strata).

    pi (the outcome shares, up to a common factor per draw) ~ Dirichlet(N_h + 1/2); the valid
    share of stratum h ~ Beta(v_h + 1/2, n_h - v_h + 1/2), independently (the invalid share
    is 1 - it).
    """
    # Dirichlet draws as normalised gamma draws; R is a ratio, so the normalisation cancels.
    pi = rng.standard_gamma(table.population + 0.5, size=(draws, table.population.size))
    n, v = table.determined, table.valid
    theta = rng.beta(v + 0.5, n - v + 0.5, size=(draws, n.size))
    return pi, theta


def undetermined_share(table: LabelTable) -> float | None:
    """Estimated share of the tier's runs whose truth the labels could not determine.

    HT-weighted: a sampled stratum contributes ``N_h u_h / s_h``, a stratum with runs but no
    sampled run all of its ``N_h``. None without runs.
    """
    pop = table.population
    total = float(pop.sum())
    if total <= 0:
        return None
    sampled = table.determined + table.undetermined
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(sampled > 0, table.undetermined / sampled, 1.0)
    return float(np.sum(pop * np.where(pop > 0, share, 0.0))) / total


def conditional_rates(
    outcome_counts: np.ndarray,
    labels: LabelColumns,
    *,
    confidence: float = 0.95,
    draws: int = 10000,
    rng: np.random.Generator,
) -> tuple[dict[str, RateEstimate], dict[str, np.ndarray]]:
    """The four conditional rates of CONDITIONAL_RATES, with bounds and intervals.

    Returns the estimates and, per point-estimable rate, its posterior draws over the
    determined labels, which the validation stage reuses to compare train and held-out rates.
    With the labels' own error model, :func:`calib_async.stats.soft_rates.conditional_rates`
    pools them over its imputations instead.
    """
    estimates: dict[str, RateEstimate] = {}
    samples: dict[str, np.ndarray] = {}
    for name, (est, sample, ident) in rates_once(
        outcome_counts, labels, confidence=confidence, draws=draws, rng=rng
    ).items():
        estimates[name] = _with_bounds(est, ident, sample)
        if sample is not None:
            samples[name] = sample
    return estimates, samples


def rates_once(
    outcome_counts: np.ndarray,
    labels: LabelColumns,
    *,
    confidence: float,
    draws: int,
    rng: np.random.Generator,
) -> dict[str, tuple[RateEstimate, np.ndarray | None, Identified | None]]:
    """Each rate before its interval is set: estimate, posterior draws, identification."""
    table = label_table(outcome_counts, labels)
    pi, theta_valid = posterior_draws(table, draws, rng)
    share = undetermined_share(table)
    out: dict[str, tuple[RateEstimate, np.ndarray | None, Identified | None]] = {}
    for name, (truth, events) in CONDITIONAL_RATES.items():
        event = np.zeros(len(OUTCOMES), dtype=bool)
        event[list(events)] = True
        theta = theta_valid if truth == TRUTH_VALID else 1.0 - theta_valid
        in_class = table.in_class(truth)
        est, sample = _one_rate(name, table, in_class, event, pi * theta, share)
        ident = None
        if table.population.sum() > 0 and (table.determined + table.undetermined).sum() > 0:
            ident = identify(table, in_class, event, pi, confidence=confidence, rng=rng)
        out[name] = (est, sample, ident)
    return out


def _one_rate(
    name: str,
    table: LabelTable,
    in_class: np.ndarray,
    event: np.ndarray,
    weighted: np.ndarray,
    share: float | None,
) -> tuple[RateEstimate, np.ndarray | None]:
    """The ratio over determined labels (None unless every stratum with runs has one)."""
    estimate, w_events, w_total = ratio_point(table, in_class, event)
    live = table.population > 0
    unlabelled = live & (table.determined == 0)
    sampled = table.determined + table.undetermined
    low = live & (table.determined > 0) & (table.determined < MIN_LABELS)
    low &= sampled < table.population  # a stratum labelled completely has no sampling error
    few_in_class = 0 < float(in_class.sum()) < MIN_CLASS_LABELS
    counts: dict[str, Any] = {
        "n_labelled": int(in_class.sum()),
        "n_events": int((in_class * event).sum()),
        "n_determined": int(table.determined.sum()),
        "n_undetermined": int(table.undetermined.sum()),
        "undetermined_share": share,
        "weighted_events": w_events,
        "weighted_total": w_total,
        "unlabelled_strata": [OUTCOMES[i].value for i in np.flatnonzero(unlabelled)],
        "low_label_strata": [OUTCOMES[i].value for i in np.flatnonzero(low)],
        "min_class_labels": MIN_CLASS_LABELS,
    }
    method = "stratified_ratio_jeffreys_mc_manski_bounds"
    if not w_total > 0:
        return RateEstimate(name, None, None, INSUFFICIENT, method, counts), None
    with np.errstate(invalid="ignore", divide="ignore"):
        sample = weighted[:, event].sum(axis=1) / weighted.sum(axis=1)
    sample = sample[np.isfinite(sample)]
    if unlabelled.any():
        status, rate = PARTIAL, None  # not point-identified: bounds and interval only
    elif low.any() or few_in_class:
        status, rate = LOW_LABELS, estimate
    elif table.undetermined.sum() > 0:
        status, rate = PARTIAL, estimate
    else:
        status, rate = OK, estimate
    return RateEstimate(name, rate, None, status, method, counts), sample


def _with_bounds(
    est: RateEstimate, ident: Identified | None, sample: np.ndarray | None
) -> RateEstimate:
    if ident is None:
        if est.status != INSUFFICIENT:  # defensive: a rate never goes out without an interval
            return dataclasses.replace(est, rate=None, status=INSUFFICIENT)
        return est
    lo, hi = ident.ci
    if est.rate is not None:
        lo, hi = min(lo, est.rate), max(hi, est.rate)
    status = est.status
    if status == INSUFFICIENT:  # no determined class member, but the labels bound the rate
        status = PARTIAL
    rate = est.rate
    if rate is not None and status == LOW_LABELS and sample is not None and sample.size:
        rate = float(np.median(sample))  # few labels: the posterior median, never a bare 0.0
        lo, hi = min(lo, rate), max(hi, rate)
    return dataclasses.replace(est, rate=rate, ci=(lo, hi), bounds=ident.bounds, status=status)


# ---------------------------------------------------------------------------------------------
# Two-sample comparisons


@dataclass(frozen=True, slots=True)
class Comparison:
    """A two-sample test result: statistic, p-value, and what was compared."""

    z: float | None
    p_value: float | None
    method: str
    status: str = OK


def score_test_2indep(
    k1: float,
    n1: float,
    k2: float,
    n2: float,
    *,
    alternative: str = "two-sided",
    correction: bool = True,
) -> Comparison:
    """Score test of p1 = p2 for two independent binomial samples (difference of proportions).

    Under H0 the restricted MLE is the pooled proportion, so the statistic is
    ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))``; ``correction`` multiplies the variance
    by ``N / (N - 1)`` (Miettinen–Nurminen), as statsmodels' ``test_proportions_2indep(...,
    method="score")`` does by default. Written on scipy to keep statsmodels a test-only
    dependency; tests check it against statsmodels. ``alternative`` is "two-sided", "larger"
    (H1: p1 > p2) or "smaller". Counts may be fractional (a model-implied count).
    """
    method = "score_2indep"
    if n1 <= 0 or n2 <= 0:
        return Comparison(None, None, method, INSUFFICIENT)
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if correction:
        total = n1 + n2
        var *= total / (total - 1) if total > 1 else 1.0
    if var <= 0:  # both samples all-0 or all-1: no evidence of a difference
        return Comparison(0.0, 1.0, method)
    z = (p1 - p2) / math.sqrt(var)
    return Comparison(z, _p_from_z(z, alternative), method)


def _p_from_z(z: float, alternative: str) -> float:
    if alternative == "two-sided":
        return float(2 * stats.norm.sf(abs(z)))
    if alternative == "larger":
        return float(stats.norm.sf(z))
    if alternative == "smaller":
        return float(stats.norm.cdf(z))
    raise ValueError(f"alternative must be two-sided, larger or smaller, not {alternative!r}")


def posterior_comparison(draws1: np.ndarray, draws2: np.ndarray) -> Comparison:
    """Two-sided comparison of two independent stratified rates from their Jeffreys draws.

    p = 2 min(P(R1 > R2), P(R1 < R2)) under the independent posteriors (ties split), and z is
    the normal quantile of that p with the sign of the posterior mean difference. With
    Jeffreys priors this posterior tail probability behaves like a mid-p test; it stays
    defined with zero events, where Wald and linearised score statistics degenerate.
    """
    m = min(draws1.size, draws2.size)
    if m == 0:
        return Comparison(None, None, "jeffreys_posterior", INSUFFICIENT)
    d = draws1[:m] - draws2[:m]
    greater = float(np.mean(d > 0)) + 0.5 * float(np.mean(d == 0))
    p = min(1.0, 2.0 * min(greater, 1.0 - greater))
    p = max(p, 1.0 / m)
    z = float(stats.norm.isf(p / 2)) * (1.0 if greater >= 0.5 else -1.0)
    return Comparison(z, p, "jeffreys_posterior")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as the input)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
