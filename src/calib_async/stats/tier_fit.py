"""One tier's noise model: rates, duration model, goodness of fit, timeout prediction, load.

``fit_tier`` is fed the *training* split only; see ``calib_async.stats.fit`` for the split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from calib_async.stats.binomial import CLOPPER_PEARSON, clopper_pearson
from calib_async.stats.durations import DEFAULT_RESOLUTION_MS, DurationModel
from calib_async.stats.gof import DEFAULT_MAX_N, GoodnessOfFit
from calib_async.stats.label_error import SoftLabels, mark_unverified
from calib_async.stats.load import load_sensitivity
from calib_async.stats.prediction import DEFAULT_TARGETS
from calib_async.stats.rates import (
    INSUFFICIENT,
    OK,
    RateEstimate,
)
from calib_async.stats.record_arrays import (
    ERROR_CODE,
    OUTCOMES,
    TIMEOUT_CODE,
    LabelColumns,
    RunColumns,
)
from calib_async.stats.soft_rates import conditional_rates
from calib_async.stats.stationarity import DRIFT, LOAD_BURST, Stationarity, check_stationarity
from calib_async.stats.timeouts import TierTimeouts, fit_tier_timeouts

#: Tier status values.
TIER_OK = "ok"
TIER_PARTIAL = "partial"  # some rate or the duration model could not be estimated
TIER_NO_RECORDS = "no_records"
TIER_NO_COMPLETED_RUNS = "no_completed_runs"  # every run timed out: no duration model
#: most runs are VERIFIER_ERROR (the checker cannot start or crashes on everything): nothing
#: this tier's runs say is a measurement of the checker; ``failed_reason`` names the error
TIER_FAILED = "failed"
#: share of VERIFIER_ERROR runs above which a tier is ``failed``
FAILED_SHARE = 0.5
TIER_DRIFT = DRIFT  # outcomes or durations change over the run (``stats.stationarity``)
TIER_LOAD_BURST = LOAD_BURST  # ... and the load average explains the change


@dataclass(frozen=True, slots=True)
class TierFit:
    """Everything fitted for one tier, from its training split."""

    tier: str
    timeout_s: float
    status: str
    training_samples: int  # telemetry-phase runs of the tier in the training split
    outcome_counts: Mapping[str, int]
    wall_timeouts: int  # runs the runner killed at the timeout (``timed_out``)
    timeout_rate: RateEstimate
    conditional: Mapping[str, RateEstimate]
    duration: DurationModel | None
    gof: GoodnessOfFit | None
    timeout_for_rate: Mapping[float, float | None]
    load_sensitivity: Mapping[str, Any]
    #: Jeffreys draws of each conditional rate (for the validation stage; not exported).
    posterior: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    #: Reported timeouts, duration model status, recommendations (``stats.timeouts``).
    timeouts: TierTimeouts | None = None
    #: why the tier is ``failed``: the dominant VERIFIER_ERROR message (None otherwise)
    failed_reason: str | None = None
    #: Outcomes and durations against run order (``stats.stationarity``).
    stationarity: Stationarity | None = None

    def distribution_export(self) -> dict[str, Any]:
        """The ``timeout_distribution`` mapping (``type`` None when there is no model).

        ``timeouts`` is fitted whenever the tier has runs (``stats.timeouts`` writes the
        mapping); without runs there is no model.
        """
        if self.timeouts is not None:
            return self.timeouts.distribution_export()
        return {
            "type": None,
            "unit": "ms",
            "params": {},
            "goodness_of_fit": self.gof.to_export() if self.gof else {},
            "status": INSUFFICIENT,
        }

    def to_export(self) -> dict[str, Any]:
        """This tier's ``noise_models`` entry (plan keys first, then the additive ones).

        * ``timeout_rate``, ``spurious_fail_rate``, ``spurious_pass_rate``,
          ``timeout_given_valid``, ``timeout_given_invalid``: rates (definitions in
          ``calib_async.stats.rates``), each with ``<name>_ci`` = [lo, hi]; None when the data
          cannot support the rate (see ``counts.<name>.status``).
        * ``timeout_distribution``: ``type`` (scipy family or None), ``unit`` ("ms"),
          ``params`` (named, loc fixed at 0), ``loglik``, ``aic``, ``goodness_of_fit``
          (``calib_async.stats.gof``), ``censoring`` counts, ``status``.
        * ``training_samples``: telemetry runs of the tier in the training split.
        * ``status``: "ok" | "partial" | "no_records" | "no_completed_runs" | "drift" |
          "load_burst" (the last two: ``stationarity`` rejects; they replace "ok" and
          "partial", and ``status_reason`` says what changed, with the numbers).
        * ``stationarity``: ``calib_async.stats.stationarity``.
        * ``counts``: runs, runs per outcome, wall-clock kills, and per rate its status, method
          and counts (n, k; or labelled, events, weighted totals, undetermined, unlabelled
          strata).
        * ``candidates``: every family's params, free-parameter count, loglik, aic, status.
        * ``timeout_for_rate``: {target timeout rate: smallest budget in seconds, or None
          when unreachable} (``timeout_for_rate_unit`` = "s"); ``timeout_recommendations``:
          per target the budget, method, ``extrapolated``, ``bounded_by_observed`` and the
          reason when unreachable (``calib_async.stats.timeouts``).
        * ``load_sensitivity``: ``calib_async.stats.load``.
        * ``<rate>_bounds`` for the four conditional rates: the identification interval
          [lower, upper] when every UNDETERMINED label may be either truth; ``<rate>_ci``
          covers the true rate anywhere in it. ``undetermined_share``: estimated share of
          the tier's runs whose truth the labels left undetermined. A rate's status is
          "partial" (undetermined labels; ``rate`` None when a stratum has no determined
          label), "low_labels" (a stratum with 1-2 determined labels) or "ok"
          (``calib_async.stats.rates``).
        """
        out: dict[str, Any] = {}
        for name in ("timeout_rate", "spurious_fail_rate", "spurious_pass_rate"):
            est = self.rate(name)
            out[name] = est.rate
            out[f"{name}_ci"] = list(est.ci) if est.ci else None
        out["timeout_distribution"] = self.distribution_export()
        out["training_samples"] = self.training_samples
        for name in ("timeout_given_valid", "timeout_given_invalid"):
            est = self.rate(name)
            out[name] = est.rate
            out[f"{name}_ci"] = list(est.ci) if est.ci else None
        out["status"] = self.status
        if self.failed_reason is not None:
            out["failed_reason"] = self.failed_reason
        if self.stationarity is not None and self.stationarity.broken:
            out["status_reason"] = self.stationarity.message()
        out["timeout_s"] = self.timeout_s
        out["counts"] = {
            "records": self.training_samples,
            "outcomes": dict(self.outcome_counts),
            "wall_timeouts": self.wall_timeouts,
            **{
                name: {"status": est.status, "method": est.method, **est.counts}
                for name, est in self.rates().items()
            },
        }
        out["candidates"] = {
            c.name: {
                "params": dict(c.params) if c.params else None,
                "cure_fraction": c.cure_fraction if c.cure else None,
                "n_params": c.n_params,
                "loglik": c.loglik,
                "aic": c.aic,
                "status": c.status,
                **({"message": c.message} if c.message else {}),
            }
            for c in (self.duration.candidates if self.duration else ())
        }
        out["timeout_for_rate"] = dict(self.timeout_for_rate)
        out["timeout_for_rate_unit"] = "s"
        if self.timeouts is not None:
            out["timeout_recommendations"] = {
                r.target: r.to_export() for r in self.timeouts.recommendations
            }
        out["load_sensitivity"] = dict(self.load_sensitivity)
        if self.stationarity is not None:
            out["stationarity"] = self.stationarity.to_export()
        for name, est in self.conditional.items():  # partial identification (stats.rates)
            out[f"{name}_bounds"] = list(est.bounds) if est.bounds else None
        shares = [e.counts.get("undetermined_share") for e in self.conditional.values()]
        out["undetermined_share"] = next((s for s in shares if s is not None), None)
        return out

    def rates(self) -> dict[str, RateEstimate]:
        return {"timeout_rate": self.timeout_rate, **self.conditional}

    def rate(self, name: str) -> RateEstimate:
        return self.rates()[name]


def exact_rate(name: str, k: int, n: int, confidence: float = 0.95) -> RateEstimate:
    """k / n with its Clopper–Pearson interval (rare timeouts: ``stats.binomial``)."""
    counts = {"n": int(n), "k": int(k)}
    if n <= 0:
        return RateEstimate(name, None, None, INSUFFICIENT, CLOPPER_PEARSON, counts)
    return RateEstimate(name, k / n, clopper_pearson(k, n, confidence), OK, CLOPPER_PEARSON, counts)


def fit_tier(
    tier: str,
    timeout_s: float,
    runs: RunColumns,
    labels: LabelColumns,
    *,
    load_runs: RunColumns | None = None,
    bootstrap: int = 99,
    confidence: float = 0.95,
    rng: np.random.Generator,
    targets: Sequence[float] = DEFAULT_TARGETS,
    resolution_ms: float = DEFAULT_RESOLUTION_MS,
    bootstrap_max_n: int = DEFAULT_MAX_N,
    soft: SoftLabels | None = None,
    unverified: str | None = None,
    dominant_error: str | None = None,
    ladders: RunColumns | None = None,
) -> TierFit:
    """Fit one tier's noise model from its (training) runs and labels.

    ``load_runs`` (default ``runs``) are the runs the load-sensitivity diagnostic looks at.
    ``soft``: the labels' error model (``calib_async.stats.label_error``); ``unverified``:
    why this tier's labels cannot be trusted (its rates become ``unverified_labels``).
    ``dominant_error``: the most common first error line of its VERIFIER_ERROR runs, named
    when the tier is ``failed`` (most runs VERIFIER_ERROR). ``ladders``: the escalation
    attempts of the same items, which watch killed runs beyond the budget
    (``calib_async.stats.escalations``).
    """
    n = len(runs)
    outcome_counts = np.bincount(runs.outcome, minlength=len(OUTCOMES))
    n_timeout = int(outcome_counts[TIMEOUT_CODE])
    wall = int(runs.timed_out.sum())
    timeout_rate = exact_rate("timeout_rate", n_timeout, n, confidence)
    conditional, posterior = conditional_rates(
        outcome_counts, labels, confidence=confidence, rng=rng, soft=soft
    )
    if unverified:
        conditional = {k: mark_unverified(e, unverified) for k, e in conditional.items()}
    timeouts: TierTimeouts | None = None
    table: dict[float, float | None] = dict.fromkeys(float(t) for t in targets)
    if n:
        timeouts = fit_tier_timeouts(
            runs,
            timeout_s,
            bootstrap=bootstrap,
            rng=rng,
            confidence=confidence,
            targets=targets,
            resolution_ms=resolution_ms,
            bootstrap_max_n=bootstrap_max_n,
            ladders=ladders,
            replicates=bootstrap,
        )
        table = timeouts.timeout_for_rate()
    duration = timeouts.model if timeouts else None
    gof = timeouts.gof if timeouts else None
    load = load_sensitivity(
        load_runs if load_runs is not None else runs, alpha=round(1 - confidence, 12)
    )
    failed = n > 0 and outcome_counts[ERROR_CODE] > FAILED_SHARE * n
    if n == 0:
        status = TIER_NO_RECORDS
    elif failed:
        status = TIER_FAILED
    elif duration is not None and duration.n_events + duration.n_interval == 0:
        status = TIER_NO_COMPLETED_RUNS
    elif (duration is None or duration.chosen is None) or any(
        e.status != OK for e in conditional.values()
    ):
        status = TIER_PARTIAL
    else:
        status = TIER_OK
    stationarity = check_stationarity(
        load_runs if load_runs is not None else runs, alpha=round(1 - confidence, 12)
    )
    if stationarity.broken and status in (TIER_OK, TIER_PARTIAL):
        status = stationarity.status
    return TierFit(
        tier=tier,
        timeout_s=float(timeout_s),
        status=status,
        training_samples=n,
        outcome_counts={o.value: int(c) for o, c in zip(OUTCOMES, outcome_counts, strict=True)},
        wall_timeouts=wall,
        timeout_rate=timeout_rate,
        conditional=conditional,
        duration=duration,
        gof=gof,
        timeout_for_rate=table,
        load_sensitivity=load,
        posterior=posterior,
        timeouts=timeouts,
        failed_reason=(
            f"{int(outcome_counts[ERROR_CODE])} of {n} runs VERIFIER_ERROR: "
            + (dominant_error or "no error message")
        )
        if failed
        else None,
        stationarity=stationarity,
    )
