"""Canonical JSON for telemetry records: one deterministic line per record.

The same record always gives the same bytes, so the telemetry log doubles as a checkpoint and a
snapshot can be compared byte for byte. The canonical form is:

- **keys** sorted, recursively (every key must be a ``str``; a ``str`` enum key becomes its value);
- **measurements** (:data:`MEASUREMENT_FIELDS`, top-level keys only) rounded to
  :data:`MEASUREMENT_DIGITS` = 2 decimals; an ``int``
  there becomes a ``float`` so that ``5`` and ``5.0`` write the same bytes;
- **every other float** rounded to :data:`FLOAT_DIGITS` = 6 decimals (microseconds for a
  ``*_s`` field, which is finer than any clock we trust); ``-0.0`` is written as ``0.0``;
- **non-finite floats** (NaN, ±inf) are rejected with :class:`ValueError`: JSON has no spelling for
  them, and writing ``null`` would silently turn a measurement into a missing value. A NaN in a
  record is a bug in whatever produced it, and it should surface there;
- **integers** must fit in 64 bits (what orjson and most JSON readers handle exactly);
- tuples become lists, enums become their values; other types are rejected with
  :class:`TypeError` naming where in the record they are.

The bytes: compact separators, no spaces, UTF-8 with non-ASCII characters kept as they are
(control characters and newlines inside strings are escaped, so a record is always one line).
Floats are written in the shortest form that reads back as the same float (orjson), so
``loads_line(dumps_canonical(r)) == canonicalize(r)`` and ``dumps_canonical`` is idempotent.

orjson is used for both directions: it parses a log in about half the CPU time of the ``json``
module (``scripts/bench_resume.py`` measures both side by side), and it is already a dependency.

Snapshots (:func:`snapshot`, :func:`write_snapshot`) are canonical records without the fields
that vary from run to run; :data:`SNAPSHOT_FIELDS` says which are kept and why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import orjson

MEASUREMENT_FIELDS = ("duration_ms", "cpu_time_ms", "memory_peak_mb", "memory_final_mb")
MEASUREMENT_DIGITS = 2
FLOAT_DIGITS = 6

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1  # orjson writes unsigned 64-bit integers too
_MEASUREMENTS = frozenset(MEASUREMENT_FIELDS)


def canonicalize(record: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of ``record`` as plain JSON values (see the module docstring).

    Raises ValueError for non-finite floats and out-of-range integers, TypeError for values
    JSON cannot hold; both name the offending key path (``metadata.foo[2]``).
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"a record must be a mapping, not {type(record).__name__}")
    out: dict[str, Any] = {}
    for key in sorted(_keys(record, "")):
        value = record[key]
        if key in _MEASUREMENTS and _is_number(value):
            out[_plain_key(key)] = _round(value, MEASUREMENT_DIGITS, key)
        else:
            out[_plain_key(key)] = _value(value, key)
    return out


def dumps_canonical(record: Mapping[str, Any]) -> bytes:
    """One canonical JSON line for ``record``, without the trailing newline."""
    try:
        canonical = _fast_record(record)
    except _Unusual:  # the general path decides, and names what is wrong
        canonical = canonicalize(record)
    try:
        return orjson.dumps(canonical)
    except orjson.JSONEncodeError as exc:  # lone surrogates in a str
        raise ValueError(f"record cannot be written as JSON: {exc}") from None


def loads_line(line: bytes) -> dict[str, Any]:
    """Parse one log line (a trailing newline is allowed); ValueError unless it is an object."""
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------------
# The fast path of dumps_canonical (about 10x faster on a telemetry record): plain dicts with
# str keys and values of exactly str, bool, None, int, float, list, dict. It gives the same
# value as canonicalize() or raises _Unusual, and the general path then takes over
# (tests/checkpoint/test_canonical_fast.py checks the equality on generated records).


class _Unusual(Exception):
    pass


_UNUSUAL = _Unusual()


def _fast_record(record: Any) -> dict[str, Any]:
    if type(record) is not dict:
        raise _UNUSUAL
    try:
        keys = sorted(record)
    except TypeError:  # keys that do not compare: not all str
        raise _UNUSUAL from None
    out: dict[str, Any] = {}
    for key in keys:
        value = record[key]
        if type(key) is not str:
            raise _UNUSUAL
        if key in _MEASUREMENTS:
            t = type(value)
            if t is float or t is int:
                try:
                    value = float(value)
                except OverflowError:
                    raise _UNUSUAL from None
                if value - value != 0.0:  # NaN or infinite
                    raise _UNUSUAL
                out[key] = round(value, MEASUREMENT_DIGITS) + 0.0
                continue
        out[key] = _fast_value(value, key)
    return out


def _fast_value(value: Any, key: Any) -> Any:
    t = type(value)
    if type(key) is not str:
        raise _UNUSUAL
    if t is str or t is bool or value is None:
        return value
    if t is float:
        if value - value != 0.0:
            raise _UNUSUAL
        return round(value, FLOAT_DIGITS) + 0.0
    if t is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise _UNUSUAL
        return value
    if t is list:
        return [_fast_value(v, "") for v in value]
    if t is dict:
        try:
            keys = sorted(value)
        except TypeError:
            raise _UNUSUAL from None
        return {k: _fast_value(value[k], k) for k in keys}
    if isinstance(value, str):  # a StrEnum member (outcome, phase, ...): its value
        return str.__str__(value)
    raise _UNUSUAL


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool | Enum)


def _keys(mapping: Mapping[Any, Any], path: str) -> list[Any]:
    keys = list(mapping)
    for key in keys:
        if not isinstance(key, str):
            where = f" at {path}" if path else ""
            raise TypeError(f"record keys must be strings; found {key!r}{where}")
    return keys


def _plain_key(key: str) -> str:
    return key.value if isinstance(key, Enum) else str.__str__(key)


def _round(value: float, digits: int, path: str) -> float:
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{path}: {value} is too large for a float") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}: {value!r} is not finite; the log holds finite floats only")
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return _value(value.value, path)
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{path}: integer {value} does not fit in 64 bits")
        return int(value)
    if isinstance(value, float):
        return _round(value, FLOAT_DIGITS, path)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Mapping):
        return {
            _plain_key(k): _value(value[k], f"{path}.{k}" if path else k)
            for k in sorted(_keys(value, path))
        }
    if isinstance(value, list | tuple):
        return [_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} values cannot be written to the log")


# ---------------------------------------------------------------------------------------------
# Snapshots: canonical records without what varies from run to run

#: What a snapshot keeps of a record. Everything else varies between two runs with the same
#: seed, or between machines, and is dropped:
#: ``verification_id``, ``timestamp`` (unique per run); ``duration_ms``, ``cpu_time_ms``,
#: ``memory_*`` (measurements); ``concurrency``, ``load_avg_1m``, ``host``, ``cgroup``,
#: ``checker_version`` (the machine); ``warnings`` (measurement hygiene, load-dependent);
#: ``stdout_bytes``, ``stderr_bytes``, ``output_tail``, ``message`` (may contain timings or
#: be cut at a time-dependent point); ``signal``, ``termination_reason`` (for a killed run,
#: whether SIGTERM sufficed or the watchdog beat the limit is a race; ``outcome`` and
#: ``timed_out`` carry the verdict). ``metadata`` is kept: it holds run settings (the seed),
#: so nothing measured may be put there.
SNAPSHOT_FIELDS = frozenset(
    [
        "task_key",
        "item_id",
        "content_hash",
        "module_name",
        "tier",
        "verifier",
        "phase",
        "attempt",
        "timeout_s",
        "context",
        "metadata",
        "outcome",
        "timed_out",
        "timeout_kind",
        "exit_code",
        "error_count",
        "first_error",
        "uses_sorry",
        "axioms",
    ]
)

#: Fields also dropped from a run the runner killed (``termination_reason`` other than
#: ``"exited"``): its output, and so what was parsed from it, stops at a time-dependent point.
KILLED_RUN_UNSTABLE_FIELDS = frozenset(
    ["exit_code", "error_count", "first_error", "uses_sorry", "axioms"]
)


def snapshot(
    records: Iterable[Mapping[str, Any]], *, fields: frozenset[str] = SNAPSHOT_FIELDS
) -> list[dict[str, Any]]:
    """Canonical records reduced to ``fields``, sorted by ``task_key`` (then by content).

    Two runs with the same seed over the same corpus give equal snapshots. Records are taken as
    they are (no deduplication), so duplicates show.
    """
    out = []
    for record in records:
        keep = fields
        if record.get("termination_reason", "exited") != "exited":
            keep = fields - KILLED_RUN_UNSTABLE_FIELDS
        out.append(canonicalize({k: v for k, v in record.items() if k in keep}))
    out.sort(key=lambda r: (str(r.get("task_key", "")), orjson.dumps(r)))
    return out


def write_snapshot(
    records: Iterable[Mapping[str, Any]], path: Path, *, fields: frozenset[str] = SNAPSHOT_FIELDS
) -> None:
    """Write :func:`snapshot` as JSON (2-space indent, sorted keys, final newline), atomically."""
    data = orjson.dumps(
        snapshot(records, fields=fields),
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_snapshot(path: Path) -> list[dict[str, Any]]:
    """Read a snapshot written by :func:`write_snapshot`."""
    value = orjson.loads(path.read_bytes())
    if not isinstance(value, list):
        raise ValueError(f"{path} is not a snapshot (expected a JSON list)")
    return value
