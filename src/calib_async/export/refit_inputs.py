"""What ``refit`` reads besides the log: ``labels.json``, checked field by field.

A hand-edited or foreign ``labels.json`` is refused in one line naming the field (a wrong type,
a missing key, an unknown truth or method, a number out of range, nesting too deep), never a
traceback. Its ``run.log`` (the digest of the log's header line, written since labels.json
binds to its log) must match the log refit reads: another run's log is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from calib_async.checkpoint.binding import header_digest
from calib_async.errors import CalibError
from calib_async.inputs import (
    INT64_MAX,
    describe,
    finite_float,
    kernel_int,
    open_regular_file,
    parse_json_line,
)
from calib_async.labels.store import FORMAT as LABELS_FORMAT
from calib_async.records import LabelMethod, Tier, Truth

#: labels.json larger than this is not one this tool wrote for a corpus it can run.
MAX_LABELS_BYTES = 1 << 30
_TIMEOUT_MAX = 10.0**6
_E = TypeVar("_E", Truth, LabelMethod)


@dataclass(frozen=True, slots=True)
class SampleEntry:
    task_key: str
    truth: Truth
    method: LabelMethod
    confidence: float
    stratum: str
    weight: float


@dataclass(frozen=True, slots=True)
class LabelsDoc:
    run: dict[str, Any]
    tiers: tuple[Tier, ...]
    sample: tuple[SampleEntry, ...]
    log_digest: str | None


def read_labels_doc(path: Path) -> LabelsDoc:
    """``labels.json`` checked for refit (see the module docstring)."""
    where = str(path)
    with open_regular_file(path, "labels.json") as fh:
        data = fh.read(MAX_LABELS_BYTES + 1)
    if len(data) > MAX_LABELS_BYTES:
        raise CalibError(f"{where} is larger than {MAX_LABELS_BYTES >> 20} MiB; not a labels.json")
    doc = parse_json_line(data, where)
    if not isinstance(doc, dict):
        raise CalibError(f"{where} is not a labels.json written by calibrate_noise")
    if doc.get("format") != LABELS_FORMAT or "run" not in doc or "sample" not in doc:
        raise CalibError(
            f"{where} has no labelled sample (written by an older calibrate_noise); re-run "
            "the calibration with --resume once to rewrite it"
        )
    run = _mapping(doc["run"], f"{where}: run")
    tiers = tuple(
        _tier(entry, f"{where}: run.tiers[{i}]")
        for i, entry in enumerate(_list(_key(run, "tiers", f"{where}: run"), f"{where}: run.tiers"))
    )
    if not tiers:
        raise CalibError(f"{where}: run.tiers is empty; re-run the calibration to rewrite it")
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise CalibError(f"{where}: run.tiers names a tier twice; re-run the calibration")
    for key in ("n", "seed", "label_sample", "bootstrap"):
        kernel_int(_key(run, key, f"{where}: run"), f"{where}: run.{key}", min=0, max=INT64_MAX)
    for key in ("timeout_multiplier", "validation_split"):
        finite_float(_key(run, key, f"{where}: run"), f"{where}: run.{key}", min=0.0)
    if not isinstance(_key(run, "corpus", f"{where}: run"), str):
        raise CalibError(f"{where}: run.corpus must be text, not {describe(run['corpus'])}")
    if not isinstance(run.get("labels", {}), dict):
        raise CalibError(f"{where}: run.labels must be a mapping")
    sample = tuple(
        _sample(entry, f"{where}: sample[{i}]")
        for i, entry in enumerate(_list(doc["sample"], f"{where}: sample"))
    )
    digest = run.get("log")
    if digest is not None and not isinstance(digest, str):
        raise CalibError(f"{where}: run.log must be text, not {describe(digest)}")
    return LabelsDoc(run=run, tiers=tiers, sample=sample, log_digest=digest)


def check_bound_to_log(doc: LabelsDoc, labels_path: Path, log_path: Path, first: bytes) -> None:
    """Refuse a log that is not the one ``labels.json`` was written from."""
    if doc.log_digest is not None and doc.log_digest != header_digest(first):
        raise CalibError(
            f"{log_path} is not the telemetry log {labels_path} was written from (its header "
            "differs); give that run's --telemetry-log or --output-dir"
        )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CalibError(f"{where} must be a mapping, not {describe(value)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise CalibError(f"{where} must be a list, not {describe(value)}")
    return value


def _key(entry: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise CalibError(f"{where} has no {key!r}; re-run the calibration to rewrite it")
    return entry[key]


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = _key(entry, key, where)
    if not isinstance(value, str) or not value:
        raise CalibError(f"{where}.{key} must be non-empty text, not {describe(value)}")
    return value


def _enum(kind: type[_E], value: object, where: str) -> _E:
    try:
        return kind(value)
    except (ValueError, TypeError):
        allowed = ", ".join(m.value for m in kind)
        raise CalibError(f"{where} must be one of {allowed}, not {describe(value)}") from None


def _optional_int(entry: Mapping[str, Any], key: str, where: str) -> int | None:
    value = entry.get(key)
    return None if value is None else kernel_int(value, f"{where}.{key}", min=1)


def _tier(value: object, where: str) -> Tier:
    entry = _mapping(value, where)
    args = entry.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise CalibError(f"{where}.args must be a list of text")
    options = entry.get("options") or {}
    return Tier(
        name=_text(entry, "name", where),
        timeout_s=finite_float(
            _key(entry, "timeout_s", where),
            f"{where}.timeout_s",
            min=0.0,
            min_exclusive=True,
            max=_TIMEOUT_MAX,
        ),
        verifier=_text(entry, "verifier", where),
        memory_limit_mb=_optional_int(entry, "memory_limit_mb", where),
        args=tuple(args),
        options=dict(_mapping(options, f"{where}.options")),
        max_processes=_optional_int(entry, "max_processes", where),
        max_file_mb=_optional_int(entry, "max_file_mb", where),
        output_cap_kb=kernel_int(entry.get("output_cap_kb", 64), f"{where}.output_cap_kb", min=1),
        grace_s=finite_float(
            entry.get("grace_s", 1.0), f"{where}.grace_s", min=0.0, max=_TIMEOUT_MAX
        ),
        address_space_limit_mb=_optional_int(entry, "address_space_limit_mb", where),
    )


def _sample(value: object, where: str) -> SampleEntry:
    entry = _mapping(value, where)
    return SampleEntry(
        task_key=_text(entry, "task_key", where),
        truth=_enum(Truth, _key(entry, "truth", where), f"{where}.truth"),
        method=_enum(LabelMethod, _key(entry, "method", where), f"{where}.method"),
        confidence=finite_float(
            _key(entry, "confidence", where), f"{where}.confidence", min=0.0, max=1.0
        ),
        stratum=_text(entry, "stratum", where),
        weight=finite_float(
            _key(entry, "weight", where), f"{where}.weight", min=0.0, min_exclusive=True
        ),
    )
