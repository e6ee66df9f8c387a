"""A log record read back on ``--resume``, checked field by field before it is trusted.

A log line can be valid JSON with a string ``task_key`` and still not be a record this tool
wrote: a field missing, an outcome no version knows, a number where text belongs (an edited or
foreign file). :func:`record_from_log` turns such a line into one
:class:`~calib_async.errors.CheckpointError` naming the file and the line, instead of a
``TypeError`` in the dataclass or a ``ValueError`` in stage 4.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from calib_async.errors import CheckpointError
from calib_async.records import Outcome, Phase, TelemetryRecord, Termination, TimeoutKind

_TIMEOUT_KINDS = frozenset(k.value for k in TimeoutKind)
_TERMINATIONS = frozenset(t.value for t in Termination)
_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "dict[str, Any]": lambda v: isinstance(v, dict),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    # closed sets: outcome and phase get their own messages below
    "Outcome": lambda v: isinstance(v, str),
    "Phase": lambda v: isinstance(v, str),
    "TimeoutKind": lambda v: isinstance(v, str) and v in _TIMEOUT_KINDS,
    "Termination": lambda v: isinstance(v, str) and v in _TERMINATIONS,
}
_FIELDS = dataclasses.fields(TelemetryRecord)
_REQUIRED = tuple(
    f.name
    for f in _FIELDS
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_TYPES = {f.name: str(f.type) for f in _FIELDS}
_OUTCOMES = frozenset(o.value for o in Outcome)
_PHASES = frozenset(p.value for p in Phase)


def _type_ok(value: Any, annotation: str) -> bool:
    optional = annotation.endswith(" | None")
    if value is None:
        return optional
    check = _CHECKS.get(annotation.removesuffix(" | None"))
    return True if check is None else bool(check(value))


def record_from_log(raw: dict[str, Any], path: Path, lineno: int) -> TelemetryRecord:
    """The record on line ``lineno`` of the log at ``path``, or one CheckpointError line."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(
            f"telemetry log {path}: line {lineno} is not a valid record ({what}); repair or "
            "delete that line and rerun with --resume, or pass --fresh to start over"
        )

    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        shown = ", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
        raise bad(f"missing field(s) {shown}")
    for name, annotation in _TYPES.items():
        if name in raw and not _type_ok(raw[name], annotation):
            raise bad(f"field {name} is not {annotation}")
    if raw["outcome"] not in _OUTCOMES:
        raise bad(f"unknown outcome {str(raw['outcome'])[:40]!r}")
    if raw["phase"] not in _PHASES:
        raise bad(f"unknown phase {str(raw['phase'])[:40]!r}")
    return TelemetryRecord.from_dict(raw)
