"""Timeout prediction from an exported ``timeout_distribution`` mapping alone.

P(timeout at budget t) = h + (1 - h) S(t), with S(t) = pi + (1 - pi) S_b(t) the fitted
survival of the wall-clock runs (``cure_fraction`` pi), h the share of timeouts the checker
reported itself (``reported_timeout_share``); both default to 0, so files from before they
existed predict S_b(t) as before. A ``misfit`` model predicts from its Kaplan–Meier knots up
to the largest observed budget and refuses beyond it. The smallest budget meeting a target r
is infinite when r is at or below the floor h + (1 - h) pi (no budget reaches it).

The evaluation is the consumer's (``calib_async.stats.survival.SurvivalModel``), so the
stats stage and ``NoiseModel`` cannot disagree. The tier fit's own recommendations
(``calib_async.stats.timeouts``) also keep them from undercutting the observed data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from calib_async.errors import CalibError
from calib_async.stats.survival import SurvivalModel

DEFAULT_TARGETS: tuple[float, ...] = (0.05, 0.01)


def _model(distribution_export: Mapping[str, Any]) -> SurvivalModel:
    try:
        model = SurvivalModel.from_export(distribution_export)
    except CalibError as exc:
        raise ValueError(f"timeout_distribution cannot predict: {exc}") from None
    if model is None:
        raise ValueError("timeout_distribution holds no fitted model (type None); cannot predict")
    return model


def predict_timeout_rate(distribution_export: Mapping[str, Any], timeout_s: float) -> float:
    """Predicted timeout rate at a budget of ``timeout_s`` seconds.

    ``distribution_export`` is a tier's exported ``timeout_distribution`` mapping (scale in
    ms). Raises ValueError when it holds no fitted model, or when a ``misfit`` model is asked
    beyond its largest observed budget.
    """
    if timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0, not {timeout_s}")
    value = _model(distribution_export).timeout_probability(float(timeout_s))
    if value is None:
        raise ValueError(f"the duration model is misfit: {timeout_s} s is beyond its data")
    return value


def timeout_for_rate(distribution_export: Mapping[str, Any], target_rate: float) -> float:
    """Smallest budget in seconds whose predicted timeout rate is at most ``target_rate``.

    ``math.inf`` when no budget reaches the target (at or below the floor, or not identified).
    """
    if not 0.0 < target_rate < 1.0:
        raise ValueError(f"target_rate must be in (0, 1), not {target_rate}")
    value = _model(distribution_export).seconds_for_rate(target_rate)
    return math.inf if value is None else value


def timeout_table(
    distribution_export: Mapping[str, Any], targets: Sequence[float] = DEFAULT_TARGETS
) -> dict[float, float]:
    """``{target rate: smallest budget in seconds}`` for each target."""
    return {float(r): timeout_for_rate(distribution_export, r) for r in targets}
