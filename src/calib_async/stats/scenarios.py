"""Rate scenarios of the recovery study: messy labels with known truth (issue 13).

Each scenario simulates records with ``calib_async.stats.simulate``, runs the real
``fit_and_validate`` on them and scores every exported conditional rate and the timeout rate
against the truth: does the exported ``<rate>_ci`` cover it, do the estimated
``<rate>_bounds`` contain it, how biased is the point estimate when there is one. Used by
``scripts/recovery_study.py`` (many repetitions) and by a fast test (a few).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from calib_async.records import LabeledRecord, TelemetryRecord
from calib_async.stats.fit import fit_and_validate
from calib_async.stats.rates import RateEstimate, binomial_rate, conditional_rates
from calib_async.stats.record_arrays import OUTCOMES, TIMEOUT_CODE, to_columns
from calib_async.stats.simulate import SimModel, simulate

RATES = (
    "timeout_rate",
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)


@dataclass(frozen=True, slots=True)
class RateScenario:
    name: str
    description: str
    model: SimModel
    items: int
    labels_per_tier: int


RATE_SCENARIOS: dict[str, RateScenario] = {
    s.name: s
    for s in (
        RateScenario(
            "baseline", "20 % of sampled timeouts undetermined at random", SimModel(), 1000, 300
        ),
        RateScenario(
            "crash",
            "12 % of invalid items crash every checker and stay undetermined (not at random)",
            SimModel(p_crash_invalid=0.12),
            1000,
            300,
        ),
        RateScenario(
            "timeouts_undetermined",
            "every sampled timeout stays undetermined",
            SimModel(p_undetermined_timeout=1.0),
            1000,
            300,
        ),
        RateScenario(
            "few_labels",
            "10 labels per tier, below 3 x 5 strata",
            SimModel(),
            1000,
            10,
        ),
        RateScenario(
            "small_strata",
            "150 items, 25 labels per tier: strata of 1-3 labels",
            SimModel(),
            150,
            25,
        ),
    )
}


@dataclass(slots=True)
class ScenarioResult:
    """Per (tier, rate): coverage hits, bounds hits, point estimates, statuses."""

    truth: dict[str, dict[str, float]]
    covered: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    in_bounds: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    estimates: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    widths: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    no_ci: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: dict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    #: coverage hits of the repetitions whose rate had status ``ok``
    ok_covered: dict[tuple[str, str], list[bool]] = field(default_factory=lambda: defaultdict(list))
    reasons: list[str] = field(default_factory=list)  # why rates were not ok
    passed: list[bool] = field(default_factory=list)
    validation_weak: list[bool] = field(default_factory=list)

    def coverage(self, key: tuple[str, str]) -> float:
        """Share of repetitions whose CI covered the truth (a missing CI counts as a miss)."""
        hits = self.covered[key]
        return float(sum(hits)) / (len(hits) + self.no_ci[key]) if hits or self.no_ci[key] else 0.0

    def bias(self, key: tuple[str, str]) -> float | None:
        """Relative bias of the point estimate over the repetitions that have one."""
        est = self.estimates[key]
        t = self.truth[key[0]][key[1]]
        return float(np.mean(est)) / t - 1.0 if est and t > 0 else None


def _rates_only(
    scenario: RateScenario,
    telemetry: list[TelemetryRecord],
    labeled: list[LabeledRecord],
    rng: np.random.Generator,
) -> dict[str, dict[str, RateEstimate]]:
    """Every tier's rates on all records (no split, no duration model): the fast path."""
    names = [t.name for t in scenario.model.tiers]
    cols = to_columns(telemetry, labeled, names)
    out = {}
    for tier in names:
        runs = cols.runs[tier]
        counts = np.bincount(runs.outcome, minlength=len(OUTCOMES))
        rates, _ = conditional_rates(counts, cols.labels[tier], draws=2000, rng=rng)
        k = int(counts[TIMEOUT_CODE])
        out[tier] = {"timeout_rate": binomial_rate("timeout_rate", k, len(runs)), **rates}
    return out


def run_rate_scenario(
    scenario: RateScenario,
    reps: int,
    rng: np.random.Generator,
    *,
    seed: int = 0,
    full: bool = True,
) -> ScenarioResult:
    """``reps`` simulated calibrations of the scenario, scored against its truth.

    ``full``: the real ``fit_and_validate`` (20 % held out, duration models, validation);
    otherwise only the rates, on all records (for fast tests).
    """
    truth = scenario.model.truth()
    out = ScenarioResult(truth=truth)
    for r in range(reps):
        telemetry, labeled = simulate(scenario.model, scenario.items, scenario.labels_per_tier, rng)
        if full:
            fit = fit_and_validate(
                telemetry,
                labeled,
                tiers=scenario.model.config_tiers(),
                validation_split=0.2,
                seed=seed + r,
                bootstrap=0,
            )
            out.passed.append(fit.validation.passed)
            out.validation_weak.append(fit.validation.weak)
            estimates = {tier: tf.rates() for tier, tf in fit.tiers.items()}
        else:
            estimates = _rates_only(scenario, telemetry, labeled, rng)
        for tier, rates in estimates.items():
            for rate in RATES:
                est, t, key = rates[rate], truth[tier][rate], (tier, rate)
                out.statuses[key][est.status] += 1
                if est.ci is None:
                    out.no_ci[key] += 1
                else:
                    out.covered[key].append(est.ci[0] <= t <= est.ci[1])
                    out.widths[key].append(est.ci[1] - est.ci[0])
                    if est.status == "ok":
                        out.ok_covered[key].append(est.ci[0] <= t <= est.ci[1])
                if est.bounds is not None:
                    out.in_bounds[key].append(est.bounds[0] <= t <= est.bounds[1])
                if est.rate is not None:
                    out.estimates[key].append(est.rate)
    return out
