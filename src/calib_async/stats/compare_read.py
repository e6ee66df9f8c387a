"""Reading one calibration export for :mod:`calib_async.stats.compare` (keys documented there).

Every malformed value raises CalibError naming the file ("A"/"B") and the key; absent optional
keys give a side with no estimate and a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calib_async.errors import CalibError

#: The export schema this comparison understands (``calibration_metadata.schema_version``).
from calib_async.version import SCHEMA_VERSION as SUPPORTED_SCHEMA

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Side:
    """One file's view of one rate: estimate, interval, exact counts if any, and a note."""

    value: float | None
    ci: tuple[float, float] | None
    counts: tuple[int, int] | None  # (k, n), exact binomial
    confidence: float
    note: str = ""


def read_document(doc: Any, name: str) -> tuple[dict[str, Any], float, str]:
    """(noise_models by tier key, interval confidence, schema version) of an export."""
    hint = "pass two YAML files written by calibrate_noise --export"
    if not isinstance(doc, Mapping) or not isinstance(doc.get("calibration_metadata"), Mapping):
        raise CalibError(f"{name} is not a calibration file (no calibration_metadata); {hint}")
    models = doc.get("noise_models")
    if not isinstance(models, Mapping):
        raise CalibError(f"{name} is not a calibration file (no noise_models mapping); {hint}")
    schema = doc["calibration_metadata"].get("schema_version")
    if schema != SUPPORTED_SCHEMA:
        raise CalibError(
            f"{name} has schema_version {schema!r}, this tool reads {SUPPORTED_SCHEMA!r}; "
            "re-export it with this version of calibrate_noise"
        )
    confidence = DEFAULT_CONFIDENCE
    coverage = doc.get("validation_report")
    coverage = coverage.get("coverage") if isinstance(coverage, Mapping) else None
    nominal = coverage.get("nominal") if isinstance(coverage, Mapping) else None
    if nominal is not None:
        confidence = as_number(nominal, "validation_report.coverage.nominal", name)
        if not 0.0 < confidence < 1.0:
            raise CalibError(f"{name}: validation_report.coverage.nominal must be in (0, 1)")
    return {str(k): v for k, v in models.items()}, confidence, str(schema)


def as_mapping(value: Any, where: str, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CalibError(f"{name}: {where} is not a mapping; is the file a calibration export?")
    return value


def as_number(value: Any, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise CalibError(f"{name}: {where} is {value!r}, not a number; re-export the file")
    return float(value)


def read_side(
    tier: Mapping[str, Any],
    key: str,
    counts: tuple[int, int] | None,
    confidence: float,
    where: str,
) -> Side:
    """Value, interval and counts of ``tier[key]``; checks types, range and consistency."""
    raw = tier.get(key)
    if raw is None:
        return Side(None, None, None, confidence, "no estimate")
    value = as_number(raw, f"{key}", where)
    raw_ci = tier.get(f"{key}_ci")
    ci = None
    if raw_ci is not None:
        if not isinstance(raw_ci, list | tuple) or len(raw_ci) != 2:
            raise CalibError(f"{where}.{key}_ci is {raw_ci!r}, not [low, high]; re-export it")
        lo, hi = (as_number(x, f"{key}_ci", where) for x in raw_ci)
        ci = (lo, hi)
    tol = 1e-9
    if not (0.0 <= value <= 1.0) or (ci and not -tol <= ci[0] <= value + tol <= ci[1] + 2 * tol):
        raise CalibError(f"{where}.{key}: estimate or interval outside [0, 1] or out of order")
    if ci and ci[1] > 1.0 + tol:
        raise CalibError(f"{where}.{key}_ci: interval outside [0, 1]")
    if counts is not None:
        k, n = counts
        if not (0 <= k <= n and n > 0 and abs(k / n - value) <= 1e-9):
            raise CalibError(f"{where}.counts.{key}: k={k}, n={n} disagree with {key}={value}")
    return Side(value, ci, counts, confidence)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def standard_side(tier: Mapping[str, Any], name: str, confidence: float, where: str) -> Side:
    counts_all = tier.get("counts")
    counts_all = counts_all if isinstance(counts_all, Mapping) else {}
    c = counts_all.get(name)
    c = c if isinstance(c, Mapping) else {}
    exact: tuple[int, int] | None = None
    if name == "timeout_rate":
        k, n = as_int(c.get("k")), as_int(c.get("n"))
        exact = (k, n) if k is not None and n is not None and n > 0 else None
    else:
        k, n = as_int(c.get("n_events")), as_int(c.get("n_labelled"))
        census = (
            k is not None
            and n is not None
            and n > 0
            and c.get("n_undetermined") == 0
            and not c.get("unlabelled_strata")
            and c.get("n_determined") == counts_all.get("records")
            and isinstance(c.get("weighted_total"), int | float)
            and abs(c["weighted_total"] - n) <= 1e-9
        )
        exact = (k, n) if census else None  # type: ignore[assignment]
    side = read_side(tier, name, exact, confidence, where)
    status = c.get("status")
    if side.value is not None and status not in (None, "ok"):
        side = Side(side.value, side.ci, side.counts, confidence, f"status {status}")
    elif side.value is None and status:
        side = Side(None, None, None, confidence, f"status {status}")
    return side


def flip_holder(tier: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if "flip_rate" in tier:
        return tier
    flips = tier.get("flips")
    return flips if isinstance(flips, Mapping) and "flip_rate" in flips else None
