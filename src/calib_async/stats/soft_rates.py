"""The conditional rates, over hard labels or pooled over the labels' own error model.

One entry point for the fit and the validation stage: with ``soft`` (the reference's error
model, :mod:`calib_async.stats.label_error`) the rates are pooled over its imputations;
without it they are :func:`calib_async.stats.rates.conditional_rates` over the labels as given.
"""

from __future__ import annotations

import numpy as np

from calib_async.stats import rates
from calib_async.stats.label_error import SoftLabels, pooled_rates
from calib_async.stats.record_arrays import LabelColumns

__all__ = ["conditional_rates"]


def conditional_rates(
    outcome_counts: np.ndarray,
    labels: LabelColumns,
    *,
    confidence: float = 0.95,
    draws: int = 10000,
    rng: np.random.Generator,
    soft: SoftLabels | None = None,
) -> tuple[dict[str, rates.RateEstimate], dict[str, np.ndarray]]:
    """The four conditional rates with bounds, intervals and posterior draws."""
    if soft is not None:
        return pooled_rates(
            outcome_counts, labels, soft, confidence=confidence, draws=draws, rng=rng
        )
    return rates.conditional_rates(
        outcome_counts, labels, confidence=confidence, draws=draws, rng=rng
    )
