"""The whole export: ``calibration_metadata``, ``validation_report``, ``noise_models`` and the
optional top-level sections. :meth:`CalibrationDocument.from_dict` is the one place a loaded
calibration is checked; every reader (NoiseModel, the summary, ``compare``, ``refit``) works on
the typed document it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from calib_async.errors import CalibError
from calib_async.model.block import Block, anything, blocks, key, opaque_mapping, optional
from calib_async.model.tier import TierModel
from calib_async.model.values import FIX, count, flag, mapping, number, probability, text
from calib_async.version import SCHEMA_VERSION

SCHEMA_FAMILY, _, _major = SCHEMA_VERSION.partition("/")
#: the newest major schema version this package reads
SUPPORTED_SCHEMA_MAJOR = int(_major)


def schema_version(value: Any, where: str) -> str | None:
    """``calib-async/<major>[.<minor>]`` with a major this package reads; None for files from
    before versioning."""
    if value is None:
        return None
    family, _, major = str(value).partition("/")
    head = major.split(".")[0]
    if family != SCHEMA_FAMILY or not head.isdigit():
        raise CalibError(f"{where}: {value!r} is not a calib-async schema; {FIX}")
    if int(head) > SUPPORTED_SCHEMA_MAJOR:
        raise CalibError(
            f"{where}: {value} is newer than this calib-async understands "
            f"({SCHEMA_FAMILY}/{SUPPORTED_SCHEMA_MAJOR}); upgrade calib-async"
        )
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSettings(Block):
    """``calibration_metadata.tiers.<TIER>``: the tier's checker configuration."""

    timeout_s: float | None = key(number)
    verifier: str | None = key(text)
    memory_limit_mb: float | None = key(number)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetadataModel(Block):
    """``calibration_metadata``: what was run, by which version, on which host."""

    schema_version: str | None = key(schema_version)
    tool_version: str | None = key(text)
    run_id: str | None = key(text)
    date: Any = key(anything)  # ISO 8601 (YAML may read it as a datetime)
    corpus: str | None = key(text)
    n: int | None = key(count)
    total_samples: int | None = key(count)
    validation_split: float | None = key(probability)
    seed: int | None = key(lambda v, w: v if v is None else _int(v, w))
    label_sample: int | None = key(count)
    timeout_multiplier: float | None = key(number)
    validation_passed: bool | None = key(flag)
    tiers: Mapping[str, TierSettings] | None = key(blocks(TierSettings))
    labels: Mapping[str, Any] | None = key(opaque_mapping)
    units: Mapping[str, Any] | None = key(opaque_mapping)
    confidence_level: float | None = key(probability)
    items: int | None = key(count)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalibError(f"{where}: expected an integer, got {value!r}; {FIX}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationModel(Block):
    """``validation_report``: the held-out check of the statistics (not of the checker)."""

    summary: str | None = key(text)
    passed: bool | None = key(flag)
    status: str | None = key(text)
    coverage: Mapping[str, Any] | None = key(opaque_mapping)
    held_out_items: Mapping[str, Any] | None = key(opaque_mapping)

    @property
    def nominal_coverage(self) -> float | None:
        """``coverage.nominal``: the confidence of every interval in the file."""
        value = (self.coverage or {}).get("nominal")
        return probability(value, "validation_report.coverage.nominal")


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationDocument(Block):
    """An exported calibration, checked. ``noise_models`` is keyed by lower-case tier name."""

    calibration_metadata: MetadataModel | None = key(optional(MetadataModel))
    validation_report: ValidationModel | None = key(optional(ValidationModel))
    noise_models: Mapping[str, TierModel] = key(blocks(TierModel))
    lean_repl_designs: Any = key(anything)
    service: Any = key(anything)

    @classmethod
    def read(cls, raw: Any) -> Self:
        """Check a loaded YAML document (CalibError with one line naming the bad key)."""
        if not isinstance(raw, Mapping):
            raise CalibError(f"top level: expected a mapping with a 'noise_models' key; {FIX}")
        return cls.from_dict(raw, "")

    def check(self, where: str) -> None:
        if not self.noise_models:
            raise CalibError("noise_models: missing or empty; expected one mapping per tier")

    @property
    def metadata(self) -> MetadataModel:
        """``calibration_metadata`` (empty for files from before it)."""
        return self.calibration_metadata or MetadataModel()

    @property
    def schema_version(self) -> str | None:
        return self.metadata.schema_version

    def display_names(self) -> dict[str, str]:
        """noise-model key -> the tier's name as the run spelled it (``FAST`` for ``fast``)."""
        spelled = {name.lower(): name for name in self.metadata.tiers or {}}
        return {k: spelled.get(k.lower(), k) for k in self.noise_models}

    def tier(self, name: str) -> TierModel:
        """The noise model of tier ``name`` (case-insensitive); CalibError when absent."""
        for k, model in self.noise_models.items():
            if k.lower() == name.lower():
                return model
        have = ", ".join(self.display_names().values())
        raise CalibError(f"unknown tier {name!r}; this calibration has {have}")


def read_mapping(raw: Any, where: str) -> Mapping[str, Any]:
    """``raw`` as a mapping (re-exported for readers of untyped sections)."""
    return mapping(raw, where)
