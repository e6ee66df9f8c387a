"""Reading one calibration export for :mod:`calib_async.stats.compare` (keys documented there).

Every malformed value raises CalibError naming the file ("A"/"B") and the key; absent optional
keys give a side with no estimate and a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calib_async.errors import CalibError
from calib_async.model import (
    CalibrationDocument,
    CanaryModel,
    FlipsModel,
    RateStatus,
    TierModel,
    ValidationModel,
)

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


def read_document(doc: Any, name: str) -> tuple[dict[str, TierModel], float, str]:
    """(noise models by tier key, interval confidence, schema version) of an export, checked
    by :class:`calib_async.model.CalibrationDocument`; CalibError names the file and key."""
    hint = "pass two YAML files written by calibrate_noise --export"
    if not isinstance(doc, Mapping) or not isinstance(doc.get("calibration_metadata"), Mapping):
        raise CalibError(f"{name} is not a calibration file (no calibration_metadata); {hint}")
    if not isinstance(doc.get("noise_models"), Mapping):
        raise CalibError(f"{name} is not a calibration file (no noise_models mapping); {hint}")
    schema = doc["calibration_metadata"].get("schema_version")
    if schema != SUPPORTED_SCHEMA:
        raise CalibError(
            f"{name} has schema_version {schema!r}, this tool reads {SUPPORTED_SCHEMA!r}; "
            "re-export it with this version of calibrate_noise"
        )
    try:
        document = CalibrationDocument.read(doc)
        nominal = (document.validation_report or ValidationModel()).nominal_coverage
    except CalibError as exc:
        raise CalibError(f"{name}: {exc}") from None
    confidence = DEFAULT_CONFIDENCE if nominal is None else nominal
    if not 0.0 < confidence < 1.0:
        raise CalibError(f"{name}: validation_report.coverage.nominal must be in (0, 1)")
    return dict(document.noise_models), confidence, str(schema)


def read_side(
    value: float | None,
    ci: tuple[float, float] | None,
    counts: tuple[int, int] | None,
    confidence: float,
    where: str,
) -> Side:
    """A checked rate and interval as one side; checks that they and the counts agree."""
    if value is None:
        return Side(None, None, None, confidence, "no estimate")
    tol = 1e-9
    if ci and not -tol <= ci[0] <= value + tol <= ci[1] + 2 * tol:
        raise CalibError(f"{where}: estimate outside its interval; re-export the file")
    if counts is not None:
        k, n = counts
        if not (0 <= k <= n and n > 0 and abs(k / n - value) <= 1e-9):
            raise CalibError(f"{where}: counts k={k}, n={n} disagree with the rate {value}")
    return Side(value, ci, counts, confidence)


def standard_side(tier: TierModel, name: str, confidence: float, where: str) -> Side:
    """One of the five rates of ``tier``, with exact counts when the file has them."""
    rate = tier.rate(name)
    c = tier.counts.of(name) if tier.counts is not None else None
    exact: tuple[int, int] | None = None
    if c is not None and name == "timeout_rate":
        exact = (c.k, c.n) if c.k is not None and c.n is not None and c.n > 0 else None
    elif c is not None:
        k, n = _whole(c.n_events), _whole(c.n_labelled)
        census = (
            k is not None
            and n is not None
            and n > 0
            and c.n_undetermined == 0
            and not c.extra.get("unlabelled_strata")
            and tier.counts is not None
            and c.n_determined == tier.counts.records
            and c.weighted_total is not None
            and abs(c.weighted_total - n) <= 1e-9
        )
        exact = (k, n) if census and k is not None and n is not None else None
    side = read_side(rate.value, rate.ci, exact, confidence, f"{where}.{name}")
    status = rate.status
    if side.value is not None and status not in (None, RateStatus.OK):
        side = Side(side.value, side.ci, side.counts, confidence, f"status {status}")
    elif side.value is None and status:
        side = Side(None, None, None, confidence, f"status {status}")
    return side


def _whole(value: float | None) -> int | None:
    """A count written as an int (a float count is a weighted total, not exact)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def canary_side(entry: CanaryModel | None, confidence: float, where: str) -> Side:
    """One file's canary rate of one class."""
    if entry is None:
        return Side(None, None, None, confidence, "class absent")
    k, n = entry.passed, entry.run
    exact = (k, n) if k is not None and n is not None and n > 0 else None
    rate, ci = entry.spurious_pass_rate, entry.spurious_pass_rate_ci
    return read_side(rate, ci, exact, confidence, where)


def flip_side(tier: TierModel, confidence: float, where: str) -> Side | None:
    """The flip rate of ``tier`` (None when the file has no flips block)."""
    flips = tier.flips
    if flips is None and "flip_rate" in tier.extra:  # files from before the block
        flips = FlipsModel.from_dict(tier.extra, where)
    if flips is None:
        return None
    return read_side(flips.flip_rate, flips.flip_rate_ci, None, confidence, f"{where}.flip_rate")
