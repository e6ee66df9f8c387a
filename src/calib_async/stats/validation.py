"""Held-out validation of the fitted noise models, and the cross-tier monotonicity check.

The models are fitted on the training items only; every check below uses that fit. Keys of
the exported ``validation_report``:

* ``calibration_error`` — per tier and per exported rate: the training estimate, the same
  rate estimated on the held-out items, ``abs_error`` = |train - held_out|, and a two-sided
  test of "the held-out data come from the fitted rate":
  - ``timeout_rate``: two-sample score test, train k1/n1 against held-out k2/n2
    (:func:`calib_async.stats.rates.score_test_2indep`);
  - the four conditional rates (stratified samples): comparison of the two independent
    Jeffreys posteriors (:func:`calib_async.stats.rates.posterior_comparison`), since a
    binomial score test does not apply to Horvitz–Thompson-weighted ratios;
  - ``duration_model``: the predicted timeout rate at the tier's budget (h + (1 - h) S(T),
    reported timeouts and runaways included) against the held-out timeout share; see
    :mod:`calib_async.stats.duration_check`.
* ``coverage`` — ``per_tier``: per tier and rate, whether the held-out estimate lies inside
  the (unadjusted) ``confidence`` acceptance region of that test (None when not evaluated);
  ``fraction_inside`` over all evaluated rates; ``nominal`` = ``confidence``. Under a correct
  model ``fraction_inside`` is about ``confidence``; unlike a plain "held-out rate inside
  the training CI", it accounts for the held-out sample's own noise.
* ``tier_monotonicity`` — tiers are ordered by ``timeout_s`` (ascending) *in advance*. For
  every pair (shorter, longer) with different timeouts, the one-sided score test of
  H0: timeout_rate(longer) <= timeout_rate(shorter) against H1: the longer tier times out
  *more often* (a violation). It alarms only on significant evidence of a violation (equal
  rates reject with probability at most alpha before correction). Uses the training counts
  (runs of one item in two tiers are positively correlated, which makes the
  independent-samples test conservative). Each pair reports z, p and its Holm-adjusted p.
* ``passed`` — True when no component test (every evaluated calibration test and every
  monotonicity pair) rejects at family-wise level ``1 - confidence`` after Holm correction
  over all of them, so that a correct model fails with probability at most about 5 %.
  Tests without data are reported with status ``insufficient_data`` and left out. When no
  test at all could be evaluated (for example no held-out items), ``passed`` is False and
  ``status`` is ``"not_evaluated"``.
* ``summary`` — one line: PASSED / FAILED / UNVERIFIED / NOT EVALUATED, with the rejected
  tests named; never PASSED when a tier is ``failed`` (FAILED) or a conditional rate is
  ``unverified_labels`` (UNVERIFIED: the held-out split cannot see an error the reference
  makes on every item), and ``passed`` is then False;
  a PASS whose tests are mostly too weak to see a doubled rate reads "PASSED (WEAK: ...)".
* Strength (:mod:`calib_async.stats.power`): every evaluated test (calibration entries and
  monotonicity pairs) carries ``power`` (against a doubled rate, at the level alpha / m a
  single rejection needs in the Holm gate of m tests; None when the training rate is 0)
  and ``mdd`` (the smallest increase detected with probability 0.8). ``power`` summarises
  them: ``alternative``, ``level``, ``target`` (0.8), ``median``, ``min``,
  ``tests_at_target``, ``tests_with_power``. ``weak`` is True when the median power is
  below the target or no test has a power: a PASS then says little. A random item split
  cannot see a bias that every item shares (for example labels missing not at random);
  the bounds of ``calib_async.stats.identification`` cover that, not this gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from calib_async.stats import power as pw
from calib_async.stats.duration_check import duration_model_entry
from calib_async.stats.rates import (
    CONDITIONAL_RATES,
    INSUFFICIENT,
    OK,
    UNVERIFIED,
    Comparison,
    holm,
    posterior_comparison,
    score_test_2indep,
)
from calib_async.stats.record_arrays import OUTCOMES, TIMEOUT_CODE, LabelColumns, RunColumns
from calib_async.stats.soft_rates import conditional_rates
from calib_async.stats.tier_fit import TIER_FAILED, TierFit

if TYPE_CHECKING:
    from calib_async.stats.label_error import SoftLabels


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The validation stage's result (see the module docstring for every key)."""

    summary: str
    passed: bool
    status: str  # "evaluated" | "not_evaluated"
    alpha: float
    tier_monotonicity: Mapping[str, Any]
    calibration_error: Mapping[str, Any]
    coverage: Mapping[str, Any]
    held_out: Mapping[str, Any]
    n_tests: int
    rejected: tuple[str, ...]
    power: Mapping[str, Any] | None = None
    weak: bool = False

    def to_export(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "passed": self.passed,
            "status": self.status,
            "tier_monotonicity": dict(self.tier_monotonicity),
            "calibration_error": dict(self.calibration_error),
            "coverage": dict(self.coverage),
            "family_wise_alpha": self.alpha,
            "correction": "holm",
            "n_tests": self.n_tests,
            "rejected": list(self.rejected),
            "held_out": dict(self.held_out),
            "power": dict(self.power) if self.power is not None else None,
            "weak": self.weak,
        }


def _entry(train: float | None, held: float | None, test: Comparison) -> dict[str, Any]:
    both = train is not None and held is not None
    return {
        "train": train,
        "held_out": held,
        "abs_error": abs(train - held) if both else None,  # type: ignore[operator]
        "z": test.z,
        "p_value": test.p_value,
        "test": test.method,
        "status": test.status if both else INSUFFICIENT,
    }


def _calibration(
    fit: TierFit,
    runs: RunColumns,
    labels: LabelColumns,
    *,
    confidence: float,
    rng: np.random.Generator,
    soft: SoftLabels | None = None,
) -> dict[str, dict[str, Any]]:
    n2 = len(runs)
    counts = np.bincount(runs.outcome, minlength=len(OUTCOMES))
    k2 = int(counts[TIMEOUT_CODE])
    out: dict[str, dict[str, Any]] = {}
    tr = fit.timeout_rate
    test = score_test_2indep(tr.counts["k"], tr.counts["n"], k2, n2)
    out["timeout_rate"] = _entry(tr.rate, k2 / n2 if n2 else None, test)
    held, held_draws = conditional_rates(counts, labels, confidence=confidence, rng=rng, soft=soft)
    for name in CONDITIONAL_RATES:
        train_draws, draws = fit.posterior.get(name), held_draws.get(name)
        if draws is None or train_draws is None:
            test = Comparison(None, None, "jeffreys_posterior", INSUFFICIENT)
        else:
            test = posterior_comparison(train_draws, draws)
        out[name] = _entry(fit.rate(name).rate, held[name].rate, test)
        if draws is not None and train_draws is not None:  # s.e. for the power (stats.power)
            out[name]["_se"] = float(np.sqrt(np.var(train_draws) + np.var(draws)))
    out["duration_model"] = duration_model_entry(fit, runs)  # calib_async.stats.duration_check
    return out


def _monotonicity(fits: Sequence[TierFit]) -> list[dict[str, Any]]:
    ordered = sorted(fits, key=lambda f: f.timeout_s)
    pairs = []
    for i, short in enumerate(ordered):
        for long in ordered[i + 1 :]:
            if long.timeout_s <= short.timeout_s:
                continue
            a, b = short.timeout_rate.counts, long.timeout_rate.counts
            test = score_test_2indep(b["k"], b["n"], a["k"], a["n"], alternative="larger")
            pairs.append(
                {
                    "shorter": short.tier,
                    "longer": long.tier,
                    "rate_shorter": short.timeout_rate.rate,
                    "rate_longer": long.timeout_rate.rate,
                    "z": test.z,
                    "p_value": test.p_value,
                    "status": test.status,
                }
            )
    return pairs


def validate(
    fits: Sequence[TierFit],
    held_runs: Mapping[str, RunColumns],
    held_labels: Mapping[str, LabelColumns],
    *,
    n_held_items: int,
    confidence: float = 0.95,
    rng: np.random.Generator,
    held_soft: Mapping[str, SoftLabels] | None = None,
) -> ValidationReport:
    """Validate training fits against the held-out runs and labels (module docstring)."""
    alpha = round(1.0 - confidence, 12)
    calibration = {
        f.tier: _calibration(
            f,
            held_runs[f.tier],
            held_labels[f.tier],
            confidence=confidence,
            rng=rng,
            soft=(held_soft or {}).get(f.tier),
        )
        for f in fits
    }
    pairs = _monotonicity(fits)
    # One Holm family over every evaluated test.
    family: list[tuple[str, dict[str, Any]]] = []
    for tier, entries in calibration.items():
        for name, entry in entries.items():
            if entry["status"] == OK and entry["p_value"] is not None:
                family.append((f"{tier} {name} train vs held-out", entry))
    for pair in pairs:
        if pair["status"] == OK and pair["p_value"] is not None:
            family.append((f"{pair['longer']} times out more than {pair['shorter']}", pair))
    adjusted = holm([e["p_value"] for _, e in family])
    rejected = []
    for (label, entry), p_adj in zip(family, adjusted, strict=True):
        entry["p_holm"] = p_adj
        entry["rejected"] = p_adj <= alpha
        if entry["rejected"]:
            rejected.append(label)
    for pair in pairs:
        pair["violation"] = bool(pair.get("rejected", False))
    per_tier: dict[str, dict[str, bool | None]] = {}
    inside_all: list[bool] = []
    for tier, entries in calibration.items():
        per_tier[tier] = {}
        for name, entry in entries.items():
            inside = None
            if entry["status"] == OK and entry["p_value"] is not None:
                inside = entry["p_value"] > alpha
                inside_all.append(inside)
            per_tier[tier][name] = inside
    coverage = {
        "per_tier": per_tier,
        "fraction_inside": float(np.mean(inside_all)) if inside_all else None,
        "nominal": confidence,
    }
    evaluated = bool(family)
    passed = evaluated and not rejected
    strength = _attach_power(fits, calibration, pairs, held_runs, alpha / max(len(family), 1))
    weak = strength["median"] is None or strength["median"] < pw.POWER_TARGET
    if not evaluated:
        summary = "NOT EVALUATED: no held-out data to test the fitted models against"
    elif passed:
        summary = f"PASSED: none of {len(family)} tests rejects at family-wise {alpha:.2g} (Holm)"
        if weak:
            median = strength["median"]
            summary = (
                "PASSED (WEAK: median power "
                + ("n/a" if median is None else f"{median:.2f}")
                + f" against a doubled rate; {strength['tests_at_target']} of "
                f"{strength['tests_with_power']} tests reach {pw.POWER_TARGET:g})"
                + summary.removeprefix("PASSED")
            )
    else:
        summary = (
            f"FAILED: {len(rejected)} of {len(family)} tests reject at family-wise "
            f"{alpha:.2g} (Holm): " + "; ".join(rejected)
        )
    summary, passed = _gate(fits, summary, passed)
    monotonicity = {
        "order": [f.tier for f in sorted(fits, key=lambda f: f.timeout_s)],
        "rate": "timeout_rate",
        "null": "timeout rate of the longer tier <= that of the shorter tier",
        "alternative": "longer tier times out more often (violation)",
        "passed": not any(p["violation"] for p in pairs),
        "tests": pairs,
    }
    held = {
        "items": n_held_items,
        "records": {tier: len(r) for tier, r in held_runs.items()},
        "labelled": {tier: len(lab) for tier, lab in held_labels.items()},
    }
    return ValidationReport(
        summary=summary,
        passed=passed,
        status="evaluated" if evaluated else "not_evaluated",
        alpha=alpha,
        tier_monotonicity=monotonicity,
        calibration_error=calibration,
        coverage=coverage,
        held_out=held,
        n_tests=len(family),
        rejected=tuple(rejected),
        power=strength,
        weak=bool(evaluated and weak),
    )


def _gate(fits: Sequence[TierFit], summary: str, passed: bool) -> tuple[str, bool]:
    """Never PASSED over a failed tier or labels whose error is not identified."""
    failed = [f.tier for f in fits if f.status == TIER_FAILED]
    unverified = {
        f.tier: e.counts.get("unverified_reason")
        for f in fits
        for e in f.conditional.values()
        if e.status == UNVERIFIED
    }
    if failed:
        return (
            f"FAILED: tier(s) {', '.join(failed)} failed (most runs VERIFIER_ERROR); "
            f"held-out tests: {summary}",
            False,
        )
    if unverified and passed:
        reasons = "; ".join(f"{t}: {r}" for t, r in unverified.items())
        return (
            f"UNVERIFIED: the labels' error is not identified ({reasons}); held-out tests: "
            + summary,
            False,
        )
    return summary, passed


def _attach_power(
    fits: Sequence[TierFit],
    calibration: Mapping[str, Mapping[str, dict[str, Any]]],
    pairs: Sequence[dict[str, Any]],
    held_runs: Mapping[str, RunColumns],
    level: float,
) -> dict[str, Any]:
    """Add ``power`` and ``mdd`` to every test entry; return the summary (module docstring)."""
    by_tier = {f.tier: f for f in fits}
    powers: list[float] = []
    for tier, entries in calibration.items():
        fit, n2 = by_tier[tier], len(held_runs[tier])
        for name, entry in entries.items():
            se = entry.pop("_se", None)
            train = entry.get("train")
            power = mdd = None
            if entry.get("p_value") is None:
                pass  # not evaluated: no strength to report
            elif se is not None:
                power = pw.normal_power(train, se, level=level)
                mdd = pw.normal_mdd(se, level=level)
            elif train is not None:
                n1 = (
                    fit.timeout_rate.counts["n"] if name == "timeout_rate" else fit.training_samples
                )
                power = pw.doubled_score_power(train, n1, n2, level=level)
                mdd = pw.score_mdd(train, n1, n2, level=level)
            entry["power"], entry["mdd"] = power, mdd
            if power is not None:
                powers.append(power)
    by_name = {f.tier: f.timeout_rate.counts for f in fits}
    for pair in pairs:
        power = mdd = None
        if pair.get("p_value") is not None and pair.get("rate_shorter") is not None:
            a, b = by_name[pair["shorter"]], by_name[pair["longer"]]
            p = pair["rate_shorter"]
            power = pw.doubled_score_power(p, a["n"], b["n"], level=level, two_sided=False)
            mdd = pw.score_mdd(p, a["n"], b["n"], level=level, two_sided=False)
        pair["power"], pair["mdd"] = power, mdd
        if power is not None:
            powers.append(power)
    return {
        "alternative": "held-out rate = 2 x training rate (monotonicity: longer tier = 2 x "
        "shorter)",
        "level": level,
        "target": pw.POWER_TARGET,
        "median": float(np.median(powers)) if powers else None,
        "min": float(np.min(powers)) if powers else None,
        "tests_at_target": sum(p >= pw.POWER_TARGET for p in powers),
        "tests_with_power": len(powers),
    }
