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
from pathlib import Path
from typing import Any

import yaml

from calib_async.errors import CalibError
from calib_async.export.canary_model import canary_rates
from calib_async.export.load_curve import LoadCurve
from calib_async.export.tier_noise import RateStatusWarning, TierNoise
from calib_async.model import CONDITIONAL, RATES, CalibrationDocument, TierModel, TierSettings
from calib_async.model.document import SCHEMA_FAMILY, SUPPORTED_SCHEMA_MAJOR
from calib_async.stats.survival import ExtrapolationWarning, SurvivalModel, positive_number

__all__ = ["ExtrapolationWarning", "NoiseModel", "RateStatusWarning", "TierNoise"]

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
        return cls.from_document(CalibrationDocument.read(document))

    @classmethod
    def from_document(cls, document: CalibrationDocument) -> NoiseModel:
        """The noise model of a checked export (:class:`calib_async.model.CalibrationDocument`)."""
        settings = document.metadata.tiers or {}
        names = document.display_names()
        tiers: dict[str, TierNoise] = {}
        for key, model in document.noise_models.items():
            name = names[key]
            tiers[name] = _tier_noise(name, f"noise_models.{key}", model, settings.get(name))
        return cls(tiers, document=document.to_dict())

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
# from the typed model to what a simulator samples from


def _tier_noise(
    name: str, where: str, model: TierModel, settings: TierSettings | None
) -> TierNoise:
    """What :class:`TierNoise` needs of a checked tier model (the model did the key checks)."""
    values: dict[str, Any] = {}
    for rate in RATES:
        values[rate] = getattr(model, rate)
        values[f"{rate}_ci"] = getattr(model, f"{rate}_ci")
    for rate in CONDITIONAL:
        values[f"{rate}_bounds"] = getattr(model, f"{rate}_bounds")
    dist = model.timeout_distribution
    recommendations = {
        float(rate): dict(rec) for rate, rec in (model.timeout_recommendations or {}).items()
    }
    timeout_s = model.timeout_s
    if timeout_s is None and settings is not None:
        timeout_s = settings.timeout_s
    return TierNoise(
        name=name,
        load=LoadCurve.from_model(model.load, where=f"{where}.load"),
        distribution=SurvivalModel.from_export(
            None if dist is None else dist.to_dict(), where=f"{where}.timeout_distribution"
        ),
        timeout_for_rate={float(r): s for r, s in (model.timeout_for_rate or {}).items()},
        timeout_recommendations=recommendations,
        training_samples=model.training_samples,
        timeout_s=None if timeout_s is None else positive_number(timeout_s, f"{where}.timeout_s"),
        canaries=canary_rates(model.canaries),
        status=model.status,
        rate_status={
            rate: r.status for rate, r in model.rates().items() if r.status is not None
        },
        **values,
    )
