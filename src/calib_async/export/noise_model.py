"""Load an exported calibration and use it as a noise model (the consumer API).

::

    from calib_async import NoiseModel

    model = NoiseModel.load("calibration.yaml")
    fast = model.tier("FAST")
    fast.timeout_probability(45.0)                    # P(a run needs more than 45 s)
    observed = fast.sample_outcome(Truth.VERIFIED, rng)  # inject calibrated noise

The file is validated when loaded; a malformed file raises :class:`CalibError` with one line
naming the bad key. Durations in ``timeout_distribution`` are milliseconds (``unit: ms``),
timeouts are seconds. numpy is needed for sampling; scipy only for the fitted distribution.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from calib_async.errors import CalibError
from calib_async.export.canary_model import parse_canary_rates
from calib_async.export.load_curve import LoadCurve
from calib_async.export.tier_noise import RateStatusWarning, TierNoise
from calib_async.stats.survival import (
    ExtrapolationWarning,
    SurvivalModel,
    finite_number,
    positive_number,
    probability,
)

if TYPE_CHECKING:
    pass

__all__ = ["ExtrapolationWarning", "NoiseModel", "RateStatusWarning", "TierNoise"]

SCHEMA_FAMILY = "calib-async"


SUPPORTED_SCHEMA_MAJOR = 1


class NoiseModel:
    """Every tier's calibrated noise, loaded from an exported calibration.yaml."""

    def __init__(self, tiers: Mapping[str, TierNoise], *, document: Mapping[str, Any]) -> None:
        self._tiers = dict(tiers)
        self._document = copy.deepcopy(dict(document))

    @classmethod
    def load(cls, path: str | Path) -> NoiseModel:
        """Read and validate a calibration file written by ``calibrate_noise --export``."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalibError(
                f"cannot read calibration file {path}: {exc.strerror or exc}; "
                "pass the file written by calibrate_noise --export"
            ) from None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise CalibError(f"{path}: not valid YAML{at}; fix or re-export the file") from None
        try:
            return cls.from_dict(document)
        except CalibError as exc:
            raise CalibError(f"{path}: {exc}") from None

    @classmethod
    def from_dict(cls, document: Any) -> NoiseModel:
        """Validate an export dictionary (as written to calibration.yaml)."""
        if not isinstance(document, Mapping):
            raise CalibError("top level: expected a mapping with a 'noise_models' key")
        meta = document.get("calibration_metadata") or {}
        if not isinstance(meta, Mapping):
            raise CalibError("calibration_metadata: expected a mapping")
        _check_schema_version(meta.get("schema_version"))
        models = document.get("noise_models")
        if not isinstance(models, Mapping) or not models:
            raise CalibError("noise_models: missing or empty; expected one mapping per tier")
        raw_tiers = meta.get("tiers")
        meta_tiers: Mapping[str, Any] = raw_tiers if isinstance(raw_tiers, Mapping) else {}
        display = {str(name).lower(): str(name) for name in meta_tiers}
        tiers: dict[str, TierNoise] = {}
        for key, raw in models.items():
            name = display.get(str(key).lower(), str(key))
            tiers[name] = _parse_tier(name, f"noise_models.{key}", raw, meta_tiers.get(name))
        return cls(tiers, document=document)

    @property
    def tiers(self) -> list[str]:
        return list(self._tiers)

    def tier(self, name: str) -> TierNoise:
        """The tier called ``name`` (case-insensitive)."""
        for key, value in self._tiers.items():
            if key.lower() == name.lower():
                return value
        raise CalibError(f"unknown tier {name!r}; this calibration has {', '.join(self._tiers)}")

    @property
    def metadata(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._document.get("calibration_metadata") or {}))

    @property
    def validation_passed(self) -> bool | None:
        report = self._document.get("validation_report") or {}
        passed = report.get("passed") if isinstance(report, Mapping) else None
        return passed if isinstance(passed, bool) else None

    def spurious_pass_rate(self, tier: str, *, exploit: str | None = None) -> float | None:
        """P(VERIFIED | invalid) at ``tier``: from labels, or for one exploit class from its
        canaries (``exploit="axiom"``; :class:`CanaryRate` has the counts and interval)."""
        noise = self.tier(tier)
        if exploit is None:
            return noise.spurious_pass_rate
        return noise.canary(exploit).spurious_pass_rate

    def to_dict(self) -> dict[str, Any]:
        """The validated document as loaded (a copy)."""
        return copy.deepcopy(self._document)

    def to_noise_config(self) -> dict[str, Any]:
        """The ``noise_config`` block: per tier, what a simulated checker injects."""
        return {
            "schema_version": f"{SCHEMA_FAMILY}/{SUPPORTED_SCHEMA_MAJOR}",
            "tiers": {name: t.to_noise_config() for name, t in self._tiers.items()},
        }


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_schema_version(version: Any) -> None:
    if version is None:
        return  # files from before versioning: the original keys only
    family, _, major = str(version).partition("/")
    if family != SCHEMA_FAMILY or not major.split(".")[0].isdigit():
        raise CalibError(
            f"calibration_metadata.schema_version: {version!r} is not a calib-async schema"
        )
    if int(major.split(".")[0]) > SUPPORTED_SCHEMA_MAJOR:
        raise CalibError(
            f"calibration_metadata.schema_version: {version} is newer than this calib-async "
            f"understands ({SCHEMA_FAMILY}/{SUPPORTED_SCHEMA_MAJOR}); upgrade calib-async"
        )


_RATE_KEYS = (
    "timeout_rate",
    "spurious_fail_rate",
    "spurious_pass_rate",
    "timeout_given_valid",
    "timeout_given_invalid",
)


def _parse_tier(name: str, where: str, raw: Any, meta_tier: Any) -> TierNoise:
    if not isinstance(raw, Mapping):
        raise CalibError(f"{where}: expected a mapping of rates")
    values: dict[str, Any] = {}
    for key in _RATE_KEYS:
        values[key] = probability(raw.get(key), f"{where}.{key}")
        values[f"{key}_ci"] = _ci(raw.get(f"{key}_ci"), f"{where}.{key}_ci")
        if key != "timeout_rate":
            values[f"{key}_bounds"] = _ci(raw.get(f"{key}_bounds"), f"{where}.{key}_bounds")
    distribution = SurvivalModel.from_export(
        raw.get("timeout_distribution"), where=f"{where}.timeout_distribution"
    )
    timeout_for_rate: dict[float, float | None] = {}
    tfr = raw.get("timeout_for_rate")
    if tfr is not None:
        if not isinstance(tfr, Mapping):
            raise CalibError(f"{where}.timeout_for_rate: expected a mapping rate -> seconds")
        for rate_key, seconds in tfr.items():
            rate = probability(
                _to_float(rate_key, f"{where}.timeout_for_rate"), f"{where}.timeout_for_rate"
            )
            if rate is not None:  # None seconds: the export says unreachable
                timeout_for_rate[rate] = (
                    None
                    if seconds is None
                    else finite_number(seconds, f"{where}.timeout_for_rate.{rate_key}")
                )
    recommendations: dict[float, Mapping[str, Any]] = {}
    recs = raw.get("timeout_recommendations")
    if isinstance(recs, Mapping):
        for rate_key, rec in recs.items():
            rate = probability(_to_float(rate_key, f"{where}.timeout_recommendations"), where)
            if rate is not None and isinstance(rec, Mapping):
                recommendations[rate] = dict(rec)
    samples = raw.get("training_samples")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, Integral)):
        raise CalibError(f"{where}.training_samples: expected an integer, got {samples!r}")
    timeout_s = raw.get("timeout_s")
    if timeout_s is None and isinstance(meta_tier, Mapping):
        timeout_s = meta_tier.get("timeout_s")
    return TierNoise(
        name=name,
        load=LoadCurve.from_export(raw.get("load"), where=f"{where}.load"),
        distribution=distribution,
        timeout_for_rate=timeout_for_rate,
        timeout_recommendations=recommendations,
        training_samples=None if samples is None else int(samples),
        timeout_s=None if timeout_s is None else positive_number(timeout_s, f"{where}.timeout_s"),
        canaries=parse_canary_rates(raw.get("canaries"), f"{where}.canaries"),
        status=str(raw["status"]) if isinstance(raw.get("status"), str) else None,
        rate_status=_rate_status(raw.get("counts")),
        **values,
    )


def _rate_status(counts: Any) -> dict[str, str]:
    """rate -> status from a tier's ``counts`` (empty for files without it)."""
    if not isinstance(counts, Mapping):
        return {}
    out = {}
    for key in _RATE_KEYS:
        entry = counts.get(key)
        if isinstance(entry, Mapping) and isinstance(entry.get("status"), str):
            out[key] = str(entry["status"])
    return out


def _to_float(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CalibError(f"{where}: key {value!r} is not a number") from None


def _ci(value: Any, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CalibError(f"{where}: expected [low, high], got {value!r}")
    if value[0] is None or value[1] is None:
        return None
    low, high = probability(value[0], where), probability(value[1], where)
    assert low is not None and high is not None
    if low > high:
        raise CalibError(f"{where}: low {low} is above high {high}")
    return (low, high)


