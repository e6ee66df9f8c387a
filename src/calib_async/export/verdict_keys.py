"""Export keys the per-tier verdict reads (additive; :mod:`calib_async.stats.verdict_intervals`).

Per noise model:

- ``youden_j``, ``youden_j_ci``: 1 − spurious-fail − spurious-pass and its MOVER interval;
- ``timeout_recommendations.<target>.timeout_s_ci``: the distribution-free interval of the
  budget that meets the target, from the tier's training runs (an end is null when the data
  cannot bound it: the upper end lies among the runs that timed out).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from calib_async.records import Outcome, Phase, TelemetryRecord
from calib_async.stats.verdict_intervals import budget_interval, youden_j


def add_verdict_keys(
    export: Mapping[str, Any],
    telemetry: Sequence[TelemetryRecord],
    *,
    held_out: Collection[str] = (),
    confidence: float = 0.95,
) -> None:
    """Add the keys above to every noise model of ``export``, in place."""
    models = export.get("noise_models")
    if not isinstance(models, Mapping):
        return
    held = frozenset(held_out)
    for name, model in models.items():
        if not isinstance(model, dict):
            continue
        j, ci = youden_j(
            _num(model.get("spurious_fail_rate")),
            model.get("spurious_fail_rate_ci"),
            _num(model.get("spurious_pass_rate")),
            model.get("spurious_pass_rate_ci"),
        )
        model["youden_j"] = j
        model["youden_j_ci"] = list(ci) if ci is not None else None
        recs = model.get("timeout_recommendations")
        if not isinstance(recs, Mapping):
            continue
        durations = [
            None if r.outcome == Outcome.VERIFIER_TIMEOUT.value or r.timed_out
            else r.duration_ms / 1000.0
            for r in telemetry
            if r.tier.lower() == str(name).lower()
            and r.phase == Phase.TELEMETRY.value
            and r.attempt == 0
            and r.item_id not in held
        ]  # fmt: skip
        for target, rec in recs.items():
            rate = _num(_float_key(target))
            if not isinstance(rec, dict) or rate is None:
                continue
            interval = budget_interval(durations, rate, confidence)
            rec["timeout_s_ci"] = None if interval is None else [
                None if v is None else round(v, 4) for v in interval
            ]  # fmt: skip


def _float_key(key: Any) -> float | None:
    try:
        return float(key)
    except (TypeError, ValueError):
        return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
