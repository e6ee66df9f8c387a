"""Conditional rates corrected for the reference's own error (``calib_async.labels.latent``).

The labels come from a reference that is itself a checker. Under the latent-class model of
its votes (sensitivity and specificity per source, fitted by EM), a labelled run's votes
give a likelihood ratio ``LR_i = P(votes | valid) / P(votes | invalid)``. Within one
(tier, outcome) stratum h the true valid share is ``theta_h``, so the run's truth has
posterior odds ``LR_i theta_h / (1 - theta_h)``: the tier's outcome is used through the
stratum, under the assumption the correction needs anyway (the checker's outcome and the
reference's votes are independent given the truth). Estimating ``theta_h`` from this
mixture is the Rogan–Gladen correction generalised to items with several votes: with one
vote per item and known error rates it reduces to ``(a_h + sp - 1) / (se + sp - 1)``.

**Multiple imputation.** For each of ``B`` bootstrap refits of the error model (the error
rates' own uncertainty), a short Gibbs chain draws ``theta_h ~ Beta(v_h + 1/2, n_h - v_h +
1/2)`` and each run's truth from its posterior, alternately; the imputed labels then go
through the ordinary estimator (``calib_async.stats.rates``: stratified ratio, Jeffreys Monte
Carlo, Manski bounds for runs still undetermined). The pooled draws of all imputations give
the interval, the mean of the imputations' estimates the point. Runs whose item has no vote
keep their label (UNDETERMINED ones stay partially identified).

**Status.** When the votes do not identify the reference's error (fewer than three
independent sources), or the tier judges itself (its own profile is a consensus source),
every rate that rests on the labels has status ``unverified_labels`` and says why. The
correction is still applied when a source voted more than once on some item (its flips are
measured); with one vote per source and item and too few sources, the labels are used as
they are (any correction would come from the prior, not the data).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calib_async.labels.latent import (
    Identification,
    ItemEvidence,
    ReferenceModel,
    bootstrap_models,
    fit_reference_model,
    identification,
)
from calib_async.stats.rates import (
    INSUFFICIENT,
    LOW_LABELS,
    UNVERIFIED,
    RateEstimate,
    rates_once,
)
from calib_async.stats.record_arrays import (
    OUTCOMES,
    TRUTH_INVALID,
    TRUTH_UNDETERMINED,
    TRUTH_VALID,
    LabelColumns,
)

#: Bootstrap refits of the error model (imputations) and Gibbs sweeps per imputation.
IMPUTATIONS = 10
SWEEPS = 8


@dataclass(frozen=True, slots=True)
class SoftLabels:
    """Per labelled run: log LR of its item's votes under each refit, shape (B, n); NaN where
    the item has no evidence (its label is kept); +-inf for gold evidence."""

    log_lr: np.ndarray
    unverified: str | None = None  # why the labels' error is not identified, if it is not


def log_likelihood_ratio(model: ReferenceModel, ev: ItemEvidence) -> float:
    """log P(evidence | valid) / P(evidence | invalid) (prevalence left out)."""
    if not ev.informative:
        return float("nan")
    p = model.posterior_valid(ev)
    prior = model.prevalence
    if p >= 1.0:
        return float("inf")
    if p <= 0.0:
        return float("-inf")
    return float(np.log(p / (1 - p)) - np.log(prior / (1 - prior)))


def soft_labels(
    labels: LabelColumns,
    items: Sequence[str],
    evidence: Mapping[str, ItemEvidence],
    models: Sequence[ReferenceModel],
    *,
    unverified: str | None = None,
) -> SoftLabels:
    """The log LRs of ``labels``' runs (items index ``items``) under every model."""
    by_pattern: dict[ItemEvidence | None, np.ndarray] = {}
    out = np.full((max(len(models), 1), len(labels)), np.nan)
    for row, idx in enumerate(labels.item.tolist()):
        ev = evidence.get(items[idx])
        if ev not in by_pattern:  # a few distinct vote patterns: each computed once
            by_pattern[ev] = np.array(
                [log_likelihood_ratio(m, ev) if ev else np.nan for m in models] or [np.nan]
            )
        out[:, row] = by_pattern[ev]
    return SoftLabels(out, unverified)


def impute(
    labels: LabelColumns, log_lr: np.ndarray, rng: np.random.Generator, *, sweeps: int = SWEEPS
) -> np.ndarray:
    """One draw of every run's truth given its votes and its stratum (Gibbs, see module)."""
    truth = labels.truth.astype(np.int8).copy()
    voted = ~np.isnan(log_lr)
    if not voted.any():
        return truth
    k = len(OUTCOMES)
    stratum = labels.outcome.astype(np.int64)
    fixed_det = ~voted & (truth != TRUTH_UNDETERMINED)
    fixed_valid = np.bincount(stratum[fixed_det & (truth == TRUTH_VALID)], minlength=k)
    fixed_n = np.bincount(stratum[fixed_det], minlength=k)
    n_voted = np.bincount(stratum[voted], minlength=k)
    lr = log_lr[voted]
    with np.errstate(over="ignore"):
        p0 = 1.0 / (1.0 + np.exp(-np.clip(lr, -700, 700)))
    valid = fixed_valid + np.bincount(stratum[voted], weights=p0, minlength=k)
    n = fixed_n + n_voted
    theta = (valid + 0.5) / (n + 1.0)
    draw = np.zeros(int(voted.sum()), dtype=bool)
    for _ in range(max(sweeps, 1)):
        t = np.clip(theta[stratum[voted]], 1e-12, 1 - 1e-12)
        logit = lr + np.log(t / (1 - t))
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        draw = rng.random(p.shape) < p
        valid = fixed_valid + np.bincount(stratum[voted][draw], minlength=k)
        theta = rng.beta(valid + 0.5, n - valid + 0.5)
    truth[voted] = np.where(draw, TRUTH_VALID, TRUTH_INVALID)
    return truth


def pooled_rates(
    outcome_counts: np.ndarray,
    labels: LabelColumns,
    soft: SoftLabels,
    *,
    confidence: float,
    draws: int,
    rng: np.random.Generator,
) -> tuple[dict[str, RateEstimate], dict[str, np.ndarray]]:
    """The conditional rates pooled over the imputations (module docstring)."""
    b_count = soft.log_lr.shape[0]
    per = max(draws // b_count, 200)
    runs: list[dict[str, Any]] = []
    for b in range(b_count):
        truth = impute(labels, soft.log_lr[b], rng)
        imputed = dataclasses.replace(labels, truth=truth)
        runs.append(rates_once(outcome_counts, imputed, confidence=confidence, draws=per, rng=rng))
    tail = (1.0 - confidence) / 2
    estimates: dict[str, RateEstimate] = {}
    samples: dict[str, np.ndarray] = {}
    for name in runs[0]:
        parts = [r[name] for r in runs]
        ests = [p[0] for p in parts]
        status = Counter(e.status for e in ests).most_common(1)[0][0]
        sample = np.concatenate([p[1] for p in parts if p[1] is not None] or [np.zeros(0)])
        idents = [p[2] for p in parts if p[2] is not None]
        counts = dict(ests[0].counts)
        counts["n_labelled"] = float(np.mean([e.counts.get("n_labelled", 0) for e in ests]))
        counts["n_events"] = float(np.mean([e.counts.get("n_events", 0) for e in ests]))
        counts["imputations"] = b_count
        est = dataclasses.replace(ests[0], status=status, counts=counts)
        points = [e.rate for e in ests if e.rate is not None]
        rate = float(np.mean(points)) if points and len(points) == len(ests) else None
        if status == INSUFFICIENT or not idents:
            estimates[name] = dataclasses.replace(est, rate=None, ci=None, bounds=None)
            continue
        low = np.concatenate([i.low_draws for i in idents if i.low_draws is not None])
        high = np.concatenate([i.high_draws for i in idents if i.high_draws is not None])
        lo = float(np.quantile(low, tail))
        hi = max(float(np.quantile(high, 1 - tail)), 0.0)
        if rate is not None and status == LOW_LABELS and sample.size:
            rate = float(np.median(sample))
        if rate is not None:
            lo, hi = min(lo, rate), max(hi, rate)
        bounds = (
            float(np.mean([i.bounds[0] for i in idents])),
            float(np.mean([i.bounds[1] for i in idents])),
        )
        estimates[name] = dataclasses.replace(
            est,
            rate=rate,
            ci=(max(lo, 0.0), min(hi, 1.0)),
            bounds=bounds,
            method=est.method + "_latent_class_imputed",
        )
        if sample.size:
            samples[name] = sample
    if soft.unverified:
        estimates = {n: mark_unverified(e, soft.unverified) for n, e in estimates.items()}
    return estimates, samples


def mark_unverified(est: RateEstimate, reason: str) -> RateEstimate:
    """``est`` with status ``unverified_labels`` (unless there is no estimate at all)."""
    if est.status == INSUFFICIENT:
        return est
    counts = {**est.counts, "unverified_reason": reason, "status_before": est.status}
    return dataclasses.replace(est, status=UNVERIFIED, counts=counts)


@dataclass(frozen=True, slots=True)
class LabelErrorModel:
    """The reference's error model fitted on the training items, with its bootstrap refits."""

    evidence: Mapping[str, ItemEvidence]
    point: ReferenceModel | None
    refits: tuple[ReferenceModel, ...]
    identification: Identification
    training_items: int

    @staticmethod
    def fit(
        reference: Mapping[str, ItemEvidence],
        items: Sequence[str],
        held_out: np.ndarray,
        seed: int,
        *,
        imputations: int = IMPUTATIONS,
    ) -> LabelErrorModel:
        """Fit on the evidence of the training items (the held-out ones never inform it)."""
        held = {items[int(i)] for i in np.flatnonzero(held_out)}
        train = [ev for item, ev in sorted(reference.items()) if item not in held]
        informative = [ev for ev in train if ev.informative]
        point = fit_reference_model(informative) if informative else None
        refits = tuple(bootstrap_models(informative, imputations, seed, start=point))
        return LabelErrorModel(
            evidence=reference,
            point=point,
            refits=refits,
            identification=identification(train),
            training_items=len(informative),
        )

    def soft(
        self, labels: LabelColumns, items: Sequence[str], own_judge: str | None = None
    ) -> SoftLabels:
        """Soft labels of ``labels``; unverified when not identified or the tier judges
        itself (``own_judge``: why)."""
        ident = self.identification
        reason = own_judge or (None if ident.identified else ident.reason)
        if not ident.identified and not ident.repeats:
            # one vote per source and item, too few sources: the votes say nothing about the
            # error, so nothing is corrected (a correction would be the prior's, not the data's)
            return SoftLabels(np.full((1, len(labels)), np.nan), reason)
        return soft_labels(labels, items, self.evidence, self.refits, unverified=reason)

    def to_export(self) -> dict[str, Any]:
        return {
            "model": "two-class latent class (Dawid-Skene), EM; bootstrap refits imputed",
            "identified": self.identification.identified,
            "sources": list(self.identification.sources),
            "reason": self.identification.reason,
            "items": self.training_items,
            "imputations": len(self.refits),
            **(self.point.to_export() if self.point else {}),
        }
