"""Reading values out of an export for the verdict: tiers in order, a table row by rate, an
interval, a finite number or an integer (``None`` when the value is missing or malformed)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def models(export: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(tier name as configured, model), in the export's tier order."""
    models = export.get("noise_models")
    if not isinstance(models, Mapping):
        return []
    meta = export.get("calibration_metadata")
    names = meta.get("tiers") if isinstance(meta, Mapping) else None
    display = {str(k).lower(): str(k) for k in names} if isinstance(names, Mapping) else {}
    return [
        (display.get(str(k).lower(), str(k).upper()), v)
        for k, v in models.items()
        if isinstance(v, Mapping)
    ]


def by_rate(table: Any, target: float) -> Any:
    if not isinstance(table, Mapping):
        return None
    for key, value in table.items():
        try:
            if abs(float(key) - target) < 1e-9:
                return value
        except (TypeError, ValueError):
            continue
    return None


def ci(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        a, b = num(value[0]), num(value[1])
        if a is not None and b is not None:
            return a, b
    return None


def num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def as_int(value: Any) -> int | None:
    return int(value) if num(value) is not None else None


def bootstrap_text(rec: Any) -> str:
    """`` [0.41, 0.63]``, `` [0.41, unreachable]``, `` [unreachable]`` or "": a recommendation's
    bootstrap interval in seconds (``timeout_s_bootstrap_ci``; null: unreachable)."""
    ci = rec.get("timeout_s_bootstrap_ci") if isinstance(rec, Mapping) else None
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return ""
    low, high = num(ci[0]), num(ci[1])
    if low is None:
        return " [unreachable]"
    return f" [{low:.3g}, {'unreachable' if high is None else f'{high:.3g}'}]"


def concurrency_interval(entry: Mapping[str, Any]) -> str:
    """`` [2, 8]``, `` [2, ≥ 16]`` (capped at the largest tested level) or "": the interval of
    a load fit's ``max_concurrency_for_rate`` entry (``stats.load_fit``)."""
    ci = entry.get("interval")
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return ""
    low = "< tested" if ci[0] is None else str(ci[0])
    high = "< tested" if ci[1] is None else f"{'≥ ' if entry.get('interval_capped') else ''}{ci[1]}"
    return f" [{low}, {high}]"
