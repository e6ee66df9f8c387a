"""Stages 4-5 entry point: split by item, fit each tier on the training items, validate.

Pure functions over records (no processes, no I/O); the pipeline runs them in a worker
thread. Everything random is seeded from ``seed``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from calib_async.labels.latent import ItemEvidence
from calib_async.records import LabeledRecord, Outcome, Phase, TelemetryRecord, Tier
from calib_async.stats.label_error import LabelErrorModel
from calib_async.stats.record_arrays import split_items, to_columns
from calib_async.stats.tier_fit import TierFit, fit_tier
from calib_async.stats.validation import ValidationReport, validate

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CalibrationFit:
    """Per-tier fits (training split) and the held-out validation report."""

    tiers: Mapping[str, TierFit]
    validation: ValidationReport
    seed: int
    validation_split: float
    bootstrap: int
    confidence: float
    n_items: int
    held_out_items: frozenset[str] = frozenset()  # item ids of the validation split
    #: the reference's error model (``calib_async.stats.label_error``); None without votes
    label_model: Mapping[str, Any] | None = None

    def to_export(self) -> dict[str, Any]:
        """Plain Python types only (no numpy scalars, no tuples, non-finite floats as None)."""
        exported: dict[str, Any] = plain(
            {
                "noise_models": {name: fit.to_export() for name, fit in self.tiers.items()},
                "validation_report": self.validation.to_export(),
                "statistics": {
                    "confidence": self.confidence,
                    "bootstrap": self.bootstrap,
                    "validation_split": self.validation_split,
                    "seed": self.seed,
                    "items": self.n_items,
                    "duration_unit": "ms",
                    "rate_intervals": {
                        "timeout_rate": "clopper_pearson (exact)",
                        "conditional rates": "stratified ratio, HT weights, Jeffreys Monte Carlo",
                    },
                    "split": "by item; models fitted on the training items only",
                    "label_model": self.label_model,
                },
            }
        )
        return exported


def plain(value: Any) -> Any:
    """Recursively convert numpy scalars/arrays and tuples to plain Python for YAML."""
    if isinstance(value, Mapping):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _key(k: Any) -> Any:
    if isinstance(k, np.floating):
        return float(k)
    if isinstance(k, np.integer):
        return int(k)
    return k


def dominant_errors(telemetry: Sequence[TelemetryRecord]) -> dict[str, str]:
    """tier -> the most common message of its telemetry-phase VERIFIER_ERROR runs."""
    by_tier: dict[str, Counter[str]] = defaultdict(Counter)
    for r in telemetry:
        if r.outcome == Outcome.VERIFIER_ERROR and r.phase == Phase.TELEMETRY:
            text = r.first_error or r.message or "no error message"
            by_tier[r.tier][text.strip().splitlines()[0][:200] if text.strip() else text] += 1
    return {tier: c.most_common(1)[0][0] for tier, c in by_tier.items()}


def _rng(seed: int, *path: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed % 2**32, *path]))


def fit_and_validate(
    telemetry: Sequence[TelemetryRecord],
    labeled: Sequence[LabeledRecord],
    *,
    tiers: Sequence[Tier],
    validation_split: float,
    seed: int,
    bootstrap: int = 99,
    confidence: float = 0.95,
    on_fitted: Callable[[], None] | None = None,
    reference: Mapping[str, ItemEvidence] | None = None,
    own_judge: Mapping[str, str] | None = None,
    ladders: Sequence[TelemetryRecord] = (),
) -> CalibrationFit:
    """Fit every tier on the training items and validate on the held-out items.

    * Items (``item_id``) are split once, seeded by ``seed``: a fraction ``validation_split``
      is held out, the rest trains every tier. One item's runs in all tiers stay together.
    * Per tier (``calib_async.stats.tier_fit.fit_tier``): the timeout rate with a
      Clopper–Pearson interval, the four conditional rates with the stratified ratio
      estimator, the censored duration model chosen by AIC with its goodness of fit
      (``bootstrap`` parametric-bootstrap replicates; 0 disables the p-value), predicted
      budgets for target timeout rates, and the load-sensitivity diagnostic (over all the
      tier's runs).
    * Validation (``calib_async.stats.validation.validate``) on the held-out items.

    * ``reference``: item id -> the votes behind its label. The reference's own error is then
      modelled (``calib_async.labels.latent``, fitted on the training items) and the
      conditional rates corrected for it (``calib_async.stats.label_error``); the rates are
      ``unverified_labels`` when the votes do not identify that error. ``own_judge``: tier ->
      why its labels come from its own check (those rates are ``unverified_labels`` too).
    * ``ladders``: the ground-truth stage's runs; the tiers' escalation attempts among them
      watch killed runs beyond the budget (``calib_async.stats.escalations``).

    A tier without data gets a result with a ``status`` saying so; this never raises for
    lack of data. ``validation_split`` must be in [0, 1); ``bootstrap`` >= 0.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), not {validation_split}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, not {bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    names = [t.name for t in tiers]
    cols = to_columns([*telemetry, *ladders], labeled, names)
    if cols.foreign_strata:
        log.warning(
            "labelled records with a stratum other than tier|outcome; "
            "weights are recomputed per (tier, outcome)",
            count=cols.foreign_strata,
        )
    held_items = split_items(cols.items, validation_split, seed)
    model = LabelErrorModel.fit(reference, cols.items, held_items, seed) if reference else None
    own_judge = dict(own_judge or {})
    errors = dominant_errors(telemetry)
    fits: dict[str, TierFit] = {}
    held_soft = {}
    held_runs = {}
    held_labels = {}
    for i, tier in enumerate(tiers):
        runs, labels = cols.runs[tier.name], cols.labels[tier.name]
        tier_ladders = cols.ladders.get(tier.name)
        if tier_ladders is not None and len(tier_ladders):
            tier_ladders = tier_ladders.subset(~held_items[tier_ladders.item])
        run_held = held_items[runs.item] if len(runs) else np.zeros(0, dtype=bool)
        lab_held = held_items[labels.item] if len(labels) else np.zeros(0, dtype=bool)
        train_labels, held_label_cols = labels.subset(~lab_held), labels.subset(lab_held)
        reason = own_judge.get(tier.name)
        soft = model.soft(train_labels, cols.items, reason) if model else None
        if model is not None:
            held_soft[tier.name] = model.soft(held_label_cols, cols.items, reason)
        fits[tier.name] = fit_tier(
            tier.name,
            tier.timeout_s,
            runs.subset(~run_held),
            train_labels,
            load_runs=runs,
            bootstrap=bootstrap,
            confidence=confidence,
            rng=_rng(seed, i, 1),
            soft=soft,
            unverified=reason,
            dominant_error=errors.get(tier.name),
            ladders=tier_ladders,
        )
        held_runs[tier.name] = runs.subset(run_held)
        held_labels[tier.name] = labels.subset(lab_held)
        log.debug("tier fitted", tier=tier.name, status=fits[tier.name].status)
    if on_fitted is not None:  # stage 4 is done; stage 5 (validation) starts
        on_fitted()
    report = validate(
        list(fits.values()),
        held_runs,
        held_labels,
        n_held_items=int(held_items.sum()),
        confidence=confidence,
        rng=_rng(seed, len(tiers), 2),
        held_soft=held_soft or None,
    )
    return CalibrationFit(
        tiers=fits,
        validation=report,
        seed=seed,
        validation_split=validation_split,
        bootstrap=bootstrap,
        confidence=confidence,
        n_items=len(cols.items),
        held_out_items=frozenset(np.asarray(cols.items, dtype=object)[held_items].tolist()),
        label_model=model.to_export() if model else None,
    )
