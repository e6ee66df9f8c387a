"""Timeout prediction from a fitted duration model, usable on the exported dict alone.

The fitted model gives the survival S(t) = P(a run is still going at t) of one tier's runs,
so the timeout rate at any budget T' is predicted as S(T'), and the smallest budget whose
predicted timeout rate is at most r is S^{-1}(r) (``isf``). Budgets above the tier's own
timeout extrapolate the fitted tail beyond the data; those below interpolate.

Note: the duration model describes the runs the runner would kill (wall-clock timeouts);
heartbeat timeouts the checker reports by itself are events in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy import stats

DEFAULT_TARGETS: tuple[float, ...] = (0.05, 0.01)

_FAMILIES = ("expon", "gamma", "lognorm", "weibull_min")


def _frozen(distribution_export: Mapping[str, Any]) -> Any:
    family = distribution_export.get("type")
    params = distribution_export.get("params") or {}
    if family not in _FAMILIES:
        raise ValueError(
            f"timeout_distribution type {family!r} cannot predict; expected one of {_FAMILIES}"
        )
    dist = getattr(stats, family)
    scale = float(params["scale"])
    if family == "expon":
        return dist(loc=0.0, scale=scale)
    return dist(float(params["shape"]), loc=0.0, scale=scale)


def predict_timeout_rate(distribution_export: Mapping[str, Any], timeout_s: float) -> float:
    """Predicted timeout rate S(T') at a budget of ``timeout_s`` seconds.

    ``distribution_export`` is a tier's exported ``timeout_distribution`` mapping
    (``{"type": "weibull_min", "params": {"shape": ..., "scale": ...}, ...}``, scale in ms).
    Raises ValueError when the mapping holds no fitted model (``type`` None).
    """
    if timeout_s < 0:
        raise ValueError(f"timeout_s must be >= 0, not {timeout_s}")
    return float(_frozen(distribution_export).sf(float(timeout_s) * 1000.0))


def timeout_for_rate(distribution_export: Mapping[str, Any], target_rate: float) -> float:
    """Smallest budget in seconds whose predicted timeout rate is at most ``target_rate``."""
    if not 0.0 < target_rate < 1.0:
        raise ValueError(f"target_rate must be in (0, 1), not {target_rate}")
    value = float(_frozen(distribution_export).isf(target_rate)) / 1000.0
    return value if math.isfinite(value) else math.inf


def timeout_table(
    distribution_export: Mapping[str, Any], targets: Sequence[float] = DEFAULT_TARGETS
) -> dict[float, float]:
    """``{target rate: smallest budget in seconds}`` for each target."""
    return {float(r): timeout_for_rate(distribution_export, r) for r in targets}
